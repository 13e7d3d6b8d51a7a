"""Frozen VGG16 feature extractor for the perceptual and style losses.

The layers are built here (no torchvision) with the indices of torchvision's
``vgg16().features`` so that a torchvision ImageNet state dict
(``features.N.weight`` / ``features.N.bias``) loads unchanged. Only the
layers up to pool3 (``features.0`` .. ``features.16``) exist; the deeper
layers and the classifier in such a file are ignored.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional

from mmengine.logging import print_log
from torch import Tensor, nn

from mmdet.registry import MODELS
from ..utils import safe_torch_load

__all__ = ['VGG16Features', 'VGGWeightsError']

# (index in torchvision's vgg16().features, in, out) of the convolutions up
# to pool3; every conv is 3x3, padding 1, followed by an in-place ReLU at
# index + 1. Max-pools (2x2, stride 2) sit at 4, 9 and 16.
_VGG16_CONVS = ((0, 3, 64), (2, 64, 64), (5, 64, 128), (7, 128, 128),
                (10, 128, 256), (12, 256, 256), (14, 256, 256))
_VGG16_POOLS = (4, 9, 16)


class VGGWeightsError(ValueError):
    """Raised when a VGG16 weights file is missing layers or has wrong
    shapes."""


def _load_state_dict_file(path: str) -> Dict[str, Tensor]:
    """Load a state dict with weights-only unpickling."""
    loaded = safe_torch_load(path, map_location='cpu')
    if isinstance(loaded, dict) and isinstance(
            loaded.get('state_dict'), dict):
        loaded = loaded['state_dict']
    if not isinstance(loaded, dict):
        raise VGGWeightsError(
            f'{path}: expected a state dict (mapping of tensors), got '
            f'{type(loaded).__name__}')
    return loaded


@MODELS.register_module()
class VGG16Features(nn.Module):
    """VGG16 ``features`` up to pool3, returning pool1, pool2, pool3.

    The module is frozen: its parameters never require grad and it stays in
    eval mode whatever ``train()`` is called with (it has no dropout or BN,
    so this only documents intent). Gradients still flow to its *input*.

    Args:
        weights (str, optional): Path to a file holding torchvision's vgg16
            state dict (``features.N.weight`` / ``features.N.bias``; a dict
            with a ``state_dict`` entry is accepted too), loaded with
            weights-only unpickling. When None, the layers keep a random
            (Kaiming) initialisation and a warning is logged: the perceptual
            and style losses are then not the published ones (fine for
            tests only).

    Inputs are ImageNet-normalised RGB ``(B, 3, H, W)`` with H, W >= 8.
    """

    def __init__(self, weights: Optional[str] = None) -> None:
        super().__init__()
        layers: List[nn.Module] = []
        convs = {index: (cin, cout) for index, cin, cout in _VGG16_CONVS}
        for index in range(_VGG16_POOLS[-1] + 1):
            if index in convs:
                layers.append(nn.Conv2d(*convs[index], 3, padding=1))
            elif index in _VGG16_POOLS:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.ReLU(inplace=True))
        self.features = nn.Sequential(*layers)
        for index, _, _ in _VGG16_CONVS:
            conv = self.features[index]
            nn.init.kaiming_normal_(
                conv.weight, mode='fan_out', nonlinearity='relu')
            nn.init.zeros_(conv.bias)
        self.weights = weights
        if weights is None:
            print_log(
                'VGG16Features: no weights file given, using random '
                'weights; perceptual/style losses will not match the '
                'published PCNet-C training', logger='current',
                level=logging.WARNING)
        else:
            self.load_weights(weights)
        self.requires_grad_(False)
        super().train(False)

    def load_weights(self, path: str) -> None:
        """Load torchvision-layout vgg16 weights from ``path``.

        Args:
            path (str): The weights file.

        Raises:
            FileNotFoundError: ``path`` does not exist.
            VGGWeightsError: A needed ``features.N.*`` entry is missing or
                has a different shape.
        """
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'VGG16Features: weights file {path} does not exist. Put '
                "torchvision's ImageNet vgg16-397923af.pth there (it cannot "
                'be downloaded here), or build the loss with '
                'perceptual_weight=0 and style_weight=0 (no VGG needed)')
        state = _load_state_dict_file(path)
        own = self.state_dict()
        picked = {}
        for key, param in own.items():
            if key not in state:
                raise VGGWeightsError(
                    f'{path}: missing {key!r}; expected torchvision vgg16 '
                    'layout (features.N.weight / features.N.bias)')
            value = state[key]
            if not isinstance(value, Tensor) or value.shape != param.shape:
                shape = tuple(value.shape) if isinstance(value,
                                                         Tensor) else None
                raise VGGWeightsError(
                    f'{path}: {key!r} has shape {shape}, expected '
                    f'{tuple(param.shape)}')
            picked[key] = value
        self.load_state_dict(picked, strict=True)

    def train(self, mode: bool = True) -> 'VGG16Features':
        """Stay in eval mode (the extractor is frozen)."""
        return super().train(False)

    def forward(self, x: Tensor) -> List[Tensor]:
        """Compute the pool1, pool2 and pool3 outputs.

        Args:
            x (Tensor): ``(B, 3, H, W)`` ImageNet-normalised images.

        Returns:
            list[Tensor]: ``[pool1 (B, 64, H/2, W/2), pool2 (B, 128, H/4,
            W/4), pool3 (B, 256, H/8, W/8)]``.
        """
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError('VGG16Features: expected (B, 3, H, W) images, '
                             f'got {tuple(x.shape)}')
        outputs = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in _VGG16_POOLS:
                outputs.append(x)
        return outputs
