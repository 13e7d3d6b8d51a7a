"""Sequential reference implementation (batch of 1), for tests and benchmarks.

A deliberately plain, separate implementation of METHOD 2.1, 2.2 and 2.4:
numpy + OpenCV, one object or one directed pair at a time, one network call
per crop, Python loops everywhere. It exists only to prove that the batched
core (:class:`mmdeocc.deocclusion.DeOccluder`) computes exactly the same
thing, and to measure what batching buys. Do not use it in entry points.

Resampling follows the conventions documented in
:mod:`mmdeocc.structures.image_ops`, written here as explicit interpolation
matrices: a bilinear resize ``src -> dst`` of an image ``I`` is ``R I R^T``
with ``R[d, s]`` the integer tap weight of source ``s`` for output ``d``
(denominator ``2 * dst``), so ``> 0.5`` is an exact integer comparison.
"""
from typing import List, Optional, Sequence, Union

import cv2
import numpy as np
import torch

from mmdeocc.structures import integer_crop_boxes, mask_to_bbox

CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)


def reference_touching(masks: np.ndarray,
                       gap_tolerance: Union[int, float] = 0) -> np.ndarray:
    """Touch test: dilate each mask with a 3x3 cross ``r_i`` times (OpenCV).

    Args:
        masks (np.ndarray): ``(N, H, W)`` bool masks.
        gap_tolerance (int | float): As :mod:`.pairs` (0 = reference).

    Returns:
        np.ndarray: ``(N, N)`` bool symmetric touch matrix.
    """
    n = len(masks)
    radii = []
    for mask in masks:
        if gap_tolerance == 0:
            radii.append(1)
        elif gap_tolerance >= 1:
            radii.append(1 + int(gap_tolerance))
        else:
            _, _, w, h = mask_to_bbox(mask)
            radii.append(1 + int(
                round(gap_tolerance * float(np.sqrt(float(w) * float(h))))))
    touch = np.zeros((n, n), dtype=bool)
    for i in range(n):
        grown = cv2.dilate(
            masks[i].astype(np.uint8), CROSS, iterations=radii[i]) > 0
        for j in range(n):
            if i != j and np.logical_and(grown, masks[j]).any():
                touch[i, j] = touch[j, i] = True
    return touch


