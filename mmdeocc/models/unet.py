"""The plain UNet of PCNet-M (METHOD 1.1, the reference's "unet2").

Layout at width multiplier 2 (the reference and its released weights)::

    in_conv      DoubleConv   2 -> 32                      full resolution
    down_stages  maxpool 2x2 + DoubleConv: 32->64, 64->128, 128->256, 256->256
    up_stages    bilinear x2 (align_corners=True), zero-pad to the skip,
                 concat [skip, upsampled], DoubleConv:
                 (256+256)->128, (128+128)->64, (64+64)->32, (32+32)->32
    head         1x1 conv 32 -> 2 (background / foreground logits)

A ``DoubleConv`` is ``[3x3 conv (bias) -> norm -> ReLU] x 2``. The network has
3,352,002 parameters at width 2.
"""
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from mmdet.registry import MODELS

#: Encoder channels at width 1; width ``w`` scales them by ``w``.
BASE_CHANNELS = (16, 32, 64, 128, 128)

#: Number of 2x2 max-pool stages; inputs must be at least ``2 ** 4`` pixels.
NUM_DOWN_STAGES = 4

#: The reference initialisation (METHOD 1.1): conv weights xavier-normal with
#: gain 0.02 and zero bias; norm weights ~ N(1, 0.02) and zero bias.
REFERENCE_INIT_CFG = [
    dict(
        type='Xavier',
        layer='_ConvNd',
        gain=0.02,
        distribution='normal',
        bias=0.0),
    dict(
        type='Normal',
        layer=['_BatchNorm', 'GroupNorm'],
        mean=1.0,
        std=0.02,
        bias=0.0),
]


def unet_channels(width: float) -> List[int]:
    """Encoder channel counts of a UNet with width multiplier ``width``.

    Args:
        width (float): Width multiplier; 2 gives the reference
            ``[32, 64, 128, 256, 256]``, 1 gives ``[16, 32, 64, 128, 128]``.
            Fractional widths are rounded per stage to the nearest integer
            (at least 1).

    Returns:
        list[int]: Output channels of the in-conv and of the 4 down stages.
    """
    if not isinstance(width, (int, float)) or isinstance(width, bool) or \
            not width > 0:
        raise ValueError(f'UNet width must be a positive number, got '
                         f'{width!r}')
    return [max(1, int(round(base * width))) for base in BASE_CHANNELS]


class DoubleConv(BaseModule):
    """``[3x3 conv (bias) -> norm -> ReLU] x 2``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels of both convolutions.
        norm_cfg (dict): Config of the norm layers. Defaults to BatchNorm.
        init_cfg (dict | list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size=3, padding=1, bias=True)
        self.norm1 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, kernel_size=3, padding=1, bias=True)
        self.norm2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply both conv-norm-ReLU blocks.

        Args:
            x (torch.Tensor): ``(B, in_channels, H, W)``.

        Returns:
            torch.Tensor: ``(B, out_channels, H, W)``.
        """
        x = self.relu(self.norm1(self.conv1(x)))
        return self.relu(self.norm2(self.conv2(x)))


class DownStage(BaseModule):
    """2x2 max-pool followed by a :class:`DoubleConv`.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        norm_cfg (dict): Config of the norm layers.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 norm_cfg: dict) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.convs = DoubleConv(in_channels, out_channels, norm_cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Halve the resolution, then convolve.

        Args:
            x (torch.Tensor): ``(B, in_channels, H, W)``.

        Returns:
            torch.Tensor: ``(B, out_channels, H // 2, W // 2)``.
        """
        return self.convs(self.pool(x))


class UpStage(BaseModule):
    """Bilinear x2 upsampling, pad to the skip, concat ``[skip, up]``, convs.

    Args:
        skip_channels (int): Channels of the skip connection.
        up_channels (int): Channels of the tensor being upsampled.
        out_channels (int): Output channels.
        norm_cfg (dict): Config of the norm layers.
    """

    def __init__(self, skip_channels: int, up_channels: int,
                 out_channels: int, norm_cfg: dict) -> None:
        super().__init__()
        self.convs = DoubleConv(skip_channels + up_channels, out_channels,
                                norm_cfg)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        """Upsample ``x`` to ``skip``'s resolution and fuse them.

        Args:
            x (torch.Tensor): ``(B, up_channels, h, w)``.
            skip (torch.Tensor): ``(B, skip_channels, H, W)`` with
                ``H >= 2h`` and ``W >= 2w``.

        Returns:
            torch.Tensor: ``(B, out_channels, H, W)``.
        """
        x = F.interpolate(
            x, scale_factor=2, mode='bilinear', align_corners=True)
        pad_h = skip.shape[-2] - x.shape[-2]
        pad_w = skip.shape[-1] - x.shape[-1]
        if pad_h or pad_w:
            # Zero padding, split as evenly as possible (extra pixel at the
            # bottom / right), to reach the skip's size (odd input sizes).
            x = F.pad(x, [
                pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2
            ])
        return self.convs(torch.cat([skip, x], dim=1))


