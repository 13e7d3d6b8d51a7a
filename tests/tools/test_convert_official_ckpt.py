"""End-to-end tests of tools/convert_official_ckpt.py."""
import importlib.util
import os
import os.path as osp
import runpy
import sys

import pytest
import torch

from mmdeocc.models import load_pcnet_m, mmdeocc_to_reference_pcnet_m
from mmdeocc.models.pcnet_m import PCNetM

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'convert_official_ckpt.py')


def _load_tool():
    spec = importlib.util.spec_from_file_location('convert_official_ckpt',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load_tool()


def _reference_file(tmp_path, width=2, seed=0, name='KINS_pcnet_m.pth.tar'):
    """A file in the released layout: step, state_dict (module.), optimizer.

    Returns the path and the PCNetM whose weights it holds.
    """
    torch.manual_seed(seed)
    model = PCNetM(width=width)
    # Non-trivial BN statistics, so that a mapping mix-up would show.
    for name_, buf in model.named_buffers():
        if name_.endswith('running_mean'):
            buf.normal_(0, 0.1)
        elif name_.endswith('running_var'):
            buf.uniform_(0.5, 2)
    model.eval()
    state_dict = mmdeocc_to_reference_pcnet_m(model.state_dict())
    params = list(range(len(list(model.parameters()))))
    reference = dict(
        step=32000,
        state_dict=state_dict,
        optimizer=dict(
            state={0: dict(momentum_buffer=torch.zeros(3))},
            param_groups=[dict(lr=1e-3, momentum=0.9, params=params)]))
    path = str(tmp_path / name)
    torch.save(reference, path)
    return path, model


def test_converts_to_a_loadable_checkpoint(tmp_path):
    src, model = _reference_file(tmp_path)
    dst = str(tmp_path / 'out' / 'pcnet_m_kins.pth')
    assert tool.main([src, dst, '--use-category']) == 0
    ckpt = torch.load(dst, weights_only=True)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta']['step'] == 32000
    assert ckpt['meta']['converted_from'] == src
    assert "type='PCNetM'" in ckpt['meta']['cfg']
    loaded = load_pcnet_m(dst)
    assert loaded.use_category and loaded.width == 2
    assert not loaded.training
    x = (torch.rand(2, 2, 32, 32) > 0.5).float()
    ids = dict(category_id=torch.tensor([1, 1]))
    with torch.no_grad():
        torch.testing.assert_close(
            loaded(x, ids, mode='tensor'), model(x, mode='tensor'))
    assert not [f for f in os.listdir(osp.dirname(dst)) if f.endswith('.tmp')]


def test_width_mismatch_fails_cleanly(tmp_path, capsys):
    src, _ = _reference_file(tmp_path, width=1)
    dst = str(tmp_path / 'out.pth')
    assert tool.main([src, dst, '--width', '2']) == 1
    err = capsys.readouterr().err
    assert 'width mismatch' in err and 'width 2 expects 32' in err
    assert os.listdir(tmp_path) == ['KINS_pcnet_m.pth.tar']
    assert tool.main([src, dst, '--width', '1', '--kind', 'pcnet_m']) == 0
    assert load_pcnet_m(dst).width == 1


def test_bad_inputs(tmp_path, capsys):
    dst = str(tmp_path / 'out.pth')
    assert tool.main([str(tmp_path / 'missing.pth.tar'), dst]) == 1
    assert 'missing.pth.tar' in capsys.readouterr().err
    weird = str(tmp_path / 'weird.pth')
    torch.save(dict(state_dict={'module.fc.weight': torch.zeros(1)}), weird)
    assert tool.main([weird, dst]) == 1
    assert 'Cannot tell the kind' in capsys.readouterr().err
    torch.save(dict(step=1), weird)
    assert tool.main([weird, dst]) == 1
    assert "no 'state_dict'" in capsys.readouterr().err
    assert tool.main([weird, weird]) == 2
    assert not osp.exists(dst)


def test_pcnet_c_dispatch(tmp_path, capsys):
    src, _ = _reference_file(tmp_path)
    # A PCNet-M file forced through the PCNet-C converter fails cleanly.
    assert tool.main([src, str(tmp_path / 'c.pth'), '--kind', 'pcnet_c']) == 1
    assert 'error:' in capsys.readouterr().err
    assert not osp.exists(tmp_path / 'c.pth')


def test_missing_converter_module_is_reported(tmp_path, capsys, monkeypatch):
    src, _ = _reference_file(tmp_path)
    monkeypatch.setitem(
        tool.CONVERTERS, 'pcnet_c',
        ('mmdeocc.models.no_such_converter', 'convert', 'PCNetC'))
    assert tool.main([src, str(tmp_path / 'c.pth'), '--kind', 'pcnet_c']) == 1
    err = capsys.readouterr().err
    assert 'mmdeocc.models.no_such_converter' in err
    assert 'not available' in err


def test_command_line_run(tmp_path, capsys, monkeypatch):
    src, _ = _reference_file(tmp_path, width=0.5, name='COCOA_pcnet_m.pth.tar')
    dst = str(tmp_path / 'cocoa.pth')
    # Run the file as a script (its __main__ block) in this interpreter; a
    # subprocess would pay mmdet's import time again.
    monkeypatch.setattr(sys, 'argv', [TOOL, src, dst, '--width', '0.5'])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(TOOL, run_name='__main__')
    assert exit_info.value.code == 0
    assert 'converted' in capsys.readouterr().out
    model = load_pcnet_m(dst)
    assert model.width == 0.5 and not model.use_category
    args = tool.parse_args([src, dst])
    assert args.kind == 'auto' and args.width == 2
