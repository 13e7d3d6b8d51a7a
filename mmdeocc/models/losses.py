"""PCNet-C losses (METHOD 3.4): inpainting losses and the adversarial loss.

Notation: ``M`` = visible mask (1 = known pixel), ``out`` = raw generator
output, ``comp = M * input + (1 - M) * out``, ``gt`` = ImageNet-normalised
ground-truth RGB. "L1" is the mean absolute error over all elements.

Defaults (the published weights): valid 1, hole 6, perceptual 0.1,
style 250, total variation 0.1, adversarial (generator) 0.1.
"""
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet.registry import MODELS
from .vgg_features import VGG16Features  # noqa: F401  (registers it)

__all__ = [
    'gram_matrix', 'total_variation_loss', 'gan_bce_loss',
    'PCNetCInpaintingLoss', 'PCNetCAdversarialLoss'
]


def gram_matrix(feat: Tensor) -> Tensor:
    """Gram matrix of a feature map normalised by ``C * H * W``.

    Args:
        feat (Tensor): ``(B, C, H, W)`` features.

    Returns:
        Tensor: ``(B, C, C)`` with ``G[b] = F_b F_b^T / (C * H * W)`` where
        ``F_b`` is the ``(C, H*W)`` flattened map. Computed in float32 with
        autocast disabled (fp16 sums over ``H*W`` would lose precision).
    """
    b, c, h, w = feat.shape
    with torch.autocast(device_type=feat.device.type, enabled=False):
        flat = feat.float().reshape(b, c, h * w)
        return torch.bmm(flat, flat.transpose(1, 2)) / (c * h * w)


def total_variation_loss(image: Tensor) -> Tensor:
    """Mean absolute horizontal plus mean absolute vertical difference.

    Args:
        image (Tensor): ``(B, C, H, W)``.

    Returns:
        Tensor: Scalar.
    """
    horizontal = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    vertical = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    return horizontal + vertical


def gan_bce_loss(logits: Tensor, target_is_real: bool) -> Tensor:
    """Binary cross-entropy of discriminator logits against 1 or 0.

    ``BCE(sigmoid(logits), target)`` computed from logits (numerically
    stable; identical value to the reference's sigmoid + ``BCELoss`` away
    from saturation), averaged over every patch.

    Args:
        logits (Tensor): Discriminator logits of any shape.
        target_is_real (bool): Target 1 (real) or 0 (fake).

    Returns:
        Tensor: Scalar loss.
    """
    target = torch.full_like(logits, 1.0 if target_is_real else 0.0)
    return F.binary_cross_entropy_with_logits(logits, target)


