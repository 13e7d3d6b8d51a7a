"""tools/test.py is MMDetection's test tool: a detector config with the
DeOcclusionHook, ``--out`` dumps with amodal masks and orders,
``--show-dir`` pictures drawn by the DeOcclusionVisualizer, ``--tta``, and
``tools/dist_test.sh`` with two CPU processes (gloo)."""
import copy
import os
import pickle
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from det_fixtures import REPO_ROOT, load_tool
from mmengine.config import Config

from mmdeocc.structures import decode_rle


@pytest.fixture(scope='module')
def tool():
    return load_tool('test')


def _config_file(det_cfg, tmp_path, name='cfg.py'):
    """The tiny detector config with the project's metrics, as a file."""
    cfg = copy.deepcopy(det_cfg)
    cfg.test_evaluator = [
        dict(type='AmodalMaskMetric', match='iou', iou_thr=0.1,
             prefix='amodal'),
        dict(type='OcclusionOrderMetric', match='iou', iou_thr=0.1,
             prefix='order'),
    ]
    path = tmp_path / name
    cfg.dump(str(path))
    return path


def test_build_config_adds_hook_dump_and_visualizer(tool, det_cfg, det_ckpt,
                                                    pcnet_ckpt, tmp_path):
    cfg_file = _config_file(det_cfg, tmp_path)
    args = tool.parse_args([
        str(cfg_file), str(det_ckpt), '--pcnet-m', str(pcnet_ckpt),
        '--score-thr', '0.2', '--out', str(tmp_path / 'x.pkl'),
        '--work-dir', str(tmp_path), '--show-dir', 'vis'
    ])
    cfg = tool.build_config(args)
    hooks = [h for h in cfg.custom_hooks if h['type'] == 'DeOcclusionHook']
    assert len(hooks) == 1
    assert hooks[0]['pcnet_m'] == str(pcnet_ckpt)
    assert hooks[0]['score_thr'] == 0.2
    assert cfg.test_evaluator[-1]['type'] == 'DumpDeOcclusionResults'
    assert cfg.load_from == str(det_ckpt)
    assert cfg.default_hooks.visualization.draw is True
    assert cfg.default_hooks.visualization.test_out_dir == 'vis'
    assert cfg.visualizer.type == 'DeOcclusionVisualizer'
    assert isinstance(Config.fromstring(cfg.pretty_text, '.py'), Config)
    # a plain detector (no hook): mmdet's visualizer is kept
    plain = tool.build_config(tool.parse_args([
        str(cfg_file), str(det_ckpt), '--show-dir', 'vis']))
    assert plain.visualizer.type == 'DetLocalVisualizer'
    assert not plain.get('custom_hooks')
    # --tta wraps the model like mmdet's tool
    tta = tool.build_config(tool.parse_args([
        str(cfg_file), str(det_ckpt), '--tta']))
    assert tta.model.type == 'DetTTAModel'
    assert tta.model.module.type == det_cfg.model.type
    assert tta.test_dataloader.dataset.pipeline[-1]['type'] == 'TestTimeAug'


def test_test_tool_end_to_end(tool, det_cfg, det_ckpt, pcnet_ckpt,
                              tmp_path):
    cfg_file = _config_file(det_cfg, tmp_path)
    out = tmp_path / 'deocc.pkl'
    metrics = tool.main([
        str(cfg_file), str(det_ckpt), '--pcnet-m', str(pcnet_ckpt),
        '--score-thr', '0.0', '--out', str(out), '--work-dir',
        str(tmp_path / 'work'), '--show-dir', 'vis',
        # mmengine keeps visualizers by name for the whole process; a fresh
        # name makes this run's the current one (one run per CLI call)
        '--cfg-options', f'visualizer.name=deocc_{time.time_ns()}'
    ])
    assert metrics['amodal/num_objects'] >= 9
    assert 0.0 <= metrics['order/acc_all'] <= 100.0
    with open(out, 'rb') as f:
        records = pickle.load(f)
    assert len(records) == 3
    for rec in records:
        pred = rec['pred_instances']
        n = len(pred['masks'])
        assert len(pred['amodal_masks']) == n and n > 0
        assert rec['pred_occlusion_order'].shape == (n, n)
        for modal, amodal in zip(pred['masks'], pred['amodal_masks']):
            assert decode_rle(modal).shape == decode_rle(amodal).shape
    # --show-dir: one de-occlusion picture per image, wider than the image
    # (the order graph is drawn beside it)
    pictures = [os.path.join(root, name)
                for root, _, names in os.walk(tmp_path / 'work')
                for name in names
                if name.endswith('.png') and 'vis' in root]
    assert len(pictures) == 3
    picture = cv2.imread(pictures[0])
    assert picture.shape[1] > picture.shape[0]


def test_evaluation_config_is_redirected(tool, tmp_path, det_ckpt):
    cfg = tmp_path / 'eval.py'
    cfg.write_text("deocc_eval = dict(methods=['area'])\n"
                   'test_dataloader = dict()\n')
    with pytest.raises(ValueError, match='eval_deocclusion.py'):
        tool.main([str(cfg), str(det_ckpt)])


def test_dist_test_two_cpu_processes(det_cfg, det_ckpt, pcnet_ckpt,
                                     tmp_path):
    """``bash tools/dist_test.sh CONFIG CKPT 2`` on CPUs (gloo): the dump
    holds every image once, as the single-process run does."""
    cfg_file = _config_file(det_cfg, tmp_path)
    out = tmp_path / 'dist.pkl'
    env = dict(os.environ, PYTHON=sys.executable, PORT='29631',
               OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', str(REPO_ROOT / 'tools' / 'dist_test.sh'), str(cfg_file),
         str(det_ckpt), '2', '--pcnet-m', str(pcnet_ckpt), '--score-thr',
         '0.0', '--out', str(out), '--work-dir', str(tmp_path / 'work')],
        cwd=str(tmp_path), env=env, capture_output=True, text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out, 'rb') as f:
        records = pickle.load(f)
    assert len(records) == len({r['img_path'] for r in records}) == 3
    assert all('amodal_masks' in r['pred_instances'] for r in records)
    assert all(r['pred_occlusion_order'].ndim == 2 for r in records)
    single = tmp_path / 'single.pkl'
    load_tool('test').main([
        str(cfg_file), str(det_ckpt), '--pcnet-m', str(pcnet_ckpt),
        '--score-thr', '0.0', '--out', str(single), '--work-dir',
        str(tmp_path / 'work1')
    ])
    with open(single, 'rb') as f:
        expected = {r['img_path']: r for r in pickle.load(f)}
    for rec in records:
        ref = expected[rec['img_path']]
        assert np.array_equal(rec['pred_occlusion_order'],
                              ref['pred_occlusion_order'])
        assert rec['pred_instances']['amodal_masks'] == \
            ref['pred_instances']['amodal_masks']
