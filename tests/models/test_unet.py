"""Tests of the PCNet-M UNet (METHOD 1.1)."""
import math

import pytest
import torch
from torch import nn

from mmdet.registry import MODELS
from mmdeocc.models import UNet, unet_channels


def _num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _double_conv_params(cin: int, cout: int) -> int:
    """Conv3x3(+bias) + BN, twice."""
    return (9 * cin * cout + cout) + 2 * cout + (9 * cout * cout + cout) + \
        2 * cout


def test_reference_width_has_exact_parameter_count():
    net = UNet(width=2)
    assert net.channels == (32, 64, 128, 256, 256)
    assert _num_params(net) == 3_352_002


@pytest.mark.parametrize('width', [1, 0.5, 0.3, 3])
def test_other_widths_follow_the_channel_rule(width):
    net = UNet(width=width)
    c = [max(1, round(b * width)) for b in (16, 32, 64, 128, 128)]
    assert list(net.channels) == c == unet_channels(width)
    assert all(isinstance(x, int) for x in net.channels)
    expected = (_double_conv_params(2, c[0]) +
                sum(_double_conv_params(c[i], c[i + 1]) for i in range(4)) +
                _double_conv_params(c[3] + c[4], c[2]) +
                _double_conv_params(2 * c[2], c[1]) +
                _double_conv_params(2 * c[1], c[0]) +
                _double_conv_params(2 * c[0], c[0]) + c[0] * 2 + 2)
    assert _num_params(net) == expected


def test_width_one_is_about_four_times_cheaper():
    ratio = _num_params(UNet(width=2)) / _num_params(UNet(width=1))
    assert 3.9 < ratio < 4.1


@pytest.mark.parametrize('width', [0, -1, 'two', None, True])
def test_invalid_width_raises(width):
    with pytest.raises(ValueError, match='width'):
        UNet(width=width)


@pytest.mark.parametrize('size', [(32, 32), (37, 45), (16, 23)])
def test_output_has_input_resolution(size):
    net = UNet(width=0.5).eval()
    out = net(torch.rand(2, 2, *size))
    assert out.shape == (2, 2, *size)
    assert torch.isfinite(out).all()


def test_registered_in_mmdet_models():
    net = MODELS.build(dict(type='UNet', width=1))
    assert isinstance(net, UNet) and net.channels[0] == 16


def test_reference_initialisation():
    torch.manual_seed(0)
    net = UNet(width=2)
    net.init_weights()
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19
    for conv in convs:
        assert torch.count_nonzero(conv.bias) == 0
    # xavier normal, gain 0.02: std = 0.02 * sqrt(2 / (fan_in + fan_out)).
    big = net.down_stages[3].convs.conv1.weight
    fan = 256 * 9
    expected_std = 0.02 * math.sqrt(2.0 / (fan + fan))
    assert big.mean().abs() < 0.05 * expected_std
    assert big.std().item() == pytest.approx(expected_std, rel=0.02)
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 18
    weights = torch.cat([m.weight.detach() for m in norms])
    assert weights.mean().item() == pytest.approx(1.0, abs=2e-3)
    assert weights.std().item() == pytest.approx(0.02, rel=0.1)
    assert all(torch.count_nonzero(m.bias) == 0 for m in norms)


def test_init_cfg_can_be_overridden():
    net = UNet(
        width=0.5,
        init_cfg=dict(type='Constant', layer='Conv2d', val=0.5, bias=0.25))
    net.init_weights()
    assert torch.all(net.head.weight == 0.5)
    assert torch.all(net.in_conv.conv1.bias == 0.25)


def test_channels_last_gives_the_same_result():
    torch.manual_seed(0)
    net = UNet(width=0.5).eval()
    x = torch.rand(2, 2, 40, 36)
    ref = net(x)
    net_cl = net.to(memory_format=torch.channels_last)
    out = net_cl(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_channels_last_training_backward():
    torch.manual_seed(0)
    net = UNet(width=0.5).to(memory_format=torch.channels_last).train()
    x = torch.rand(2, 2, 32, 32).contiguous(memory_format=torch.channels_last)
    net(x).square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all()
               for p in net.parameters())


def test_bf16_autocast_matches_float32():
    torch.manual_seed(0)
    net = UNet(width=0.5).eval()
    x = (torch.rand(2, 2, 32, 32) > 0.5).float()
    ref = net(x)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.bfloat16
    out = out.float()
    assert torch.isfinite(out).all()
    err = (out - ref).abs().max() / ref.abs().max()
    assert err < 0.05


@pytest.mark.parametrize('shape', [(2, 32, 32), (1, 3, 32, 32),
                                   (1, 2, 8, 32), (1, 2, 32, 32, 1)])
def test_bad_input_shape_raises(shape):
    with pytest.raises(ValueError, match=r'\(B, 2, H, W\)'):
        UNet(width=0.5)(torch.zeros(shape))


def test_integer_input_raises():
    with pytest.raises(ValueError, match='floating'):
        UNet(width=0.5)(torch.zeros(1, 2, 32, 32, dtype=torch.uint8))