@MODELS.register_module()
class PCNetCInpaintingLoss(nn.Module):
    """Valid/hole L1, perceptual, style and total-variation losses.

    Args:
        valid_weight (float): Weight of ``L1(M*out, M*gt)``. Defaults to 1.
        hole_weight (float): Weight of ``L1((1-M)*out, (1-M)*gt)``.
            Defaults to 6.
        perceptual_weight (float): Weight of the perceptual loss
            ``sum_l L1(f_l(out), f_l(gt)) + L1(f_l(comp), f_l(gt))`` over
            VGG16 pool1..pool3. Defaults to 0.1.
        style_weight (float): Weight of the same sum on Gram matrices
            normalised by ``C*H*W``. Defaults to 250.
        tv_weight (float): Weight of the total variation of ``comp``.
            Defaults to 0.1.
        vgg (dict | nn.Module, optional): The feature extractor or its
            config; defaults to ``dict(type='VGG16Features', weights=None)``
            (random weights, with a warning). Set
            ``vgg=dict(type='VGG16Features', weights='path/vgg16.pth')`` for
            real training. Not built when both the perceptual and style
            weights are 0.
    """

    def __init__(self,
                 valid_weight: float = 1.0,
                 hole_weight: float = 6.0,
                 perceptual_weight: float = 0.1,
                 style_weight: float = 250.0,
                 tv_weight: float = 0.1,
                 vgg: Optional[Union[dict, nn.Module]] = None) -> None:
        super().__init__()
        self.valid_weight = float(valid_weight)
        self.hole_weight = float(hole_weight)
        self.perceptual_weight = float(perceptual_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        if self.perceptual_weight == 0 and self.style_weight == 0:
            self.vgg = None
        elif isinstance(vgg, nn.Module):
            self.vgg = vgg
        else:
            self.vgg = MODELS.build(
                vgg if vgg is not None else dict(type='VGG16Features'))

    def forward(self, masked_input: Tensor, visible: Tensor, output: Tensor,
                gt: Tensor) -> Dict[str, Tensor]:
        """Compute the weighted losses.

        Args:
            masked_input (Tensor): ``(B, 3, H, W)`` generator RGB input
                (known pixels; values under the hole are ignored).
            visible (Tensor): ``(B, 1 or 3, H, W)`` visible mask ``M``.
            output (Tensor): ``(B, 3, H, W)`` raw generator output.
            gt (Tensor): ``(B, 3, H, W)`` ground-truth RGB.

        Returns:
            dict[str, Tensor]: Weighted scalar losses ``loss_valid``,
            ``loss_hole``, ``loss_perceptual``, ``loss_style``, ``loss_tv``
            (terms with weight 0 are left out).
        """
        if output.shape != gt.shape or masked_input.shape != gt.shape:
            raise ValueError(
                'PCNetCInpaintingLoss: input, output and gt must have the '
                f'same shape, got {tuple(masked_input.shape)}, '
                f'{tuple(output.shape)}, {tuple(gt.shape)}')
        visible = visible.to(output.dtype).expand_as(output)
        hole = 1.0 - visible
        comp = visible * masked_input + hole * output
        losses = {}
        if self.valid_weight:
            losses['loss_valid'] = self.valid_weight * F.l1_loss(
                visible * output, visible * gt)
        if self.hole_weight:
            losses['loss_hole'] = self.hole_weight * F.l1_loss(
                hole * output, hole * gt)
        if self.vgg is not None:
            losses.update(self._feature_losses(output, comp, gt))
        if self.tv_weight:
            losses['loss_tv'] = self.tv_weight * total_variation_loss(comp)
        return losses

    def _feature_losses(self, output: Tensor, comp: Tensor,
                        gt: Tensor) -> Dict[str, Tensor]:
        """Perceptual and style losses from one batched VGG pass."""
        batch = output.shape[0]
        with torch.no_grad():
            feats_gt: List[Tensor] = self.vgg(gt)
        feats = self.vgg(torch.cat([output, comp], dim=0))
        perceptual = output.new_zeros(())
        style = output.new_zeros(())
        for feat, feat_gt in zip(feats, feats_gt):
            feat_out, feat_comp = feat[:batch], feat[batch:]
            perceptual = perceptual + F.l1_loss(feat_out, feat_gt) + \
                F.l1_loss(feat_comp, feat_gt)
            if self.style_weight:
                gram_gt = gram_matrix(feat_gt)
                style = style + F.l1_loss(gram_matrix(feat_out), gram_gt) + \
                    F.l1_loss(gram_matrix(feat_comp), gram_gt)
        losses = {}
        if self.perceptual_weight:
            losses['loss_perceptual'] = self.perceptual_weight * perceptual
        if self.style_weight:
            losses['loss_style'] = self.style_weight * style
        return losses


@MODELS.register_module()
class PCNetCAdversarialLoss(nn.Module):
    """Non-saturating GAN loss with BCE (METHOD 3.4).

    Generator: ``weight * BCE(D(fake), 1)``. Discriminator:
    ``0.5 * [BCE(D(real), 1) + BCE(D(fake.detach()), 0)]`` (not weighted).

    Args:
        generator_weight (float): Weight of the generator's adversarial
            loss. Defaults to 0.1.
    """

    def __init__(self, generator_weight: float = 0.1) -> None:
        super().__init__()
        self.generator_weight = float(generator_weight)

    def generator_loss(self, fake_logits: Tensor) -> Tensor:
        """Weighted ``BCE(D(fake), 1)``.

        Args:
            fake_logits (Tensor): Discriminator logits of generated images.

        Returns:
            Tensor: Scalar.
        """
        return self.generator_weight * gan_bce_loss(fake_logits, True)

    def discriminator_loss(self, real_logits: Tensor,
                           fake_logits: Tensor) -> Tensor:
        """``0.5 * [BCE(D(real), 1) + BCE(D(fake), 0)]``.

        Args:
            real_logits (Tensor): Logits of real images.
            fake_logits (Tensor): Logits of (detached) generated images.

        Returns:
            Tensor: Scalar.
        """
        return 0.5 * (gan_bce_loss(real_logits, True) +
                      gan_bce_loss(fake_logits, False))
