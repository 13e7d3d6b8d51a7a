"""Tests of the partial convolution (METHOD 3.1)."""
import itertools

import pytest
import torch

from mmdeocc.models import PartialConv2d, PartialConvShapeError


def _direct_partial_conv(x, mask, weight, bias, mask_weight, stride,
                         padding):
    """Loop implementation of METHOD 3.1 straight from the definition."""
    b, cin, h, w = x.shape
    cout, _, k, _ = weight.shape
    xp = torch.nn.functional.pad(x * mask, [padding] * 4)
    mp = torch.nn.functional.pad(mask, [padding] * 4)
    oh = (h + 2 * padding - k) // stride + 1
    ow = (w + 2 * padding - k) // stride + 1
    out = torch.zeros(b, cout, oh, ow, dtype=torch.float64)
    new_mask = torch.zeros(b, cout, oh, ow, dtype=torch.float64)
    for n, o, i, j in itertools.product(
            range(b), range(cout), range(oh), range(ow)):
        window = xp[n, :, i * stride:i * stride + k, j * stride:j * stride + k]
        mwin = mp[n, :, i * stride:i * stride + k, j * stride:j * stride + k]
        total = float((mwin * mask_weight[o]).sum())
        if total == 0:
            continue
        value = float((window * weight[o]).sum()) / total
        if bias is not None:
            value += float(bias[o])
        out[n, o, i, j] = value
        new_mask[n, o, i, j] = 1.0
    return out, new_mask


