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
from typing import Any, Dict, Iterable, Mapping, Optional, Union

import numpy as np
import pycocotools.mask as mask_utils
import torch

from mmdeocc.structures.masks import as_bool_mask_array, to_numpy
from mmdeocc.structures.order import as_order_matrix
from mmdeocc.utils.deprecation import moved_attribute

ArrayLike = Union[np.ndarray, torch.Tensor]

# Ground truth from masks moved to mmdeocc.structures (importable from here
# for one more release).
_MOVED = {
    'TIE_RULES': 'mmdeocc.structures.order',
    'touch_matrix': 'mmdeocc.structures.order',
    'gt_order_from_masks': 'mmdeocc.structures.order',
    'order_from_depth': 'mmdeocc.structures.order',
    'as_bool_masks': 'mmdeocc.structures.masks:as_bool_mask_array',
}


def __getattr__(name: str):
    return moved_attribute(__name__, name, _MOVED)


def _check_order(order: ArrayLike, name: str) -> np.ndarray:
    """Validate an order matrix: square, values in {-1, 0, 1}."""
    return as_order_matrix(order, name, check_values=True)


#: Keys of :func:`order_accuracy`'s per-image counts.
ORDER_COUNT_KEYS = ('occluded_correct', 'occluded_total', 'all_correct',
                    'all_total')


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


def percent(num: float, den: float) -> float:
    """``100 * num / den``; NaN when ``den`` is 0."""
    return 100.0 * num / den if den else float('nan')


def pooled_order_accuracy(
        counts: Iterable[Mapping[str, int]]) -> Dict[str, Any]:
    """Pool per-image :func:`order_accuracy` counts (micro averages).

    Args:
        counts (Iterable[Mapping[str, int]]): Per-image counts.

    Returns:
        dict: ``acc_occluded`` and ``acc_all`` (percent, NaN without
        pairs), ``num_occluded_pairs`` and ``num_pairs`` (unordered pairs,
        half the ordered counts), ``num_images``.
    """
    total = dict.fromkeys(ORDER_COUNT_KEYS, 0)
    num_images = 0
    for image_counts in counts:
        num_images += 1
        for key in ORDER_COUNT_KEYS:
            total[key] += int(image_counts[key])
    return dict(
        acc_occluded=percent(total['occluded_correct'],
                             total['occluded_total']),
        acc_all=percent(total['all_correct'], total['all_total']),
        num_occluded_pairs=total['occluded_total'] // 2,
        num_pairs=total['all_total'] // 2,
        num_images=num_images)


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
    pred = as_bool_mask_array(pred, 'predicted amodal masks')
    gt = as_bool_mask_array(gt, 'ground-truth amodal masks')
    modal = as_bool_mask_array(modal, 'ground-truth modal masks')
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
    pred = as_bool_mask_array(pred_masks, 'predicted modal masks')
    gt = as_bool_mask_array(gt_masks, 'ground-truth modal masks')
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
        s = to_numpy(scores).astype(np.float64).reshape(-1)
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
    masks = as_bool_mask_array(pred_masks, 'predicted masks')
    out = np.zeros((gt_to_pred.shape[0], ) + masks.shape[1:], dtype=bool)
    ok = np.flatnonzero(gt_to_pred >= 0)
    out[ok] = masks[gt_to_pred[ok]]
    return out
