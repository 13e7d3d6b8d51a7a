"""PCNet-C training on real photos (demo/images, COCO train2017 with their
COCO masks): both optimisers step, training through tools/train.py resumes
at the right iteration, a short training lowers the hole L1 on crops of a
held-out photo, and the inpainting-checkpoint expansion tool gives a model
that computes what the inpainting model computed.

The longer measured run (held-out hole L1 over 120 steps) is
tools/benchmarks/bench_pcnet_c_train.py; numbers in docs/benchmarks.md.
"""
import copy
import json
import sys
from pathlib import Path

import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmdet.registry import DATASETS, MODELS
from mmdeocc.models import (PCNetCGenerator, load_pcnet_c,
                            mmdeocc_to_reference_pcnet_c)
from mmdeocc.utils import safe_torch_load

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

import expand_inpainting_ckpt as expand_tool  # noqa: E402
import train as train_tool  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')

CONFIG = 'configs/pcnet_c_coco128_cpu.py'
DEMO = [
    'train_dataloader.dataset.ann_file=demo/annotations.json',
    'train_dataloader.dataset.data_prefix.img=demo/images',
    'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
    'train_dataloader.persistent_workers=False',
    'default_hooks.logger.interval=1',
    'default_hooks.checkpoint.interval=1',
]
SIZE = 128
HELD_OUT = 438  # image id of the photo kept out of training


def _adam_steps(optim_state: dict) -> int:
    steps = {int(s['step']) for s in optim_state['state'].values()}
    assert len(steps) == 1, steps
    return steps.pop()


