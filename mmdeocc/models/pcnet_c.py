"""PCNet-C: amodal-constrained content completion (METHOD 3).

Three registered components and the trainable model:

* :class:`PCNetCGenerator` - the 7-level partial-convolution UNet (3.1).
* :class:`PCNetCDiscriminator` - the spectrally normalised patch
  discriminator (3.3).
* :class:`PCNetC` - an mmengine ``BaseModel`` that trains both with two
  optimisers (3.4) and completes content at inference (3.5).
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmengine.optim import OptimWrapperDict
from torch import Tensor, nn
from torch.nn.utils import parametrizations

from mmdet.registry import MODELS
from .partial_conv import PartialConv2d

__all__ = [
    'PCNetCGenerator', 'PCNetCDiscriminator', 'PCNetC', 'PCNetCInputError',
    'GENERATOR_ENCODER_SPEC'
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


def _check_width(width: float, owner: str) -> float:
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
    width = _check_width(width, 'generator_layer_shapes')
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
        self.width = _check_width(width, 'PCNetCGenerator')
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
        width = _check_width(width, 'PCNetCDiscriminator')
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
