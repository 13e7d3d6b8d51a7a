"""Partial convolution (Liu et al., ECCV 2018) as used by PCNet-C.

METHOD 3.1: ``out = conv(X * M) / sum(M) + bias`` where the convolution has
no bias and ``sum(M)`` is the number of valid inputs under the window,
computed by a frozen convolution whose weight is all ones over every input
channel. Windows without any valid input give 0 and the updated mask is 1
wherever ``sum(M) > 0`` (the same for every output channel). There is no
``window_size / sum(M)`` rescaling (the NVIDIA variant of partial conv has
one; PCNet-C does not).

A consequence of the reference normalisation: a fully valid window gives
``conv(X) / (C * k * k)``, so from a random initialisation every layer
shrinks activations and gradients by roughly that factor (measured on the
PCNet-C generator at init: weight gradients fall from 1e-6 at dec_1 to
1e-21 at enc_7/dec_7, far below Adam's epsilon). The reference never trains
from scratch: it starts from a trained inpainting model. ``window_rescale``
(off by default; checkpoints of the reference need it off) multiplies by
the window size ``sum(mask kernel)`` instead, which makes a fully valid
window an ordinary convolution and random-init training well conditioned.
"""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['PartialConv2d', 'PartialConvShapeError']


class PartialConvShapeError(ValueError):
    """Raised when a partial convolution gets features and masks that do not
    match each other or the layer."""


class PartialConv2d(nn.Module):
    """2D partial convolution with a stored, frozen mask-sum kernel.

    Args:
        in_channels (int): Input channels (features and mask).
        out_channels (int): Output channels.
        kernel_size (int): Square kernel size.
        stride (int): Stride. Defaults to 1.
        padding (int): Zero padding of features and mask. Defaults to 0.
        bias (bool): Whether to add a learned bias after the
            normalisation. Defaults to False.
        window_rescale (bool): Multiply by the window size (the sum of the
            mask kernel of each output channel): ``conv(X*M) * sum(1) /
            sum(M) + bias`` (NVIDIA's variant). Defaults to False, the
            reference behaviour (METHOD 3.1).

    Attributes:
        weight (nn.Parameter): ``(out, in, k, k)`` learned kernel.
        bias (nn.Parameter | None): ``(out,)`` learned bias.
        mask_weight (Tensor): ``(out, in, k, k)`` buffer, all ones at
            construction. It is saved and loaded with the state dict, so a
            checkpoint whose kernel has zero channels (the extra input
            channel of METHOD 3.1, appended to a 3-channel inpainting model)
            keeps them: ``sum(M)`` then ignores those channels. It never
            receives gradients.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int = 1,
                 padding: int = 0,
                 bias: bool = False,
                 window_rescale: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.window_rescale = window_rescale
        self.weight = nn.Parameter(
            torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.register_buffer(
            'mask_weight',
            torch.ones(out_channels, in_channels, kernel_size, kernel_size))
        self._uniform_cache = None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal (fan-in) weight, zero bias, all-ones mask kernel."""
        nn.init.kaiming_normal_(self.weight, a=0, mode='fan_in')
        if self.bias is not None:
            nn.init.zeros_(self.bias)
        with torch.no_grad():
            self.mask_weight.fill_(1.0)

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, '
                f'padding={self.padding}, bias={self.bias is not None}' +
                (', window_rescale=True' if self.window_rescale else ''))

    def _shared_mask_row(self) -> Optional[Tensor]:
        """The mask kernel's single row ``(1, in, k, k)`` when every output
        channel has the same one (always, unless a checkpoint says
        otherwise), else None. Cached until the buffer changes."""
        kernel = self.mask_weight
        key = (kernel.data_ptr(), kernel._version, kernel.device,
               kernel.dtype)
        if self._uniform_cache is None or self._uniform_cache[0] != key:
            uniform = torch.equal(kernel, kernel[:1].expand_as(kernel))
            self._uniform_cache = (key, uniform)
        return kernel[:1] if self._uniform_cache[1] else None

    def mask_sum(self, mask: Tensor) -> Tensor:
        """Number of valid inputs under each window.

        Computed in float32 outside autocast so that large sums (up to
        ``in * k * k``, e.g. 9216 in the decoder) stay exact under fp16.

        Args:
            mask (Tensor): ``(B, in, H, W)`` validity mask.

        Returns:
            Tensor: float32 window sums, ``(B, 1, H', W')`` when every
            output channel shares the mask kernel (broadcastable to the
            output; one small conv instead of a full one), else
            ``(B, out, H', W')``.
        """
        with torch.no_grad(), torch.autocast(
                device_type=mask.device.type, enabled=False):
            row = self._shared_mask_row()
            kernel = self.mask_weight if row is None else row
            return F.conv2d(mask.float(), kernel.float(), None, self.stride,
                            self.padding)

    def forward(self, x: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Apply the partial convolution.

        Args:
            x (Tensor): ``(B, in, H, W)`` features.
            mask (Tensor): ``(B, in, H, W)`` validity mask in {0, 1}
                (1 = valid), same shape as ``x``.

        Returns:
            tuple[Tensor, Tensor]: ``(out, new_mask)``, both
            ``(B, out, H', W')``; ``new_mask`` has ``x``'s dtype (it may be
            a broadcast view: the same for every channel).
        """
        if x.dim() != 4 or x.shape != mask.shape:
            raise PartialConvShapeError(
                f'{type(self).__name__}: features {tuple(x.shape)} and mask '
                f'{tuple(mask.shape)} must be (B, C, H, W) of the same shape')
        if x.shape[1] != self.in_channels:
            raise PartialConvShapeError(
                f'{type(self).__name__}: expected {self.in_channels} input '
                f'channels, got {x.shape[1]}')
        raw = F.conv2d(x * mask.to(x.dtype), self.weight, None, self.stride,
                       self.padding)
        total = self.mask_sum(mask)
        empty = total == 0
        # The division runs in float32 at least (a half-precision ``raw``
        # under autocast is promoted), the result keeps ``raw``'s dtype.
        denominator = total.masked_fill(empty, 1.0)
        if self.window_rescale:
            window = self.mask_weight.float().sum(dim=(1, 2, 3))
            denominator = denominator / window.view(1, -1, 1, 1)
        out = (raw / denominator).to(raw.dtype)
        if self.bias is not None:
            out = out + self.bias.view(1, -1, 1, 1).to(out.dtype)
        out = out.masked_fill(empty, 0.0)
        new_mask = (~empty).to(x.dtype).expand_as(out)
        return out, new_mask
