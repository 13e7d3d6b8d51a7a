"""Pure functions of the evaluation protocol (METHOD section 4).

Everything here works on plain arrays: masks are ``(N, H, W)`` boolean
(numpy arrays or torch tensors, converted to numpy) at the original image
resolution, order matrices are ``(N, N)`` with the project convention
``order[i, j] = +1`` (i occludes j), ``-1`` (i is occluded by j), ``0`` (no
relation). The registered metrics in :mod:`mmdeocc.evaluation.metrics` only
parse data samples and accumulate what these functions return.

Pair counting convention: :func:`order_accuracy` counts *ordered* pairs
``(i, j), i != j`` (every unordered pair twice), exactly like the reference
evaluation, which sums the whole matrix and halves both the numerator and the
denominator. For antisymmetric matrices the accuracy equals the accuracy over
unordered pairs and the unordered pair count is half the ordered one.
"""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils
import torch

from mmdeocc.utils.validation import check_choice

ArrayLike = Union[np.ndarray, torch.Tensor]

TIE_RULES = ('reference', 'ignore')


def _to_numpy(x: ArrayLike) -> np.ndarray:
    """Return ``x`` as a numpy array (torch tensors are moved to the CPU)."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def as_bool_masks(masks: ArrayLike, name: str = 'masks') -> np.ndarray:
    """Convert a mask stack to a ``(N, H, W)`` bool numpy array.

    Args:
        masks (np.ndarray | torch.Tensor): ``(N, H, W)`` masks of any
            numeric or bool dtype (non-zero = foreground).
        name (str): Name used in error messages.

    Returns:
        np.ndarray: ``(N, H, W)`` bool array.

    Raises:
        ValueError: If ``masks`` is not three-dimensional.
    """
    arr = _to_numpy(masks)
    if arr.ndim != 3:
        raise ValueError(f'{name} must be (N, H, W), got shape {arr.shape}')
    return arr.astype(bool, copy=False)


def _extents(masks: np.ndarray) -> np.ndarray:
    """Half-open pixel extents ``[y0, y1, x0, x1]`` per mask (empty: 0 size).

    Args:
        masks (np.ndarray): ``(N, H, W)`` bool masks.

    Returns:
        np.ndarray: ``(N, 4)`` int64; an empty mask gets ``[0, 0, 0, 0]``.
    """
    n = masks.shape[0]
    out = np.zeros((n, 4), dtype=np.int64)
    rows = masks.any(axis=2)
    cols = masks.any(axis=1)
    for k in range(n):
        ys = np.flatnonzero(rows[k])
        if ys.size == 0:
            continue
        xs = np.flatnonzero(cols[k])
        out[k] = (ys[0], ys[-1] + 1, xs[0], xs[-1] + 1)
    return out


def _intersect(a: np.ndarray, b: np.ndarray) -> Optional[tuple]:
    """Intersection of two half-open extents as slices, or None if empty."""
    y0, y1 = max(a[0], b[0]), min(a[1], b[1])
    x0, x1 = max(a[2], b[2]), min(a[3], b[3])
    if y0 >= y1 or x0 >= x1:
        return None
    return slice(y0, y1), slice(x0, x1)


def touch_matrix(masks: ArrayLike) -> np.ndarray:
    """Which pairs of masks touch (METHOD 2.1, the reference test).

    Mask ``i`` touches mask ``j`` when ``i`` dilated once with a 3x3 cross
    overlaps ``j`` (symmetric; overlapping masks touch; empty masks touch
    nothing). A numpy adapter of the inference core's single implementation
    :func:`mmdeocc.deocclusion.pairs.touching_pairs` with
    ``gap_tolerance=0`` (imported lazily to keep the import graph acyclic).

    Args:
        masks (np.ndarray | torch.Tensor): ``(N, H, W)`` modal masks.

    Returns:
        np.ndarray: ``(N, N)`` bool, symmetric, ``False`` on the diagonal.
    """
    from mmdeocc.deocclusion.pairs import touching_pairs
    m = torch.from_numpy(np.ascontiguousarray(as_bool_masks(masks)))
    return touching_pairs(m, gap_tolerance=0).cpu().numpy()


def _overlap_count(a: np.ndarray, b: np.ndarray, ext_a: np.ndarray,
                   ext_b: np.ndarray) -> int:
    """``|a & b|`` evaluated on the intersection of the two extents."""
    box = _intersect(ext_a, ext_b)
    if box is None:
        return 0
    return int(np.count_nonzero(a[box] & b[box]))


def gt_order_from_masks(modal: ArrayLike,
                        amodal: ArrayLike,
                        tie_rule: str = 'reference') -> np.ndarray:
    """Ground-truth occlusion order derived from masks (METHOD 4.1).

    For every touching pair ``i < j`` (:func:`touch_matrix` on the modal
    masks) let ``a = |modal_i & amodal_j|`` (visible pixels of i lying on
    j: i covers j) and ``b = |modal_j & amodal_i|``. Both zero: no relation.
    Otherwise ``gt[i, j] = +1`` if ``a >= b`` else ``-1``, and
    ``gt[j, i] = -gt[i, j]``.

    Ties (``a == b > 0``, mutual occlusion of equal extent): the reference
    evaluates each unordered pair once with ``i < j`` and writes the
    antisymmetric counterpart, so a tie means "the lower index occludes the
    higher one" - an arbitrary, index-dependent answer. Both rules keep the
    matrix antisymmetric:

    - ``'reference'`` (default, paper protocol): the tie goes to the lower
      index (``gt[i, j] = +1`` for ``i < j``).
    - ``'ignore'``: a tie gets no relation (0), so the pair is excluded from
      the occluded-pair accuracy (recommended for strict comparisons; the
      difference only shows when ties exist).

    Args:
        modal (np.ndarray | torch.Tensor): ``(N, H, W)`` GT modal masks.
        amodal (np.ndarray | torch.Tensor): ``(N, H, W)`` GT amodal masks.
        tie_rule (str): ``'reference'`` or ``'ignore'``.

    Returns:
        np.ndarray: ``(N, N)`` int8 antisymmetric order matrix.
    """
    check_choice('tie_rule', tie_rule, TIE_RULES)
    modal = as_bool_masks(modal, 'modal')
    amodal = as_bool_masks(amodal, 'amodal')
    if modal.shape != amodal.shape:
        raise ValueError(f'modal masks {modal.shape} and amodal masks '
                         f'{amodal.shape} must have the same shape')
    n = modal.shape[0]
    gt = np.zeros((n, n), dtype=np.int8)
    touch = touch_matrix(modal)
    ext_m, ext_a = _extents(modal), _extents(amodal)
    for i, j in zip(*np.nonzero(np.triu(touch, 1))):
        a = _overlap_count(modal[i], amodal[j], ext_m[i], ext_a[j])
        b = _overlap_count(modal[j], amodal[i], ext_m[j], ext_a[i])
        if a == 0 and b == 0:
            continue
        if a == b and tie_rule == 'ignore':
            continue
        value = 1 if a >= b else -1
        gt[i, j] = value
        gt[j, i] = -value
    return gt


def order_from_depth(depth: Sequence[int], related: ArrayLike) -> np.ndarray:
    """Order matrix from depth ranks for a set of related pairs.

    Args:
        depth (Sequence[int]): ``(N,)`` depth ranks, smaller = nearer.
        related (np.ndarray | torch.Tensor): ``(N, N)`` bool, which pairs
            carry a relation (e.g. touching pairs, or annotated edges).

    Returns:
        np.ndarray: ``(N, N)`` int8, ``+1`` where i is nearer than j.
    """
    d = _to_numpy(np.asarray(depth)).astype(np.int64)
    rel = _to_numpy(related).astype(bool)
    order = np.sign(d[None, :] - d[:, None]).astype(np.int8)
    order[~rel] = 0
    np.fill_diagonal(order, 0)
    return order


def _check_order(order: ArrayLike, name: str) -> np.ndarray:
    """Validate an order matrix: square, values in {-1, 0, 1}."""
    arr = _to_numpy(order)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f'{name} must be a square (N, N) matrix, got shape '
                         f'{arr.shape}')
    if arr.size and not np.isin(arr, (-1, 0, 1)).all():
        bad = np.unique(arr[~np.isin(arr, (-1, 0, 1))])[:5]
        raise ValueError(f'{name} must contain only -1, 0, +1; found {bad}')
    return arr.astype(np.int8)


def order_accuracy(pred: ArrayLike, gt: ArrayLike) -> Dict[str, int]:
    """Counts for the pairwise ordering accuracy of one image (METHOD 4.2).

    Pairs are ordered pairs ``(i, j), i != j`` (see the module docstring).
    Sum the counts over images and divide to get the pooled (micro)
    accuracies.

    Args:
        pred (np.ndarray | torch.Tensor): ``(N, N)`` predicted order.
        gt (np.ndarray | torch.Tensor): ``(N, N)`` ground-truth order.

    Returns:
        dict: ``occluded_correct`` (pred == gt where gt != 0),
        ``occluded_total`` (gt != 0), ``all_correct`` (pred == gt off the
        diagonal) and ``all_total`` (``N * (N - 1)``), all ``int``.
    """
    pred = _check_order(pred, 'predicted order')
    gt = _check_order(gt, 'ground-truth order')
    if pred.shape != gt.shape:
        raise ValueError(f'predicted order {pred.shape} and ground-truth '
                         f'order {gt.shape} must have the same shape')
    off_diag = ~np.eye(gt.shape[0], dtype=bool)
    occluded = (gt != 0) & off_diag
    correct = pred == gt
    return dict(
        occluded_correct=int(np.count_nonzero(correct & occluded)),
        occluded_total=int(np.count_nonzero(occluded)),
        all_correct=int(np.count_nonzero(correct & off_diag)),
        all_total=int(np.count_nonzero(off_diag)))


def amodal_iou_stats(pred: ArrayLike, gt: ArrayLike,
                     modal: ArrayLike) -> Dict[str, np.ndarray]:
    """Per-instance quantities for the amodal metrics (METHOD 4.3).

    Args:
        pred (np.ndarray | torch.Tensor): ``(N, H, W)`` predicted amodal.
        gt (np.ndarray | torch.Tensor): ``(N, H, W)`` ground-truth amodal.
        modal (np.ndarray | torch.Tensor): ``(N, H, W)`` ground-truth modal
            masks (the visible part; defines "occluded" and the invisible
            region).

    Returns:
        dict of ``(N,)`` arrays: ``inter`` and ``union`` (int64, amodal
        pred vs gt), ``occluded`` (bool: gt amodal != modal),
        ``inv_inter`` and ``inv_union`` (int64, ``pred \\ modal`` vs
        ``gt \\ modal``), ``empty_modal`` (bool: fully hidden objects).
    """
    pred = as_bool_masks(pred, 'predicted amodal masks')
    gt = as_bool_masks(gt, 'ground-truth amodal masks')
    modal = as_bool_masks(modal, 'ground-truth modal masks')
    if not pred.shape == gt.shape == modal.shape:
        raise ValueError(
            f'mask shapes differ: predicted amodal {pred.shape}, ground-truth '
            f'amodal {gt.shape}, ground-truth modal {modal.shape}')
    n = gt.shape[0]
    flat_p, flat_g = pred.reshape(n, -1), gt.reshape(n, -1)
    flat_m = modal.reshape(n, -1)
    inv_p = flat_p & ~flat_m
    inv_g = flat_g & ~flat_m
    return dict(
        inter=np.count_nonzero(flat_p & flat_g, axis=1).astype(np.int64),
        union=np.count_nonzero(flat_p | flat_g, axis=1).astype(np.int64),
        occluded=np.any(flat_g != flat_m, axis=1),
        inv_inter=np.count_nonzero(inv_p & inv_g, axis=1).astype(np.int64),
        inv_union=np.count_nonzero(inv_p | inv_g, axis=1).astype(np.int64),
        empty_modal=~flat_m.any(axis=1))


def _pooled(inter: np.ndarray, union: np.ndarray) -> float:
    """``100 * sum(inter) / sum(union)``; NaN when the union is empty."""
    total = int(union.sum())
    return 100.0 * float(inter.sum()) / total if total else float('nan')


def _mean_iou(inter: np.ndarray, union: np.ndarray) -> float:
    """``100 * mean(inter / union)`` over instances with a non-empty union."""
    valid = union > 0
    if not valid.any():
        return float('nan')
    return 100.0 * float(np.mean(inter[valid] / union[valid]))


def summarize_amodal_stats(stats: Dict[str, np.ndarray]) -> Dict[str, float]:
    """Turn concatenated :func:`amodal_iou_stats` outputs into metrics.

    Args:
        stats (dict): The arrays of :func:`amodal_iou_stats`, concatenated
            over all evaluated instances of all images.

    Returns:
        dict: Percentages ``miou`` (pooled over all objects: the paper's
        "mIoU"), ``miou_inst`` (mean of per-instance IoU), ``miou_occ`` /
        ``miou_occ_inst`` (the same over occluded objects), ``miou_inv`` /
        ``miou_inv_inst`` (invisible region of occluded objects), plus the
        counts ``num_objects`` and ``num_occluded``. NaN where undefined.
    """
    inter, union = stats['inter'], stats['union']
    occ = stats['occluded'].astype(bool)
    inv_inter, inv_union = stats['inv_inter'][occ], stats['inv_union'][occ]
    return dict(
        miou=_pooled(inter, union),
        miou_inst=_mean_iou(inter, union),
        miou_occ=_pooled(inter[occ], union[occ]),
        miou_occ_inst=_mean_iou(inter[occ], union[occ]),
        miou_inv=_pooled(inv_inter, inv_union),
        miou_inv_inst=_mean_iou(inv_inter, inv_union),
        num_objects=int(inter.size),
        num_occluded=int(occ.sum()))


def match_instances(pred_masks: ArrayLike,
                    gt_masks: ArrayLike,
                    iou_thr: float = 0.5,
                    scores: Optional[ArrayLike] = None) -> np.ndarray:
    """Greedy one-to-one matching of predicted to ground-truth modal masks.

    Predictions are visited by decreasing score (by index when ``scores``
    is None); each takes the still unmatched ground-truth instance of
    highest mask IoU, provided that IoU is ``>= iou_thr`` (COCO-style
    greedy matching).

    Args:
        pred_masks (np.ndarray | torch.Tensor): ``(P, H, W)`` predicted
            modal masks.
        gt_masks (np.ndarray | torch.Tensor): ``(G, H, W)`` ground-truth
            modal masks.
        iou_thr (float): Minimum IoU of a match.
        scores (np.ndarray | torch.Tensor, optional): ``(P,)`` confidences.

    Returns:
        np.ndarray: ``(G,)`` int64, the index of the prediction matched to
        each ground-truth instance, ``-1`` if none.
    """
    pred = as_bool_masks(pred_masks, 'predicted modal masks')
    gt = as_bool_masks(gt_masks, 'ground-truth modal masks')
    if pred.shape[1:] != gt.shape[1:]:
        raise ValueError(f'predicted masks {pred.shape[1:]} and ground-truth '
                         f'masks {gt.shape[1:]} have different image sizes')
    num_gt, num_pred = gt.shape[0], pred.shape[0]
    gt_to_pred = np.full(num_gt, -1, dtype=np.int64)
    if num_gt == 0 or num_pred == 0:
        return gt_to_pred
    enc = lambda m: mask_utils.encode(  # noqa: E731
        np.asfortranarray(m.transpose(1, 2, 0).astype(np.uint8)))
    ious = np.asarray(
        mask_utils.iou(enc(pred), enc(gt), [0] * num_gt)).reshape(
            num_pred, num_gt)
    if scores is None:
        visit = np.arange(num_pred)
    else:
        s = _to_numpy(scores).astype(np.float64).reshape(-1)
        if s.shape[0] != num_pred:
            raise ValueError(f'{s.shape[0]} scores for {num_pred} predicted '
                             'masks')
        visit = np.argsort(-s, kind='stable')
    taken = np.zeros(num_gt, dtype=bool)
    for p in visit:
        cand = np.where(taken, -1.0, ious[p])
        g = int(np.argmax(cand))
        if cand[g] >= iou_thr and cand[g] > 0:
            taken[g] = True
            gt_to_pred[g] = p
    return gt_to_pred


def gather_matched_order(pred_order: ArrayLike,
                         gt_to_pred: np.ndarray) -> np.ndarray:
    """Predicted order re-indexed to the ground-truth instances.

    Args:
        pred_order (np.ndarray | torch.Tensor): ``(P, P)`` predicted order.
        gt_to_pred (np.ndarray): ``(G,)`` from :func:`match_instances`.

    Returns:
        np.ndarray: ``(G, G)`` int8; rows/columns of unmatched ground-truth
        instances are 0 (no relation predicted).
    """
    order = _check_order(pred_order, 'predicted order')
    g = gt_to_pred.shape[0]
    out = np.zeros((g, g), dtype=np.int8)
    ok = np.flatnonzero(gt_to_pred >= 0)
    out[np.ix_(ok, ok)] = order[np.ix_(gt_to_pred[ok], gt_to_pred[ok])]
    return out


def gather_matched_masks(pred_masks: ArrayLike,
                         gt_to_pred: np.ndarray) -> np.ndarray:
    """Predicted masks re-indexed to the ground-truth instances.

    Args:
        pred_masks (np.ndarray | torch.Tensor): ``(P, H, W)`` masks.
        gt_to_pred (np.ndarray): ``(G,)`` from :func:`match_instances`.

    Returns:
        np.ndarray: ``(G, H, W)`` bool; empty masks for unmatched
        ground-truth instances.
    """
    masks = as_bool_masks(pred_masks, 'predicted masks')
    out = np.zeros((gt_to_pred.shape[0], ) + masks.shape[1:], dtype=bool)
    ok = np.flatnonzero(gt_to_pred >= 0)
    out[ok] = masks[gt_to_pred[ok]]
    return out
