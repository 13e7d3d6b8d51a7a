"""Geometric baselines (METHOD 2.5), same outputs as the PCNet-M paths.

Orderings (only touching pairs get a relation, as for PCNet-M):

* area: the smaller modal area is on top (COCOA); ``larger_on_top=True``
  gives the KINS variant ('area_large');
* y-axis: the object whose modal centroid is lower in the image (larger y)
  is on top;
* convex: ``growth[i, j] = |hull(modal_i) \\ modal_i  ∩  modal_j|`` and the
  dual-completion rule (i is occluded by j if it grows more into j).
  Equal areas / centroids / growths give 0.

Amodal masks:

* raw: amodal = modal;
* convex: the convex hull of the modal mask;
* convex^R: the hull restricted to ``modal_i ∪ modal masks of ancestors(i)``
  under a given order (the paper uses the convex ordering; pass
  ``order=None`` for that). Unlike the reference evaluation script, a given
  order is never silently replaced.

Convex hull pixel conventions (``hull_convention``):

* ``'reference'`` (default; the reference's ``skimage`` hull): each pixel
  ``(x, y)`` contributes the four points ``(x +- 0.5, y)`` and
  ``(x, y +- 0.5)`` (a diamond), and a pixel is in the hull when its centre
  lies inside or on the convex hull of those points. Computed exactly in
  integers on doubled coordinates.
* ``'centres'`` (mmdeocc's first convention, kept as an option): the hull
  polygon of the pixel centres of the mask's outer contour, rasterised with
  ``cv2.fillPoly`` and united with the mask. It is up to half a pixel
  tighter along slanted edges.

Both contain the mask.
"""
from typing import Optional

import cv2
import numpy as np
import torch
from torch import Tensor

from mmdeocc.structures import masks_to_bboxes
from mmdeocc.structures.masks import as_bool_mask_tensor
from mmdeocc.structures.order import OrderLike
from mmdeocc.structures.packed_masks import (DEFAULT_PIXEL_CHUNK, PackedMasks,
                                             enumerate_mask_pixels)
from mmdeocc.structures.touch import pair_list, touching_pairs
from mmdeocc.utils.validation import check_choice
from .amodal import eraser_members
from .ordering import order_from_growth


def _touch_or_compute(masks: Tensor, touch: Optional[Tensor]) -> Tensor:
    """The given touch matrix, or the reference touch test."""
    if touch is None:
        return touching_pairs(masks)
    return touch.to(masks.device, torch.bool)


def area_order(masks: Tensor,
               touch: Optional[Tensor] = None,
               larger_on_top: bool = False) -> Tensor:
    """Area ordering: the smaller (or larger) touching object is on top.

    Args:
        masks (Tensor): ``(N, H, W)`` bool modal masks.
        touch (Tensor, optional): ``(N, N)`` touch matrix (default: the
            reference touch test).
        larger_on_top (bool): KINS variant.

    Returns:
        Tensor: ``(N, N)`` int8 order matrix.
    """
    masks = as_bool_mask_tensor(masks)
    touch = _touch_or_compute(masks, touch)
    area = masks.flatten(1).sum(1)
    order = torch.sign(area[None, :] - area[:, None])
    if larger_on_top:
        order = -order
    return (order * touch).to(torch.int8)


def yaxis_order(masks: Tensor, touch: Optional[Tensor] = None) -> Tensor:
    """Y-axis ordering: the touching object with the lower centroid is on top.

    Centroids are compared exactly (``sum_y_i * area_j`` vs
    ``sum_y_j * area_i`` in integers).

    Args:
        masks (Tensor): ``(N, H, W)`` bool modal masks.
        touch (Tensor, optional): ``(N, N)`` touch matrix.

    Returns:
        Tensor: ``(N, N)`` int8 order matrix.
    """
    masks = as_bool_mask_tensor(masks)
    touch = _touch_or_compute(masks, touch)
    rows = torch.arange(masks.shape[1], device=masks.device)
    per_row = masks.sum(2)  # (N, H)
    area = per_row.sum(1)
    sum_y = (per_row * rows).sum(1)
    lhs = sum_y[:, None] * area[None, :]  # cy_i * a_i * a_j
    rhs = sum_y[None, :] * area[:, None]
    return (torch.sign(lhs - rhs) * touch).to(torch.int8)


HULL_CONVENTIONS = ('reference', 'centres')


