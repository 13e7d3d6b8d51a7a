"""Tests of the PCNet-C checkpoint conversion (METHOD 6) and of the
inpainting-model expansion (METHOD 3.1)."""
import pytest
import torch
from mmengine.runner import load_checkpoint

from mmdeocc.models import (PCNetC, PCNetCCheckpointError, PCNetCGenerator,
                            expand_inpainting_checkpoint,
                            mmdeocc_to_reference_pcnet_c,
                            reference_to_mmdeocc_pcnet_c)

SIZE = 128


def _randomised(gen, seed):
    """Give every parameter and BN statistic a random value so that a
    wrong mapping cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in gen.state_dict().items():
            if name.endswith('num_batches_tracked'):
                tensor.fill_(int(torch.randint(1, 100, (1, ), generator=g)))
            elif name.endswith('running_var'):
                tensor.copy_(torch.rand(tensor.shape, generator=g) + 0.5)
            elif not name.endswith('mask_weight'):
                tensor.copy_(
                    torch.randn(tensor.shape, generator=g) * 0.05)
    return gen.eval()


def _inputs(channels=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, channels, SIZE, SIZE, generator=g)
    mask = torch.ones_like(x)
    mask[:, :, 30:80, 50:110] = 0
    return x, mask


@pytest.fixture(scope='module')
def reference_state():
    """A reference-layout state dict built from a random generator."""
    gen = _randomised(PCNetCGenerator(), seed=0)
    return gen, mmdeocc_to_reference_pcnet_c(gen.state_dict(), prefix='')


@pytest.fixture(scope='module')
def reference_output(reference_state):
    """The random generator's output on ``_inputs()``."""
    gen, _ = reference_state
    with torch.no_grad():
        return gen(*_inputs())[0]


def test_reference_key_layout(reference_state):
    _, ref = reference_state
    assert all(key.startswith('module.') for key in ref)
    keys = {key[len('module.'):] for key in ref}
    assert len(keys) == 89  # 14 weights + 14 mask kernels + 12 BN x 5 + bias
    for k in range(1, 8):
        assert f'enc_{k}.conv.input_conv.weight' in keys
        assert f'enc_{k}.conv.mask_conv.weight' in keys
        assert f'dec_{k}.conv.input_conv.weight' in keys
        assert f'dec_{k}.conv.mask_conv.weight' in keys
        assert f'enc_{k}.conv.input_conv.bias' not in keys
        assert (f'dec_{k}.conv.input_conv.bias' in keys) == (k == 1)
        assert (f'enc_{k}.bn.running_mean' in keys) == (k > 1)
        assert (f'dec_{k}.bn.running_var' in keys) == (k > 1)
    assert ref['module.enc_1.conv.input_conv.weight'].shape == (64, 4, 7, 7)
    assert ref['module.dec_1.conv.input_conv.weight'].shape == (3, 68, 3, 3)
    assert ref['module.dec_4.bn.weight'].shape == (256, )


