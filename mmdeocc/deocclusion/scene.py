"""One image's input to the inference core, prepared once."""
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor

from mmdeocc.structures import integer_crop_boxes, masks_to_bboxes
from mmdeocc.structures.masks import as_bool_mask_tensor
from mmdeocc.structures.packed_masks import DEFAULT_PIXEL_CHUNK, PackedMasks

MaskLike = Union[np.ndarray, Tensor]


class DeOcclusionInputError(ValueError):
    """The masks or category ids given to the inference core are invalid."""


def as_mask_tensor(masks: MaskLike,
                   device: Optional[Union[str, torch.device]] = None,
                   where: str = 'masks') -> Tensor:
    """Convert ``(N, H, W)`` bool/{0,1} masks (numpy or torch) to bool.

    Args:
        masks (np.ndarray | Tensor): The mask stack.
        device (str | torch.device, optional): Target device (default: keep).
        where (str): Name used in error messages.

    Returns:
        Tensor: ``(N, H, W)`` bool.

    Raises:
        DeOcclusionInputError: Wrong type, rank or dtype.
    """
    masks = as_bool_mask_tensor(masks, where, DeOcclusionInputError)
    if device is not None:
        masks = masks.to(device)
    return masks


def as_category_tensor(category_ids: Optional[Union[Sequence[int], np.ndarray,
                                                    Tensor]],
                       num: int,
                       device: Union[str, torch.device],
                       where: str = 'category_ids') -> Optional[Tensor]:
    """Validate per-object category ids (``None`` passes through).

    Args:
        category_ids (sequence | np.ndarray | Tensor | None): ``(N,)`` ids.
        num (int): Number of objects ``N``.
        device (str | torch.device): Target device.
        where (str): Name used in error messages.

    Returns:
        Tensor | None: ``(N,)`` int64.
    """
    if category_ids is None:
        return None
    ids = torch.as_tensor(
        np.asarray(category_ids
                   ) if not isinstance(category_ids, Tensor) else category_ids)
    if ids.dim() != 1 or ids.numel() != num:
        raise DeOcclusionInputError(
            f'{where}: expected {num} ids (one per mask), got shape '
            f'{tuple(ids.shape)}')
    if ids.is_floating_point() and bool((ids != ids.round()).any()):
        raise DeOcclusionInputError(f'{where}: ids must be integers')
    return ids.to(device=device, dtype=torch.long)


@dataclass
class Scene:
    """Masks of one image with everything derived from them once.

    Attributes:
        masks (Tensor): ``(N, H, W)`` bool modal masks (working device).
        packed (PackedMasks): Bit-packed masks.
        bboxes (Tensor): ``(N, 4)`` float modal ``xywh`` boxes.
        windows (Tensor): ``(N, 3)`` int64 crop windows ``[x0, y0, side]``.
        nonempty (Tensor): ``(N,)`` bool, masks with at least one pixel.
        category_ids (Tensor | None): ``(N,)`` int64 dataset category ids.
    """
    masks: Tensor
    packed: PackedMasks
    bboxes: Tensor
    windows: Tensor
    nonempty: Tensor
    category_ids: Optional[Tensor]

    @property
    def num(self) -> int:
        """Number of objects."""
        return self.masks.shape[0]

    @classmethod
    def build(cls,
              masks: MaskLike,
              category_ids=None,
              enlarge_box: float = 3.0,
              min_side_ratio: float = 1.1,
              device: Optional[Union[str, torch.device]] = None,
              pixel_chunk: int = DEFAULT_PIXEL_CHUNK) -> 'Scene':
        """Validate the inputs and derive boxes, windows and packed masks.

        Args:
            masks (np.ndarray | Tensor): ``(N, H, W)`` bool/{0,1} masks.
            category_ids (sequence, optional): ``(N,)`` category ids.
            enlarge_box (float): Crop enlargement (METHOD 1.3).
            min_side_ratio (float): Minimum crop side / box side.
            device (str | torch.device, optional): Working device.
            pixel_chunk (int): Pixels per vectorised step when packing.

        Returns:
            Scene: The prepared scene.
        """
        masks = as_mask_tensor(masks, device).contiguous()
        n = masks.shape[0]
        cats = as_category_tensor(category_ids, n, masks.device)
        bboxes = masks_to_bboxes(masks)
        windows = integer_crop_boxes(bboxes, enlarge_box, min_side_ratio)
        nonempty = bboxes[:, 2] > 0
        packed = PackedMasks.from_masks(masks, pixel_chunk, bboxes)
        return cls(masks, packed, bboxes, windows, nonempty, cats)
