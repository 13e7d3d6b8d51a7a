"""PCNet-C: amodal-constrained content completion (METHOD 3).

:class:`PCNetC`, an mmengine ``BaseModel`` registered in MMDetection's
``MODELS``, trains the partial-conv UNet generator
(:class:`~mmdeocc.models.pconv_unet.PCNetCGenerator`, METHOD 3.1) against
the patch discriminator
(:class:`~mmdeocc.models.discriminator.PCNetCDiscriminator`, 3.3) with two
optimisers (3.4) and completes content at inference (3.5).
"""
from typing import (Any, Dict, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import torch
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from torch import Tensor, nn

from mmdet.registry import MODELS
from mmdeocc.utils.deprecation import moved_attribute
from .discriminator import PCNetCDiscriminator
from .pconv_unet import PCNetCGenerator, PCNetCInputError

__all__ = [
    'PCNetCGenerator', 'PCNetCDiscriminator', 'PCNetC', 'PCNetCInputError'
]

# Moved to the generator's module (importable from here for one release).
_MOVED = {
    'GENERATOR_ENCODER_SPEC': 'mmdeocc.models.pconv_unet',
    'PartialConvBlock': 'mmdeocc.models.pconv_unet',
    'generator_layer_shapes': 'mmdeocc.models.pconv_unet',
    'scaled_channels': 'mmdeocc.models.pconv_unet',
    '_check_width': 'mmdeocc.models.pconv_unet:check_width',
    'PartialConv2d': 'mmdeocc.models.partial_conv',
}


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name, _MOVED)


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for param in module.parameters():
        param.requires_grad_(flag)


