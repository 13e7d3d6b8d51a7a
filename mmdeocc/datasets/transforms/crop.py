"""Crop windows, nearest crop-and-resize and translation of binary masks.

All functions work on masks stored with an *offset*: a ``(h, w)`` array whose
pixel ``[0, 0]`` lies at image position ``(ox, oy)``. A full-image mask has
offset ``(0, 0)``; a tight-box crop of an instance has the box's top-left
corner. Pixels outside the stored array are 0 (zero padding, METHOD 1.3).

The resize is index arithmetic equivalent to ``cv2.resize(...,
interpolation=cv2.INTER_NEAREST)`` of the zero-padded square crop: output
pixel ``j`` samples source pixel ``floor(j * side / size)`` (computed
exactly in integers; cv2 uses floating point and can differ by one pixel at
exact boundaries). It costs ``O(size^2)`` whatever the crop side.
"""
from typing import Any, Tuple

import numpy as np

Window = Tuple[int, int, int]


def integer_window(cx: float, cy: float, side: float) -> Window:
    """Integer square window ``(x0, y0, side)`` from a float centre and side.

    Same rounding as :func:`mmdeocc.structures.integer_crop_boxes` (the
    reference's): ``x0 = int(cx - side / 2)`` and ``y0 = int(cy - side / 2)``
    from the *float* side (truncation toward zero), then ``side =
    max(int(side), 1)``; use it for augmented windows whose centre or side
    no longer follow the box rule.

    Args:
        cx (float): Window centre x.
        cy (float): Window centre y.
        side (float): Window side.

    Returns:
        tuple[int, int, int]: ``(x0, y0, side)``.
    """
    return (int(cx - side / 2.0), int(cy - side / 2.0), max(int(side), 1))


_ARANGE = {}


def _arange(size: int) -> np.ndarray:
    """Cached read-only ``np.arange(size)`` (int64)."""
    values = _ARANGE.get(size)
    if values is None:
        values = np.arange(size, dtype=np.int64)
        values.flags.writeable = False
        _ARANGE[size] = values
    return values


def _valid_run(offset: int, limit: int, side: int,
               size: int) -> Tuple[int, int]:
    """Output positions ``j`` whose source ``(j * side) // size + offset``
    lies in ``[0, limit)``: one run ``[j0, j1)`` (the source index is
    non-decreasing in ``j``), found with integer arithmetic.
    """
    low, high = -offset, limit - offset  # need low <= (j*side)//size < high
    j0 = 0 if low <= 0 else min(-(-low * size // side), size)
    j1 = 0 if high <= 0 else min(-(-high * size // side), size)
    return j0, max(j0, j1)


def crop_resize_nearest(mask: np.ndarray,
                        offset: Tuple[int, int],
                        window: Window,
                        size: int,
                        flip: bool = False,
                        return_extent: bool = False) -> Any:
    """Crop a square window (zero padding) and nearest-resize it.

    Args:
        mask (np.ndarray): ``(h, w)`` binary mask (bool or uint8).
        offset (tuple[int, int]): Image position ``(ox, oy)`` of
            ``mask[0, 0]``.
        window (tuple[int, int, int]): ``(x0, y0, side)`` in image pixels.
        size (int): Output side.
        flip (bool): Mirror the output horizontally.
        return_extent (bool): Also return the ``(x0, y0, x1, y1)``
            (exclusive end) output region that samples the stored array;
            every foreground pixel of the output lies inside it.

    Returns:
        np.ndarray | tuple: ``(size, size)`` bool patch (and the extent).
    """
    x0, y0, side = window
    dx, dy = x0 - offset[0], y0 - offset[1]
    h, w = mask.shape
    out = np.zeros((size, size), dtype=bool)
    r0, r1 = _valid_run(dy, h, side, size)
    c0, c1 = _valid_run(dx, w, side, size)
    if r1 <= r0 or c1 <= c0:
        return (out, (0, 0, 0, 0)) if return_extent else out
    src = _arange(size)[:max(r1, c1)] * side // size
    cols = src[c0:c1] + dx
    if flip:
        cols = cols[::-1]
        c0, c1 = size - c1, size - c0
    if mask.dtype != bool:
        mask = mask.astype(bool)
    first = int(src[r0]) + dy
    rows = src[r0:r1] - int(src[r0])  # relative to `first`
    if int(rows[-1]) + 1 < rows.size:
        # upsampling: gather columns on the fewer source rows, then repeat
        # rows (row copies are much cheaper than element gathers)
        block = mask[first:first + int(rows[-1]) + 1].take(cols, axis=1)
        out[r0:r1, c0:c1] = block[rows]
    else:
        out[r0:r1, c0:c1] = mask.take(rows + first, axis=0).take(cols,
                                                                 axis=1)
    return (out, (c0, r0, c1, r1)) if return_extent else out


def translate(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Shift a mask by ``(dx, dy)`` pixels with zero fill.

    ``out[y, x] = mask[y - dy, x - dx]`` where defined, else 0.

    Args:
        mask (np.ndarray): ``(H, W)`` mask.
        dx (int): Shift to the right.
        dy (int): Shift down.

    Returns:
        np.ndarray: Shifted mask of the same shape and dtype.
    """
    h, w = mask.shape
    out = np.zeros_like(mask)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        mask[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def shifted_overlap(target: np.ndarray, target_box: Tuple[int, int, int,
                                                          int],
                    other: np.ndarray, dx: int, dy: int) -> int:
    """``|target ∩ translate(other, dx, dy)|`` without building the shift.

    Args:
        target (np.ndarray): ``(S, S)`` bool mask.
        target_box (tuple): ``(x0, y0, x1, y1)`` (exclusive end) region that
            contains every foreground pixel of ``target``.
        other (np.ndarray): ``(S, S)`` bool mask to be shifted.
        dx (int): Shift of ``other`` to the right.
        dy (int): Shift of ``other`` down.

    Returns:
        int: Number of pixels in both.
    """
    h, w = other.shape
    x0 = max(target_box[0], dx)
    x1 = min(target_box[2], w + dx)
    y0 = max(target_box[1], dy)
    y1 = min(target_box[3], h + dy)
    if x1 <= x0 or y1 <= y0:
        return 0
    return int(
        np.count_nonzero(target[y0:y1, x0:x1]
                         & other[y0 - dy:y1 - dy, x0 - dx:x1 - dx]))


def foreground_box(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` exclusive-end extent of a mask (zeros if empty)."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return 0, 0, 0, 0
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
