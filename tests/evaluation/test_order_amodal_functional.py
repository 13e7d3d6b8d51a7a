"""Tests of the pure evaluation functions (METHOD section 4)."""
import cv2
import numpy as np
import pytest
import torch

from mmdeocc.evaluation.functional import (amodal_iou_stats,
                                           gather_matched_masks,
                                           gather_matched_order,
                                           match_instances, order_accuracy,
                                           pooled_order_accuracy,
                                           summarize_amodal_stats)
from mmdeocc.structures import (gt_order_from_masks, order_from_depth,
                                touch_matrix)


def box(h, w, y0, y1, x0, x1):
    """A (h, w) bool mask with the half-open box set."""
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def compose(amodal, depth):
    """Modal = amodal minus all nearer amodal masks."""
    modal = np.zeros_like(amodal)
    for k in range(len(amodal)):
        nearer = [j for j in range(len(amodal)) if depth[j] < depth[k]]
        cover = np.any(amodal[nearer], axis=0) if nearer else False
        modal[k] = amodal[k] & ~cover
    return modal


def test_touch_matrix_reference_rule():
    h = w = 12
    masks = np.stack([
        box(h, w, 0, 3, 0, 3),  # 0
        box(h, w, 0, 3, 3, 6),  # 1: shares an edge with 0
        box(h, w, 3, 6, 6, 9),  # 2: only a corner contact with 1
        box(h, w, 0, 3, 10, 12),  # 3: one-pixel gap to nothing touching
        box(h, w, 8, 12, 0, 4),  # 4: overlaps 5
        box(h, w, 10, 12, 2, 6),  # 5
        np.zeros((h, w), dtype=bool),  # 6: empty
    ])
    touch = touch_matrix(masks)
    expected = np.zeros((7, 7), dtype=bool)
    for i, j in [(0, 1), (4, 5)]:
        expected[i, j] = expected[j, i] = True
    np.testing.assert_array_equal(touch, expected)
    # also accepts torch
    np.testing.assert_array_equal(touch_matrix(torch.from_numpy(masks)),
                                  expected)


def test_touch_matrix_matches_brute_force_dilation():
    rng = np.random.default_rng(0)
    masks = rng.random((6, 20, 20)) > 0.93
    kernel = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)
    brute = np.zeros((6, 6), dtype=bool)
    for i in range(6):
        dil = cv2.dilate(masks[i].astype(np.uint8), kernel) > 0
        for j in range(6):
            brute[i, j] = i != j and np.any(dil & masks[j])
    np.testing.assert_array_equal(touch_matrix(masks), brute)


def test_gt_order_front_back_and_unrelated():
    h = w = 16
    amodal = np.stack([
        box(h, w, 2, 8, 2, 8),  # 0 front
        box(h, w, 5, 12, 5, 12),  # 1 behind 0
        box(h, w, 0, 3, 13, 16),  # 2 alone
        box(h, w, 13, 16, 0, 4),  # 3 touches 4 without occlusion
        box(h, w, 13, 16, 4, 8),  # 4
    ])
    depth = [0, 1, 2, 3, 4]
    modal = compose(amodal, depth)
    gt = gt_order_from_masks(modal, amodal)
    expected = np.zeros((5, 5), dtype=np.int8)
    expected[0, 1], expected[1, 0] = 1, -1
    np.testing.assert_array_equal(gt, expected)
    assert gt.dtype == np.int8
    # The same scene with objects listed in another order: same relations.
    perm = [3, 1, 4, 0, 2]
    gt_p = gt_order_from_masks(modal[perm], amodal[perm])
    np.testing.assert_array_equal(gt_p, expected[np.ix_(perm, perm)])


def test_gt_order_chain_and_only_touching_pairs():
    h, w = 10, 30
    # A chain 0 above 1 above 2 (0 and 2 do not touch), and 3 partly
    # behind 0.
    amodal = np.stack([
        box(h, w, 0, 10, 8, 14),  # 0
        box(h, w, 2, 8, 12, 20),  # 1
        box(h, w, 3, 7, 18, 26),  # 2
        box(h, w, 0, 2, 0, 12),  # 3: its right end is behind 0
    ])
    depth = [0, 1, 2, 3]
    modal = compose(amodal, depth)
    gt = gt_order_from_masks(modal, amodal)
    assert gt[0, 1] == 1 and gt[1, 0] == -1
    assert gt[1, 2] == 1 and gt[2, 1] == -1
    assert gt[0, 2] == 0  # not touching: never ordered
    # 3's visible part (cols 0..7) touches 0 (starting at col 8): ordered.
    assert gt[0, 3] == 1 and gt[3, 0] == -1
    np.testing.assert_array_equal(gt, -gt.T)