def test_train_steps_both_networks_and_resumes(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    work_dir = tmp_path / 'work'
    train_tool.main([
        CONFIG, '--work-dir', str(work_dir), '--cfg-options',
        'train_cfg.max_iters=1', *DEMO
    ])
    ckpt = safe_torch_load(str(work_dir / 'iter_1.pth'))
    assert set(ckpt['optimizer']) == {'generator', 'discriminator'}
    assert _adam_steps(ckpt['optimizer']['generator']) == 1
    assert _adam_steps(ckpt['optimizer']['discriminator']) == 1
    lrs = {name: ckpt['optimizer'][name]['param_groups'][0]['lr']
           for name in ('generator', 'discriminator')}
    assert lrs == dict(generator=1e-3, discriminator=1e-5)
    assert ckpt['optimizer']['discriminator']['param_groups'][0][
        'betas'] == (0.0, 0.9)

    train_tool.main([
        CONFIG, '--work-dir', str(work_dir), '--resume', '--cfg-options',
        'train_cfg.max_iters=2', *DEMO
    ])
    ckpt = safe_torch_load(str(work_dir / 'iter_2.pth'))
    assert ckpt['meta']['iter'] == 2
    assert _adam_steps(ckpt['optimizer']['generator']) == 2
    assert _adam_steps(ckpt['optimizer']['discriminator']) == 2
    logged = {}
    for log in work_dir.glob('*/vis_data/scalars.json'):
        for line in log.read_text().splitlines():
            rec = json.loads(line)
            logged[rec['iter']] = rec
    assert sorted(logged) == [1, 2]
    for rec in logged.values():
        for key in ('loss_gen', 'loss_hole', 'loss_valid', 'loss_adv',
                    'loss_disc'):
            assert key in rec and rec[key] == rec[key]  # present, not NaN
    # The checkpoint serves inference directly.
    model = load_pcnet_c(work_dir / 'iter_2.pth')
    assert model.generator.window_rescale


def _split_demo(tmp_path):
    data = json.loads((ROOT / 'demo/annotations.json').read_text())
    paths = []
    for held in (False, True):
        part = dict(data)
        part['images'] = [i for i in data['images']
                          if (i['id'] == HELD_OUT) == held]
        part['annotations'] = [a for a in data['annotations']
                               if (a['image_id'] == HELD_OUT) == held]
        path = tmp_path / f'{"held" if held else "train"}.json'
        path.write_text(json.dumps(part))
        paths.append(str(path))
    return paths


def _hole_l1(model, batch):
    """Mean |output - truth| over the hole pixels (normalised units), with
    the held-out batch's BatchNorm statistics (the running statistics of a
    few steps from scratch are not yet meaningful)."""
    net = copy.deepcopy(model).train()
    with torch.no_grad():
        out = net(batch['inputs'], batch['data_samples'], mode='tensor')
    hole = batch['data_samples']['hole'].float()[:, None]
    return float(((out - batch['inputs']).abs() * hole).sum() /
                 (3 * hole.sum()))


def test_short_training_lowers_held_out_hole_l1(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    init_default_scope('mmdet')
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG)
    train_ann, held_ann = _split_demo(tmp_path)

    def dataset(ann, seed):
        ds = dict(cfg.train_dataloader.dataset)
        ds.update(ann_file=ann, data_prefix=dict(img='demo/images'),
                  seed=seed)
        return DATASETS.build(ds)

    train_set, held_set = dataset(train_ann, 0), dataset(held_ann, 1)
    held = default_collate([held_set[i] for i in range(4)])
    assert held['data_samples']['hole'].sum() > 500
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    before = _hole_l1(model, held)
    for step in range(8):
        batch = default_collate(
            [train_set[2 * step], train_set[2 * step + 1]])
        model.train_step(batch, optim)
    after = _hole_l1(model, held)
    # Measured, not assumed (the longer run is in docs/benchmarks.md).
    assert after < 0.75 * before, (before, after)


def test_expand_inpainting_checkpoint_tool(tmp_path, capsys):
    """A 3-channel partial-conv inpainting model, expanded with a zero
    channel, completes RGB exactly as before whatever the modal channel."""
    torch.manual_seed(0)
    gen = PCNetCGenerator(in_channels=3).eval()
    with torch.no_grad():
        for block in list(gen.encoders) + list(gen.decoders):
            if block.norm is not None:
                block.norm.running_mean.uniform_(-0.1, 0.1)
                block.norm.running_var.uniform_(0.5, 1.5)
    src = tmp_path / 'pconv.pth'
    torch.save(dict(model=mmdeocc_to_reference_pcnet_c(gen.state_dict(),
                                                        prefix='')), src)
    dst = tmp_path / 'init.pth'
    assert expand_tool.main([str(src), str(dst)]) == 0
    model = load_pcnet_c(dst)
    weight = model.generator.encoders[0].pconv
    assert weight.weight.shape[1] == 4
    assert not weight.weight[:, 3].any() and not weight.mask_weight[:, 3].any()
    rgb = torch.randn(1, 3, SIZE, SIZE)
    hole = torch.zeros(1, SIZE, SIZE)
    hole[:, 20:70, 40:100] = 1
    modal = (torch.rand(1, SIZE, SIZE) > 0.5).float()
    with torch.no_grad():
        out = model.complete(rgb, hole, modal)
        mask3 = (1 - hole)[:, None].expand(-1, 3, -1, -1)
        raw, _ = gen(rgb * mask3, mask3)
    visible = (1 - hole)[:, None]
    torch.testing.assert_close(out, visible * rgb + (1 - visible) * raw)
    # Loads through mmengine too (what the Runner's `load_from` does).
    from mmengine.runner import load_checkpoint
    expected = copy.deepcopy(model.generator.state_dict())
    with torch.no_grad():
        for param in model.generator.parameters():
            param.zero_()
    load_checkpoint(model, str(dst), map_location='cpu')
    torch.testing.assert_close(model.generator.state_dict(), expected)
    # Inputs that already have 4 channels are refused.
    capsys.readouterr()
    assert expand_tool.main([str(dst), str(tmp_path / 'again.pth')]) == 1
    assert 'already an mmdeocc PCNet-C' in capsys.readouterr().err
    four = tmp_path / 'four.pth'
    torch.save({'enc_1.conv.input_conv.weight': torch.zeros(64, 4, 7, 7)},
               four)
    assert expand_tool.main([str(four), str(tmp_path / 'again.pth')]) == 1
    assert 'Expected 3 input channels' in capsys.readouterr().err
    assert expand_tool.main([str(tmp_path / 'nope.pth'),
                             str(tmp_path / 'x.pth')]) == 1
