"""Tests of OcclusionOrderMetric and AmodalMaskMetric on hand-built cases."""
import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

import mmdeocc  # noqa: F401  (registers the metrics)
from mmdeocc.evaluation.metrics import (AmodalMaskMetric,
                                        OcclusionOrderMetric,
                                        SampleFieldError)
from mmdeocc.structures import encode_rle, gt_order_from_masks

H, W = 12, 16


def box(y0, y1, x0, x1):
    m = np.zeros((H, W), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def scene():
    """Three objects: 0 above 1 above 2 (chain), plus 3 alone.

    Returns (modal, amodal, gt_order).
    """
    amodal = np.stack([box(0, 6, 0, 6), box(3, 9, 4, 10), box(6, 12, 8, 14),
                       box(0, 2, 13, 16)])
    modal = amodal.copy()
    modal[1] &= ~amodal[0]
    modal[2] &= ~(amodal[0] | amodal[1])
    gt = np.zeros((4, 4), dtype=np.int8)
    gt[0, 1], gt[1, 0], gt[1, 2], gt[2, 1] = 1, -1, 1, -1
    return modal, amodal, gt


def record_sample(modal, amodal, pred_amodal, pred_order, img_id=1,
                  **extra):
    """A dict data sample with canonical raw instance records."""
    instances = [
        dict(modal_mask=encode_rle(m), amodal_mask=encode_rle(a),
             ignore_flag=0) for m, a in zip(modal, amodal)
    ]
    sample = dict(
        img_id=img_id,
        ori_shape=(H, W),
        instances=instances,
        pred_instances=dict(amodal_masks=torch.from_numpy(pred_amodal)),
        pred_occlusion_order=torch.from_numpy(pred_order))
    sample.update(extra)
    return sample


def evaluate(metric, samples):
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_scene_ground_truth_matches_mask_rule():
    modal, amodal, gt = scene()
    np.testing.assert_array_equal(gt_order_from_masks(modal, amodal), gt)


def test_perfect_and_swapped_order():
    modal, amodal, gt = scene()
    perfect = evaluate(OcclusionOrderMetric(),
                       [record_sample(modal, amodal, amodal, gt)])
    assert perfect['deocc/acc_occluded'] == pytest.approx(100.0)
    assert perfect['deocc/acc_all'] == pytest.approx(100.0)
    assert perfect['deocc/num_occluded_pairs'] == 2
    assert perfect['deocc/num_pairs'] == 6
    swapped = evaluate(OcclusionOrderMetric(),
                       [record_sample(modal, amodal, amodal, -gt)])
    assert swapped['deocc/acc_occluded'] == pytest.approx(0.0)
    assert swapped['deocc/acc_all'] == pytest.approx(100.0 * 4 / 6)


def test_order_is_pooled_over_images_not_averaged():
    modal, amodal, gt = scene()
    half = gt.copy()
    half[1, 2], half[2, 1] = -1, 1  # second relation wrong
    # image 1: 1 of 2 relations right; image 2: both wrong; plus image 3
    # with only one object pair, right.
    two = np.stack([box(0, 4, 0, 4), box(2, 6, 2, 6)])
    two_modal = two.copy()
    two_modal[1] &= ~two[0]
    two_gt = np.array([[0, 1], [-1, 0]], dtype=np.int8)
    samples = [
        record_sample(modal, amodal, amodal, half, img_id=1),
        record_sample(modal, amodal, amodal, -gt, img_id=2),
        record_sample(two_modal, two, two, two_gt, img_id=3),
    ]
    res = evaluate(OcclusionOrderMetric(prefix='x'), samples)
    # micro: (1 + 0 + 1) / (2 + 2 + 1) relations
    assert res['x/acc_occluded'] == pytest.approx(100.0 * 2 / 5)
    assert res['x/num_occluded_pairs'] == 5
    assert res['x/num_pairs'] == 6 + 6 + 1


def test_amodal_metric_known_numbers():
    modal, amodal, gt = scene()
    pred = modal.copy()  # raw baseline: amodal = modal
    res = evaluate(AmodalMaskMetric(), [record_sample(modal, amodal, pred,
                                                      gt)])
    inter = modal.reshape(4, -1).sum(1)
    union = amodal.reshape(4, -1).sum(1)
    assert res['deocc/miou'] == pytest.approx(100 * inter.sum() / union.sum())
    assert res['deocc/miou_inst'] == pytest.approx(100 * np.mean(inter /
                                                                 union))
    occ = [1, 2]
    assert res['deocc/miou_occ'] == pytest.approx(
        100 * inter[occ].sum() / union[occ].sum())
    assert res['deocc/miou_inv'] == pytest.approx(0.0)
    assert res['deocc/num_objects'] == 4
    assert res['deocc/num_occluded'] == 2
    perfect = evaluate(AmodalMaskMetric(),
                       [record_sample(modal, amodal, amodal, gt)])
    for key in ('miou', 'miou_inst', 'miou_occ', 'miou_inv'):
        assert perfect[f'deocc/{key}'] == pytest.approx(100.0)


def test_rle_predictions_and_det_data_sample_ground_truth():
    modal, amodal, gt = scene()
    sample = DetDataSample(metainfo=dict(img_id=5, ori_shape=(H, W)))
    sample.gt_instances = InstanceData(
        masks=BitmapMasks(modal.astype(np.uint8), H, W),
        amodal_masks=BitmapMasks(amodal.astype(np.uint8), H, W),
        labels=torch.zeros(4, dtype=torch.long))
    pred = InstanceData()
    pred.amodal_masks = [encode_rle(a) for a in amodal]
    pred.scores = torch.ones(4)
    sample.pred_instances = pred
    sample.pred_occlusion_order = torch.from_numpy(gt)
    for as_dict in (False, True):
        s = sample.to_dict() if as_dict else sample
        order = evaluate(OcclusionOrderMetric(), [s])
        assert order['deocc/acc_occluded'] == pytest.approx(100.0)
        iou = evaluate(AmodalMaskMetric(), [s])
        assert iou['deocc/miou'] == pytest.approx(100.0)


def test_annotated_order_source():
    modal, amodal, gt = scene()
    annotated = gt.copy()
    annotated[0, 2], annotated[2, 0] = 1, -1  # 0 above 2: not touching
    sample = record_sample(modal, amodal, amodal, gt,
                           gt_occlusion_order=annotated)
    strict = evaluate(OcclusionOrderMetric(gt_source='annotation'), [sample])
    # the method never orders non-touching pairs: 2 of 3 relations right
    assert strict['deocc/acc_occluded'] == pytest.approx(100.0 * 2 / 3)
    touching = evaluate(
        OcclusionOrderMetric(gt_source='annotation',
                             annotation_touching_only=True), [sample])
    assert touching['deocc/acc_occluded'] == pytest.approx(100.0)
    # the canonical record key `gt_order` works too
    sample2 = record_sample(modal, amodal, amodal, gt,
                            gt_order=annotated.tolist())
    res = evaluate(OcclusionOrderMetric(gt_source='annotation'), [sample2])
    assert res['deocc/acc_occluded'] == pytest.approx(100.0 * 2 / 3)
    with pytest.raises(SampleFieldError, match='gt_occlusion_order'):
        evaluate(OcclusionOrderMetric(gt_source='annotation'),
                 [record_sample(modal, amodal, amodal, gt)])


def test_ignored_records_are_dropped_consistently():
    modal, amodal, gt = scene()
    sample = record_sample(modal, amodal, amodal[:3], gt[:3, :3])
    sample['instances'][3]['ignore_flag'] = 1
    full_order = np.zeros((4, 4), dtype=np.int8)
    full_order[:3, :3] = gt[:3, :3]
    sample['gt_order'] = full_order
    for source in ('masks', 'annotation'):
        res = evaluate(OcclusionOrderMetric(gt_source=source), [sample])
        assert res['deocc/acc_occluded'] == pytest.approx(100.0)
        assert res['deocc/num_pairs'] == 3


def test_iou_matching_of_detector_outputs():
    modal, amodal, gt = scene()
    # Detector found objects 2, 0, 1 (in that order) plus a false positive,
    # and missed object 3.
    fp = box(10, 12, 0, 3)
    det_modal = np.stack([modal[2], modal[0], modal[1], fp])
    det_amodal = np.stack([amodal[2], amodal[0], amodal[1], fp])
    perm = [2, 0, 1]
    det_order = np.zeros((4, 4), dtype=np.int8)
    det_order[:3, :3] = gt[np.ix_(perm, perm)]
    sample = dict(
        img_id=7,
        ori_shape=(H, W),
        instances=[
            dict(modal_mask=encode_rle(m), amodal_mask=encode_rle(a))
            for m, a in zip(modal, amodal)
        ],
        pred_instances=dict(
            masks=torch.from_numpy(det_modal),
            amodal_masks=torch.from_numpy(det_amodal),
            scores=torch.tensor([0.9, 0.8, 0.7, 0.95])),
        pred_occlusion_order=det_order)
    order = evaluate(OcclusionOrderMetric(match='iou'), [sample])
    assert order['deocc/acc_occluded'] == pytest.approx(100.0)
    assert order['deocc/num_unmatched_gt'] == 1
    iou = evaluate(AmodalMaskMetric(match='iou'), [sample])
    union = amodal.reshape(4, -1).sum(1)
    # the missed object counts with an empty prediction
    assert iou['deocc/miou'] == pytest.approx(100 * union[:3].sum() /
                                              union.sum())
    assert iou['deocc/num_unmatched_gt'] == 1
    # Index matching needs one prediction per ground-truth instance.
    sample['pred_instances'] = dict(
        amodal_masks=torch.from_numpy(det_amodal[:3]))
    sample['pred_occlusion_order'] = det_order[:3, :3]
    with pytest.raises(SampleFieldError, match='match="iou"'):
        evaluate(OcclusionOrderMetric(), [sample])


def test_iou_matching_uses_deoccluded_detections_only():
    """A duplicate of object 1 scored above it but not de-occluded (below
    the hook's threshold) is no match candidate; ``*_matched`` accuracies
    leave out the pairs of undetected objects."""
    modal, amodal, gt = scene()
    # detections: 0, 1, a duplicate of 1 (not de-occluded); 2 is missed
    det_modal = np.stack([modal[0], modal[1], modal[1]])
    det_order = np.zeros((3, 3), dtype=np.int8)
    det_order[0, 1], det_order[1, 0] = 1, -1
    sample = dict(
        img_id=8,
        ori_shape=(H, W),
        instances=[
            dict(modal_mask=encode_rle(m), amodal_mask=encode_rle(a))
            for m, a in zip(modal, amodal)
        ],
        pred_instances=dict(
            masks=torch.from_numpy(det_modal),
            amodal_masks=torch.from_numpy(det_modal),
            scores=torch.tensor([0.9, 0.6, 0.8]),
            deoccluded=torch.tensor([True, True, False])),
        pred_occlusion_order=det_order)
    order = evaluate(OcclusionOrderMetric(match='iou'), [sample])
    # objects 2 and 3 unmatched; the relation 0-1 is right, 1-2 is missed
    assert order['deocc/num_unmatched_gt'] == 2
    assert order['deocc/acc_occluded'] == pytest.approx(50.0)
    assert order['deocc/acc_occluded_matched'] == pytest.approx(100.0)
    assert order['deocc/num_occluded_pairs_matched'] == 1
    # without the flags the higher-scored duplicate takes object 1
    del sample['pred_instances']['deoccluded']
    order = evaluate(OcclusionOrderMetric(match='iou'), [sample])
    assert order['deocc/acc_occluded'] == pytest.approx(0.0)


def test_fully_hidden_objects_are_reported_not_scored():
    modal, amodal, gt = scene()
    modal = np.concatenate([modal, np.zeros((1, H, W), bool)])
    hidden = box(0, 2, 0, 2)  # behind object 0
    amodal = np.concatenate([amodal, hidden[None]])
    pred = amodal.copy()
    pred[4] = False
    order = np.zeros((5, 5), dtype=np.int8)
    order[:4, :4] = gt
    sample = record_sample(modal, amodal, pred, order)
    res = evaluate(AmodalMaskMetric(), [sample])
    assert res['deocc/miou'] == pytest.approx(100.0)
    assert res['deocc/num_unrecoverable'] == 1
    assert res['deocc/num_objects'] == 4
    strict = evaluate(AmodalMaskMetric(skip_empty_modal=False), [sample])
    assert strict['deocc/miou'] < 100.0
    assert strict['deocc/num_objects'] == 5


def test_errors_name_the_sample():
    modal, amodal, gt = scene()
    sample = record_sample(modal, amodal, amodal[:3], gt[:3, :3], img_id=42)
    with pytest.raises(SampleFieldError, match='img_id=42'):
        evaluate(AmodalMaskMetric(), [sample])
    no_amodal = record_sample(modal, amodal, amodal, gt, img_id=43)
    for inst in no_amodal['instances']:
        inst['amodal_mask'] = None
    with pytest.raises(SampleFieldError, match='amodal_mask'):
        evaluate(AmodalMaskMetric(), [no_amodal])
    bad_shape = record_sample(modal, amodal, amodal[:, :6], gt, img_id=44)
    with pytest.raises(SampleFieldError, match='ori_shape'):
        evaluate(AmodalMaskMetric(), [bad_shape])
    no_order = record_sample(modal, amodal, amodal, gt, img_id=45)
    del no_order['pred_occlusion_order']
    with pytest.raises(SampleFieldError, match='pred_occlusion_order'):
        evaluate(OcclusionOrderMetric(), [no_order])
    with pytest.raises(ValueError, match='gt_source'):
        OcclusionOrderMetric(gt_source='depth')


def test_registry_build():
    metric = METRICS.build(
        dict(type='OcclusionOrderMetric', tie_rule='ignore'))
    assert isinstance(metric, OcclusionOrderMetric)
    assert isinstance(METRICS.build(dict(type='AmodalMaskMetric')),
                      AmodalMaskMetric)
