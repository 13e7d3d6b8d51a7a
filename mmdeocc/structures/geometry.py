"""Crop geometry shared by training (surrogate occlusion) and inference.

METHOD 1.3: an instance with modal box ``(x, y, w, h)`` is cropped in a square
centred on the box centre with side
``max(sqrt(w * h * enlarge_box), min_side_ratio * w, min_side_ratio * h)``.
"""
from typing import Union

import numpy as np
import torch

ArrayLike = Union[np.ndarray, torch.Tensor]

DEFAULT_ENLARGE_BOX = 3.0
DEFAULT_MIN_SIDE_RATIO = 1.1


def mask_to_bbox(mask: np.ndarray) -> np.ndarray:
    """Tight ``xywh`` box of a binary mask (inclusive pixel extent).

    Args:
        mask (np.ndarray): ``(H, W)`` binary mask.

    Returns:
        np.ndarray: ``float32`` array ``[x, y, w, h]``; all zeros for an
        empty mask.
    """
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return np.zeros(4, dtype=np.float32)
    return np.array([xs[0], ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1],
                    dtype=np.float32)


def masks_to_bboxes(masks: torch.Tensor) -> torch.Tensor:
    """Tight ``xywh`` boxes of a stack of binary masks (vectorised).

    Args:
        masks (torch.Tensor): ``(N, H, W)`` bool/uint8 masks.

    Returns:
        torch.Tensor: ``(N, 4)`` float32 ``[x, y, w, h]``; zeros for empty
        masks.
    """
    n, h, w = masks.shape
    if n == 0 or h == 0 or w == 0:
        return masks.new_zeros((n, 4), dtype=torch.float32)
    # Row / column profiles as byte maxima: ``any`` over bool is several
    # times slower on CPU than this vectorised reduction.
    if masks.dtype == torch.bool:
        as_bytes = masks.view(torch.uint8)
    elif masks.dtype == torch.uint8:
        as_bytes = masks
    else:
        as_bytes = (masks != 0).view(torch.uint8)
    rows = as_bytes.amax(dim=2) != 0
    cols = as_bytes.amax(dim=1) != 0
    ar_h = torch.arange(h, device=masks.device)
    ar_w = torch.arange(w, device=masks.device)
    big = max(h, w) + 1
    y0 = torch.where(rows, ar_h, big).amin(dim=1)
    y1 = torch.where(rows, ar_h, -1).amax(dim=1)
    x0 = torch.where(cols, ar_w, big).amin(dim=1)
    x1 = torch.where(cols, ar_w, -1).amax(dim=1)
    boxes = torch.stack([x0, y0, x1 - x0 + 1, y1 - y0 + 1], dim=1).float()
    empty = ~rows.any(dim=1)
    boxes[empty] = 0
    return boxes


def square_crop_boxes(bboxes: ArrayLike,
                      enlarge_box: float = DEFAULT_ENLARGE_BOX,
                      min_side_ratio: float = DEFAULT_MIN_SIDE_RATIO
                      ) -> ArrayLike:
    """Square crop boxes of METHOD 1.3 (float, not rounded).

    Args:
        bboxes (np.ndarray | torch.Tensor): ``(N, 4)`` modal boxes ``xywh``.
        enlarge_box (float): Area enlargement factor (3 in the reference).
        min_side_ratio (float): The side is at least this times the box
            width and height (1.1 for evaluation, 1.5 in the demos).

    Returns:
        np.ndarray | torch.Tensor: ``(N, 3)`` ``[cx, cy, side]`` in the type
        of the input.
    """
    lib = torch if isinstance(bboxes, torch.Tensor) else np
    x, y, w, h = (bboxes[:, k] for k in range(4))
    cx = x + w / 2.0
    cy = y + h / 2.0
    side = lib.maximum(
        lib.maximum(lib.sqrt(w * h * enlarge_box), w * min_side_ratio),
        h * min_side_ratio)
    return lib.stack([cx, cy, side], 1)


def integer_crop_boxes(bboxes: ArrayLike,
                       enlarge_box: float = DEFAULT_ENLARGE_BOX,
                       min_side_ratio: float = DEFAULT_MIN_SIDE_RATIO
                       ) -> ArrayLike:
    """Integer square crop windows ``[x0, y0, side]`` (METHOD 1.3).

    The reference's rounding: the corner comes from the *float* side,
    ``x0 = int(cx - side / 2)`` and ``y0 = int(cy - side / 2)`` (truncation
    toward zero), and only then is the side truncated, ``int(side)`` (at
    least 1). Computed in float64 whatever the input type, as the
    reference's numpy arithmetic. Every entry point (training transform,
    inference core, baselines, content completion) uses this rule.

    Args:
        bboxes (np.ndarray | torch.Tensor): ``(N, 4)`` modal boxes ``xywh``.
        enlarge_box (float): Area enlargement factor.
        min_side_ratio (float): Minimum side relative to width and height.

    Returns:
        np.ndarray | torch.Tensor: ``(N, 3)`` int64 ``[x0, y0, side]``.
    """
    if isinstance(bboxes, torch.Tensor):
        sq = square_crop_boxes(bboxes.double(), enlarge_box, min_side_ratio)
        x0 = (sq[:, 0] - sq[:, 2] / 2.0).long()
        y0 = (sq[:, 1] - sq[:, 2] / 2.0).long()
        side = sq[:, 2].long().clamp(min=1)
        return torch.stack([x0, y0, side], 1)
    sq = square_crop_boxes(
        np.asarray(bboxes, dtype=np.float64), enlarge_box, min_side_ratio)
    x0 = (sq[:, 0] - sq[:, 2] / 2.0).astype(np.int64)
    y0 = (sq[:, 1] - sq[:, 2] / 2.0).astype(np.int64)
    side = np.maximum(sq[:, 2].astype(np.int64), 1)
    return np.stack([x0, y0, side], 1)
