"""The 128k-sample shapes checkpoint beats the geometric baselines by the
paper's margins on scenes of classes it never saw (issue 13 targets).

Measured on the full 200-scene benchmark (docs/results.md "Scaling"):
ordering 88.85 vs Convex 76.01, OG 91.16 vs Convex^R 86.94. Here 60 scenes
of the same generator (seed 2, the benchmark's first 60); thresholds leave
room for the smaller sample.
"""
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from mmdeocc.evaluation import evaluate_from_config

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

import make_occlusion_scenes  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def test_margins_over_baselines_on_unseen_classes(tmp_path):
    make_occlusion_scenes.main([
        '--shapes', str(ROOT / 'data/shapes/mpeg7'), '--out',
        str(tmp_path), '--num-scenes', '60', '--seed', '2', '--occlusion',
        'mixed', '--no-progress'
    ])
    cfg = Config.fromfile(
        str(ROOT / 'configs/deocclusion/'
            'deocclusion-eval_pcnet-m_scenes-unseen.py'))
    cfg.test_dataloader.dataset.data_root = str(tmp_path) + '/'
    results = evaluate_from_config(
        cfg, str(ROOT / 'checkpoints/pcnet_m_shapes_128k.pth'),
        methods='ours,convex,convexr', device='cpu', progress=False)
    order, amodal = results['order'], results['amodal']
    assert order['ours']['acc_occluded'] >= order['convex'][
        'acc_occluded'] + 8
    assert amodal['ours']['miou'] >= amodal['convexr']['miou'] + 2.5
