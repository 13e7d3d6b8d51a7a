"""DetSampleDeOccluder: the one path that de-occludes DetDataSamples."""
import numpy as np
import pytest
import torch
from det_fixtures import save_pcnet_m, scene_masks
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.structures import InstanceData

from mmdeocc.deocclusion import (GIVEN_MASKS_GAP_TOLERANCE,
                                 PREDICTED_MASKS_GAP_TOLERANCE,
                                 DetDeOcclusionConfigError,
                                 DetectorWithoutMasksError,
                                 DetSampleDeOccluder, DetSampleError,
                                 build_det_sample_deoccluder, select_instances)


@pytest.fixture(scope='module')
def masks(api_scenes):
    """Modal masks of the first two test scenes (at least 3 objects)."""
    scenes = scene_masks(api_scenes)
    return [torch.from_numpy(m) for m, _, _ in list(scenes.values())[:2]]


def _sample(masks, scores=None, labels=None, container=torch.Tensor):
    sample = DetDataSample(metainfo=dict(img_id=7, img_path='x.png'))
    pred = InstanceData()
    if container is np.ndarray:
        pred.masks = masks.numpy()
    elif container is BitmapMasks:
        array = masks.numpy().astype(np.uint8)
        pred.masks = BitmapMasks(array, *array.shape[1:])
    elif masks is not None:
        pred.masks = masks
    num = len(masks)
    pred.scores = torch.linspace(0.9, 0.5, num) if scores is None else \
        torch.tensor(scores, dtype=torch.float32)
    pred.labels = torch.zeros(num, dtype=torch.int64) if labels is None \
        else torch.tensor(labels)
    sample.pred_instances = pred
    return sample


def test_select_instances():
    scores = torch.tensor([0.2, 0.9, 0.5, 0.7, 0.9])
    assert select_instances(scores, 5, 0.4, None).tolist() == [1, 2, 3, 4]
    assert select_instances(scores, 5, 0.4, 2).tolist() == [1, 4]
    assert select_instances(scores, 5, 0.0, 3).tolist() == [1, 3, 4]
    assert select_instances(None, 5, 0.4, 2).tolist() == [0, 1]
    assert select_instances(torch.zeros(0), 0, 0.3, 5).tolist() == []


def test_untouched_below_threshold_and_equal_to_core(masks, api_pcnet):
    sd = build_det_sample_deoccluder(pcnet_m=str(api_pcnet), score_thr=0.4)
    modal = masks[0]
    num = len(modal)
    assert num >= 3
    scores = [0.9, 0.2] + [0.8] * (num - 2)
    sample = sd([_sample(modal, scores)])[0]
    pred = sample.pred_instances
    keep = [k for k in range(num) if scores[k] >= 0.4]
    flags = torch.zeros(num, dtype=torch.bool)
    flags[keep] = True
    assert torch.equal(pred.deoccluded, flags)
    assert pred.amodal_masks.dtype == torch.bool
    assert torch.equal(pred.amodal_masks[1], modal[1])
    order = sample.pred_occlusion_order
    assert order.shape == (num, num) and order.dtype == torch.int8
    assert not order[1].any() and not order[:, 1].any()
    expected = sd.deoccluder(modal[keep])
    assert torch.equal(order[keep][:, keep], expected.order)
    assert torch.equal(pred.amodal_masks[keep], expected.amodal_masks)
    assert 'pred_occlusion_order' not in pred  # not sliced with instances
    changed = bool(order.any()) or bool((pred.amodal_masks != modal).any())
    assert changed, 'de-occlusion changed nothing: test is vacuous'


def test_batch_equals_single_images(masks, api_pcnet):
    sd = build_det_sample_deoccluder(pcnet_m=str(api_pcnet), score_thr=0.0)
    batch = sd([_sample(m) for m in masks])
    for m, sample in zip(masks, batch):
        single = sd([_sample(m)])[0]
        assert torch.equal(sample.pred_occlusion_order,
                           single.pred_occlusion_order)
        assert torch.equal(sample.pred_instances.amodal_masks,
                           single.pred_instances.amodal_masks)


@pytest.mark.parametrize('container', [np.ndarray, BitmapMasks])
def test_amodal_keeps_the_mask_container(masks, api_pcnet, container):
    sd = build_det_sample_deoccluder(pcnet_m=str(api_pcnet), score_thr=0.0)
    reference = sd([_sample(masks[0])])[0].pred_instances.amodal_masks
    out = sd([_sample(masks[0], container=container)])[0]
    amodal = out.pred_instances.amodal_masks
    assert isinstance(amodal, container)
    array = amodal.to_ndarray() if container is BitmapMasks else amodal
    assert np.array_equal(np.asarray(array).astype(bool), reference.numpy())


