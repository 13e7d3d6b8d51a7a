"""Tests of the reference <-> mmdeocc PCNet-M key mapping (METHOD 6)."""
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmdeocc.models import (CheckpointConversionError, PCNetM, UNet,
                            detect_reference_kind,
                            mmdeocc_to_reference_pcnet_m,
                            reference_to_mmdeocc_pcnet_m)
from mmdeocc.models.converters import pcnet_m_key_pairs


# A stand-alone network with the reference's module names and the forward
# pass written from METHOD 1.1, so the converter is checked against an
# independent implementation (including the [skip, up] concat order and
# the align_corners=True upsampling).
class _RefDouble(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
            nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1),
            nn.BatchNorm2d(cout), nn.ReLU())

    def forward(self, x):
        return self.conv(x)


class _RefIn(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = _RefDouble(cin, cout)

    def forward(self, x):
        return self.conv(x)


class _RefDown(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.mpconv = nn.Sequential(nn.MaxPool2d(2), _RefDouble(cin, cout))

    def forward(self, x):
        return self.mpconv(x)


class _RefUp(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = _RefDouble(cin, cout)

    def forward(self, low, skip):
        low = F.interpolate(
            low, scale_factor=2, mode='bilinear', align_corners=True)
        dy = skip.shape[2] - low.shape[2]
        dx = skip.shape[3] - low.shape[3]
        low = F.pad(low, (dx // 2, dx - dx // 2, dy // 2, dy - dy // 2))
        return self.conv(torch.cat([skip, low], dim=1))


class _RefOut(nn.Module):

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


class ReferenceLayoutUNet(nn.Module):
    """Reference naming: inc / down1..4 / up1..4 / outc (width 2 = 32)."""

    def __init__(self, c=32):
        super().__init__()
        self.inc = _RefIn(2, c)
        self.down1 = _RefDown(c, 2 * c)
        self.down2 = _RefDown(2 * c, 4 * c)
        self.down3 = _RefDown(4 * c, 8 * c)
        self.down4 = _RefDown(8 * c, 8 * c)
        self.up1 = _RefUp(16 * c, 4 * c)
        self.up2 = _RefUp(8 * c, 2 * c)
        self.up3 = _RefUp(4 * c, c)
        self.up4 = _RefUp(2 * c, c)
        self.outc = _RefOut(c, 2)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(x1)
        x3 = self.down2(x2)
        x4 = self.down3(x3)
        x5 = self.down4(x4)
        x = self.up1(x5, x4)
        x = self.up2(x, x3)
        x = self.up3(x, x2)
        x = self.up4(x, x1)
        return self.outc(x)


def _randomised_reference(c=32, seed=0):
    """A reference-layout net with random weights and BN statistics."""
    torch.manual_seed(seed)
    net = ReferenceLayoutUNet(c)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias, 0, 0.1)
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.num_batches_tracked.fill_(int(torch.randint(1, 1000, ())))
    return net.eval()


def _released_layout(net):
    """State dict as in the released files: 'module.'-prefixed keys."""
    return OrderedDict(
        ('module.' + k, v) for k, v in net.state_dict().items())


def test_key_pairs_are_one_to_one_and_total():
    pairs = pcnet_m_key_pairs()
    assert len(pairs) == 128
    ref_keys = [r for r, _ in pairs]
    our_keys = [o for _, o in pairs]
    assert len(set(ref_keys)) == len(set(our_keys)) == 128
    assert set(ref_keys) == set(ReferenceLayoutUNet().state_dict())
    assert set(our_keys) == set(UNet(width=2).state_dict())
    assert set('unet.' + k for k in our_keys) == set(
        PCNetM(width=2).state_dict())


@pytest.mark.parametrize('size', [(48, 48), (40, 36)])
def test_converted_reference_weights_give_identical_logits(size):
    ref = _randomised_reference()
    converted = reference_to_mmdeocc_pcnet_m(_released_layout(ref))
    model = PCNetM(width=2)
    model.load_state_dict(converted, strict=True)
    model.eval()
    x = (torch.rand(2, 2, *size) > 0.5).float()
    with torch.no_grad():
        expected = ref(x)
        got = model(x, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    # The BN counters survive the conversion too.
    assert torch.equal(model.unet.up_stages[0].convs.norm2.num_batches_tracked,
                       ref.up1.conv.conv[4].num_batches_tracked)


def test_bare_unet_prefix_and_unprefixed_reference_keys():
    ref = _randomised_reference(c=8, seed=1)
    converted = reference_to_mmdeocc_pcnet_m(ref.state_dict(), prefix='')
    net = UNet(width=0.5)
    net.load_state_dict(converted, strict=True)
    x = torch.rand(1, 2, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), ref(x), rtol=0, atol=1e-5)


def test_round_trip_is_identity():
    torch.manual_seed(0)
    model = PCNetM(width=1)
    ours = model.state_dict()
    reference = mmdeocc_to_reference_pcnet_m(ours)
    assert all(k.startswith('module.') for k in reference)
    assert 'module.down3.mpconv.1.conv.4.running_var' in reference
    back = reference_to_mmdeocc_pcnet_m(reference)
    assert set(back) == set(ours)
    assert all(torch.equal(back[k], ours[k]) for k in ours)


def test_unknown_key_is_named():
    sd = _released_layout(_randomised_reference(c=8))
    sd['module.extra.weight'] = torch.zeros(1)
    with pytest.raises(CheckpointConversionError,
                       match=r"unexpected keys: 'extra\.weight'"):
        reference_to_mmdeocc_pcnet_m(sd)


def test_missing_key_is_named():
    sd = _released_layout(_randomised_reference(c=8))
    del sd['module.up2.conv.conv.1.num_batches_tracked']
    with pytest.raises(
            CheckpointConversionError,
            match=r"missing keys: 'up2\.conv\.conv\.1\.num_batches_tracked'"):
        reference_to_mmdeocc_pcnet_m(sd)


def test_shape_mismatch_is_named():
    sd = _released_layout(_randomised_reference(c=8))
    sd['module.up3.conv.conv.3.weight'] = torch.zeros(8, 8, 1, 1)
    with pytest.raises(CheckpointConversionError,
                       match=r'up3\.conv\.conv\.3\.weight: got '
                       r'\(8, 8, 1, 1\), expected \(8, 8, 3, 3\)'):
        reference_to_mmdeocc_pcnet_m(sd)


def test_width_mismatch():
    sd = _released_layout(_randomised_reference(c=8))
    with pytest.raises(CheckpointConversionError,
                       match=r'width mismatch.*8 output channels \(width '
                       r'0\.5\).*width 2 expects 32'):
        reference_to_mmdeocc_pcnet_m(sd, width=2)
    assert len(reference_to_mmdeocc_pcnet_m(sd, width=0.5)) == 128


def test_non_tensor_and_mixed_prefix_errors():
    sd = _released_layout(_randomised_reference(c=8))
    bad = OrderedDict(sd)
    bad['module.outc.conv.bias'] = [0.0, 0.0]
    with pytest.raises(CheckpointConversionError, match='not tensors'):
        reference_to_mmdeocc_pcnet_m(bad)
    mixed = OrderedDict(sd)
    mixed['outc.conv.bias'] = mixed.pop('module.outc.conv.bias')
    with pytest.raises(CheckpointConversionError,
                       match=r"'outc\.conv\.bias'"):
        reference_to_mmdeocc_pcnet_m(mixed)
    with pytest.raises(CheckpointConversionError, match='dict of tensors'):
        reference_to_mmdeocc_pcnet_m([1, 2])


def test_inverse_errors():
    ours = PCNetM(width=0.5).state_dict()
    bare = OrderedDict((k[len('unet.'):], v) for k, v in ours.items())
    with pytest.raises(CheckpointConversionError, match="start with 'unet.'"):
        mmdeocc_to_reference_pcnet_m(bare)
    assert len(mmdeocc_to_reference_pcnet_m(bare, prefix='')) == 128
    ours = OrderedDict(ours)
    del ours['unet.head.bias']
    with pytest.raises(CheckpointConversionError,
                       match=r"missing keys: 'head\.bias'"):
        mmdeocc_to_reference_pcnet_m(ours)


def test_detect_reference_kind():
    sd = _released_layout(_randomised_reference(c=8))
    assert detect_reference_kind(sd) == 'pcnet_m'
    pcnet_c = {'module.enc_1.conv.input_conv.weight': torch.zeros(1)}
    assert detect_reference_kind(pcnet_c) == 'pcnet_c'
    with pytest.raises(CheckpointConversionError, match='neither'):
        detect_reference_kind({'module.backbone.conv1.weight': torch.zeros(1)})
    with pytest.raises(CheckpointConversionError, match='PCNet-C'):
        reference_to_mmdeocc_pcnet_m(pcnet_c)
