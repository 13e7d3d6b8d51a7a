"""Tests of DumpDeOcclusionResults."""
import os
import pickle

import numpy as np
import pytest
import torch
from mmdet.registry import METRICS
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData

import mmdeocc  # noqa: F401
from mmdeocc.evaluation.metrics import DumpDeOcclusionResults
from mmdeocc.structures import decode_rle


def make_sample(img_id, rng):
    masks = torch.from_numpy(rng.random((3, 9, 11)) > 0.5)
    amodal = masks | torch.from_numpy(rng.random((3, 9, 11)) > 0.5)
    sample = DetDataSample(metainfo=dict(img_id=img_id, ori_shape=(9, 11),
                                         img_path=f'{img_id}.png'))
    sample.pred_instances = InstanceData(
        masks=masks, amodal_masks=amodal, scores=torch.rand(3),
        labels=torch.arange(3))
    sample.gt_instances = InstanceData(masks=masks)
    order = torch.tensor([[0, 1, 0], [-1, 0, -1], [0, 1, 0]])
    sample.pred_occlusion_order = order
    return sample


def test_dump_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    out = tmp_path / 'sub' / 'results.pkl'
    metric = METRICS.build(
        dict(type='DumpDeOcclusionResults', out_file_path=str(out)))
    samples = [make_sample(1, rng), make_sample(2, rng).to_dict()]
    metric.process({}, samples)
    assert metric.evaluate(2) == {}
    with open(out, 'rb') as f:
        results = pickle.load(f)
    assert [r['img_id'] for r in results] == [1, 2]
    assert os.listdir(out.parent) == ['results.pkl']  # no temp file left
    for res, sample in zip(results, samples):
        pred = sample['pred_instances'] if isinstance(
            sample, dict) else sample.pred_instances
        for key in ('masks', 'amodal_masks'):
            rles = res['pred_instances'][key]
            assert all(isinstance(r['counts'], str) for r in rles)
            decoded = np.stack([decode_rle(r) for r in rles]).astype(bool)
            np.testing.assert_array_equal(decoded, pred[key].numpy())
        np.testing.assert_allclose(res['pred_instances']['scores'],
                                   pred['scores'].numpy())
        order = res['pred_occlusion_order']
        assert order.dtype == np.int8
        np.testing.assert_array_equal(order, [[0, 1, 0], [-1, 0, -1],
                                              [0, 1, 0]])
        assert 'gt_instances' not in res
        assert res['ori_shape'] == (9, 11)


def test_dump_rejects_bad_suffix():
    with pytest.raises(ValueError, match='.pkl'):
        DumpDeOcclusionResults(out_file_path='results.json')