def _reference_hull(mask: np.ndarray) -> np.ndarray:
    """Pixels whose centre is in the hull of the pixels' diamonds."""
    ys, xs = np.nonzero(mask)
    out = np.zeros(mask.shape, dtype=bool)
    if ys.size == 0:
        return out
    # Row extremes suffice: every pixel's diamond lies in their hull.
    rows, first = np.unique(ys, return_index=True)
    last = np.r_[first[1:], ys.size] - 1
    ends = np.concatenate([xs[first], xs[last]])
    rows2 = np.concatenate([rows, rows])
    x2, y2 = 2 * ends.astype(np.int64), 2 * rows2.astype(np.int64)
    points = np.concatenate([
        np.stack([x2 - 1, y2], 1), np.stack([x2 + 1, y2], 1),
        np.stack([x2, y2 - 1], 1), np.stack([x2, y2 + 1], 1)
    ]).astype(np.int32)
    poly = cv2.convexHull(points).reshape(-1, 2).astype(np.int64)
    nxt = np.roll(poly, -1, axis=0)
    if (poly[:, 0] * nxt[:, 1] - nxt[:, 0] * poly[:, 1]).sum() < 0:
        poly, nxt = poly[::-1], np.roll(poly[::-1], -1, axis=0)
    # Inside: cross(B - A, Q - A) >= 0 for every edge A -> B, Q = (2x, 2y).
    ax, ay = poly[:, 0], poly[:, 1]
    dx, dy = nxt[:, 0] - ax, nxt[:, 1] - ay
    y_range = np.arange(rows[0], rows[-1] + 1, dtype=np.int64)
    qy = 2 * y_range[:, None]
    rhs = dx * (qy - ay) + dy * ax  # need dy * qx <= rhs
    big = np.int64(4 * (mask.shape[0] + mask.shape[1]) + 8)
    safe_dy = np.where(dy == 0, 1, dy)
    upper = np.where(dy > 0, np.floor_divide(rhs, safe_dy), big)
    lower = np.where(dy < 0, -np.floor_divide(-rhs, safe_dy), -big)
    flat_ok = np.where(dy == 0, dx * (qy - ay) >= 0, True).all(axis=1)
    x_lo = -np.floor_divide(-lower.max(axis=1), 2)  # ceil(lower / 2)
    x_hi = np.floor_divide(upper.min(axis=1), 2)
    x_lo = np.maximum(x_lo, 0)
    x_hi = np.minimum(x_hi, mask.shape[1] - 1)
    for y, lo, hi, ok in zip(y_range.tolist(), x_lo.tolist(), x_hi.tolist(),
                             flat_ok.tolist()):
        if ok and lo <= hi:
            out[y, lo:hi + 1] = True
    return out


