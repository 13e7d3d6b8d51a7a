"""End-to-end tests of tools/generate_amodal_labels.py (CLI, SIGKILL and
resume, torchrun with 2 CPU processes) and of the configs/amodal configs."""
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmdeocc.apis.amodal_labels import generate_amodal_labels
from mmdeocc.datasets.amodal_coco import amodal_view_path
from mmdeocc.datasets.synthesis import (generate_scenes, load_shapes,
                                        shape_categories)
from mmdeocc.deocclusion import DeOccluder
from mmdeocc.models import (PCNetM, config_text_for_model, load_pcnet_m,
                            save_checkpoint_atomic)
from mmdeocc.structures import decode_rle
from mmdeocc.utils.jobs import parts_dir

pytestmark = pytest.mark.usefixtures('one_torch_thread')

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools' / 'generate_amodal_labels.py'
DIST_SCRIPT = ROOT / 'tools' / 'dist_generate_amodal_labels.sh'
SHAPES = ROOT / 'data' / 'shapes' / 'mpeg7'
CONFIGS = ROOT / 'configs' / 'amodal'
MODEL_CFG = dict(type='PCNetM', width=0.25, in_size=32)


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('generate_amodal_labels',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def scenes(tmp_path_factory) -> Path:
    """Twelve 64 x 64 occlusion scenes (amodal COCO with exact truth)."""
    shapes, categories = load_shapes(str(SHAPES), max_side=64)
    out = tmp_path_factory.mktemp('scenes')
    return Path(
        generate_scenes(shapes, categories, str(out), 12, seed=5,
                        image_size=(64, 64), overlap_range='heavy',
                        progress=False))


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """A narrow random-weight PCNet-M checkpoint with its config in
    ``meta['cfg']`` (random BN statistics and Kaiming weights, so the
    probability maps are not constant)."""
    model = PCNetM(**{k: v for k, v in MODEL_CFG.items() if k != 'type'})
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                std = (2.0 / module.weight[0].numel())**0.5
                module.weight.copy_(
                    torch.randn(module.weight.shape, generator=gen) * std)
                module.bias.copy_(
                    torch.randn(module.bias.shape, generator=gen) * 0.3)
            elif isinstance(module, nn.BatchNorm2d):
                module.running_var.copy_(
                    torch.rand(module.running_var.shape, generator=gen) + 0.5)
    path = tmp_path_factory.mktemp('ckpt') / 'pcnet_m_random.pth'
    save_checkpoint_atomic(
        dict(state_dict=model.state_dict(),
             meta=dict(cfg=config_text_for_model(MODEL_CFG))), str(path))
    return path


@pytest.fixture(scope='module')
def label_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp('cfg') / 'labels.py'
    path.write_text('deoccluder = dict(order_th=0.1, amodal_th=0.3, '
                    'batch_size=8)\n')
    return path


def reference_run(scenes, checkpoint, out, chunk_size):
    """The same labels through the library in this process."""
    deocc = DeOccluder(load_pcnet_m(str(checkpoint)), 'ours', 'ours',
                       amodal_th=0.3, batch_size=8)
    return generate_amodal_labels(
        str(scenes), str(out), deocc, method='ours',
        data_format='amodal_coco', chunk_size=chunk_size, progress=False)


def tool_args(label_config, checkpoint, scenes, out, *extra):
    return [
        str(label_config), str(checkpoint), '--ann', str(scenes), '--out',
        str(out), '--format', 'amodal_coco', '--method', 'ours',
        '--no-progress', *extra
    ]


def subprocess_env():
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_cli_matches_library(tool, scenes, checkpoint, label_config,
                             tmp_path):
    ref = tmp_path / 'ref.json'
    reference_run(scenes, checkpoint, ref, chunk_size=5)
    out = tmp_path / 'cli.json'
    summary = tool.main(
        tool_args(label_config, checkpoint, scenes, out, '--chunk-size', '5',
                  '--batch-size', '3', '--device', 'cpu'))
    assert summary.images_processed == 12 and summary.chunks_processed == 3
    # the network batch size is not part of the result
    assert out.read_bytes() == ref.read_bytes()
    assert Path(amodal_view_path(str(out))).read_bytes() == Path(
        amodal_view_path(str(ref))).read_bytes()
    data = json.loads(out.read_text())
    assert data['info']['pseudo_amodal']['method'] == 'ours'
    assert sum(len(i['occlusion_edges']) for i in data['images']) > 0
    # a cfg override is a different setting: refused, then --restart
    with pytest.raises(ValueError, match='exists and was not made'):
        tool.main(
            tool_args(label_config, checkpoint, scenes, out, '--chunk-size',
                      '5', '--cfg-options', 'deoccluder.amodal_th=0.5'))
    tool.main(
        tool_args(label_config, checkpoint, scenes, out, '--chunk-size', '5',
                  '--cfg-options', 'deoccluder.amodal_th=0.5', '--restart'))
    assert out.read_bytes() != ref.read_bytes()


def test_cli_geometric_and_errors(tool, scenes, tmp_path, monkeypatch,
                                  capsys):
    out = tmp_path / 'convexr.json'
    summary = tool.main([
        'none', 'none', '--ann', str(scenes), '--out', str(out), '--format',
        'amodal_coco', '--method', 'convexr', '--no-progress', '--eval'
    ])
    assert summary.num_images == 12
    assert summary.amodal_iou['num_images'] == 12
    assert summary.amodal_iou['num_objects'] == len(
        json.loads(out.read_text())['annotations'])

    def cli_error(*argv):
        monkeypatch.setattr(sys, 'argv', ['generate_amodal_labels.py', *argv])
        assert tool.cli() == 2
        return capsys.readouterr().err

    missing = tmp_path / 'missing.json'
    err = cli_error('none', 'none', '--ann', str(missing), '--out',
                    str(tmp_path / 'o.json'), '--method', 'raw')
    assert 'annotation file not found' in err and 'missing.json' in err
    corrupt = tmp_path / 'corrupt.json'
    corrupt.write_text('{"images": [}')
    err = cli_error('none', 'none', '--ann', str(corrupt), '--out',
                    str(tmp_path / 'o.json'), '--method', 'raw')
    assert 'corrupt.json: not valid JSON' in err
    err = cli_error('none', 'none', '--ann', str(scenes), '--out',
                    str(tmp_path / 'o.json'), '--format', 'amodal_coco')
    assert "method 'ours' needs a PCNet-M checkpoint" in err
    err = cli_error('no_such_cfg.py', 'none', '--ann', str(scenes), '--out',
                    str(tmp_path / 'o.json'), '--method', 'raw')
    assert 'config file not found: no_such_cfg.py' in err
    assert not (tmp_path / 'o.json').exists()


def test_sigkill_then_torchrun_resume_is_byte_identical(
        scenes, checkpoint, label_config, tmp_path):
    """A single-process run killed with SIGKILL after some parts exist,
    resumed by ``torchrun --nproc_per_node 2`` (gloo on CPU), gives exactly
    the output of an uninterrupted single-process run: kill-and-resume and
    1 process == 2 processes in one go (each needs fresh interpreters)."""
    ref = tmp_path / 'ref.json'
    reference_run(scenes, checkpoint, ref, chunk_size=1)
    out = tmp_path / 'out.json'
    work = Path(parts_dir(str(out)))
    args = tool_args(label_config, checkpoint, scenes, out, '--chunk-size',
                     '1')
    proc = subprocess.Popen([sys.executable, str(TOOL), *args],
                            env=subprocess_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if work.is_dir() and len(list(work.glob('chunk-*.json'))) >= 2:
                break
            time.sleep(0.005)
        assert proc.poll() is None, (
            'the run ended before it could be killed: ' +
            proc.stderr.read().decode()[-2000:])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    killed_done = {p.name for p in work.glob('chunk-*.json')}
    remaining = {f'chunk-{k:06d}.json' for k in range(12)} - killed_done
    assert len(killed_done) >= 2
    # chunk k goes to rank k % 2: both ranks have work left
    assert {int(name[6:12]) % 2 for name in remaining} == {0, 1}

    # tools/dist_generate_amodal_labels.sh = torchrun --nproc_per_node 2
    cmd = ['bash', str(DIST_SCRIPT), args[0], args[1], '2', *args[2:],
           '--keep-parts']
    env = dict(subprocess_env(), PYTHON=sys.executable, PORT=str(free_port()))
    result = subprocess.run(cmd, env=env, capture_output=True, text=True,
                            timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert out.read_bytes() == ref.read_bytes()
    assert Path(amodal_view_path(str(out))).read_bytes() == Path(
        amodal_view_path(str(ref))).read_bytes()
    log = result.stdout + result.stderr
    assert 'rank 0/2: ' in log
    assert {p.name for p in work.glob('chunk-*.json')} == (
        killed_done | remaining)


def test_amodal_configs_parse():
    kins = Config.fromfile(
        str(CONFIGS / 'mask-rcnn_r50_fpn_1x_kins-pseudo-amodal.py'))
    assert kins.model.backbone.depth == 50
    assert kins.model.roi_head.bbox_head.num_classes == 7
    assert kins.model.roi_head.mask_head.num_classes == 7
    assert len(kins.train_dataloader.dataset.metainfo['classes']) == 7
    assert kins.train_dataloader.dataset.ann_file.endswith(
        '_amodal_view.json')
    assert kins.val_evaluator.type == 'CocoMetric'
    assert kins.val_evaluator.ann_file.endswith('test_gt_amodal_view.json')
    assert kins.train_cfg.max_epochs == 12

    small = Config.fromfile(
        str(CONFIGS / 'mask-rcnn_r18_fpn_300it_shapes-pseudo-amodal_cpu.py'))
    assert small.model.backbone.depth == 18
    assert small.model.backbone.init_cfg is None  # nothing downloaded
    assert small.model.neck.in_channels == [64, 128, 256, 512]
    assert small.train_cfg.type == 'IterBasedTrainLoop'
    assert small.train_cfg.max_iters == 300
    assert small.val_evaluator.prefix == 'amodal'
    classes = small.train_dataloader.dataset.metainfo['classes']
    assert list(classes) == [c['name'] for c in shape_categories(str(SHAPES))]

    for name in ('deocc-labels_kins.py', 'deocc-labels_shapes.py'):
        opts = Config.fromfile(str(CONFIGS / name)).deoccluder
        DeOccluder(order_method='convex', amodal_method='convexr',
                   **{k: v for k, v in opts.items()})


def test_amodal_view_trains_an_mmdet_dataset(scenes, tmp_path):
    """mmdet's CocoDataset + LoadAnnotations read the amodal view unchanged
    and get the amodal masks and boxes."""
    from mmdet.datasets import CocoDataset
    from mmdet.datasets.transforms import LoadAnnotations
    out = tmp_path / 'raw.json'
    generate_amodal_labels(str(scenes), str(out),
                           DeOccluder(order_method='convex',
                                      amodal_method='convex'),
                           method='convex', data_format='amodal_coco',
                           progress=False)
    view_path = amodal_view_path(str(out))
    classes = tuple(c['name'] for c in json.loads(out.read_text())[
        'categories'])
    dataset = CocoDataset(
        ann_file=view_path, metainfo=dict(classes=classes),
        data_prefix=dict(img=str(scenes.parent / 'images')),
        pipeline=[], test_mode=True)
    view = json.loads(Path(view_path).read_text())
    first = view['annotations'][0]
    info = dataset.get_data_info(0)
    loaded = LoadAnnotations(with_bbox=True, with_mask=True)(
        dict(info, ori_shape=(64, 64)))
    masks = loaded['gt_masks'].masks
    expected = decode_rle(first['segmentation'])
    assert np.array_equal(masks[0].astype(bool), expected.astype(bool))
    x, y, w, h = first['bbox']
    assert np.allclose(loaded['gt_bboxes'].tensor[0].numpy(),
                       [x, y, x + w, y + h])
