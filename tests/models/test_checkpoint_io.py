"""Tests of PCNet-M checkpoint loading (``load_pcnet_m``) and helpers."""
import os
import pickle

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmdet.registry import DATASETS
from mmdeocc.models import (ConfigTextError, PCNetM, PCNetMCheckpointError,
                            config_text_for_model, load_pcnet_m,
                            model_cfg_from_text, save_checkpoint_atomic)
from mmdeocc.models.converters import mmdeocc_to_reference_pcnet_m

MODEL_CFG = dict(type='PCNetM', width=0.5, use_category=False)


def _save(obj, tmp_path, name='ckpt.pth'):
    path = str(tmp_path / name)
    torch.save(obj, path)
    return path


def _checkpoint(model_cfg=MODEL_CFG, seed=0):
    torch.manual_seed(seed)
    model = PCNetM(**{k: v for k, v in model_cfg.items() if k != 'type'})
    ckpt = dict(
        state_dict=model.state_dict(),
        meta=dict(cfg=config_text_for_model(model_cfg)))
    return model, ckpt


def test_config_text_round_trip_with_int_keys():
    cfg = dict(
        type='PCNetM',
        width=1,
        use_category=True,
        category_map={1: 1.0, 24: 2.5},
        inmask_weight=6.0,
        data_preprocessor=dict(type='BaseDataPreprocessor'),
        extra=(-1, [0.5, None, True]))
    text = config_text_for_model(cfg)
    assert model_cfg_from_text(text) == cfg


def test_config_text_is_never_executed(tmp_path):
    marker = tmp_path / 'pwned'
    text = f"model = __import__('os').mkdir({str(marker)!r})"
    with pytest.raises(ConfigTextError, match='not literals'):
        model_cfg_from_text(text)
    assert not marker.exists()
    with pytest.raises(ConfigTextError, match='no top-level `model'):
        model_cfg_from_text('optim = dict(lr=1)')
    with pytest.raises(ConfigTextError, match='does not parse'):
        model_cfg_from_text('model = dict(')


def test_load_round_trip_eval_mode(tmp_path):
    model, ckpt = _checkpoint()
    path = _save(ckpt, tmp_path)
    loaded = load_pcnet_m(path)
    assert isinstance(loaded, PCNetM) and not loaded.training
    assert loaded.width == 0.5
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_cfg_options_and_explicit_model_cfg(tmp_path):
    _, ckpt = _checkpoint()
    path = _save(ckpt, tmp_path)
    loaded = load_pcnet_m(
        path,
        cfg_options={
            'model.use_category': True,
            'inmask_weight': 6.0
        })
    assert loaded.use_category and loaded.inmask_weight == 6.0
    del ckpt['meta']
    bare = _save(ckpt, tmp_path, 'bare.pth')
    with pytest.raises(PCNetMCheckpointError, match=r"no config.*model_cfg"):
        load_pcnet_m(bare)
    loaded = load_pcnet_m(bare, model_cfg=dict(MODEL_CFG, use_category=True))
    assert loaded.use_category


