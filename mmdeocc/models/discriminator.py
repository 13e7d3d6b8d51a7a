"""The PCNet-C patch discriminator (METHOD 3.3).

:class:`PCNetCDiscriminator`, registered in MMDetection's ``MODELS``: the
spectrally normalised convolutional critic that :class:`~mmdeocc.models.
PCNetC` trains against its generator.
"""
import torch
from torch import Tensor, nn
from torch.nn.utils import parametrizations

from mmdet.registry import MODELS
from .pconv_unet import check_width, scaled_channels

__all__ = ['PCNetCDiscriminator']


@MODELS.register_module()
class PCNetCDiscriminator(nn.Module):
    """Patch discriminator with spectral norm on every conv (METHOD 3.3).

    4x4 convs, padding 1, no bias: s2 in->64, s2 64->128, s2 128->256,
    s1 256->512, s1 512->1, LeakyReLU(0.2) between them. A 256x256 input
    gives a 30x30 map. Weights are drawn from N(0, 0.02).

    The module returns **logits**; the reference applies a sigmoid and then
    ``BCELoss``. PCNet-C's losses use the equivalent, numerically stable
    ``binary_cross_entropy_with_logits``; :meth:`probability` gives the
    sigmoid.

    Spectral norm uses ``torch.nn.utils.parametrizations.spectral_norm``
    (state-dict keys ``convs.N.parametrizations.weight.original`` and
    ``...weight.0._u`` / ``_v``). Unlike the classic hook-based
    ``spectral_norm``, it survives ``copy.deepcopy`` (EMA, model copies),
    several forward passes before one backward, and ``state_dict`` round
    trips without load hooks.

    Args:
        in_channels (int): Input channels (RGB + modal). Defaults to 4.
        use_spectral_norm (bool): Defaults to True.
        init_std (float): Std of the normal weight init. Defaults to 0.02.
        width (float): Multiplier of the hidden channels (1.0 = the
            reference's 64, 128, 256, 512).
    """

    def __init__(self,
                 in_channels: int = 4,
                 use_spectral_norm: bool = True,
                 init_std: float = 0.02,
                 width: float = 1.0) -> None:
        super().__init__()
        width = check_width(width, 'PCNetCDiscriminator')
        c64, c128, c256, c512 = (scaled_channels(c, width)
                                 for c in (64, 128, 256, 512))
        specs = ((in_channels, c64, 2), (c64, c128, 2), (c128, c256, 2),
                 (c256, c512, 1), (c512, 1, 1))
        convs = []
        for cin, cout, stride in specs:
            conv = nn.Conv2d(cin, cout, 4, stride, padding=1, bias=False)
            nn.init.normal_(conv.weight, 0.0, init_std)
            if use_spectral_norm:
                conv = parametrizations.spectral_norm(conv)
            convs.append(conv)
        self.convs = nn.ModuleList(convs)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor) -> Tensor:
        """Compute patch logits.

        Args:
            x (Tensor): ``(B, in_channels, H, W)``.

        Returns:
            Tensor: ``(B, 1, H', W')`` logits (30x30 for 256x256 input).
        """
        for index, conv in enumerate(self.convs):
            x = conv(x)
            if index < len(self.convs) - 1:
                x = self.act(x)
        return x

    def probability(self, x: Tensor) -> Tensor:
        """Sigmoid of :meth:`forward` (the reference's output)."""
        return torch.sigmoid(self(x))