def tie_scene():
    """Mutual occlusion of equal extent: a == b == 2."""
    h, w = 6, 8
    amodal = np.stack([box(h, w, 0, 2, 0, 5), box(h, w, 0, 2, 3, 8)])
    modal = amodal.copy()
    # In the 2x2 overlap, 0 is visible on row 0 and 1 on row 1.
    modal[0, 1, 3:5] = False
    modal[1, 0, 3:5] = False
    return modal, amodal


def test_gt_order_ties():
    modal, amodal = tie_scene()
    assert (modal[0] & amodal[1]).sum() == 2
    assert (modal[1] & amodal[0]).sum() == 2
    ref = gt_order_from_masks(modal, amodal, tie_rule='reference')
    np.testing.assert_array_equal(ref, [[0, 1], [-1, 0]])
    # Reference rule: the lower index wins whatever the objects are.
    ref_swapped = gt_order_from_masks(modal[::-1], amodal[::-1])
    np.testing.assert_array_equal(ref_swapped, [[0, 1], [-1, 0]])
    ign = gt_order_from_masks(modal, amodal, tie_rule='ignore')
    np.testing.assert_array_equal(ign, np.zeros((2, 2)))
    with pytest.raises(ValueError, match='tie_rule'):
        gt_order_from_masks(modal, amodal, tie_rule='bogus')


def test_gt_order_unequal_mutual_occlusion():
    modal, amodal = tie_scene()
    modal[1, 0, 4] = True  # now b = |modal_1 & amodal_0| = 3 > a = 1
    modal[0, 0, 4] = False
    gt = gt_order_from_masks(modal, amodal, tie_rule='ignore')
    np.testing.assert_array_equal(gt, [[0, -1], [1, 0]])


def test_gt_order_shape_errors():
    with pytest.raises(ValueError, match='same shape'):
        gt_order_from_masks(np.zeros((2, 4, 4)), np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match=r'\(N, H, W\)'):
        gt_order_from_masks(np.zeros((4, 4)), np.zeros((4, 4)))


def test_order_from_depth():
    related = np.ones((3, 3), dtype=bool)
    related[0, 2] = related[2, 0] = False
    order = order_from_depth([2, 0, 1], related)
    np.testing.assert_array_equal(order, [[0, -1, 0], [1, 0, 1], [0, -1, 0]])


def test_order_accuracy_counts():
    gt = np.array([[0, 1, 0], [-1, 0, -1], [0, 1, 0]], dtype=np.int8)
    perfect = order_accuracy(gt, gt)
    assert perfect == dict(occluded_correct=4, occluded_total=4,
                           all_correct=6, all_total=6)
    swapped = order_accuracy(-gt, gt)
    assert swapped['occluded_correct'] == 0
    assert swapped['all_correct'] == 2  # the unrelated pair (0, 2)
    half = gt.copy()
    half[1, 2], half[2, 1] = 0, 0  # misses the relation of (1, 2)
    counts = order_accuracy(torch.from_numpy(half), gt)
    assert counts['occluded_correct'] == 2 and counts['all_correct'] == 4
    empty = order_accuracy(np.zeros((0, 0)), np.zeros((0, 0)))
    assert empty['all_total'] == 0 and empty['occluded_total'] == 0


def test_pooled_order_accuracy_is_a_micro_average():
    gt = np.array([[0, 1, 0], [-1, 0, -1], [0, 1, 0]], dtype=np.int8)
    half = gt.copy()
    half[1, 2], half[2, 1] = 0, 0
    images = [order_accuracy(gt, gt), order_accuracy(half, gt),
              order_accuracy(np.zeros((1, 1)), np.zeros((1, 1)))]
    pooled = pooled_order_accuracy(images)
    assert pooled['acc_occluded'] == pytest.approx(100 * 6 / 8)
    assert pooled['acc_all'] == pytest.approx(100 * 10 / 12)
    assert pooled['num_occluded_pairs'] == 4 and pooled['num_pairs'] == 6
    assert pooled['num_images'] == 3
    nothing = pooled_order_accuracy([])
    assert np.isnan(nothing['acc_occluded']) and nothing['num_images'] == 0


