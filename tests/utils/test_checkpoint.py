"""Weights-only checkpoint loading of mmengine checkpoints (torch >= 2.6)."""
import collections
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdeocc.utils import UnsafeCheckpointError, safe_torch_load


class _RegressionSet(Dataset):
    """A fixed linear-regression problem (so the loss really decreases)."""

    def __init__(self, n: int = 64):
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 4, generator=gen)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return dict(inputs=self.x[i], target=self.y[i])


class _LinearModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 1)

    def forward(self, inputs, target=None, mode='tensor'):
        out = self.fc(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - target)**2).mean())
        return out


def _runner(work_dir, max_iters, resume=False):
    return Runner(
        model=_LinearModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=_RegressionSet(),
            sampler=dict(type='InfiniteSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=8,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=0),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=5),
            logger=dict(type='LoggerHook', interval=1)),
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmdet',
    )


def test_runner_checkpoint_resumes_under_weights_only(tmp_path):
    import mmdeocc  # noqa: F401  (installs the safe loader)
    runner = _runner(tmp_path, max_iters=5)
    runner.train()
    ckpt = osp.join(tmp_path, 'iter_5.pth')
    assert osp.isfile(ckpt)
    # A plain weights-only load fails on mmengine's own metadata ...
    with pytest.raises(Exception):
        torch.load(ckpt, weights_only=True)
    # ... our allow-listed loader succeeds and keeps the metadata.
    state = safe_torch_load(ckpt)
    assert state['meta']['iter'] == 5
    assert 'train/loss' in state['message_hub']['log_scalars']
    assert state['message_hub']['log_scalars']['train/loss'].mean() > 0

    resumed = _runner(tmp_path, max_iters=10, resume=True)
    resumed.train()
    assert resumed.iter == 10
    assert osp.isfile(osp.join(tmp_path, 'iter_10.pth'))
    # load_from path (not resume) goes through the same loader.
    from mmengine.runner import load_checkpoint
    model = _LinearModel()
    load_checkpoint(model, ckpt, map_location='cpu')
    torch.testing.assert_close(model.fc.weight,
                               state['state_dict']['fc.weight'])


class _Evil:

    def __reduce__(self):
        return (print, ('pwned',))


def test_disallowed_object_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'w': torch.zeros(1)}, 'payload': _Evil()},
               path)
    with pytest.raises(UnsafeCheckpointError, match='"builtins.print"'):
        safe_torch_load(str(path))
    # mmengine's loader (used by resume/load_from) refuses it as well.
    from mmengine.runner.checkpoint import CheckpointLoader
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        CheckpointLoader.load_checkpoint(str(path))


def test_numpy_and_plain_containers_load(tmp_path):
    path = tmp_path / 'np.pth'
    obj = {
        'arr': np.arange(6, dtype=np.float32).reshape(2, 3),
        'scalar': np.float64(2.5),
        'int': np.int64(3),
        'od': collections.OrderedDict(a=torch.ones(2)),
    }
    torch.save(obj, path)
    back = safe_torch_load(str(path))
    np.testing.assert_array_equal(back['arr'], obj['arr'])
    assert back['scalar'] == 2.5 and back['int'] == 3


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_torch_load(str(tmp_path / 'nope.pth'))


@pytest.mark.parametrize('payload', [b'not a checkpoint', b''])
def test_corrupt_file_is_not_called_unsafe(tmp_path, payload):
    from mmdeocc.utils import CorruptCheckpointError
    path = tmp_path / 'broken.pth'
    path.write_bytes(payload)
    with pytest.raises(CorruptCheckpointError, match='broken.pth'):
        safe_torch_load(str(path))


class _System:

    def __reduce__(self):
        import os
        return (os.system, ('echo pwned',))


@pytest.mark.parametrize('where', ['meta', 'message_hub', 'numpy_object'])
def test_os_system_payloads_are_unsafe_and_named(tmp_path, where):
    path = tmp_path / f'{where}.pth'
    payload = _System()
    if where == 'numpy_object':
        payload = np.array([payload], dtype=object)
    ckpt = {'state_dict': {'w': torch.zeros(1)}}
    ckpt['message_hub' if where == 'message_hub' else 'meta'] = {
        'x': payload
    }
    torch.save(ckpt, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        safe_torch_load(str(path))
    message = str(info.value)
    assert 'unsafe' in message and '"posix.system"' in message
    assert 'weights_only=False' not in message


@pytest.mark.parametrize('evil', [True, False])
def test_plain_pickles_are_refused_as_unsafe(tmp_path, evil):
    import pickle
    path = tmp_path / 'plain.pkl'
    obj = {'state_dict': {'w': 1}}
    if evil:
        obj['payload'] = _System()
    path.write_bytes(pickle.dumps(obj, protocol=4))
    expected = '"posix.system"' if evil else 'plain pickle'
    with pytest.raises(UnsafeCheckpointError, match=expected):
        safe_torch_load(str(path))


def test_pickled_globals_reads_without_unpickling(tmp_path):
    from mmdeocc.utils.checkpoint import pickled_globals
    path = tmp_path / 'evil.pth'
    torch.save({'w': torch.zeros(1), 'meta': _System()}, path)
    found = pickled_globals(str(path))
    assert 'posix.system' in found
    assert 'torch._utils._rebuild_tensor_v2' in found