def test_missing_file_and_non_dict(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_pcnet_m(str(tmp_path / 'nope.pth'))
    path = _save([torch.zeros(1)], tmp_path)
    with pytest.raises(PCNetMCheckpointError, match='is a list'):
        load_pcnet_m(path)
    path = _save(dict(meta=dict(cfg='model = dict(type="PCNetM")')),
                 tmp_path, 'nosd.pth')
    with pytest.raises(PCNetMCheckpointError,
                       match=r"no 'state_dict'.*top-level keys: 'meta'"):
        load_pcnet_m(path)
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(b'not a checkpoint')
    # A clear error naming the file (raised by mmdeocc.utils.safe_torch_load
    # or by load_pcnet_m), never a crash inside torch.
    from mmdeocc.utils import CorruptCheckpointError
    with pytest.raises(CorruptCheckpointError, match='garbage.pth'):
        load_pcnet_m(str(garbage))


def test_other_model_checkpoints_name_unexpected_keys(tmp_path):
    _, ckpt = _checkpoint()
    detector = dict(
        state_dict={
            'backbone.conv1.weight': torch.zeros(1),
            'roi_head.bbox_head.fc_cls.weight': torch.zeros(1)
        },
        meta=ckpt['meta'])
    with pytest.raises(PCNetMCheckpointError,
                       match=r"unexpected keys: 'backbone\.conv1\.weight'.*"
                       r'missing keys.*detector'):
        load_pcnet_m(_save(detector, tmp_path, 'det.pth'))
    pcnet_c = dict(
        state_dict={'generator.enc_1.conv.input_conv.weight': torch.zeros(1)},
        meta=dict(cfg=config_text_for_model(dict(type='PCNetC'))))
    with pytest.raises(PCNetMCheckpointError,
                       match=r"type 'PCNetC'.*PCNet-C"):
        load_pcnet_m(_save(pcnet_c, tmp_path, 'c.pth'))
    pcnet_c['meta'] = ckpt['meta']
    with pytest.raises(PCNetMCheckpointError,
                       match=r'unexpected keys.*PCNet-C'):
        load_pcnet_m(_save(pcnet_c, tmp_path, 'c2.pth'))


def test_reference_layout_asks_for_conversion(tmp_path):
    model, ckpt = _checkpoint()
    ckpt['state_dict'] = mmdeocc_to_reference_pcnet_m(model.state_dict())
    with pytest.raises(PCNetMCheckpointError,
                       match='convert_official_ckpt'):
        load_pcnet_m(_save(ckpt, tmp_path))


def test_width_mismatch(tmp_path):
    _, ckpt = _checkpoint()
    path = _save(ckpt, tmp_path)
    with pytest.raises(PCNetMCheckpointError,
                       match=r'width mismatch.*8 channels.*width 0\.5.*'
                       r'builds width 1 \(16 channels\)'):
        load_pcnet_m(path, cfg_options={'model.width': 1})


def test_atomic_save_leaves_no_partial_file(tmp_path):
    path = str(tmp_path / 'sub' / 'out.pth')
    save_checkpoint_atomic(dict(a=torch.ones(2)), path)
    assert torch.equal(torch.load(path, weights_only=True)['a'], torch.ones(2))
    with pytest.raises(Exception):
        save_checkpoint_atomic(dict(a=lambda: 0), str(tmp_path / 'bad.pth'))
    assert sorted(os.listdir(tmp_path)) == ['sub']
    assert os.listdir(tmp_path / 'sub') == ['out.pth']


@DATASETS.register_module(force=True)
class _ToyPCNetMSamples(Dataset):
    """Random samples in the PCNet-M training format (tests only)."""

    def __init__(self, num=4, size=32):
        g = torch.Generator().manual_seed(0)
        self.target = (torch.rand(num, size, size, generator=g) > 0.5).to(
            torch.uint8)
        self.eraser = (torch.rand(num, size, size, generator=g) > 0.7).float()

    def __len__(self):
        return len(self.target)

    def __getitem__(self, i):
        modal = self.target[i].float() * (1 - self.eraser[i])
        return dict(
            inputs=torch.stack([modal, self.eraser[i]]),
            data_samples=dict(target=self.target[i], category_id=1))


def test_loads_a_checkpoint_saved_by_the_runner(tmp_path):
    cfg = Config(
        dict(
            default_scope='mmdet',
            model=dict(
                type='PCNetM', width=0.5, use_category=True,
                category_map={1: 1.0}),
            work_dir=str(tmp_path),
            experiment_name='pcnet_m_runner_test',
            train_dataloader=dict(
                dataset=dict(type='_ToyPCNetMSamples'),
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                batch_size=2,
                num_workers=0),
            optim_wrapper=dict(
                optimizer=dict(
                    type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4)),
            train_cfg=dict(type='IterBasedTrainLoop', max_iters=2),
            default_hooks=dict(
                checkpoint=dict(
                    type='CheckpointHook', interval=2, by_epoch=False),
                logger=dict(type='LoggerHook', interval=1)),
            log_level='WARNING'))
    runner = Runner.from_cfg(cfg)
    runner.train()
    path = tmp_path / 'iter_2.pth'
    assert path.exists()
    loaded = load_pcnet_m(str(path))
    assert loaded.use_category and loaded.category_map == {1: 1.0}
    trained = runner.model.state_dict()
    assert set(loaded.state_dict()) == set(trained)
    assert all(
        torch.equal(v, trained[k]) for k, v in loaded.state_dict().items())