def _centres_hull(mask: np.ndarray) -> np.ndarray:
    """Filled hull of the outer-contour pixel centres, united with the
    mask."""
    mask_u8 = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, _ = cv2.findContours(mask_u8, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    hull = np.zeros_like(mask_u8)
    if contours:
        points = np.concatenate([c.reshape(-1, 2) for c in contours])
        polygon = cv2.convexHull(points)
        cv2.fillPoly(hull, [polygon.reshape(-1, 2).astype(np.int32)], 1)
    return (hull > 0) | (mask_u8 > 0)


def convex_hull_mask(mask: np.ndarray,
                     convention: str = 'reference') -> np.ndarray:
    """Filled convex hull of one binary mask (see the module docstring).

    Args:
        mask (np.ndarray): ``(H, W)`` bool/uint8 mask.
        convention (str): ``'reference'`` (the reference's pixel-diamond
            hull) or ``'centres'``.

    Returns:
        np.ndarray: ``(H, W)`` bool hull, containing ``mask`` (all False for
        an empty mask).
    """
    check_choice('hull convention', convention, HULL_CONVENTIONS)
    if convention == 'reference':
        return _reference_hull(np.asarray(mask) != 0)
    return _centres_hull(mask)


def convex_hulls(masks: Tensor, convention: str = 'reference') -> Tensor:
    """Convex hulls of a stack of masks (computed inside each mask's box).

    The ``'reference'`` hull of a mask never leaves its tight box (the
    diamonds reach half a pixel out, where no pixel centre lies).

    Args:
        masks (Tensor): ``(N, H, W)`` bool masks.
        convention (str): See :func:`convex_hull_mask`.

    Returns:
        Tensor: ``(N, H, W)`` bool hulls on the masks' device.
    """
    check_choice('hull convention', convention, HULL_CONVENTIONS)
    masks = as_bool_mask_tensor(masks)
    hulls = torch.zeros_like(masks)
    boxes = masks_to_bboxes(masks).long().cpu().tolist()
    for k, (x, y, w, h) in enumerate(boxes):
        if w == 0:
            continue
        patch = masks[k, y:y + h, x:x + w].cpu().numpy()
        hulls[k, y:y + h, x:x + w] = torch.from_numpy(
            convex_hull_mask(patch, convention)).to(masks.device)
    return hulls


def convex_order(masks: Tensor,
                 touch: Optional[Tensor] = None,
                 hulls: Optional[Tensor] = None,
                 packed: Optional[PackedMasks] = None,
                 pixel_chunk: int = DEFAULT_PIXEL_CHUNK,
                 hull_convention: str = 'reference') -> Tensor:
    """Convex ordering: dual rule on the hull growth into each neighbour.

    Args:
        masks (Tensor): ``(N, H, W)`` bool modal masks.
        touch (Tensor, optional): ``(N, N)`` touch matrix.
        hulls (Tensor, optional): Precomputed :func:`convex_hulls`.
        packed (PackedMasks, optional): Precomputed packed masks.
        pixel_chunk (int): Pixels per vectorised step.
        hull_convention (str): Hull convention when ``hulls`` is None
            (:func:`convex_hull_mask`).

    Returns:
        Tensor: ``(N, N)`` int8 order matrix.
    """
    masks = as_bool_mask_tensor(masks)
    n = masks.shape[0]
    touch = _touch_or_compute(masks, touch)
    if hulls is None:
        hulls = convex_hulls(masks, hull_convention)
    if packed is None:
        packed = PackedMasks.from_masks(masks, pixel_chunk)
    growth = torch.zeros((n, n), dtype=torch.long, device=masks.device)
    for obj, ys, xs in enumerate_mask_pixels(hulls & ~masks, pixel_chunk):
        growth += packed.pair_counts(obj, ys, xs)
    pairs = pair_list(touch)
    values = torch.stack(
        [growth[pairs[:, 0], pairs[:, 1]], growth[pairs[:, 1], pairs[:, 0]]],
        1)
    return order_from_growth(n, pairs, values)


def raw_amodal(masks: Tensor) -> Tensor:
    """Raw baseline: the amodal mask is the modal mask (a copy)."""
    return as_bool_mask_tensor(masks).clone()


def convex_amodal(masks: Tensor, hull_convention: str = 'reference') -> Tensor:
    """Convex baseline: the convex hull of each modal mask."""
    return convex_hulls(masks, hull_convention)


def convexr_amodal(masks: Tensor,
                   order: Optional[OrderLike] = None,
                   touch: Optional[Tensor] = None,
                   hulls: Optional[Tensor] = None,
                   packed: Optional[PackedMasks] = None,
                   pixel_chunk: int = DEFAULT_PIXEL_CHUNK,
                   hull_convention: str = 'reference') -> Tensor:
    """Convex^R: the hull restricted to the modal mask and its ancestors.

    Args:
        masks (Tensor): ``(N, H, W)`` bool modal masks.
        order (np.ndarray | Tensor, optional): The order to take ancestors
            from; ``None`` uses :func:`convex_order` (the paper's setting).
        touch (Tensor, optional): Touch matrix for the convex ordering.
        hulls (Tensor, optional): Precomputed :func:`convex_hulls`.
        packed (PackedMasks, optional): Precomputed packed masks.
        pixel_chunk (int): Pixels per vectorised step.
        hull_convention (str): Hull convention when ``hulls`` is None
            (:func:`convex_hull_mask`).

    Returns:
        Tensor: ``(N, H, W)`` bool amodal masks.
    """
    masks = as_bool_mask_tensor(masks)
    n = masks.shape[0]
    if hulls is None:
        hulls = convex_hulls(masks, hull_convention)
    if packed is None:
        packed = PackedMasks.from_masks(masks, pixel_chunk)
    if order is None:
        order = convex_order(masks, touch, hulls, packed, pixel_chunk)
    members = eraser_members(order, 'og').to(masks.device)
    if n:
        members |= torch.eye(n, dtype=torch.bool, device=masks.device)
    selectors = packed.selectors_from_members(members)
    out = torch.zeros_like(masks)
    for obj, ys, xs in enumerate_mask_pixels(hulls, pixel_chunk):
        keep = packed.lookup(ys, xs, selectors[obj])
        out[obj[keep], ys[keep], xs[keep]] = True
    return out
