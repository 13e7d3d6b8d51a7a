"""The PCNet-C generator: a 7-level partial-convolution UNet (METHOD 3.1).

:class:`PCNetCGenerator` (registered in MMDetection's ``MODELS``), its
:class:`PartialConvBlock`, the layer table :func:`generator_layer_shapes`
that the checkpoint converters share, and the channel-width helpers
(:func:`scaled_channels`, :func:`check_width`) that the discriminator uses
too.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.registry import MODELS
from .partial_conv import PartialConv2d

__all__ = [
    'GENERATOR_ENCODER_SPEC', 'PCNetCInputError', 'scaled_channels',
    'check_width', 'generator_layer_shapes', 'PartialConvBlock',
    'PCNetCGenerator'
]

#: ``(out_channels, kernel_size, batch_norm)`` of enc_1 .. enc_7 (stride 2,
#: padding ``kernel_size // 2``, no conv bias, ReLU).
GENERATOR_ENCODER_SPEC: Tuple[Tuple[int, int, bool], ...] = (
    (64, 7, False), (128, 5, True), (256, 5, True), (512, 3, True),
    (512, 3, True), (512, 3, True), (512, 3, True))


class PCNetCInputError(ValueError):
    """Raised when PCNet-C gets inputs of the wrong shape or type."""


def scaled_channels(channels: int, width: float) -> int:
    """Channels of a layer of a network scaled by ``width``.

    Args:
        channels (int): Channels at width 1 (the reference).
        width (float): Channel multiplier (> 0).

    Returns:
        int: ``max(1, round(channels * width))``.
    """
    return max(1, int(round(channels * width)))


def check_width(width: float, owner: str) -> float:
    """Check a channel multiplier.

    Args:
        width (float): The multiplier; a number > 0 (not a bool).
        owner (str): Who asks, named in the error message.

    Returns:
        float: ``width`` as a float.

    Raises:
        ValueError: ``width`` is not a number > 0.
    """
    if isinstance(width, bool) or not isinstance(width, (int, float)) or \
            not width > 0:
        raise ValueError(f'{owner}: width must be a number > 0, got '
                         f'{width!r}')
    return float(width)


def generator_layer_shapes(in_channels: int = 4,
                           out_channels: int = 3,
                           width: float = 1.0) -> List[dict]:
    """Describe every partial-conv layer of :class:`PCNetCGenerator`.

    Args:
        in_channels (int): Generator input channels. Defaults to 4.
        out_channels (int): Generator output channels. Defaults to 3.
        width (float): Multiplier of the hidden channels (1.0 = the
            reference: 64, 128, 256, 512, 512, 512, 512).

    Returns:
        list[dict]: One dict per layer, encoders enc_1..enc_7 then decoders
        dec_1..dec_7, with keys ``kind`` ('enc' or 'dec'), ``level``
        (1..7), ``in_channels``, ``out_channels``, ``kernel_size``,
        ``stride``, ``norm`` (BatchNorm or not) and ``bias`` (conv bias).
    """
    width = check_width(width, 'generator_layer_shapes')
    layers = []
    prev = in_channels
    for level, (channels, kernel,
                norm) in enumerate(GENERATOR_ENCODER_SPEC, 1):
        channels = scaled_channels(channels, width)
        layers.append(
            dict(kind='enc', level=level, in_channels=prev,
                 out_channels=channels, kernel_size=kernel, stride=2,
                 norm=norm, bias=False))
        prev = channels
    widths = [in_channels] + [
        scaled_channels(spec[0], width) for spec in GENERATOR_ENCODER_SPEC
    ]
    for level in range(1, len(GENERATOR_ENCODER_SPEC) + 1):
        # dec_k sees [upsampled output of dec_{k+1} (of enc_7 for k = 7),
        # output of enc_{k-1} (the raw input for k = 1)]; dec_{k+1} outputs
        # enc_k's width, so the upsampled part has widths[k] channels.
        upsampled = widths[level]
        last = level == 1
        layers.append(
            dict(kind='dec', level=level,
                 in_channels=upsampled + widths[level - 1],
                 out_channels=out_channels if last else widths[level - 1],
                 kernel_size=3, stride=1, norm=not last, bias=last))
    return layers


class PartialConvBlock(nn.Module):
    """Partial conv followed by optional BatchNorm and activation.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Kernel size (padding ``kernel_size // 2``).
        stride (int): Stride.
        norm (bool): Add BatchNorm2d after the conv.
        activation (str, optional): 'relu', 'leaky_relu' (slope 0.2) or
            None.
        bias (bool): Conv bias.
        window_rescale (bool): See :class:`PartialConv2d`.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 stride: int,
                 norm: bool,
                 activation: Optional[str],
                 bias: bool,
                 window_rescale: bool = False) -> None:
        super().__init__()
        self.pconv = PartialConv2d(in_channels, out_channels, kernel_size,
                                   stride, kernel_size // 2, bias,
                                   window_rescale)
        self.norm = nn.BatchNorm2d(out_channels) if norm else None
        if activation == 'relu':
            self.act = nn.ReLU()
        elif activation == 'leaky_relu':
            self.act = nn.LeakyReLU(0.2)
        elif activation is None:
            self.act = None
        else:
            raise ValueError(f'PartialConvBlock: unknown activation '
                             f'{activation!r}')

    def forward(self, x: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Apply conv, norm and activation; the mask only passes the conv."""
        x, mask = self.pconv(x, mask)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x, mask


@MODELS.register_module()
class PCNetCGenerator(nn.Module):
    """Partial-convolution UNet with 7 levels (METHOD 3.1).

    Encoder enc_1..enc_7 (stride 2, no bias): 7x7 in->64 (no BN), 5x5
    64->128, 5x5 128->256, 3x3 256->512, three 3x3 512->512; BN + ReLU
    except enc_1 (ReLU only). Decoder dec_7..dec_1: nearest x2 upsampling
    of features and mask, concatenation ``[upsampled, skip]`` (skip =
    enc_{k-1}'s output, the raw input for dec_1), 3x3 partial conv with
    BN + LeakyReLU(0.2); dec_1 ``(64 + in) -> out`` has a bias and neither
    BN nor activation.

    The parameters of ``encoders[k-1]`` / ``decoders[k-1]`` are those of the
    reference's ``enc_k`` / ``dec_k`` (see ``pcnet_c_convert``).

    Args:
        in_channels (int): Input channels. Defaults to 4 (RGB * visible,
            modal * category). 3 describes the plain inpainting model the
            reference starts from.
        out_channels (int): Output channels. Defaults to 3.
        freeze_encoder_bn (bool): Keep the encoder's BatchNorm layers in
            eval mode during training (the fine-tuning trick of the partial
            conv paper). Not used by PCNet-C; defaults to False.
        window_rescale (bool): Scale every partial conv by its window size
            (see :class:`PartialConv2d`). False (default) is the reference
            and what its checkpoints need; True is for training from a
            random initialisation, where the reference normalisation makes
            gradients vanish (~1e-21 at the bottleneck).
        width (float): Multiplier of the hidden channels. 1.0 (default) is
            the reference (~25.8 M parameters, what its checkpoints need);
            0.25 gives a ~1.6 M-parameter generator that trains on a CPU.

    Spatial sizes must be multiples of 128 (seven stride-2 levels).
    """

    num_levels = len(GENERATOR_ENCODER_SPEC)

    def __init__(self,
                 in_channels: int = 4,
                 out_channels: int = 3,
                 freeze_encoder_bn: bool = False,
                 window_rescale: bool = False,
                 width: float = 1.0) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.freeze_encoder_bn = freeze_encoder_bn
        self.window_rescale = window_rescale
        self.width = check_width(width, 'PCNetCGenerator')
        encoders, decoders = [], []
        for layer in generator_layer_shapes(in_channels, out_channels,
                                            self.width):
            if layer['kind'] == 'enc':
                activation = 'relu'
                target = encoders
            else:
                activation = None if layer['level'] == 1 else 'leaky_relu'
                target = decoders
            target.append(
                PartialConvBlock(layer['in_channels'], layer['out_channels'],
                                 layer['kernel_size'], layer['stride'],
                                 layer['norm'], activation, layer['bias'],
                                 window_rescale))
        self.encoders = nn.ModuleList(encoders)
        self.decoders = nn.ModuleList(decoders)

    @property
    def size_divisor(self) -> int:
        """Spatial sizes must be multiples of this (2 ** levels)."""
        return 2**self.num_levels

    def train(self, mode: bool = True) -> 'PCNetCGenerator':
        """Set the mode, keeping encoder BN in eval if requested."""
        super().train(mode)
        if mode and self.freeze_encoder_bn:
            for block in self.encoders:
                if block.norm is not None:
                    block.norm.eval()
        return self

    def forward(self, x: Tensor, mask: Tensor) -> Tuple[Tensor, Tensor]:
        """Complete ``x`` where ``mask`` is 0.

        Args:
            x (Tensor): ``(B, in_channels, H, W)``; H, W multiples of 128.
            mask (Tensor): ``(B, in_channels, H, W)`` validity mask in
                {0, 1} (1 = known).

        Returns:
            tuple[Tensor, Tensor]: Raw output ``(B, out_channels, H, W)``
            and its partial-conv mask ``(B, out_channels, H, W)``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise PCNetCInputError(
                f'PCNetCGenerator: expected input (B, {self.in_channels}, H, '
                f'W), got {tuple(x.shape)}')
        if mask.shape != x.shape:
            raise PCNetCInputError(
                f'PCNetCGenerator: mask shape {tuple(mask.shape)} differs '
                f'from input shape {tuple(x.shape)}')
        height, width = x.shape[-2:]
        if height % self.size_divisor or width % self.size_divisor:
            raise PCNetCInputError(
                f'PCNetCGenerator: spatial size {height}x{width} must be a '
                f'multiple of {self.size_divisor} (7 stride-2 levels), e.g. '
                '256')
        bottleneck = (height // self.size_divisor) * (
            width // self.size_divisor)
        if self.training and x.shape[0] * bottleneck < 2:
            raise PCNetCInputError(
                f'PCNetCGenerator: training at {height}x{width} needs a '
                'batch of at least 2 (BatchNorm at the 1x1 bottleneck of '
                'enc_7 has a single value per channel otherwise)')
        mask = mask.to(x.dtype)
        features, masks = [x], [mask]
        for block in self.encoders:
            x, mask = block(x, mask)
            features.append(x)
            masks.append(mask)
        for level in range(self.num_levels, 0, -1):
            x = F.interpolate(x, scale_factor=2, mode='nearest')
            mask = F.interpolate(mask, scale_factor=2, mode='nearest')
            x = torch.cat([x, features[level - 1]], dim=1)
            mask = torch.cat([mask, masks[level - 1]], dim=1)
            x, mask = self.decoders[level - 1](x, mask)
        return x, mask
