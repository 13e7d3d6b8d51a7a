"""Tests of PCNet-C: generator, discriminator and the trainable model."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.registry import init_default_scope
from torch.nn.utils import parametrize

from mmdet.registry import MODELS
from mmdeocc.engine import OptimWrapperConfigError
from mmdeocc.models import (PCNetC, PCNetCDiscriminator, PCNetCGenerator,
                            PCNetCInputError)

SIZE = 128  # the smallest size the 7-level generator accepts

OPTIM_CFG = dict(
    constructor='PCNetCOptimWrapperConstructor',
    generator=dict(optimizer=dict(type='Adam', lr=1e-4)),
    discriminator=dict(optimizer=dict(type='Adam', lr=1e-5,
                                      betas=(0.0, 0.9))))


def _trainable(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _top_singular_value(weight, iters=60):
    """Largest singular value of a conv weight by power iteration (LAPACK's
    SVD is needlessly slow on a busy CPU)."""
    mat = weight.detach().flatten(1)
    vec = torch.ones(mat.shape[1])
    for _ in range(iters):
        vec = mat.T @ (mat @ vec)
        vec = vec / vec.norm()
    return (mat @ vec).norm().item()


def _batch(b=2, size=SIZE, seed=0, category_ids=(1, 3)):
    """A collated training batch in PCNetC's documented format."""
    g = torch.Generator().manual_seed(seed)
    rgb = torch.randn(b, 3, size, size, generator=g)
    target = torch.zeros(b, size, size)
    target[:, size // 4:3 * size // 4, size // 4:3 * size // 4] = 1
    eraser = torch.zeros(b, size, size)
    eraser[:, size // 2:, size // 3:] = 1
    return dict(
        inputs=rgb,
        data_samples=dict(
            modal=(target * (1 - eraser)).to(torch.uint8),
            hole=(target * eraser).to(torch.uint8),
            category_id=torch.tensor(category_ids[:b])))


# Without the VGG terms: 3 VGG passes per step would triple the CPU time of
# these tests. The full loss (with VGG) is trained in
# test_train_steps_update_both_networks and checked in test_pcnet_c_losses.
NO_VGG_LOSS = dict(type='PCNetCInpaintingLoss', perceptual_weight=0,
                   style_weight=0)


@pytest.fixture(scope='module')
def model():
    init_default_scope('mmdet')  # as the Runner does with default_scope
    torch.manual_seed(0)
    return MODELS.build(dict(type='PCNetC', inpainting_loss=NO_VGG_LOSS))


def test_generator_parameter_count_and_layers():
    gen = PCNetCGenerator()
    assert _trainable(gen) == 25_782_959  # "~25.8 M" (METHOD 3.1)
    frozen = [n for n, p in gen.named_parameters() if not p.requires_grad]
    assert frozen == []  # mask kernels are buffers, not parameters
    kernels = [b.pconv.weight.shape for b in gen.encoders]
    assert kernels == [(64, 4, 7, 7), (128, 64, 5, 5), (256, 128, 5, 5),
                       (512, 256, 3, 3), (512, 512, 3, 3), (512, 512, 3, 3),
                       (512, 512, 3, 3)]
    assert [b.pconv.weight.shape[:2] for b in gen.decoders] == [
        (3, 68), (64, 192), (128, 384), (256, 768), (512, 1024),
        (512, 1024), (512, 1024)
    ]
    assert [b.pconv.stride for b in gen.encoders] == [2] * 7
    assert gen.encoders[0].norm is None
    assert all(b.norm is not None for b in gen.encoders[1:])
    assert all(b.pconv.bias is None for b in gen.encoders)
    assert gen.decoders[0].pconv.bias is not None
    assert gen.decoders[0].norm is None and gen.decoders[0].act is None
    assert all(b.pconv.bias is None and b.norm is not None and isinstance(
        b.act, torch.nn.LeakyReLU) and b.act.negative_slope == 0.2
               for b in gen.decoders[1:])
    assert all(isinstance(b.act, torch.nn.ReLU) for b in gen.encoders)


def test_width_scales_every_hidden_layer():
    """width < 1: the CPU-sized variant; width 1 stays the reference."""
    assert PCNetCGenerator(width=1.0).encoders[0].pconv.weight.shape[0] == 64
    gen = PCNetCGenerator(width=0.25)
    assert [b.pconv.weight.shape[0] for b in gen.encoders] == [
        16, 32, 64, 128, 128, 128, 128]
    assert [b.pconv.weight.shape[:2] for b in gen.decoders] == [
        (3, 20), (16, 48), (32, 96), (64, 192), (128, 256), (128, 256),
        (128, 256)]
    assert 1.5e6 < _trainable(gen) < 1.7e6  # ~1/16 of 25.8 M
    with torch.no_grad():
        out, _ = gen.eval()(torch.randn(1, 4, SIZE, SIZE),
                            torch.ones(1, 4, SIZE, SIZE))
    assert out.shape == (1, 3, SIZE, SIZE)
    disc = PCNetCDiscriminator(width=0.25)
    assert disc(torch.randn(1, 4, SIZE, SIZE)).shape == (1, 1, 14, 14)
    for bad in (0, -1, 'half', True):
        with pytest.raises(ValueError, match='width'):
            PCNetCGenerator(width=bad)
    with pytest.raises(ValueError, match='width'):
        PCNetCDiscriminator(width=0)


def test_in_size_is_validated():
    init_default_scope('mmdet')
    small = dict(type='PCNetCGenerator', width=0.125)
    assert MODELS.build(dict(type='PCNetC', generator=small,
                             inpainting_loss=NO_VGG_LOSS)).in_size == 256
    for bad in (100, 0, 64):
        with pytest.raises(ValueError, match='multiple of 128'):
            MODELS.build(dict(type='PCNetC', generator=small, in_size=bad,
                              inpainting_loss=NO_VGG_LOSS))


def test_generator_output_shape_and_mask():
    """(That values under the hole are ignored is checked at the model
    level in test_complete_fills_only_the_hole.)"""
    torch.manual_seed(1)
    gen = PCNetCGenerator().eval()
    x = torch.randn(1, 4, SIZE, SIZE)
    mask = torch.ones_like(x)
    mask[:, :, 40:90, 30:100] = 0
    with torch.no_grad():
        out, out_mask = gen(x, mask)
    assert out.shape == (1, 3, SIZE, SIZE) and torch.isfinite(out).all()
    assert out_mask.shape == (1, 3, SIZE, SIZE)
    assert torch.all(out_mask == 1)  # the hole is filled


def test_generator_rejects_bad_sizes():
    gen = PCNetCGenerator()
    with pytest.raises(PCNetCInputError, match='multiple of 128'):
        gen(torch.randn(1, 4, 64, 64), torch.ones(1, 4, 64, 64))
    with pytest.raises(PCNetCInputError, match='128x192'):
        gen(torch.randn(1, 4, 128, 192), torch.ones(1, 4, 128, 192))
    with pytest.raises(PCNetCInputError, match='input'):
        gen(torch.randn(1, 3, 128, 128), torch.ones(1, 3, 128, 128))
    with pytest.raises(PCNetCInputError, match='mask shape'):
        gen(torch.randn(1, 4, 128, 128), torch.ones(1, 1, 128, 128))
    with pytest.raises(PCNetCInputError, match='batch of at least 2'):
        gen.train()(torch.randn(1, 4, 128, 128), torch.ones(1, 4, 128, 128))


def test_freeze_encoder_bn_option():
    gen = PCNetCGenerator(freeze_encoder_bn=True).train()
    assert all(not b.norm.training for b in gen.encoders[1:])
    assert all(b.norm.training for b in gen.decoders[1:])


def test_discriminator_count_output_and_spectral_norm():
    torch.manual_seed(0)
    disc = PCNetCDiscriminator()
    assert _trainable(disc) == 2_764_800  # "~2.76 M" (METHOD 3.3)
    originals = [
        conv.parametrizations.weight.original for conv in disc.convs
    ]
    assert all(conv.bias is None for conv in disc.convs)
    assert abs(torch.cat([w.flatten() for w in originals]).std().item() -
               0.02) < 1e-3
    with torch.no_grad():
        assert disc(torch.randn(1, 4, 256, 256)).shape == (1, 1, 30, 30)
    # spectral norm: the effective weight has largest singular value ~1
    assert all(
        parametrize.is_parametrized(conv, 'weight') for conv in disc.convs)
    disc.train()
    for _ in range(10):  # power iterations run on every forward in train
        disc(torch.randn(1, 4, 32, 32))
    disc.eval()
    raw_sigmas = []
    for conv in disc.convs:
        sigma = _top_singular_value(conv.weight)
        # the power-iteration estimate never exceeds the true norm
        assert 0.98 <= sigma <= 1.15
        raw_sigmas.append(
            _top_singular_value(conv.parametrizations.weight.original))
    assert min(raw_sigmas) < 0.5 and max(raw_sigmas) > 1.3  # N(0, 0.02)
    # a state dict round trip reproduces the outputs exactly
    clone = PCNetCDiscriminator().eval()
    clone.load_state_dict(disc.state_dict())
    x = torch.randn(2, 4, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(clone(x), disc(x))
    assert copy.deepcopy(disc)(x).shape == (2, 1, 6, 6)


def test_optim_wrapper_constructor_builds_both_optimisers(model):
    wrappers = build_optim_wrapper(model, copy.deepcopy(OPTIM_CFG))
    assert isinstance(wrappers, OptimWrapperDict)
    assert set(wrappers.keys()) == {'generator', 'discriminator'}
    g_opt = wrappers['generator'].optimizer
    d_opt = wrappers['discriminator'].optimizer
    assert isinstance(g_opt, torch.optim.Adam)
    assert g_opt.param_groups[0]['lr'] == 1e-4
    assert d_opt.param_groups[0]['lr'] == 1e-5
    assert d_opt.param_groups[0]['betas'] == (0.0, 0.9)
    g_params = {id(p) for group in g_opt.param_groups for p in group['params']}
    assert g_params == {id(p) for p in model.generator.parameters()}


def test_optim_wrapper_constructor_errors(model):
    cfg = copy.deepcopy(OPTIM_CFG)
    cfg['critic'] = cfg.pop('discriminator')
    with pytest.raises(OptimWrapperConfigError, match='critic'):
        build_optim_wrapper(model, cfg)
    cfg = copy.deepcopy(OPTIM_CFG)
    del cfg['discriminator']
    with pytest.raises(OptimWrapperConfigError, match='never be updated'):
        build_optim_wrapper(model, cfg)


def test_train_steps_update_both_networks():
    """Two training steps (batch 2) with the cheap losses; the VGG terms are
    trained in the next test (at batch 1, to keep the suite fast).
    ``window_rescale=True``: with the reference normalisation the gradients
    of the deep layers at random init are ~1e-20 (see PartialConv2d), below
    what Adam moves, so only the rescaled generator lets this test see
    *every* parameter move."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type='PCNetC',
             generator=dict(type='PCNetCGenerator', window_rescale=True),
             inpainting_loss=NO_VGG_LOSS))
    model.train()
    wrappers = build_optim_wrapper(model, copy.deepcopy(OPTIM_CFG))
    g_before = [p.detach().clone() for p in model.generator.parameters()]
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    terms = ['loss_valid', 'loss_hole', 'loss_tv', 'loss_adv']
    for step in range(2):
        log_vars = model.train_step(_batch(seed=step), wrappers)
        assert set(log_vars) == set(terms) | {
            'loss_gen', 'loss_disc', 'disc_real_prob', 'disc_fake_prob'
        }
        assert all(torch.isfinite(v) for v in log_vars.values())
        torch.testing.assert_close(log_vars['loss_gen'],
                                   sum(log_vars[k] for k in terms))
    assert all(not torch.equal(a, b.detach())
               for a, b in zip(g_before, model.generator.parameters()))
    assert all(not torch.equal(a, b.detach())
               for a, b in zip(d_before, model.discriminator.parameters()))
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert wrappers['generator'].optimizer.state  # Adam moments exist
    assert wrappers['discriminator'].optimizer.state


def test_full_loss_step_without_leaks_into_the_discriminator(model):
    """A training step with every loss term (VGG perceptual and style
    included) and the reference generator. The adversarial term of the
    generator step must not leave gradients on the discriminator: its
    update is driven by the D loss alone. The frozen VGG never moves."""
    # eval mode: BN uses running statistics and spectral norm does no power
    # iteration, so both passes below see identical networks (and batch 1
    # is allowed)
    model.eval()
    cheap_loss = model.inpainting_loss
    model.inpainting_loss = full_loss = MODELS.build(
        dict(type='PCNetCInpaintingLoss', vgg=dict(type='VGG16Features')))
    vgg_before = [p.detach().clone() for p in full_loss.vgg.parameters()]
    wrappers = build_optim_wrapper(model, copy.deepcopy(OPTIM_CFG))
    data = _batch(b=1, seed=5, category_ids=(1, ))
    d_state = copy.deepcopy(model.discriminator.state_dict())
    batch = model._unpack_batch(data['inputs'], data['data_samples'])
    with torch.no_grad():
        output = model._generate(batch)
    # expected D gradient: D loss only, from the same generator output
    model.discriminator.zero_grad()
    model._discriminator_losses(batch, output)['loss_disc'].backward()
    expected = [p.grad.clone() for p in model.discriminator.parameters()]
    model.discriminator.load_state_dict(d_state)
    model.discriminator.zero_grad()
    seen = []
    original = wrappers['discriminator'].step

    def record_step(**kwargs):
        seen.extend(p.grad.clone() for p in model.discriminator.parameters())
        return original(**kwargs)

    wrappers['discriminator'].step = record_step
    gen_state = copy.deepcopy(model.generator.state_dict())
    try:
        log_vars = model.train_step(data, wrappers)
    finally:
        model.inpainting_loss = cheap_loss
    assert set(log_vars) == {
        'loss_valid', 'loss_hole', 'loss_perceptual', 'loss_style',
        'loss_tv', 'loss_adv', 'loss_gen', 'loss_disc', 'disc_real_prob',
        'disc_fake_prob'
    }
    assert all(torch.isfinite(v) for v in log_vars.values())
    # the (reference-normalised) generator's output layers did move
    for name in ('decoders.0.pconv.weight', 'decoders.0.pconv.bias',
                 'decoders.1.pconv.weight'):
        assert not torch.equal(gen_state[name],
                               model.generator.state_dict()[name])
    model.generator.load_state_dict(gen_state)
    assert len(seen) == len(expected)
    for got, want in zip(seen, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-7)
    key = 'convs.0.parametrizations.weight.original'
    assert not torch.equal(d_state[key], model.discriminator.state_dict()[key])
    assert all(
        torch.equal(a, b)
        for a, b in zip(vgg_before, full_loss.vgg.parameters()))


def test_forward_modes_and_predict_composite(model):
    model.eval()
    data = _batch(b=1, seed=2)
    with torch.no_grad():
        raw = model(**data, mode='tensor')
        losses = model(**data, mode='loss')
    # val_step goes through the data preprocessor and forward(mode='predict')
    preds = model.val_step(data)
    assert raw.shape == (1, 3, SIZE, SIZE) and len(preds) == 1
    hole = data['data_samples']['hole'].bool()
    for i, pred in enumerate(preds):
        assert torch.equal(pred['hole'], hole[i])
        rgb = data['inputs'][i]
        torch.testing.assert_close(pred['pred_rgb'][:, ~hole[i]],
                                   rgb[:, ~hole[i]])
        torch.testing.assert_close(pred['pred_rgb'][:, hole[i]],
                                   raw[i][:, hole[i]])
    assert 'loss_disc' in losses and 'loss_hole' in losses
    with pytest.raises(ValueError, match='invalid mode'):
        model(**data, mode='nope')


def test_complete_fills_only_the_hole(model):
    model.eval()
    data = _batch(b=1, seed=3)
    rgb, hole = data['inputs'], data['data_samples']['hole']
    modal = data['data_samples']['modal']
    out = model.complete(rgb, hole, modal)
    assert out.shape == rgb.shape and not out.requires_grad
    keep = hole[:, None].expand_as(rgb) == 0
    torch.testing.assert_close(out[keep], rgb[keep])
    # the true pixels under the hole are never looked at
    scrambled = rgb + hole[:, None] * 10.0
    torch.testing.assert_close(model.complete(scrambled, hole, modal)[~keep],
                               out[~keep])
    assert torch.isfinite(out).all()


def test_category_encoding():
    model = PCNetC(
        use_category=True, category_map={1: 1.0, 3: 2.5},
        inpainting_loss=NO_VGG_LOSS).eval()
    assert model.category_map == {1: 1.0, 3: 2.5}
    data = _batch(seed=4)
    batch = model._unpack_batch(data['inputs'], data['data_samples'])
    modal = data['data_samples']['modal'].float()
    torch.testing.assert_close(batch['net_input'][:, 3], modal *
                               torch.tensor([1.0, 2.5]).view(2, 1, 1))
    torch.testing.assert_close(batch['condition'][:, 0],
                               batch['net_input'][:, 3])
    visible = 1 - data['data_samples']['hole'].float()
    torch.testing.assert_close(batch['net_mask'],
                               visible[:, None].expand(-1, 4, -1, -1))
    torch.testing.assert_close(batch['net_input'][:, :3],
                               data['inputs'] * visible[:, None])
    with pytest.raises(PCNetCInputError, match='category_map'):
        model.complete(data['inputs'], data['data_samples']['hole'], modal,
                       category=[1, 7])
    with pytest.raises(PCNetCInputError, match='category_id'):
        model.complete(data['inputs'], data['data_samples']['hole'], modal)
    model.category_map = None  # raw ids, as PCNetC(use_category=True)
    batch = model._unpack_batch(data['inputs'], data['data_samples'])
    torch.testing.assert_close(batch['net_input'][:, 3], modal *
                               torch.tensor([1.0, 3.0]).view(2, 1, 1))
    # without use_category the modal channel is the plain mask
    model.use_category = False  # as PCNetC()
    batch = model._unpack_batch(data['inputs'], data['data_samples'])
    torch.testing.assert_close(batch['net_input'][:, 3], modal)


def test_batch_validation_errors(model):
    model.eval()
    data = _batch(b=1, category_ids=(1, ))
    samples = data['data_samples']
    with pytest.raises(PCNetCInputError, match='"hole"'):
        model(data['inputs'], dict(modal=samples['modal']), mode='tensor')
    with pytest.raises(PCNetCInputError, match='data_samples must be a dict'):
        model(data['inputs'], [samples], mode='tensor')
    with pytest.raises(PCNetCInputError, match='hole must be'):
        model(data['inputs'], dict(samples, hole=samples['hole'][:, :64]),
              mode='tensor')
    with pytest.raises(PCNetCInputError, match='only 0 and 1'):
        model(data['inputs'], dict(samples, hole=samples['hole'] * 2),
              mode='tensor')
    with pytest.raises(PCNetCInputError, match=r'rgb \(inputs\)'):
        model(data['inputs'][:, :2], samples, mode='tensor')
    with pytest.raises(PCNetCInputError, match='multiple of 128'):
        small = _batch(b=1, size=64)
        model(**small, mode='tensor')
    with pytest.raises(KeyError, match='discriminator'):
        model.train_step(data, OptimWrapperDict())
    # the dict form of inputs is accepted
    as_dict = model._unpack_batch(dict(rgb=data['inputs']), samples)
    as_tensor = model._unpack_batch(data['inputs'], samples)
    for key in as_tensor:
        assert torch.equal(as_dict[key], as_tensor[key])