def test_order_accuracy_errors():
    with pytest.raises(ValueError, match='same shape'):
        order_accuracy(np.zeros((2, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match='square'):
        order_accuracy(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match='only -1, 0, \\+1'):
        order_accuracy(np.full((2, 2), 2), np.zeros((2, 2)))


def amodal_case():
    """Two objects with known IoUs (see the numbers in the test)."""
    h = w = 10
    gt = np.stack([box(h, w, 2, 6, 2, 6), box(h, w, 0, 2, 8, 10)])
    modal = np.stack([box(h, w, 4, 6, 2, 6), gt[1]])  # 0 occluded (top half)
    pred = np.stack([box(h, w, 3, 6, 2, 6), box(h, w, 0, 2, 6, 10)])
    return pred, gt, modal


def test_amodal_iou_stats_known_numbers():
    pred, gt, modal = amodal_case()
    stats = amodal_iou_stats(pred, gt, modal)
    np.testing.assert_array_equal(stats['inter'], [12, 4])
    np.testing.assert_array_equal(stats['union'], [16, 8])
    np.testing.assert_array_equal(stats['occluded'], [True, False])
    np.testing.assert_array_equal(stats['inv_inter'], [4, 0])
    np.testing.assert_array_equal(stats['inv_union'], [8, 4])
    np.testing.assert_array_equal(stats['empty_modal'], [False, False])
    summary = summarize_amodal_stats(stats)
    assert summary['miou'] == pytest.approx(100 * 16 / 24)
    assert summary['miou_inst'] == pytest.approx(100 * (0.75 + 0.5) / 2)
    assert summary['miou_occ'] == pytest.approx(75.0)
    assert summary['miou_occ_inst'] == pytest.approx(75.0)
    assert summary['miou_inv'] == pytest.approx(50.0)
    assert summary['num_objects'] == 2 and summary['num_occluded'] == 1


def test_amodal_iou_perfect_and_raw_baseline():
    pred, gt, modal = amodal_case()
    perfect = summarize_amodal_stats(amodal_iou_stats(gt, gt, modal))
    for key in ('miou', 'miou_inst', 'miou_occ', 'miou_inv'):
        assert perfect[key] == pytest.approx(100.0)
    raw = summarize_amodal_stats(amodal_iou_stats(modal, gt, modal))
    assert raw['miou'] == pytest.approx(100 * (8 + 4) / (16 + 4))
    assert raw['miou_inv'] == pytest.approx(0.0)


def test_amodal_iou_nan_without_occluded_objects():
    _, gt, _ = amodal_case()
    summary = summarize_amodal_stats(amodal_iou_stats(gt, gt, gt))
    assert summary['miou'] == pytest.approx(100.0)
    assert np.isnan(summary['miou_occ']) and np.isnan(summary['miou_inv'])


def test_amodal_iou_shape_mismatch():
    pred, gt, modal = amodal_case()
    with pytest.raises(ValueError, match='shapes differ'):
        amodal_iou_stats(pred[:1], gt, modal)


def test_match_instances_greedy():
    h = w = 20
    gt = np.stack([box(h, w, 0, 5, 0, 5), box(h, w, 10, 20, 10, 20),
                   box(h, w, 0, 4, 15, 19)])
    pred = np.stack([
        box(h, w, 10, 19, 10, 20),  # gt 1, IoU 0.9
        box(h, w, 0, 5, 0, 4),  # gt 0, IoU 0.8
        box(h, w, 5, 9, 5, 9),  # false positive
        box(h, w, 0, 5, 0, 5),  # gt 0 exactly (duplicate)
    ])
    np.testing.assert_array_equal(match_instances(pred, gt), [1, 0, -1])
    # With scores, the exact duplicate (highest score) takes gt 0 first.
    scores = np.array([0.9, 0.5, 0.8, 0.95])
    np.testing.assert_array_equal(
        match_instances(pred, gt, scores=scores), [3, 0, -1])
    np.testing.assert_array_equal(
        match_instances(pred, gt, iou_thr=0.95), [3, -1, -1])
    assert match_instances(pred[:0], gt).tolist() == [-1, -1, -1]


def test_gather_matched():
    order = np.array([[0, 1, 0], [-1, 0, 1], [0, -1, 0]], dtype=np.int8)
    gt_to_pred = np.array([2, -1, 1, 0])
    out = gather_matched_order(order, gt_to_pred)
    expected = np.zeros((4, 4), dtype=np.int8)
    expected[0, 2], expected[2, 0] = -1, 1  # pred (2, 1)
    expected[0, 3], expected[3, 0] = 0, 0  # pred (2, 0)
    expected[2, 3], expected[3, 2] = -1, 1  # pred (1, 0)
    np.testing.assert_array_equal(out, expected)
    masks = np.arange(3)[:, None, None] == np.arange(3)[None, :, None]
    masks = np.broadcast_to(masks, (3, 3, 2))
    got = gather_matched_masks(masks, gt_to_pred)
    assert got.shape == (4, 3, 2)
    np.testing.assert_array_equal(got[0], masks[2])
    assert not got[1].any()
    np.testing.assert_array_equal(got[3], masks[0])