def _hand_made_inputs():
    """2 samples, 2 channels, 6x6: a hole block, a fully invalid sample
    corner and a fully valid region, with channels masked differently."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 2, 6, 6, generator=g, dtype=torch.float64)
    mask = torch.ones(2, 2, 6, 6, dtype=torch.float64)
    mask[0, :, 1:4, 1:4] = 0  # a 3x3 hole in both channels
    mask[0, 1, 4:, :] = 0  # channel 1 only: partially valid windows
    mask[1, :, :3, :3] = 0  # a hole large enough for empty windows
    mask[1, :, :, 5] = 0
    return x, mask


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('stride,padding,kernel', [(1, 1, 3), (2, 1, 3),
                                                   (2, 2, 5)])
def test_matches_direct_computation(bias, stride, padding, kernel):
    layer = PartialConv2d(2, 3, kernel, stride, padding, bias=bias).double()
    with torch.no_grad():
        layer.weight.normal_()
        if bias:
            layer.bias.normal_()
    x, mask = _hand_made_inputs()
    out, new_mask = layer(x, mask)
    ref_out, ref_mask = _direct_partial_conv(
        x, mask, layer.weight.detach(),
        None if layer.bias is None else layer.bias.detach(),
        layer.mask_weight, stride, padding)
    assert out.shape == ref_out.shape and new_mask.shape == ref_mask.shape
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(new_mask, ref_mask)


def test_hole_all_valid_and_all_invalid_windows():
    """Explicit cases: an all-valid window is a plain conv (no rescaling
    to the window size, i.e. divided by the full count); an all-invalid
    window gives 0 even with a bias; the new mask marks sum(M) > 0."""
    layer = PartialConv2d(1, 1, 3, 1, 0, bias=True).double()
    with torch.no_grad():
        layer.weight.fill_(1.0)
        layer.bias.fill_(0.5)
    x = torch.arange(49, dtype=torch.float64).reshape(1, 1, 7, 7)
    mask = torch.ones_like(x)
    mask[..., :3, :3] = 0  # window (0,0) fully invalid
    with torch.no_grad():
        out, new_mask = layer(x, mask)
    # window (0, 0): empty -> 0 and mask 0 (bias not added)
    assert out[0, 0, 0, 0] == 0 and new_mask[0, 0, 0, 0] == 0
    # window (4, 4): all valid -> mean of x over the window + bias
    assert out[0, 0, 4, 4] == pytest.approx(
        float(x[0, 0, 4:7, 4:7].mean()) + 0.5)
    # window (0, 2): columns 2..4 of rows 0..2; column 2 invalid -> mean of
    # the 6 valid values
    valid = x[0, 0, 0:3, 3:5]
    assert out[0, 0, 0, 2] == pytest.approx(float(valid.mean()) + 0.5)
    assert new_mask[0, 0, 0, 2] == 1
    # every other window of the 5x5 output has a valid pixel
    assert new_mask.sum() == 24


def test_values_under_the_mask_are_ignored_and_grads_flow():
    layer = PartialConv2d(3, 4, 3, 2, 1, bias=True)
    x, mask = torch.randn(2, 3, 8, 8), (torch.rand(2, 3, 8, 8) > 0.4).float()
    x.requires_grad_(True)
    out, _ = layer(x, mask)
    x2 = x.detach() + (1 - mask) * 100.0
    out2, _ = layer(x2, mask)
    torch.testing.assert_close(out, out2)
    out.sum().backward()
    assert torch.isfinite(layer.weight.grad).all()
    assert torch.all(x.grad[mask == 0] == 0)
    assert not layer.mask_weight.requires_grad


def test_new_mask_is_replicated_over_channels():
    layer = PartialConv2d(2, 5, 3, 1, 1)
    mask = torch.zeros(1, 2, 7, 7)
    mask[0, 1, 3, 3] = 1  # a single valid pixel in one channel
    _, new_mask = layer(torch.randn(1, 2, 7, 7), mask)
    expected = torch.zeros(7, 7)
    expected[2:5, 2:5] = 1
    for channel in range(5):
        torch.testing.assert_close(new_mask[0, channel], expected)


def test_mask_kernel_is_a_stored_frozen_buffer_loaded_as_stored():
    layer = PartialConv2d(4, 8, 3, 1, 1)
    assert 'mask_weight' in layer.state_dict()
    assert all(p is not layer.mask_weight for p in layer.parameters())
    assert torch.all(layer.mask_weight == 1)
    state = layer.state_dict()
    state['mask_weight'] = state['mask_weight'].clone()
    state['mask_weight'][:, 3] = 0  # the extra zero channel
    other = PartialConv2d(4, 8, 3, 1, 1)
    other.load_state_dict(state)
    assert torch.all(other.mask_weight[:, 3] == 0)
    assert torch.all(other.mask_weight[:, :3] == 1)
    # sum(M) now ignores channel 3: a window valid only there is empty
    mask = torch.zeros(1, 4, 5, 5)
    mask[0, 3] = 1
    out, new_mask = other(torch.randn(1, 4, 5, 5), mask)
    assert torch.all(new_mask == 0) and torch.all(out == 0)
    # and a channel-3 value never changes the result where others are valid
    mask = torch.ones(1, 4, 5, 5)
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        other.weight[:, 3] = 0
    ref, _ = other(x[:, :4], mask)
    x[:, 3] = 1e3
    torch.testing.assert_close(other(x, mask)[0], ref)


def test_non_uniform_mask_kernel_is_respected():
    """Rows of the mask kernel that differ per output channel are used as
    stored (general path, no broadcasting shortcut)."""
    layer = PartialConv2d(2, 2, 3, 1, 1).double()
    with torch.no_grad():
        layer.mask_weight[1, 0] = 0
    x, mask = _hand_made_inputs()
    out, new_mask = layer(x, mask)
    ref_out, ref_mask = _direct_partial_conv(x, mask, layer.weight.detach(),
                                             None, layer.mask_weight, 1, 1)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(new_mask, ref_mask)


def test_shape_errors():
    layer = PartialConv2d(3, 4, 3, 1, 1)
    with pytest.raises(PartialConvShapeError, match='same shape'):
        layer(torch.randn(1, 3, 8, 8), torch.ones(1, 1, 8, 8))
    with pytest.raises(PartialConvShapeError, match='3 input channels'):
        layer(torch.randn(1, 2, 8, 8), torch.ones(1, 2, 8, 8))


def test_window_rescale_option():
    """window_rescale multiplies by the window size (sum of the mask kernel
    row): an all-valid window becomes a plain convolution."""
    layer = PartialConv2d(2, 3, 3, 1, 1, bias=True,
                          window_rescale=True).double()
    with torch.no_grad():
        layer.bias.normal_()
        layer.mask_weight[:, 1, 0, 0] = 0  # window size 17 instead of 18
    x, mask = _hand_made_inputs()
    out, new_mask = layer(x, mask)
    ref_out, ref_mask = _direct_partial_conv(x, mask, layer.weight.detach(),
                                             None, layer.mask_weight, 1, 1)
    expected = ref_out * 17 + ref_mask * layer.bias.detach().view(1, -1, 1, 1)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(new_mask, ref_mask)
    plain = PartialConv2d(2, 3, 3, 1, 1, bias=False, window_rescale=True)
    x = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(
        plain(x, torch.ones_like(x))[0][..., 1:-1, 1:-1],
        torch.nn.functional.conv2d(x, plain.weight)[..., :, :])
