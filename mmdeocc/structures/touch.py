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

Implementation: all masks are bit-packed (:class:`PackedMasks`). When every
radius is 1 (the reference test) a pair touches iff one pixel holds both
objects or two 4-neighbouring pixels hold one each, so only the pixels that
hold two or more objects and the neighbouring pixel pairs whose (non-empty)
object sets differ are visited, on the packed planes directly. Otherwise
the packed planes are dilated with per-object radii, and every *edge* pixel
of the masks (a pixel whose object set differs from a 4-neighbour's) looks
up which dilated objects cover it; interior pixels cannot add a pair (a
shortest L1 path from them to another mask leaves through an edge pixel,
and overlaps have edges of their own). Cost is
``O(perimeters + r_max * H * W * N / 63)`` with no ``N x N x H x W`` work and
no per-pair Python loop; a box pre-filter is unnecessary because the look-up
only visits pixels of the masks.
"""
from typing import Optional, Tuple, Union

import torch
from torch import Tensor

from .geometry import masks_to_bboxes
from .masks import as_bool_mask_tensor
from .packed_masks import (BITS_PER_WORD, DEFAULT_PIXEL_CHUNK, PackedMasks,
                           extract_bits)

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


def _pixel_objects(values: Tensor) -> Tuple[Tensor, Tensor]:
    """Objects of packed pixel values.

    Args:
        values (Tensor): ``(num_words, M)`` int64 packed values of ``M``
            pixels.

    Returns:
        tuple[Tensor, Tensor]: ``rows`` (pixel index) and ``objects``, one
        entry per (pixel, object) membership.
    """
    rows, objects = [], []
    for word in range(values.shape[0]):
        row, bit = extract_bits(values[word])
        rows.append(row)
        objects.append(bit + word * BITS_PER_WORD)
    return torch.cat(rows), torch.cat(objects)


def _pair_hits(first: Tensor, second: Tensor, num: int,
               pixel_chunk: int) -> Tensor:
    """Object pairs held by pixel pairs.

    Args:
        first (Tensor): ``(num_words, M)`` packed values of pixels ``p_m``.
        second (Tensor): ``(num_words, M)`` packed values of pixels ``q_m``.
        num (int): Number of objects ``N``.
        pixel_chunk (int): Bounds the one-hot matrices of the general case.

    Returns:
        Tensor: ``(N, N)`` bool, ``[i, j]`` = some ``p_m`` holds i and
        ``q_m`` holds j.
    """
    device = first.device
    hits = torch.zeros((num, num), dtype=torch.bool, device=device)
    m = first.shape[1]
    if m == 0:
        return hits
    if first.shape[0] == 1:
        single_a = torch.bitwise_and(first[0], first[0] - 1) == 0
        single_b = torch.bitwise_and(second[0], second[0] - 1) == 0
        if bool((single_a & single_b).all()):
            # Powers of two 2**b: frexp gives the exponent b + 1 (exact).
            owner_a = torch.frexp(first[0].double())[1].long() - 1
            owner_b = torch.frexp(second[0].double())[1].long() - 1
            hits[owner_a, owner_b] = True
            return hits
    rows_a, obj_a = _pixel_objects(first)
    rows_b, obj_b = _pixel_objects(second)
    if rows_a.numel() == m and rows_b.numel() == m:
        # Every pixel holds exactly one object (the values are non-zero).
        owner_a = torch.empty(m, dtype=torch.long, device=device)
        owner_b = torch.empty(m, dtype=torch.long, device=device)
        owner_a[rows_a] = obj_a
        owner_b[rows_b] = obj_b
        hits[owner_a, owner_b] = True
        return hits
    # Some pixels hold several objects: one-hot products, chunked. The
    # sums are of non-negative terms, so "> 0" is exact in float.
    step = max(1, pixel_chunk // max(num, 1))
    for start in range(0, m, step):
        stop = min(m, start + step)
        one_a = torch.zeros((stop - start, num), device=device)
        one_b = torch.zeros((stop - start, num), device=device)
        keep = (rows_a >= start) & (rows_a < stop)
        one_a[rows_a[keep] - start, obj_a[keep]] = 1.0
        keep = (rows_b >= start) & (rows_b < stop)
        one_b[rows_b[keep] - start, obj_b[keep]] = 1.0
        hits |= (one_a.T @ one_b) > 0
    return hits


def _touch_region(bboxes: Tensor, height: int,
                  width: int) -> Optional[Tuple[int, int, int, int]]:
    """The rectangle holding every pixel pair that can make a touch.

    A pixel of object i and a 4-neighbouring (or the same) pixel of object j
    both lie in the intersection of the two boxes grown by one pixel, so the
    bounding rectangle of all those pairwise intersections holds all the
    evidence of the radius-1 test.

    Args:
        bboxes (Tensor): ``(N, 4)`` tight ``xywh`` boxes (empty masks:
            zero size).
        height (int): Image height.
        width (int): Image width.

    Returns:
        tuple | None: ``(y0, y1, x0, x1)`` (clipped to the image), or None
        when no two grown boxes meet (nothing can touch).
    """
    boxes = bboxes.to('cpu', torch.long)
    valid = (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    boxes = boxes[valid]
    if boxes.shape[0] < 2:
        return None
    x0, y0 = boxes[:, 0] - 1, boxes[:, 1] - 1
    x1, y1 = boxes[:, 0] + boxes[:, 2] + 1, boxes[:, 1] + boxes[:, 3] + 1
    ix0 = torch.maximum(x0[:, None], x0[None])
    ix1 = torch.minimum(x1[:, None], x1[None])
    iy0 = torch.maximum(y0[:, None], y0[None])
    iy1 = torch.minimum(y1[:, None], y1[None])
    meet = (ix1 > ix0) & (iy1 > iy0)
    meet.fill_diagonal_(False)
    if not bool(meet.any()):
        return None
    return (max(0, int(iy0[meet].min())), min(height, int(iy1[meet].max())),
            max(0, int(ix0[meet].min())), min(width, int(ix1[meet].max())))


def _unit_radius_touch(packed: PackedMasks, pixel_chunk: int,
                       bboxes: Optional[Tensor] = None) -> Tensor:
    """Touch matrix when every radius is 1 (not symmetrised).

    A pair touches iff a pixel holds both objects or two 4-neighbouring
    pixels hold one each. Neighbours with equal object sets add only pairs
    that a single pixel already holds, so only neighbours whose non-empty
    sets differ, and pixels holding two or more objects, are visited.

    Args:
        packed (PackedMasks): The packed masks.
        pixel_chunk (int): Bounds the transient memory.
        bboxes (Tensor, optional): ``(N, 4)`` tight ``xywh`` boxes; when
            given, only the :func:`_touch_region` is read.

    Returns:
        Tensor: ``(N, N)`` bool.
    """
    words = packed.words
    n = packed.num
    if bboxes is not None:
        region = _touch_region(bboxes, words.shape[1], words.shape[2])
        if region is None:
            return torch.zeros((n, n), dtype=torch.bool, device=words.device)
        y0, y1, x0, x1 = region
        words = words[:, y0:y1, x0:x1]
    if words.shape[0] == 1:
        several = torch.bitwise_and(words[0], words[0] - 1).bool()
    else:
        several = ((words & (words - 1)) != 0).any(0)
        several |= (words != 0).sum(0) > 1
    ys, xs = torch.nonzero(several, as_tuple=True)
    values = words[:, ys, xs]
    touch = _pair_hits(values, values, n, pixel_chunk)
    for dim in (1, 2):
        length = words.shape[dim] - 1
        if length <= 0:
            continue
        first = words.narrow(dim, 0, length)
        second = words.narrow(dim, 1, length)
        differ = first != second
        differ = differ[0] if words.shape[0] == 1 else differ.any(0)
        ys, xs = torch.nonzero(differ, as_tuple=True)
        value_a, value_b = first[:, ys, xs], second[:, ys, xs]
        keep = (value_a != 0).any(0) & (value_b != 0).any(0)
        touch |= _pair_hits(value_a[:, keep], value_b[:, keep], n,
                            pixel_chunk)
    return touch


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
        bboxes (Tensor, optional): The masks' *tight* ``xywh`` boxes
            (:func:`~mmdeocc.structures.masks_to_bboxes`): sizes for the
            relative tolerance and, for the reference test, the region
            where touches can be (only that part of the image is read).
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
    if n == 0 or bool((radii == 1).all()):
        # with the boxes at hand, only the region where touches can be is
        # read (computing boxes just for this costs about what it saves)
        touch = _unit_radius_touch(packed, pixel_chunk,
                                   bboxes).to(masks.device)
    else:
        grown = packed.dilated(radii)
        touch = torch.zeros((n, n), dtype=torch.bool, device=masks.device)
        # Only edge pixels need a look-up: if an interior pixel of mask i
        # is within L1 distance r of mask j (and not in j), the shortest
        # path leaves mask i through a boundary pixel that is nearer
        # still; overlaps are seen on the overlap region's own boundary.
        for obj, ys, xs in packed.pixel_objects(pixel_chunk,
                                                edges_only=True):
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
