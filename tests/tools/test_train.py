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
