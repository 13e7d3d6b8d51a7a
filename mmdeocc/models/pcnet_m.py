"""PCNet-M: the partial mask completion network (METHOD 1.1, 1.2, 1.5)."""
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel

from mmdet.registry import MODELS
from .unet import NUM_DOWN_STAGES, UNet

#: Number of input channels: (erased modal [x category], eraser).
IN_CHANNELS = 2

CategoryIds = Union[torch.Tensor, Sequence[int]]


class UnknownCategoryError(KeyError, ValueError):
    """A category id is not in the model's ``category_map``.

    A ``KeyError`` (a failed look-up) and a ``ValueError`` (bad input), so
    either ``except`` clause catches it.
    """

    def __str__(self) -> str:
        return str(self.args[0])


@MODELS.register_module()
class PCNetM(BaseModel):
    """Partial completion network for masks (PCNet-M).

    Input channel 0 is the target's modal mask with the eraser pixels set to
    0, channel 1 is the eraser; the output is background / foreground
    logits. With ``use_category`` the model multiplies channel 0 by a value
    per category itself (METHOD 1.2), so callers always pass binary masks.

    Args:
        width (float): UNet width multiplier (2 is the reference and the
            only width with released weights; 1 is ~4x cheaper).
        use_category (bool): Multiply channel 0 by a per-category value.
            The released KINS model needs it with the raw KINS category ids
            (1..8); COCOA used a constant 1, i.e. ``use_category=False``.
        category_map (dict, optional): Dataset ``category_id`` -> value fed
            to channel 0 when ``use_category``. None uses the raw id itself.
            Ids missing from the map raise :class:`UnknownCategoryError`.
        inmask_weight (float): Cross-entropy weight inside the eraser (1
            outside), the stated intent of the method (5). The reference
            code effectively applies 6 = 1 + 5 inside because of a uint8
            bitwise-not quirk on PyTorch >= 1.2; use ``inmask_weight=6`` to
            reproduce its training exactly.
        in_size (int): Side of the square crops the model works on (256 in
            the reference); the inference core resizes crops to it. The
            network itself accepts any size >= 16.
        data_preprocessor (dict, optional): Config of the data
            preprocessor; defaults to mmengine's ``BaseDataPreprocessor``,
            which moves batches to the model's device.
        init_cfg (dict | list[dict], optional): Initialisation config; the
            UNet defaults to the reference initialisation.
    """

    def __init__(self,
                 width: float = 2,
                 use_category: bool = False,
                 category_map: Optional[Mapping[int, float]] = None,
                 inmask_weight: float = 5.0,
                 in_size: int = 256,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if not inmask_weight >= 0:
            raise ValueError(f'PCNetM inmask_weight must be >= 0, got '
                             f'{inmask_weight!r}')
        if int(in_size) != in_size or in_size < 2**NUM_DOWN_STAGES:
            raise ValueError(f'PCNetM in_size must be an integer >= '
                             f'{2**NUM_DOWN_STAGES}, got {in_size!r}')
        self.width = width
        self.use_category = bool(use_category)
        self.category_map = _normalise_category_map(category_map)
        self.inmask_weight = float(inmask_weight)
        self.in_size = int(in_size)
        self.unet = UNet(width=width, in_channels=IN_CHANNELS, num_classes=2)

    # ------------------------------------------------------------------
    # Input encoding
    # ------------------------------------------------------------------
    def category_values(self, category_ids: Optional[CategoryIds],
                        batch_size: int,
                        device: torch.device) -> torch.Tensor:
        """Values that multiply channel 0, one per sample.

        Args:
            category_ids (Tensor | Sequence[int], optional): ``(B,)`` dataset
                category ids. Required when ``use_category``.
            batch_size (int): Expected number of ids.
            device (torch.device): Device of the result.

        Returns:
            torch.Tensor: ``(B,)`` float32 values.

        Raises:
            ValueError: If ids are needed but missing or of the wrong length.
            UnknownCategoryError: If an id is not in ``category_map``.
        """
        if category_ids is None:
            raise ValueError(
                'PCNetM(use_category=True) needs category_ids (data_samples'
                "['category_id'] in training batches), got None")
        ids = torch.as_tensor(category_ids).reshape(-1)
        if ids.numel() != batch_size or ids.is_floating_point() or \
                ids.dtype == torch.bool:
            raise ValueError(
                f'category_ids must be {batch_size} integers (one per '
                f'sample), got {ids.dtype} with {ids.numel()} values')
        if self.category_map is None:
            return ids.to(device=device, dtype=torch.float32)
        values = []
        for cat_id in ids.tolist():
            if cat_id not in self.category_map:
                known = sorted(self.category_map)
                raise UnknownCategoryError(
                    f'category_id {cat_id} is not in PCNetM.category_map '
                    f'(known ids: {known[:20]}'
                    f'{" ..." if len(known) > 20 else ""})')
            values.append(self.category_map[cat_id])
        return torch.tensor(values, dtype=torch.float32, device=device)

    def encode_inputs(self,
                      inputs: torch.Tensor,
                      category_ids: Optional[CategoryIds] = None
                      ) -> torch.Tensor:
        """Apply the category encoding of METHOD 1.2 to channel 0.

        Args:
            inputs (torch.Tensor): ``(B, 2, H, W)`` float; channel 0 the
                erased modal mask in {0, 1}, channel 1 the eraser.
            category_ids (Tensor | Sequence[int], optional): ``(B,)`` ids;
                used only when ``use_category``.

        Returns:
            torch.Tensor: The network input (``inputs`` itself without
            ``use_category``).
        """
        check_pcnet_m_inputs(inputs)
        if not self.use_category:
            return inputs
        values = self.category_values(category_ids, inputs.shape[0],
                                      inputs.device).to(inputs.dtype)
        modal = inputs[:, :1] * values.view(-1, 1, 1, 1)
        return torch.cat([modal, inputs[:, 1:]], dim=1)

    # ------------------------------------------------------------------
    # Forward
    # ------------------------------------------------------------------
    def forward(self,
                inputs: torch.Tensor,
                data_samples: Optional[Mapping[str, torch.Tensor]] = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, torch.Tensor], torch.Tensor]:
        """Run the model in mmengine's three modes.

        Args:
            inputs (torch.Tensor): ``(B, 2, H, W)`` float: erased modal in
                {0, 1} and eraser in {0, 1}.
            data_samples (dict, optional): ``target`` ``(B, H, W)`` uint8
                full modal mask (needed for ``'loss'``) and ``category_id``
                ``(B,)`` int64 (needed with ``use_category``).
            mode (str): ``'loss'`` returns ``dict(loss, acc, fg_iou)``
                (only ``loss`` is optimised; the others are logged);
                ``'predict'`` returns the ``(B, H, W)`` foreground
                probability; ``'tensor'`` returns ``(B, 2, H, W)`` logits.

        Returns:
            dict | torch.Tensor: See ``mode``.
        """
        if mode not in ('loss', 'predict', 'tensor'):
            raise ValueError(f"PCNetM mode must be 'loss', 'predict' or "
                             f"'tensor', got {mode!r}")
        category_ids = None
        if data_samples is not None:
            if not isinstance(data_samples, Mapping):
                raise ValueError(
                    'PCNetM data_samples must be a dict with target / '
                    f'category_id tensors, got {type(data_samples).__name__}')
            category_ids = data_samples.get('category_id')
        target = None
        if mode == 'loss':
            check_pcnet_m_inputs(inputs)
            if data_samples is None or data_samples.get('target') is None:
                raise ValueError("PCNetM mode='loss' needs data_samples"
                                 "['target'] (B, H, W) full modal masks")
            target = self._check_target(data_samples['target'], inputs)
        logits = self.unet(self.encode_inputs(inputs, category_ids))
        if mode == 'tensor':
            return logits
        if mode == 'predict':
            return logits.float().softmax(dim=1)[:, 1]
        return self.loss(logits, inputs[:, 1], target)

    @staticmethod
    def _check_target(target: torch.Tensor,
                      inputs: torch.Tensor) -> torch.Tensor:
        """Validate the full modal masks of a training batch.

        Args:
            target (torch.Tensor): ``(B, H, W)`` masks in {0, 1}.
            inputs (torch.Tensor): The batch inputs ``(B, 2, H, W)``.

        Returns:
            torch.Tensor: ``target`` as int64 on the inputs' device.

        Raises:
            ValueError: For a wrong shape or values outside {0, 1}.
        """
        expected = (inputs.shape[0], ) + tuple(inputs.shape[2:])
        if not isinstance(target, torch.Tensor) or \
                tuple(target.shape) != expected:
            got = tuple(target.shape) if isinstance(target, torch.Tensor) \
                else type(target).__name__
            raise ValueError(f"PCNetM data_samples['target'] must have shape "
                             f'(B, H, W) = {expected}, got {got}')
        target = target.to(device=inputs.device)
        if bool(((target != 0) & (target != 1)).any()):
            raise ValueError("PCNetM data_samples['target'] must be a mask "
                             'with values in {0, 1}, got values '
                             f'{torch.unique(target)[:8].tolist()}')
        return target.long()

    def loss(self, logits: torch.Tensor, eraser: torch.Tensor,
             target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Weighted per-pixel cross-entropy (METHOD 1.5).

        Args:
            logits (torch.Tensor): ``(B, 2, H, W)``.
            eraser (torch.Tensor): ``(B, H, W)`` eraser in {0, 1}; pixels
                inside get weight ``inmask_weight``, the others 1.
            target (torch.Tensor): ``(B, H, W)`` full modal mask in {0, 1}.

        Returns:
            dict[str, torch.Tensor]: ``loss`` = weighted CE summed and
            divided by ``B * H * W``; ``acc`` = pixel accuracy and
            ``fg_iou`` = foreground IoU of the argmax prediction over the
            batch (both detached, for logging).
        """
        target = self._check_target(target, logits)
        ce = F.cross_entropy(logits.float(), target, reduction='none')
        weight = 1.0 + (self.inmask_weight - 1.0) * eraser.float()
        loss = (ce * weight).sum() / ce.numel()
        with torch.no_grad():
            pred = logits.argmax(dim=1)
            acc = (pred == target).float().mean()
            inter = ((pred == 1) & (target == 1)).sum().float()
            union = ((pred == 1) | (target == 1)).sum().float()
            fg_iou = inter / union.clamp(min=1)
        return dict(loss=loss, acc=acc, fg_iou=fg_iou)

    @torch.no_grad()
    def predict_probs(self,
                      modal: torch.Tensor,
                      eraser: torch.Tensor,
                      category_ids: Optional[CategoryIds] = None
                      ) -> torch.Tensor:
        """Foreground probability for a batch of crops (no grad).

        The caller sets eval mode and autocast; inputs are moved to the
        model's device.

        Args:
            modal (torch.Tensor): ``(B, S, S)`` modal masks already zeroed
                inside the eraser (float, bool or uint8 in {0, 1}).
            eraser (torch.Tensor): ``(B, S, S)`` eraser masks.
            category_ids (Tensor | Sequence[int], optional): ``(B,)``
                dataset category ids; required when ``use_category``.

        Returns:
            torch.Tensor: ``(B, S, S)`` float32 softmax foreground
            probability.
        """
        if not isinstance(modal, torch.Tensor) or \
                not isinstance(eraser, torch.Tensor) or modal.dim() != 3 or \
                modal.shape != eraser.shape:
            shapes = [
                tuple(t.shape) if isinstance(t, torch.Tensor) else
                type(t).__name__ for t in (modal, eraser)
            ]
            raise ValueError('PCNetM.predict_probs needs modal and eraser '
                             f'tensors of the same shape (B, S, S), got '
                             f'{shapes[0]} and {shapes[1]}')
        device = self.unet.head.weight.device
        inputs = torch.stack([
            modal.to(device=device, dtype=torch.float32),
            eraser.to(device=device, dtype=torch.float32)
        ],
                             dim=1)
        logits = self.unet(self.encode_inputs(inputs, category_ids))
        return logits.float().softmax(dim=1)[:, 1]


def check_pcnet_m_inputs(inputs: torch.Tensor) -> None:
    """Raise a clear error unless ``inputs`` is a ``(B, 2, H, W)`` float
    tensor with ``H, W >= 16``.

    Args:
        inputs (torch.Tensor): Candidate model input.

    Raises:
        ValueError: Naming the expected shape.
    """
    min_side = 2**NUM_DOWN_STAGES
    expected = (f'(B, {IN_CHANNELS}, H, W) (channel 0 erased modal, channel '
                f'1 eraser; H, W >= {min_side})')
    if not isinstance(inputs, torch.Tensor):
        raise ValueError(f'PCNetM inputs must be a float tensor of shape '
                         f'{expected}, got {type(inputs).__name__}')
    if inputs.dim() != 4 or inputs.shape[1] != IN_CHANNELS or \
            inputs.shape[2] < min_side or inputs.shape[3] < min_side:
        raise ValueError(f'PCNetM inputs must have shape {expected}, got '
                         f'{tuple(inputs.shape)}')
    if not inputs.is_floating_point():
        raise ValueError(f'PCNetM inputs must be a float tensor of shape '
                         f'{expected}, got dtype {inputs.dtype}')


def _normalise_category_map(
        category_map: Optional[Mapping]) -> Optional[Dict[int, float]]:
    """Check ``category_map`` and turn its keys into ints (configs and JSON
    may give strings)."""
    if category_map is None:
        return None
    if not isinstance(category_map, Mapping):
        raise ValueError('PCNetM category_map must be a dict category_id -> '
                         f'value, got {type(category_map).__name__}')
    result = {}
    for key, value in category_map.items():
        try:
            cat_id = int(key)
            if isinstance(key, float) and key != cat_id:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(f'PCNetM category_map key {key!r} is not an '
                             'integer category id') from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f'PCNetM category_map[{key!r}] must be a number, '
                             f'got {value!r}')
        result[cat_id] = float(value)
    return result
