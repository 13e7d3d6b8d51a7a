"""DeOcclusionResult: validation, drawing order, JSON round trip."""
import json

import numpy as np
import pytest
import torch

from mmdeocc.structures import DeOcclusionResult, ResultFormatError


def _result(n=3, h=6, w=7, torch_tensors=True):
    rng = np.random.default_rng(0)
    amodal = rng.random((n, h, w)) > 0.5
    modal = amodal & (rng.random((n, h, w)) > 0.3)
    order = np.zeros((n, n), dtype=np.int8)
    if n >= 3:  # a cycle 0 > 1 > 2 > 0
        order[0, 1], order[1, 2], order[2, 0] = 1, 1, 1
        order = order - order.T
    kwargs = dict(
        order=order,
        amodal_masks=amodal,
        modal_masks=modal,
        labels=np.arange(n),
        scores=np.linspace(0.5, 0.9, n).astype(np.float32),
        layers=np.zeros(n, dtype=np.int64))
    if torch_tensors:
        kwargs = {k: torch.from_numpy(v) for k, v in kwargs.items()}
    return DeOcclusionResult(**kwargs)


@pytest.mark.parametrize('torch_tensors', [True, False])
def test_roundtrip_through_json(torch_tensors):
    result = _result(torch_tensors=torch_tensors)
    data = json.loads(json.dumps(result.to_dict()))
    assert data['order'] == [[0, 1, -1], [-1, 0, 1], [1, -1, 0]]
    assert data['amodal_masks'][0]['size'] == [6, 7]
    back = DeOcclusionResult.from_dict(data)
    np.testing.assert_array_equal(back.order, np.asarray(result.order))
    assert back.order.dtype == np.int8
    np.testing.assert_array_equal(back.amodal_masks,
                                  np.asarray(result.amodal_masks))
    np.testing.assert_array_equal(back.modal_masks,
                                  np.asarray(result.modal_masks))
    np.testing.assert_array_equal(back.labels, [0, 1, 2])
    np.testing.assert_allclose(back.scores, np.asarray(result.scores))
    assert back.drawing_order().tolist() == result.drawing_order().tolist()


def test_minimal_and_empty_results():
    empty = DeOcclusionResult(
        order=np.zeros((0, 0), np.int8),
        amodal_masks=np.zeros((0, 5, 4), bool))
    data = empty.to_dict()
    assert data == dict(height=5, width=4, order=[], amodal_masks=[])
    back = DeOcclusionResult.from_dict(data)
    assert back.amodal_masks.shape == (0, 5, 4)
    assert back.modal_masks is None and back.labels is None
    assert back.drawing_order().shape == (0, )


def test_drawing_order_on_cycle_never_raises():
    result = _result()
    assert sorted(result.drawing_order().tolist()) == [0, 1, 2]


def test_validation_errors():
    with pytest.raises(ValueError, match='order'):
        DeOcclusionResult(
            order=np.zeros((2, 3)), amodal_masks=np.zeros((2, 4, 4), bool))
    with pytest.raises(ValueError, match='amodal_masks'):
        DeOcclusionResult(
            order=np.zeros((2, 2)), amodal_masks=np.zeros((3, 4, 4), bool))
    with pytest.raises(ValueError, match='labels'):
        DeOcclusionResult(
            order=np.zeros((2, 2)),
            amodal_masks=np.zeros((2, 4, 4), bool),
            labels=np.zeros(3))
    data = _result().to_dict()
    del data['order']
    with pytest.raises(ResultFormatError, match='order'):
        DeOcclusionResult.from_dict(data)
    data = _result().to_dict()
    data['amodal_masks'] = data['amodal_masks'][:2]
    with pytest.raises(ResultFormatError, match='amodal_masks'):
        DeOcclusionResult.from_dict(data)
    data = _result().to_dict()
    data['height'] = 9
    with pytest.raises(ResultFormatError, match='size'):
        DeOcclusionResult.from_dict(data)


def test_from_det_sample_reads_the_adapter_fields():
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    modal = torch.zeros((2, 5, 6), dtype=torch.bool)
    modal[0, :2] = modal[1, 2:] = True
    sample = DetDataSample()
    sample.pred_instances = InstanceData(
        masks=modal, amodal_masks=modal | modal.flip(1),
        labels=torch.tensor([3, 1]), scores=torch.tensor([0.9, 0.5]))
    with pytest.raises(ResultFormatError, match='pred_occlusion_order'):
        DeOcclusionResult.from_det_sample(sample)
    sample.pred_occlusion_order = torch.tensor([[0, 1], [-1, 0]],
                                               dtype=torch.int8)
    result = DeOcclusionResult.from_det_sample(sample)
    assert result.order.dtype == np.int8 and result.order[0, 1] == 1
    assert result.layers.tolist() == [0, 1]
    assert result.labels.tolist() == [3, 1]
    np.testing.assert_array_equal(result.modal_masks, modal.numpy())
    assert result.scores.dtype == np.float32