def _window_crop(mask: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """``side x side`` crop at ``(x0, y0)``, zero outside the image."""
    h, w = mask.shape
    out = np.zeros((side, side), dtype=np.int64)
    ya, yb = max(y0, 0), min(y0 + side, h)
    xa, xb = max(x0, 0), min(x0 + side, w)
    if ya < yb and xa < xb:
        out[ya - y0:yb - y0, xa - x0:xb - x0] = mask[ya:yb, xa:xb]
    return out


def _nearest(img: np.ndarray, dst: int) -> np.ndarray:
    """Nearest resize of a square image (``cv2.INTER_NEAREST`` rule)."""
    src = img.shape[0]
    idx = [min(d * src // dst, src - 1) for d in range(dst)]
    return img[np.ix_(idx, idx)]


def _bilinear_matrix(src: int, dst: int) -> np.ndarray:
    """Integer bilinear interpolation matrix ``(dst, src)``, rows sum to
    ``2 * dst`` (half-pixel centres, clamped at both ends)."""
    mat = np.zeros((dst, src), dtype=np.int64)
    den = 2 * dst
    for d in range(dst):
        num = max((2 * d + 1) * src - dst, 0)  # position * den
        i0, frac = divmod(num, den)
        if i0 >= src - 1:
            mat[d, src - 1] += den
        else:
            mat[d, i0] += den - frac
            mat[d, i0 + 1] += frac
    return mat


def _bilinear_binary(img: np.ndarray, dst: int) -> np.ndarray:
    """Bilinear resize of a square {0,1} image then ``> 0.5`` (exact)."""
    mat = _bilinear_matrix(img.shape[0], dst)
    value = mat @ img.astype(np.int64) @ mat.T
    return 2 * value > (2 * dst)**2


def _square_dilate(mask: np.ndarray, kernel: int) -> np.ndarray:
    """``cv2.dilate`` with a ``kernel x kernel`` square."""
    if kernel <= 1:
        return mask
    return cv2.dilate(
        mask.astype(np.uint8), np.ones((kernel, kernel), np.uint8)) > 0


def _windows(masks: np.ndarray, enlarge_box: float,
             min_side_ratio: float) -> np.ndarray:
    """Crop windows ``[x0, y0, side]`` of every mask."""
    if len(masks) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    boxes = np.stack([mask_to_bbox(m) for m in masks])
    return integer_crop_boxes(boxes, enlarge_box, min_side_ratio)


def _run_one(model, modal: np.ndarray, eraser: np.ndarray,
             category_id: Optional[int]) -> np.ndarray:
    """One network call on one crop pair; returns the probability map."""
    modal_t = torch.from_numpy(modal.astype(np.float32))[None]
    eraser_t = torch.from_numpy(eraser.astype(np.float32))[None]
    cats = None if category_id is None else torch.tensor([category_id])
    with torch.inference_mode():
        prob = model.predict_probs(modal_t, eraser_t, cats)
    return prob[0].float().cpu().numpy()


def reference_order(model,
                    masks: np.ndarray,
                    category_ids: Optional[Sequence[int]] = None,
                    order_th: float = 0.1,
                    enlarge_box: float = 3.0,
                    min_side_ratio: float = 1.1,
                    gap_tolerance: Union[int, float] = 0,
                    eraser_dilation: int = 0,
                    size: int = 256) -> np.ndarray:
    """Dual-completion ordering, one directed pair per network call.

    Args:
        model: A PCNet-M in eval mode.
        masks (np.ndarray): ``(N, H, W)`` bool modal masks.
        category_ids (sequence, optional): ``(N,)`` category ids.
        order_th (float): Foreground threshold.
        enlarge_box (float): Crop enlargement.
        min_side_ratio (float): Minimum crop side ratio.
        gap_tolerance (int | float): Touch tolerance.
        eraser_dilation (int): Square eraser dilation (0 = off).
        size (int): Network input side.

    Returns:
        np.ndarray: ``(N, N)`` int8 order matrix.
    """
    masks = np.asarray(masks).astype(bool)
    n = len(masks)
    touch = reference_touching(masks, gap_tolerance)
    windows = _windows(masks, enlarge_box, min_side_ratio)
    order = np.zeros((n, n), dtype=np.int8)
    for i in range(n):
        for j in range(i + 1, n):
            if not touch[i, j]:
                continue
            growth = {}
            for t, e in ((i, j), (j, i)):
                x0, y0, side = (int(v) for v in windows[t])
                target = _nearest(_window_crop(masks[t], x0, y0, side), size)
                eraser = _nearest(_window_crop(masks[e], x0, y0, side), size)
                eraser = _square_dilate(eraser > 0, eraser_dilation)
                modal_in = (target > 0) & ~eraser
                prob = _run_one(
                    model, modal_in, eraser,
                    None if category_ids is None else int(category_ids[t]))
                grown = (prob > order_th) & ~modal_in & eraser
                growth[t] = int(grown.sum()) * side * side
            if growth[i] > growth[j]:
                order[i, j], order[j, i] = -1, 1
            elif growth[i] < growth[j]:
                order[i, j], order[j, i] = 1, -1
    return order


def _ancestors_dfs(order: np.ndarray, index: int) -> List[int]:
    """Objects reachable from ``index`` along "is occluded by" edges."""
    seen = set()
    stack = [index]
    while stack:
        cur = stack.pop()
        for nxt in np.flatnonzero(order[cur] == -1).tolist():
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    seen.discard(index)
    return sorted(seen)


def reference_amodal(model,
                     masks: np.ndarray,
                     order: np.ndarray,
                     category_ids: Optional[Sequence[int]] = None,
                     method: str = 'og',
                     amodal_th: float = 0.2,
                     enlarge_box: float = 3.0,
                     min_side_ratio: float = 1.1,
                     eraser_dilation: int = 0,
                     union_visible: bool = False,
                     restrict_to_eraser: bool = False,
                     size: int = 256) -> np.ndarray:
    """Amodal completion, one object per network call.

    Args:
        model: A PCNet-M in eval mode.
        masks (np.ndarray): ``(N, H, W)`` bool modal masks.
        order (np.ndarray): ``(N, N)`` order matrix.
        category_ids (sequence, optional): ``(N,)`` category ids.
        method (str): ``'og'`` or ``'nog'``.
        amodal_th (float): Foreground threshold.
        enlarge_box (float): Crop enlargement.
        min_side_ratio (float): Minimum crop side ratio.
        eraser_dilation (int): Square eraser dilation (0 = off).
        union_visible (bool): Unite with the modal mask.
        restrict_to_eraser (bool): Keep pixels of modal or eraser only.
        size (int): Network input side.

    Returns:
        np.ndarray: ``(N, H, W)`` bool amodal masks.
    """
    masks = np.asarray(masks).astype(bool)
    order = np.asarray(order)
    n, h, w = masks.shape
    windows = _windows(masks, enlarge_box, min_side_ratio)
    out = np.zeros_like(masks)
    for i in range(n):
        if not masks[i].any():
            continue
        if method == 'og':
            members = _ancestors_dfs(order, i)
        else:
            members = [j for j in range(n) if j != i and order[i, j] != 0]
        eraser_full = np.zeros((h, w), dtype=bool)
        for j in members:
            eraser_full |= masks[j]
        x0, y0, side = (int(v) for v in windows[i])
        target = _bilinear_binary(_window_crop(masks[i], x0, y0, side), size)
        eraser = _bilinear_binary(
            _window_crop(eraser_full, x0, y0, side), size)
        eraser = _square_dilate(eraser, eraser_dilation)
        modal_in = target & ~eraser
        prob = _run_one(model, modal_in, eraser,
                        None if category_ids is None else int(category_ids[i]))
        patch = _bilinear_binary(prob > amodal_th, side)
        ya, yb = max(y0, 0), min(y0 + side, h)
        xa, xb = max(x0, 0), min(x0 + side, w)
        out[i, ya:yb, xa:xb] = patch[ya - y0:yb - y0, xa - x0:xb - x0]
        if restrict_to_eraser:
            out[i] &= masks[i] | eraser_full
        if union_visible:
            out[i] |= masks[i]
    return out