@MODELS.register_module()
class UNet(BaseModule):
    """Plain UNet of PCNet-M with a width multiplier (METHOD 1.1).

    Module names (used by :mod:`mmdeocc.models.converters`): ``in_conv``,
    ``down_stages.{0..3}.convs``, ``up_stages.{0..3}.convs`` (each a
    :class:`DoubleConv` with ``conv1``/``norm1``/``conv2``/``norm2``) and
    ``head``.

    Args:
        width (float): Width multiplier. 2 is the reference (32, 64, 128,
            256, 256 encoder channels, 3,352,002 parameters); 1 halves every
            channel count (about 4x cheaper); fractional widths round each
            stage to the nearest integer. Defaults to 2.
        in_channels (int): Input channels. Defaults to 2 (modal, eraser).
        num_classes (int): Output channels of the 1x1 head. Defaults to 2.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``
            (the reference); mmengine's ``sync_bn`` option converts it for
            distributed training.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to the reference initialisation
            :data:`REFERENCE_INIT_CFG` (applied by :meth:`init_weights`, as
            everywhere in OpenMMLab).
    """

    def __init__(self,
                 width: float = 2,
                 in_channels: int = 2,
                 num_classes: int = 2,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(cfg) for cfg in REFERENCE_INIT_CFG]
        super().__init__(init_cfg=init_cfg)
        channels = unet_channels(width)
        self.width = width
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.channels = tuple(channels)

        self.in_conv = DoubleConv(in_channels, channels[0], norm_cfg)
        self.down_stages = nn.ModuleList([
            DownStage(channels[i], channels[i + 1], norm_cfg)
            for i in range(NUM_DOWN_STAGES)
        ])
        # Up stage k fuses skip level (3 - k) with the running decoder
        # feature; it outputs the channels of the level above the skip
        # (the last stage keeps the in-conv's channels).
        up_stages = []
        running = channels[NUM_DOWN_STAGES]
        for level in reversed(range(NUM_DOWN_STAGES)):
            out = channels[max(level - 1, 0)]
            up_stages.append(UpStage(channels[level], running, out, norm_cfg))
            running = out
        self.up_stages = nn.ModuleList(up_stages)
        self.head = nn.Conv2d(running, num_classes, kernel_size=1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute per-pixel class logits.

        Args:
            x (torch.Tensor): ``(B, in_channels, H, W)`` with ``H, W >= 16``.
                Any size works; odd sizes are handled by padding to the
                skip connections.

        Returns:
            torch.Tensor: ``(B, num_classes, H, W)`` logits.
        """
        check_unet_input(x, self.in_channels)
        features = [self.in_conv(x)]
        for stage in self.down_stages:
            features.append(stage(features[-1]))
        out = features.pop()
        for stage in self.up_stages:
            out = stage(out, features.pop())
        return self.head(out)


def check_unet_input(x: torch.Tensor, in_channels: int) -> None:
    """Raise a clear error for an input the UNet cannot process.

    Args:
        x (torch.Tensor): Candidate input.
        in_channels (int): Expected channel count.

    Raises:
        ValueError: If ``x`` is not a floating ``(B, in_channels, H, W)``
            tensor with ``H, W >= 16``.
    """
    min_side = 2**NUM_DOWN_STAGES
    expected = f'(B, {in_channels}, H, W) with H, W >= {min_side}'
    if not isinstance(x, torch.Tensor):
        raise ValueError(f'UNet input must be a tensor of shape {expected}, '
                         f'got {type(x).__name__}')
    if x.dim() != 4 or x.shape[1] != in_channels:
        raise ValueError(f'UNet input must have shape {expected}, got '
                         f'{tuple(x.shape)}')
    if x.shape[2] < min_side or x.shape[3] < min_side:
        raise ValueError(f'UNet input must have shape {expected} (4 max-pool '
                         f'stages), got {tuple(x.shape)}')
    if not x.is_floating_point():
        raise ValueError(f'UNet input must be a floating tensor, got '
                         f'{x.dtype}')