@MODELS.register_module()
class PCNetC(BaseModel):
    """PCNet-C: partial-conv UNet generator trained with a patch GAN.

    **Training batch** (after ``default_collate``; all tensors share B and
    the square size S, a multiple of 128, 256 in the reference)::

        data = dict(
            inputs=Tensor(B, 3, S, S) float,      # un-erased RGB,
                                                  # ImageNet-normalised
                   # (or dict(rgb=Tensor(B, 3, S, S)))
            data_samples=dict(
                modal=Tensor(B, S, S) {0, 1},     # target modal minus the
                                                  # eraser (erased modal)
                hole=Tensor(B, S, S) {0, 1},      # eraser ∩ target modal
                category_id=Tensor(B,) int64))    # dataset category id;
                                                  # optional when
                                                  # use_category=False

    ``modal`` and ``hole`` may also be ``(B, 1, S, S)``, any numeric or
    bool dtype. From these the model builds (METHOD 3.1-3.2)
    ``visible = 1 - hole``, generator input ``[rgb * visible,
    modal * c]`` with ``c`` the category value (see ``use_category``), the
    partial-conv mask ``visible`` replicated to 4 channels, and the
    discriminator input ``[image, modal * c]``.

    **Optimisers**: ``train_step`` needs an ``OptimWrapperDict`` with keys
    ``'generator'`` and ``'discriminator'``. mmengine 0.10 has no
    constructor for that (``MultiOptimWrapperConstructor`` is mmagic's), so
    mmdeocc registers :class:`~mmdeocc.engine.PCNetCOptimWrapperConstructor`
    (one optimiser per named child module)::

        optim_wrapper = dict(
            constructor='PCNetCOptimWrapperConstructor',
            generator=dict(optimizer=dict(type='Adam', lr=1e-4)),
            discriminator=dict(
                optimizer=dict(type='Adam', lr=1e-5, betas=(0.0, 0.9))))

    Each step: generator update (inpainting losses + adversarial loss; the
    discriminator's parameters are frozen meanwhile so that no gradient
    leaks into them), then discriminator update on the detached output of
    the same forward pass. Both losses are thus computed with the networks
    as they were at the start of the iteration, as in the reference. For
    multi-GPU training use ``model_wrapper_cfg=dict(
    type='MMSeparateDistributedDataParallel')`` (mmengine's plain DDP
    wrapper bypasses this ``train_step``).

    **Initialisation**: the reference starts from a trained partial-conv
    inpainting model (:func:`~mmdeocc.models.expand_inpainting_checkpoint`
    then :func:`~mmdeocc.models.reference_to_mmdeocc_pcnet_c`, loaded with
    ``load_from``). From a random initialisation the reference partial-conv
    normalisation makes the deep layers' gradients vanish; set
    ``generator=dict(type='PCNetCGenerator', window_rescale=True)`` to
    train from scratch (not compatible with the reference weights).

    Args:
        generator (dict): Generator config. Defaults to
            ``dict(type='PCNetCGenerator')``.
        discriminator (dict): Discriminator config. Defaults to
            ``dict(type='PCNetCDiscriminator')``.
        inpainting_loss (dict): Defaults to
            ``dict(type='PCNetCInpaintingLoss')`` (weights valid 1, hole 6,
            perceptual 0.1, style 250, tv 0.1; VGG16 random unless
            ``vgg=dict(type='VGG16Features', weights=PATH)``).
        adversarial_loss (dict): Defaults to
            ``dict(type='PCNetCAdversarialLoss', generator_weight=0.1)``.
        use_category (bool): Multiply the modal channel by a category
            value (the reference's ``use_category``; the released KINS model
            was trained with raw KINS ids, COCOA with 1). Off: the modal
            channel is the plain mask. Defaults to False.
        category_map (dict, optional): Dataset category id -> value fed
            when ``use_category`` is True; None feeds the id itself.
        in_size (int): Side ``S`` of the square crops the model is trained
            on (a multiple of 128; 256 in the reference). Not used by the
            networks; content completion uses it as its default crop size.
        data_preprocessor (dict, optional): Defaults to mmengine's
            ``BaseDataPreprocessor`` (moves data to the device; inputs are
            expected already normalised).
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 generator: Optional[dict] = None,
                 discriminator: Optional[dict] = None,
                 inpainting_loss: Optional[dict] = None,
                 adversarial_loss: Optional[dict] = None,
                 use_category: bool = False,
                 category_map: Optional[Mapping[int, float]] = None,
                 in_size: int = 256,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.generator = MODELS.build(
            generator if generator is not None else dict(
                type='PCNetCGenerator'))
        divisor = int(getattr(self.generator, 'size_divisor', 1))
        if isinstance(in_size, bool) or int(in_size) != in_size or \
                in_size < divisor or in_size % divisor:
            raise ValueError(f'PCNetC: in_size must be a positive multiple '
                             f'of {divisor}, got {in_size!r}')
        self.in_size = int(in_size)
        self.discriminator = MODELS.build(
            discriminator if discriminator is not None else dict(
                type='PCNetCDiscriminator'))
        self.inpainting_loss = MODELS.build(
            inpainting_loss if inpainting_loss is not None else dict(
                type='PCNetCInpaintingLoss'))
        self.adversarial_loss = MODELS.build(
            adversarial_loss if adversarial_loss is not None else dict(
                type='PCNetCAdversarialLoss'))
        self.use_category = use_category
        self.category_map = None if category_map is None else {
            int(key): float(value)
            for key, value in dict(category_map).items()
        }

    # ------------------------------------------------------------------
    # input handling
    # ------------------------------------------------------------------
    def _category_values(self, category_id: Optional[Tensor], batch: int,
                         device: torch.device) -> Tensor:
        """Per-sample value multiplying the modal channel, ``(B,)``."""
        if not self.use_category:
            return torch.ones(batch, device=device)
        if category_id is None:
            raise PCNetCInputError(
                'PCNetC: use_category=True needs data_samples["category_id"]'
                ' (or the category argument of complete())')
        category_id = torch.as_tensor(category_id).reshape(-1)
        if category_id.numel() != batch:
            raise PCNetCInputError(
                f'PCNetC: category_id has {category_id.numel()} entries for '
                f'a batch of {batch}')
        if self.category_map is None:
            return category_id.to(device=device, dtype=torch.float32)
        values = []
        for cat_id in category_id.tolist():
            if int(cat_id) not in self.category_map:
                raise PCNetCInputError(
                    f'PCNetC: category_id {int(cat_id)} is not in '
                    f'category_map (keys {sorted(self.category_map)})')
            values.append(self.category_map[int(cat_id)])
        return torch.tensor(values, device=device, dtype=torch.float32)

    @staticmethod
    def _as_mask(value, name: str, batch: int, size: Tuple[int, int],
                 dtype: torch.dtype, device: torch.device) -> Tensor:
        """Validate a ``(B, S, S)`` / ``(B, 1, S, S)`` mask; return
        ``(B, 1, S, S)`` float."""
        if not isinstance(value, Tensor):
            raise PCNetCInputError(
                f'PCNetC: {name} must be a tensor, got {type(value).__name__}')
        if value.dim() == 3:
            value = value.unsqueeze(1)
        if value.dim() != 4 or value.shape[1] != 1 or \
                value.shape[0] != batch or tuple(value.shape[-2:]) != size:
            raise PCNetCInputError(
                f'PCNetC: {name} must be ({batch}, {size[0]}, {size[1]}) or '
                f'({batch}, 1, {size[0]}, {size[1]}), got '
                f'{tuple(value.shape)}')
        return value.to(device=device, dtype=dtype)

    def _prepare(self,
                 rgb: Tensor,
                 hole,
                 modal,
                 category_id: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Build the generator and discriminator inputs of a batch.

        Args:
            rgb (Tensor): ``(B, 3, S, S)`` normalised RGB (the true image;
                it is erased here).
            hole (Tensor): ``(B, S, S)`` or ``(B, 1, S, S)`` region to fill.
            modal (Tensor): Same shape, the (erased) target modal mask.
            category_id (Tensor, optional): ``(B,)`` category ids.

        Returns:
            dict[str, Tensor]: ``rgb``, ``visible`` ``(B, 1, S, S)``,
            ``net_input`` ``(B, 4, S, S)``, ``net_mask`` ``(B, 4, S, S)``,
            ``condition`` ``(B, 1, S, S)`` (modal * category value).
        """
        if not isinstance(rgb, Tensor) or rgb.dim() != 4 or \
                rgb.shape[1] != 3:
            shape = tuple(rgb.shape) if isinstance(rgb, Tensor) else type(
                rgb).__name__
            raise PCNetCInputError(
                f'PCNetC: rgb (inputs) must be (B, 3, S, S), got {shape}')
        if not rgb.is_floating_point():
            raise PCNetCInputError(
                'PCNetC: rgb (inputs) must be a float tensor, '
                f'ImageNet-normalised; got {rgb.dtype}')
        batch, size = rgb.shape[0], tuple(rgb.shape[-2:])
        hole = self._as_mask(hole, 'hole', batch, size, rgb.dtype,
                             rgb.device)
        modal = self._as_mask(modal, 'modal', batch, size, rgb.dtype,
                              rgb.device)
        if ((hole != 0) & (hole != 1)).any():
            raise PCNetCInputError('PCNetC: hole must contain only 0 and 1')
        visible = 1.0 - hole
        values = self._category_values(category_id, batch, rgb.device)
        condition = modal * values.to(rgb.dtype).view(-1, 1, 1, 1)
        channels = 3 + condition.shape[1]
        return dict(
            rgb=rgb,
            visible=visible,
            net_input=torch.cat([rgb * visible, condition], dim=1),
            net_mask=visible.expand(-1, channels, -1, -1).contiguous(),
            condition=condition)

    def _unpack_batch(self, inputs: Union[Tensor, Dict[str, Tensor]],
                      data_samples: Optional[dict]) -> Dict[str, Tensor]:
        """Validate a training/validation batch (see the class docstring)."""
        if isinstance(inputs, Mapping):
            if 'rgb' not in inputs:
                raise PCNetCInputError(
                    'PCNetC: inputs dict needs an "rgb" entry, got keys '
                    f'{sorted(inputs)}')
            inputs = inputs['rgb']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        if not isinstance(data_samples, Mapping):
            raise PCNetCInputError(
                'PCNetC: data_samples must be a dict with "modal", "hole" '
                f'(and "category_id"), got {type(data_samples).__name__}')
        for key in ('modal', 'hole'):
            if key not in data_samples:
                raise PCNetCInputError(
                    f'PCNetC: data_samples lacks "{key}" (keys: '
                    f'{sorted(data_samples)})')
        return self._prepare(inputs, data_samples['hole'],
                             data_samples['modal'],
                             data_samples.get('category_id'))

    # ------------------------------------------------------------------
    # losses
    # ------------------------------------------------------------------
    def _generate(self, batch: Dict[str, Tensor]) -> Tensor:
        output, _ = self.generator(batch['net_input'], batch['net_mask'])
        return output

    def _generator_losses(self, batch: Dict[str, Tensor],
                          output: Tensor) -> Dict[str, Tensor]:
        losses = self.inpainting_loss(batch['rgb'] * batch['visible'],
                                      batch['visible'], output, batch['rgb'])
        fake_logits = self.discriminator(
            torch.cat([output, batch['condition']], dim=1))
        losses['loss_adv'] = self.adversarial_loss.generator_loss(
            fake_logits)
        return losses

    def _discriminator_losses(self, batch: Dict[str, Tensor],
                              output: Tensor) -> Dict[str, Tensor]:
        condition = batch['condition']
        real = torch.cat([batch['rgb'], condition], dim=1)
        fake = torch.cat([output.detach(), condition], dim=1)
        logits = self.discriminator(torch.cat([real, fake], dim=0))
        real_logits, fake_logits = logits.chunk(2, dim=0)
        return dict(
            loss_disc=self.adversarial_loss.discriminator_loss(
                real_logits, fake_logits),
            disc_real_prob=torch.sigmoid(real_logits).mean().detach(),
            disc_fake_prob=torch.sigmoid(fake_logits).mean().detach())

    def loss(self, inputs, data_samples) -> Dict[str, Tensor]:
        """All losses of one batch (generator terms and ``loss_disc``).

        Their sum is not a training objective (each network has its own);
        use :meth:`train_step` to train. Useful for validation.
        """
        batch = self._unpack_batch(inputs, data_samples)
        output = self._generate(batch)
        losses = self._generator_losses(batch, output)
        losses.update(self._discriminator_losses(batch, output))
        return losses

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, Tensor]:
        """One generator update, then one discriminator update.

        Args:
            data (dict): ``dict(inputs=..., data_samples=...)`` as in the
                class docstring.
            optim_wrapper (OptimWrapperDict): With keys 'generator' and
                'discriminator'.

        Returns:
            dict[str, Tensor]: Log variables: each generator loss term,
            ``loss_gen`` (their sum), ``loss_disc``, ``disc_real_prob``,
            ``disc_fake_prob``.
        """
        for key in ('generator', 'discriminator'):
            if key not in optim_wrapper:
                raise KeyError(
                    f'PCNetC.train_step: optim_wrapper needs a {key!r} '
                    f'entry (got {list(optim_wrapper.keys())}); use '
                    "optim_wrapper=dict(constructor="
                    "'MultiOptimWrapperConstructor', generator=..., "
                    'discriminator=...)')
        data = self.data_preprocessor(data, True)
        batch = self._unpack_batch(data['inputs'], data.get('data_samples'))
        g_wrapper = optim_wrapper['generator']
        d_wrapper = optim_wrapper['discriminator']

        _set_requires_grad(self.discriminator, False)
        try:
            with g_wrapper.optim_context(self.generator):
                output = self._generate(batch)
                g_losses = self._generator_losses(batch, output)
            g_total, log_vars = self.parse_losses(g_losses)
            g_wrapper.update_params(g_total)
        finally:
            _set_requires_grad(self.discriminator, True)
        log_vars['loss_gen'] = log_vars.pop('loss')

        with d_wrapper.optim_context(self.discriminator):
            d_losses = self._discriminator_losses(batch, output)
        d_total, d_log_vars = self.parse_losses(d_losses)
        d_wrapper.update_params(d_total)
        d_log_vars.pop('loss')
        log_vars.update(d_log_vars)
        return log_vars

    # ------------------------------------------------------------------
    # inference
    # ------------------------------------------------------------------
    def predict(self, inputs, data_samples) -> List[dict]:
        """Composite completions of a batch.

        Returns:
            list[dict]: Per sample ``dict(pred_rgb=Tensor(3, S, S))``, the
            composite ``visible * rgb + hole * output`` (normalised space),
            and ``hole=Tensor(S, S)`` bool.
        """
        batch = self._unpack_batch(inputs, data_samples)
        output = self._generate(batch)
        visible = batch['visible']
        composite = visible * batch['rgb'] + (1 - visible) * output
        return [
            dict(pred_rgb=composite[i], hole=visible[i, 0] == 0)
            for i in range(composite.shape[0])
        ]

    def forward(self,
                inputs,
                data_samples: Optional[dict] = None,
                mode: str = 'tensor'):
        """Dispatch on ``mode``.

        Args:
            inputs (Tensor | dict): ``(B, 3, S, S)`` normalised RGB or
                ``dict(rgb=...)``.
            data_samples (dict): ``dict(modal, hole[, category_id])``.
            mode (str): 'loss' (dict of losses), 'predict' (list of dicts,
                see :meth:`predict`) or 'tensor' (raw generator output
                ``(B, 3, S, S)``).
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._generate(self._unpack_batch(inputs, data_samples))
        raise ValueError(f'PCNetC.forward: invalid mode {mode!r}; use '
                         "'loss', 'predict' or 'tensor'")

    @torch.no_grad()
    def complete(self,
                 rgb_norm: Tensor,
                 hole: Tensor,
                 modal: Tensor,
                 category: Optional[Union[Tensor, Sequence[int]]] = None
                 ) -> Tensor:
        """Fill ``hole`` in normalised RGB crops (METHOD 3.5).

        No grad; the caller sets eval mode (``model.eval()``) and device.

        Args:
            rgb_norm (Tensor): ``(B, 3, S, S)`` ImageNet-normalised RGB,
                S a multiple of 128 (256 for the released weights).
            hole (Tensor): ``(B, S, S)`` or ``(B, 1, S, S)``, 1 = pixels to
                fill (amodal minus modal, dilated, at inference).
            modal (Tensor): Same shape, the object's modal mask.
            category (Tensor | Sequence[int], optional): ``(B,)`` dataset
                category ids; required when ``use_category`` is True.

        Returns:
            Tensor: ``(B, 3, S, S)`` composite ``(1 - hole) * rgb_norm +
            hole * output`` in normalised space.
        """
        weights_device = next(self.generator.parameters()).device
        if isinstance(rgb_norm, Tensor) and rgb_norm.device != weights_device:
            raise PCNetCInputError(
                f'PCNetC.complete: rgb_norm is on {rgb_norm.device} but the '
                f'model on {weights_device}; move one of them')
        category_id = None if category is None else torch.as_tensor(
            category)
        batch = self._prepare(rgb_norm, hole, modal, category_id)
        output = self._generate(batch)
        visible = batch['visible']
        return visible * batch['rgb'] + (1 - visible) * output.to(
            batch['rgb'].dtype)
