"""bf16 autocast training on CPU: the wrapper, the precision rule and
``tools/train.py --amp``."""
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from mmdeocc.engine import cpu_amp
from mmdeocc.engine.cpu_amp import CPUBF16OptimWrapper, training_precision
from mmdeocc.models import PCNetM

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

import train  # noqa: E402


def _batch(size: int = 32, count: int = 2) -> dict:
    target = torch.zeros(count, size, size, dtype=torch.uint8)
    target[:, 8:24, 6:26] = 1
    eraser = torch.zeros(count, size, size)
    eraser[:, 4:20, 16:30] = 1
    erased = target.float() * (1 - eraser)
    inputs = torch.stack([erased, eraser], dim=1)
    return dict(inputs=inputs, data_samples=dict(target=target))


def test_wrapper_trains_in_bf16_with_channels_last():
    torch.manual_seed(0)
    model = PCNetM(width=0.25, in_size=32)
    model.train()
    wrapper = CPUBF16OptimWrapper(
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2))
    params_before = [p.detach().clone() for p in model.parameters()]
    seen = {}

    def record(module, args, output):
        seen['dtype'] = output.dtype

    first_conv = next(m for m in model.modules()
                      if isinstance(m, torch.nn.Conv2d))
    first_conv.register_forward_hook(record)
    losses = []
    for _ in range(5):
        with wrapper.optim_context(model):
            loss = model(**_batch(), mode='loss')['loss']
        wrapper.update_params(loss)
        losses.append(float(loss))
    assert seen['dtype'] == torch.bfloat16  # the forward ran autocast
    assert first_conv.weight.dtype == torch.float32  # master weights fp32
    assert first_conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    changed = [not torch.equal(a, b)
               for a, b in zip(params_before, model.parameters())]
    assert all(changed)


def test_wrapper_can_keep_the_layout():
    model = PCNetM(width=0.25, in_size=32)
    wrapper = CPUBF16OptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=1e-3),
        channels_last=False)
    with wrapper.optim_context(model):
        model(**_batch(), mode='loss')
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous()


@pytest.mark.parametrize('cuda,native,expected', [
    (True, False, 'cuda_amp'),
    (False, True, 'cpu_bf16'),
    (False, False, 'fp32'),
])
def test_training_precision(monkeypatch, cuda, native, expected):
    monkeypatch.setattr(cpu_amp, 'native_bf16_cpu', lambda: native)
    assert training_precision(cuda) == expected


@pytest.mark.parametrize('precision,wrapper', [
    ('cpu_bf16', 'CPUBF16OptimWrapper'),
    ('fp32', 'OptimWrapper'),
    ('cuda_amp', 'AmpOptimWrapper'),
])
def test_train_amp_flag_follows_the_hardware(monkeypatch, precision,
                                             wrapper):
    monkeypatch.setattr(train, 'training_precision', lambda cuda: precision)
    cfg = Config.fromfile(
        str(ROOT / 'configs/pcnet_m/pcnet-m_unet-w0.5_1xb16-2k_coco128.py'))
    train.enable_amp(cfg)
    assert cfg.optim_wrapper.type == wrapper