def test_round_trip_gives_identical_outputs(reference_state,
                                            reference_output):
    gen, ref = reference_state
    ours = reference_to_mmdeocc_pcnet_c(ref, prefix='')
    assert set(ours) == set(gen.state_dict())
    other = PCNetCGenerator().eval()
    other.load_state_dict(ours, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(other(*_inputs())[0], reference_output,
                                   rtol=0, atol=0)
    # the inverse is exact too, with or without the module. prefix
    back = mmdeocc_to_reference_pcnet_c(ours, prefix='', module_prefix='')
    again = reference_to_mmdeocc_pcnet_c(back, prefix='')
    assert all(torch.equal(again[k], ours[k]) for k in ours)
    # a checkpoint dict as the reference saves it is unwrapped
    wrapped = {'step': 1, 'state_dict': ref, 'optimizer': {}}
    assert set(reference_to_mmdeocc_pcnet_c(wrapped)) == {
        'generator.' + k
        for k in ours
    }


def test_zero_mask_channel_survives_loading_into_pcnet_c(
        reference_state, tmp_path):
    _, ref = reference_state
    ref = dict(ref)
    for key in ('module.enc_1.conv.mask_conv.weight',
                'module.dec_1.conv.mask_conv.weight'):
        ref[key] = ref[key].clone()
    ref['module.enc_1.conv.mask_conv.weight'][:, 3] = 0
    ref['module.dec_1.conv.mask_conv.weight'][:, 67] = 0
    converted = reference_to_mmdeocc_pcnet_c(ref)
    path = tmp_path / 'pcnet_c_converted.pth'
    torch.save({'state_dict': converted, 'meta': {}}, path)
    model = PCNetC(inpainting_loss=dict(
        type='PCNetCInpaintingLoss', perceptual_weight=0, style_weight=0))
    load_checkpoint(model, str(path), map_location='cpu', strict=False)
    enc_mask = model.generator.encoders[0].pconv.mask_weight
    dec_mask = model.generator.decoders[0].pconv.mask_weight
    assert torch.all(enc_mask[:, 3] == 0) and torch.all(enc_mask[:, :3] == 1)
    assert torch.all(dec_mask[:, 67] == 0) and torch.all(dec_mask[:, :67] == 1)
    # and it is saved again as stored
    assert torch.all(model.state_dict()
                     ['generator.encoders.0.pconv.mask_weight'][:, 3] == 0)


def test_conversion_errors(reference_state):
    _, ref = reference_state
    with pytest.raises(PCNetCCheckpointError, match='unknown key'):
        reference_to_mmdeocc_pcnet_c(
            dict(ref, **{'module.dec_8.conv.input_conv.weight': torch.zeros(
                1)}))
    with pytest.raises(PCNetCCheckpointError, match='unknown key'):
        reference_to_mmdeocc_pcnet_c(
            dict(ref, **{'module.enc_2.conv.input_conv.bias': torch.zeros(
                128)}))
    missing = dict(ref)
    del missing['module.dec_3.bn.running_mean']
    with pytest.raises(PCNetCCheckpointError,
                       match=r'dec_3\.bn\.running_mean'):
        reference_to_mmdeocc_pcnet_c(missing)
    wrong = dict(ref)
    wrong['module.enc_5.conv.mask_conv.weight'] = torch.ones(512, 256, 3, 3)
    with pytest.raises(PCNetCCheckpointError, match=r'enc_5.*shape'):
        reference_to_mmdeocc_pcnet_c(wrong)
    with pytest.raises(PCNetCCheckpointError, match='enc_1'):
        reference_to_mmdeocc_pcnet_c({'module.foo': torch.zeros(1)})
    with pytest.raises(PCNetCCheckpointError, match='shape'):
        reference_to_mmdeocc_pcnet_c(ref, in_channels=3)
    with pytest.raises(PCNetCCheckpointError, match='unknown generator key'):
        mmdeocc_to_reference_pcnet_c(
            {'generator.encoders.0.pconv.weight': torch.zeros(64, 4, 7, 7),
             'generator.encoders.0.extra': torch.zeros(1)})


def test_missing_num_batches_tracked_is_tolerated(reference_state,
                                                  reference_output):
    _, ref = reference_state
    old = {k: v for k, v in ref.items() if 'num_batches_tracked' not in k}
    ours = reference_to_mmdeocc_pcnet_c(old, prefix='')
    assert int(ours['encoders.1.norm.num_batches_tracked']) == 0
    other = PCNetCGenerator().eval()
    other.load_state_dict(ours, strict=True)
    with torch.no_grad():
        torch.testing.assert_close(other(*_inputs())[0], reference_output)


def test_expand_inpainting_checkpoint_reproduces_the_3_channel_model():
    inpaint = _randomised(PCNetCGenerator(in_channels=3), seed=3)
    ref3 = mmdeocc_to_reference_pcnet_c(inpaint.state_dict(), prefix='')
    ref4 = expand_inpainting_checkpoint(ref3)
    assert set(ref4) == set(ref3)
    for key, before, after in (
        ('module.enc_1.conv.input_conv.weight', (64, 3, 7, 7),
         (64, 4, 7, 7)),
        ('module.enc_1.conv.mask_conv.weight', (64, 3, 7, 7), (64, 4, 7, 7)),
        ('module.dec_1.conv.input_conv.weight', (3, 67, 3, 3), (3, 68, 3, 3)),
        ('module.dec_1.conv.mask_conv.weight', (3, 67, 3, 3), (3, 68, 3, 3)),
    ):
        assert ref3[key].shape == before and ref4[key].shape == after
        assert torch.equal(ref4[key][:, :before[1]], ref3[key])
        assert torch.all(ref4[key][:, before[1]:] == 0)
    unchanged = set(ref3) - {
        'module.enc_1.conv.input_conv.weight',
        'module.enc_1.conv.mask_conv.weight',
        'module.dec_1.conv.input_conv.weight',
        'module.dec_1.conv.mask_conv.weight'
    }
    assert all(ref4[k] is ref3[k] for k in unchanged)

    gen4 = PCNetCGenerator(in_channels=4).eval()
    gen4.load_state_dict(reference_to_mmdeocc_pcnet_c(ref4, prefix=''))
    rgb, mask3 = _inputs(channels=3, seed=4)
    modal = torch.rand(1, 1, SIZE, SIZE) * 5  # any values: ignored
    mask4 = torch.cat([mask3, mask3[:, :1]], dim=1)
    with torch.no_grad():
        expected = inpaint(rgb, mask3)[0]
        got = gen4(torch.cat([rgb, modal], dim=1), mask4)[0]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_expand_rejects_bad_input(reference_state):
    _, ref = reference_state
    with pytest.raises(ValueError, match='extra_channels'):
        expand_inpainting_checkpoint(ref, extra_channels=0)
    broken = dict(ref)
    del broken['module.enc_1.conv.mask_conv.weight']
    with pytest.raises(PCNetCCheckpointError, match='enc_1'):
        expand_inpainting_checkpoint(broken)
    # plain keys (no module. prefix, as the public inpainting model has)
    plain = {k[len('module.'):]: v for k, v in ref.items()}
    expanded = expand_inpainting_checkpoint(plain)
    assert expanded['enc_1.conv.input_conv.weight'].shape == (64, 5, 7, 7)
