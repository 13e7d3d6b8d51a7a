"""Which pairs of objects are ordered: the touch test (METHOD 2.1).

Reference rule: dilate mask i once with a 3x3 cross (4-neighbourhood) and
test overlap with mask j. Equivalently, the city-block (L1) distance between
the two masks is at most 1: they overlap or share an edge.

``gap_tolerance`` closes the gaps that predicted masks leave between an
occluder and its occludee (reference issues #14, #17, #32). Each object j
gets a radius ``r_j = 1 + tol_j`` and a pair touches iff its L1 distance
is at most ``max(r_i, r_j)`` (i.e. at most ``tol`` background pixels lie
between the masks along a row or a column), where

* ``gap_tolerance == 0``: ``tol_j = 0``, the reference test exactly;
* ``0 < gap_tolerance < 1``: relative to object size,
  ``tol_j = round(gap_tolerance * sqrt(w_j * h_j))`` for the modal box
  ``w_j x h_j`` (mask heads predict at a fixed grid per box, e.g. 28 x 28, so
  their boundary error grows with the object);
* ``gap_tolerance >= 1``: an integer number of pixels for every object.

Implementation: all masks are bit-packed (:class:`PackedMasks`), the packed
planes are dilated with per-object radii, and every *edge* pixel of the masks
(a pixel whose object set differs from a 4-neighbour's) looks up which
dilated objects cover it; interior pixels cannot add a pair (a shortest L1
path from them to another mask leaves through an edge pixel, and overlaps
have edges of their own). Cost is ``O(perimeters + r_max * H * W * N / 63)``
with no ``N x N x H x W`` work and no per-pair Python loop; a box pre-filter
is unnecessary because the look-up only visits pixels of the masks.
"""
from typing import Optional, Union

import torch
from torch import Tensor

from .geometry import masks_to_bboxes
from .masks import as_bool_mask_tensor
from .packed_masks import DEFAULT_PIXEL_CHUNK, PackedMasks

__all__ = [
    'check_gap_tolerance',
    'touch_radii',
    'touching_pairs',
    'pair_list',
]


def check_gap_tolerance(gap_tolerance: Union[int, float]) -> None:
    """Validate ``gap_tolerance`` (see the module docstring)."""
    if not isinstance(gap_tolerance, (int, float)) or gap_tolerance < 0:
        raise ValueError('gap_tolerance must be a number >= 0, got '
                         f'{gap_tolerance!r}')
    if gap_tolerance >= 1 and float(gap_tolerance) != int(gap_tolerance):
        raise ValueError('gap_tolerance >= 1 is a number of pixels and must '
                         f'be an integer, got {gap_tolerance!r} (use a value '
                         'in (0, 1) for a tolerance relative to object size)')


def touch_radii(masks: Tensor,
                gap_tolerance: Union[int, float] = 0,
                bboxes: Optional[Tensor] = None) -> Tensor:
    """Per-object L1 touch radius ``1 + tol_j`` (see the module docstring).

    Args:
        masks (Tensor): ``(N, H, W)`` bool masks.
        gap_tolerance (int | float): 0 (reference), a fraction of
            ``sqrt(box area)`` in ``(0, 1)``, or whole pixels ``>= 1``.
        bboxes (Tensor, optional): ``(N, 4)`` modal ``xywh`` boxes, computed
            from the masks when not given.

    Returns:
        Tensor: ``(N,)`` int64 radii (>= 1).
    """
    check_gap_tolerance(gap_tolerance)
    n = masks.shape[0]
    if gap_tolerance == 0:
        return torch.ones(n, dtype=torch.long, device=masks.device)
    if gap_tolerance >= 1:
        return torch.full((n, ),
                          1 + int(gap_tolerance),
                          dtype=torch.long,
                          device=masks.device)
    if bboxes is None:
        bboxes = masks_to_bboxes(masks)
    size = torch.sqrt(bboxes[:, 2].double() * bboxes[:, 3].double())
    tol = torch.round(size * float(gap_tolerance)).long()
    return (1 + tol).to(masks.device)


def touching_pairs(masks: Tensor,
                   gap_tolerance: Union[int, float] = 0,
                   packed: Optional[PackedMasks] = None,
                   bboxes: Optional[Tensor] = None,
                   pixel_chunk: int = DEFAULT_PIXEL_CHUNK) -> Tensor:
    """Touch matrix of METHOD 2.1 (vectorised, exact).

    Args:
        masks (Tensor): ``(N, H, W)`` bool (or {0, 1}) modal masks.
        gap_tolerance (int | float): See the module docstring; 0 is the
            reference test.
        packed (PackedMasks, optional): The packed masks, if already built.
        bboxes (Tensor, optional): Modal ``xywh`` boxes (relative tolerance
            only).
        pixel_chunk (int): Pixels handled per vectorised step (memory bound).

    Returns:
        Tensor: ``(N, N)`` bool, symmetric, ``False`` on the diagonal; empty
        masks touch nothing.
    """
    masks = as_bool_mask_tensor(masks)
    n = masks.shape[0]
    if packed is None:
        packed = PackedMasks.from_masks(masks, pixel_chunk)
    radii = touch_radii(masks, gap_tolerance, bboxes)
    grown = packed.dilated(radii)
    touch = torch.zeros((n, n), dtype=torch.bool, device=masks.device)
    # Only edge pixels need a look-up: if an interior pixel of mask i is
    # within L1 distance r of mask j (and not in j), the shortest path
    # leaves mask i through a boundary pixel that is nearer still; overlaps
    # are seen on the overlap region's own boundary.
    for obj, ys, xs in packed.pixel_objects(pixel_chunk, edges_only=True):
        touch |= grown.pair_counts(obj, ys, xs) > 0
    touch = touch | touch.T
    if n:
        touch.fill_diagonal_(False)
    return touch


def pair_list(touch: Tensor) -> Tensor:
    """Unordered touching pairs ``(i, j)`` with ``i < j``.

    Args:
        touch (Tensor): ``(N, N)`` bool symmetric touch matrix.

    Returns:
        Tensor: ``(P, 2)`` int64, sorted lexicographically.
    """
    return torch.nonzero(torch.triu(touch, diagonal=1))
