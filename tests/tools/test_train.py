"""tools/train.py: a short CPU training of PCNet-M on real COCO128 masks
lowers the loss, and --resume continues at the right iteration."""
import json
import os.path as osp
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

import train as train_tool  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')

TINY = [
    'model.width=0.25', 'model.in_size=64',
    'train_dataloader.batch_size=8', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'train_dataloader.dataset.pipeline.0.size=64',
    'optim_wrapper.optimizer.lr=0.005',
    'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=20',
]


def _losses(work_dir: Path):
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert logs, f'no scalars.json under {work_dir}'
    losses = {}
    for log in logs:
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            if 'loss' in rec:
                losses[rec['iter']] = rec['loss']
    return losses


def test_train_lowers_loss_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    work_dir = tmp_path / 'work'
    cfg = 'configs/pcnet_m_coco128_cpu.py'
    train_tool.main([
        cfg, '--work-dir', str(work_dir), '--cfg-options',
        'train_cfg.max_iters=40', *TINY
    ])
    assert osp.isfile(work_dir / 'iter_40.pth')
    losses = _losses(work_dir)
    assert sorted(losses) == list(range(1, 41))
    first = np.mean([losses[i] for i in range(1, 6)])
    last = np.mean([losses[i] for i in range(36, 41)])
    # Measured, not assumed: the loss drops by well over the noise.
    assert last < 0.9 * first, (first, last)

    # Resume from the latest checkpoint and continue to 45 iterations.
    train_tool.main([
        cfg, '--work-dir', str(work_dir), '--resume', '--cfg-options',
        'train_cfg.max_iters=45', *TINY
    ])
    losses = _losses(work_dir)
    assert set(range(41, 46)) <= set(losses)
    from mmdeocc.utils import safe_torch_load
    state = safe_torch_load(str(work_dir / 'iter_45.pth'))
    assert state['meta']['iter'] == 45


def test_help_and_missing_config(capsys):
    with pytest.raises(SystemExit) as exc:
        train_tool.parse_args(['--help'])
    assert exc.value.code == 0
    assert '--work-dir' in capsys.readouterr().out
    with pytest.raises(FileNotFoundError, match='nope.py'):
        train_tool.main(['nope.py'])


def test_effective_batch_accumulates_and_counts_updates(tmp_path, monkeypatch):
    """effective_batch_size = 2 x batch on one process: 2 accumulation steps,
    the schedule in updates (4 updates = 8 iterations), 4 optimiser steps,
    and the log says so."""
    monkeypatch.chdir(ROOT)
    work_dir = tmp_path / 'work'
    # mmengine names a run's logger after config + second: a run started in
    # the same second as an earlier one of this process would log into the
    # earlier run's file, so this run gets a name of its own.
    train_tool.main([
        'configs/pcnet_m_coco128_cpu.py', '--work-dir', str(work_dir),
        '--cfg-options', 'train_cfg.max_iters=4', 'effective_batch_size=16',
        'experiment_name=effective_batch_test', *TINY
    ])
    from mmdeocc.utils import safe_torch_load
    state = safe_torch_load(str(work_dir / 'iter_8.pth'))
    assert state['meta']['iter'] == 8
    adam = state['optimizer']['state']
    assert {int(s['step']) for s in adam.values()} == {4}
    log = next(work_dir.glob('*/*.log')).read_text()
    assert ('effective batch 16 = 8 per process x 1 process(es) x 2 '
            'accumulation step(s) (schedule x2: 8 iterations = 4 updates)'
            ) in log


def test_effective_batch_for_reference_configs():
    """The reference recipes give 256 samples per update on 1-8 processes."""
    from mmengine.config import Config

    from mmdeocc.engine.effective_batch import (EffectiveBatchError,
                                                apply_effective_batch)
    for world, steps in ((1, 8), (2, 4), (4, 2), (8, 1)):
        cfg = Config.fromfile(str(ROOT / 'configs/pcnet_m_cocoa.py'))
        apply_effective_batch(cfg, world)
        assert cfg.optim_wrapper.get('accumulative_counts', 1) == steps
        assert cfg.train_cfg.max_iters == 56000 * steps
        assert cfg.param_scheduler[0].milestones == [32000 * steps,
                                                     48000 * steps]
        assert cfg.model.inmask_weight == 6.0
    cfg = Config.fromfile(str(ROOT / 'configs/pcnet_m_kins.py'))
    cfg.train_dataloader.batch_size = 24
    with pytest.raises(EffectiveBatchError, match='not a multiple'):
        apply_effective_batch(cfg, 1)
    cfg = Config.fromfile(str(ROOT / 'configs/pcnet_m_kins.py'))
    cfg.effective_batch_size = None
    assert apply_effective_batch(cfg, 1) is None
    assert cfg.train_cfg.max_iters == 32000


def test_pcnet_c_kins_without_vgg_weights_says_what_to_do(tmp_path, capsys):
    """configs/pcnet_c_kins.py with a tiny KINS file and no VGG16 weights:
    one line naming the missing file and how to train without it."""
    import json

    from mmdeocc.utils.cli import run_tool
    ann = tmp_path / 'instances_train.json'
    ann.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.png', height=20, width=30)],
        annotations=[dict(
            id=1, image_id=1, category_id=1, iscrowd=0, area=81, a_area=121,
            i_segm=[[1, 1, 10, 1, 10, 10, 1, 10]],
            a_segm=[[1, 1, 12, 1, 12, 12, 1, 12]], i_bbox=[1, 1, 9, 9],
            a_bbox=[1, 1, 11, 11], oco_id=0, ico_id=0)],
        categories=[dict(id=1, name='car')])))
    code = run_tool(train_tool.main, [
        str(ROOT / 'configs/pcnet_c_kins.py'), '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options',
        f'train_dataloader.dataset.ann_file={ann}', 'load_from=None',
        'model.inpainting_loss.vgg.weights=' + str(tmp_path / 'vgg16.pth')
    ], prog='train.py')
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith('train.py: error: ')
    assert f'{tmp_path / "vgg16.pth"} does not exist' in err[0]
    assert 'model.inpainting_loss.perceptual_weight=0' in err[0]
    assert not (tmp_path / 'wd').exists()