def test_max_instances_and_empty_images(masks, api_pcnet):
    sd = build_det_sample_deoccluder(
        pcnet_m=str(api_pcnet), score_thr=0.0, max_instances=2)
    num = len(masks[0])
    scores = list(np.linspace(0.1, 0.9, num))
    empty = torch.zeros((0, ) + tuple(masks[0].shape[1:]), dtype=torch.bool)
    out = sd([_sample(masks[0], scores), _sample(empty)])
    assert out[0].pred_instances.deoccluded.nonzero().flatten().tolist() == [
        num - 2, num - 1]
    assert out[1].pred_instances.amodal_masks.shape == empty.shape
    assert out[1].pred_occlusion_order.shape == (0, 0)
    # all below the threshold: nothing is run, nothing changes
    strict = build_det_sample_deoccluder(pcnet_m=str(api_pcnet),
                                         score_thr=0.95)
    sample = strict([_sample(masks[0], scores)])[0]
    assert torch.equal(sample.pred_instances.amodal_masks, masks[0])
    assert not sample.pred_occlusion_order.any()


def test_bad_samples_name_the_sample(masks, api_pcnet):
    sd = build_det_sample_deoccluder(pcnet_m=str(api_pcnet))
    no_masks = _sample(masks[0])
    del no_masks.pred_instances.masks
    with pytest.raises(DetectorWithoutMasksError,
                       match=r'data sample 0 img_id=7 \(x.png\).*masks'):
        sd([no_masks])
    soft = _sample(masks[0])
    soft.pred_instances.masks = masks[0].float()
    with pytest.raises(DetSampleError, match='float'):
        sd([soft])
    with pytest.raises(DetSampleError, match='no pred_instances'):
        sd([DetDataSample()])


def test_label_to_category(masks, api_pcnet, tmp_path):
    plain = build_det_sample_deoccluder(
        pcnet_m=str(api_pcnet), label_to_category=[11, 12, 13])
    seen = []
    run_many = plain.deoccluder.run_many

    def spy(items):
        seen.extend(cats.tolist() for _, cats in items)
        return run_many(items)

    plain.deoccluder.run_many = spy
    num = len(masks[0])
    labels = [k % 3 for k in range(num)]
    plain([_sample(masks[0], labels=labels)])
    assert seen == [[11 + label for label in labels]]
    with pytest.raises(DetSampleError, match='label 5 has no entry'):
        plain([_sample(masks[0], labels=[5] * num)])
    # A PCNet-M that encodes category ids needs the map.
    categorical = save_pcnet_m(tmp_path / 'cat.pth', use_category=True)
    with pytest.raises(DetDeOcclusionConfigError, match='use_category'):
        build_det_sample_deoccluder(pcnet_m=str(categorical))
    sd = build_det_sample_deoccluder(
        pcnet_m=str(categorical), label_to_category={0: 1, 1: 2, 2: 3})
    out = sd([_sample(masks[0], labels=labels)])[0]
    assert out.pred_instances.amodal_masks.shape == masks[0].shape
    with pytest.raises(DetDeOcclusionConfigError, match='integers'):
        build_det_sample_deoccluder(
            pcnet_m=str(api_pcnet), label_to_category={'a': 'b'})


def test_gap_tolerance_defaults(api_pcnet):
    def tol(**kwargs):
        return build_det_sample_deoccluder(
            pcnet_m=str(api_pcnet), **kwargs).deoccluder.gap_tolerance

    assert tol() == PREDICTED_MASKS_GAP_TOLERANCE > 0
    assert tol(predicted_masks=False) == GIVEN_MASKS_GAP_TOLERANCE == 0
    assert tol(gap_tolerance=3) == 3
    assert tol(deoccluder=dict(gap_tolerance=0)) == 0
    with pytest.raises(DetDeOcclusionConfigError, match='conflicts'):
        tol(gap_tolerance=2, deoccluder=dict(gap_tolerance=0.1))
    with pytest.raises(DetDeOcclusionConfigError, match='pcnet_m'):
        build_det_sample_deoccluder(deoccluder=dict(checkpoint='x.pth'))
    with pytest.raises(DetDeOcclusionConfigError, match='score_thr'):
        DetSampleDeOccluder(
            build_det_sample_deoccluder(pcnet_m=str(api_pcnet)).deoccluder,
            score_thr=1.5)


def test_network_free_methods_need_no_checkpoint(masks):
    sd = build_det_sample_deoccluder(
        deoccluder=dict(order_method='area', amodal_method='convex'),
        score_thr=0.0)
    out = sd([_sample(masks[0])])[0]
    amodal = out.pred_instances.amodal_masks
    assert (amodal | masks[0]).equal(amodal)  # convex hull contains modal
