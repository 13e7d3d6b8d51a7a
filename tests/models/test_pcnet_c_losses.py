"""Tests of PCNet-C's losses (METHOD 3.4) and the VGG16 feature extractor."""
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from mmdet.registry import MODELS
from mmdeocc.models import (PCNetCAdversarialLoss, PCNetCInpaintingLoss,
                            VGG16Features, VGGWeightsError, gan_bce_loss,
                            gram_matrix, total_variation_loss)

VGG_CONV_INDICES = (0, 2, 5, 7, 10, 12, 14)


def _torchvision_layout_vgg16(seed=0):
    """A full torchvision-layout vgg16 state dict with random values
    (features 0..28 and the classifier), as a downloaded file holds."""
    g = torch.Generator().manual_seed(seed)
    cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512,
           'M', 512, 512, 512, 'M']
    state, index, cin = {}, 0, 3
    for item in cfg:
        if item == 'M':
            index += 1
            continue
        state[f'features.{index}.weight'] = torch.randn(
            item, cin, 3, 3, generator=g) * 0.05
        state[f'features.{index}.bias'] = torch.randn(item, generator=g)
        cin = item
        index += 2
    for i, (cin, cout) in zip((0, 3, 6), ((25088, 8), (8, 8), (8, 10))):
        # tiny classifier stand-ins: the extractor must ignore them
        state[f'classifier.{i}.weight'] = torch.randn(cout, cin, generator=g)
        state[f'classifier.{i}.bias'] = torch.randn(cout, generator=g)
    return state


@pytest.fixture(scope='module')
def vgg_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('vgg') / 'vgg16.pth'
    torch.save(_torchvision_layout_vgg16(), path)
    return str(path)


def test_gram_matrix_is_normalised_by_chw():
    feat = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    gram = gram_matrix(feat)
    expected = torch.einsum('bchw,bdhw->bcd', feat, feat) / (3 * 4 * 5)
    torch.testing.assert_close(gram, expected.float())
    assert gram.shape == (2, 3, 3)


def test_total_variation_on_a_hand_made_image():
    image = torch.tensor([[[[0., 1., 3.], [2., 2., 2.]]]])
    # horizontal |diffs|: 1, 2, 0, 0 -> mean 0.75; vertical: 2, 1, 1 -> 4/3
    assert total_variation_loss(image).item() == pytest.approx(0.75 + 4 / 3)
    assert total_variation_loss(torch.full((1, 3, 4, 4), 7.0)).item() == 0


def test_gan_bce_matches_sigmoid_bce():
    logits = torch.randn(2, 1, 5, 5)
    probs = torch.sigmoid(logits)
    torch.testing.assert_close(
        gan_bce_loss(logits, True),
        F.binary_cross_entropy(probs, torch.ones_like(probs)))
    torch.testing.assert_close(
        gan_bce_loss(logits, False),
        F.binary_cross_entropy(probs, torch.zeros_like(probs)))


def test_adversarial_loss_weights_and_discriminator_formula():
    adv = MODELS.build(dict(type='PCNetCAdversarialLoss'))
    assert adv.generator_weight == 0.1
    real, fake = torch.randn(2, 1, 3, 3), torch.randn(2, 1, 3, 3)
    torch.testing.assert_close(
        adv.generator_loss(fake), 0.1 * -F.logsigmoid(fake).mean())
    expected = 0.5 * (-F.logsigmoid(real).mean() -
                      torch.log1p(-torch.sigmoid(fake)).mean())
    torch.testing.assert_close(adv.discriminator_loss(real, fake), expected)
    assert PCNetCAdversarialLoss(generator_weight=2.0).generator_loss(
        fake) == pytest.approx(20 * adv.generator_loss(fake).item())


def test_vgg_layout_loading_and_freezing(vgg_file):
    vgg = VGG16Features(weights=vgg_file)
    keys = {f'features.{i}.{p}' for i in VGG_CONV_INDICES
            for p in ('weight', 'bias')}
    assert set(vgg.state_dict()) == keys
    source = _torchvision_layout_vgg16()
    for key in keys:
        torch.testing.assert_close(vgg.state_dict()[key], source[key])
    assert not any(p.requires_grad for p in vgg.parameters())
    vgg.train()
    assert not vgg.training
    x = torch.randn(2, 3, 32, 24, requires_grad=True)
    feats = vgg(x)
    assert [tuple(f.shape) for f in feats] == [(2, 64, 16, 12),
                                               (2, 128, 8, 6),
                                               (2, 256, 4, 3)]
    # pool1 equals a direct computation with the file's weights
    h = F.relu(F.conv2d(x, source['features.0.weight'],
                        source['features.0.bias'], padding=1))
    h = F.relu(F.conv2d(h, source['features.2.weight'],
                        source['features.2.bias'], padding=1))
    torch.testing.assert_close(feats[0], F.max_pool2d(h, 2))
    feats[2].sum().backward()  # gradients reach the input
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_vgg_accepts_a_wrapped_checkpoint(tmp_path):
    path = tmp_path / 'wrapped.pth'
    torch.save({'state_dict': _torchvision_layout_vgg16(seed=1)}, path)
    vgg = VGG16Features(weights=str(path))
    torch.testing.assert_close(
        vgg.features[14].weight,
        _torchvision_layout_vgg16(seed=1)['features.14.weight'])


def test_vgg_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        VGG16Features(weights=str(tmp_path / 'nope.pth'))
    state = _torchvision_layout_vgg16()
    del state['features.12.bias']
    torch.save(state, tmp_path / 'missing.pth')
    with pytest.raises(VGGWeightsError, match=r'features\.12\.bias'):
        VGG16Features(weights=str(tmp_path / 'missing.pth'))
    state = _torchvision_layout_vgg16()
    state['features.5.weight'] = torch.zeros(128, 32, 3, 3)
    torch.save(state, tmp_path / 'shape.pth')
    with pytest.raises(VGGWeightsError, match=r'features\.5\.weight'):
        VGG16Features(weights=str(tmp_path / 'shape.pth'))


def test_vgg_random_weights_warn():
    with mock.patch('mmdeocc.models.vgg_features.print_log') as log:
        vgg = VGG16Features()
    assert log.call_count == 1 and 'random' in log.call_args[0][0]
    assert vgg.features[0].weight.abs().sum() > 0


def _batch(seed=0, size=16):
    g = torch.Generator().manual_seed(seed)
    gt = torch.randn(2, 3, size, size, generator=g)
    visible = (torch.rand(2, 1, size, size, generator=g) > 0.3).float()
    output = torch.randn(2, 3, size, size, generator=g)
    return gt, visible, output


def test_inpainting_loss_terms_match_the_definitions(vgg_file):
    loss = PCNetCInpaintingLoss(
        vgg=dict(type='VGG16Features', weights=vgg_file))
    assert (loss.valid_weight, loss.hole_weight, loss.perceptual_weight,
            loss.style_weight, loss.tv_weight) == (1.0, 6.0, 0.1, 250.0, 0.1)
    gt, visible, output = _batch()
    masked_input = gt * visible
    losses = loss(masked_input, visible, output, gt)
    assert set(losses) == {
        'loss_valid', 'loss_hole', 'loss_perceptual', 'loss_style', 'loss_tv'
    }
    m = visible.expand_as(gt)
    comp = m * masked_input + (1 - m) * output
    torch.testing.assert_close(losses['loss_valid'],
                               (m * output - m * gt).abs().mean())
    torch.testing.assert_close(losses['loss_hole'],
                               6 * ((1 - m) * (output - gt)).abs().mean())
    vgg = loss.vgg
    f_out, f_comp, f_gt = vgg(output), vgg(comp), vgg(gt)
    prc = sum((a - c).abs().mean() + (b - c).abs().mean()
              for a, b, c in zip(f_out, f_comp, f_gt))
    style = sum((gram_matrix(a) - gram_matrix(c)).abs().mean() +
                (gram_matrix(b) - gram_matrix(c)).abs().mean()
                for a, b, c in zip(f_out, f_comp, f_gt))
    torch.testing.assert_close(losses['loss_perceptual'], 0.1 * prc)
    torch.testing.assert_close(losses['loss_style'], 250 * style)
    torch.testing.assert_close(losses['loss_tv'],
                               0.1 * total_variation_loss(comp))


def test_inpainting_loss_weights_are_options(vgg_file):
    vgg = VGG16Features(weights=vgg_file)
    gt, visible, output = _batch(seed=1)
    base = PCNetCInpaintingLoss(vgg=vgg)(gt * visible, visible, output, gt)
    doubled = MODELS.build(
        dict(type='PCNetCInpaintingLoss', valid_weight=2, hole_weight=12,
             perceptual_weight=0.2, style_weight=500, tv_weight=0.2,
             vgg=vgg))(gt * visible, visible, output, gt)
    for key in base:
        torch.testing.assert_close(doubled[key], 2 * base[key])
    no_vgg = PCNetCInpaintingLoss(perceptual_weight=0, style_weight=0)
    assert no_vgg.vgg is None
    assert set(no_vgg(gt * visible, visible, output, gt)) == {
        'loss_valid', 'loss_hole', 'loss_tv'
    }


def test_inpainting_loss_is_zero_for_a_perfect_output(vgg_file):
    loss = PCNetCInpaintingLoss(
        vgg=dict(type='VGG16Features', weights=vgg_file))
    gt, visible, _ = _batch(seed=2)
    losses = loss(gt * visible, visible, gt.clone(), gt)
    for key in ('loss_valid', 'loss_hole', 'loss_perceptual', 'loss_style'):
        assert losses[key].item() == pytest.approx(0, abs=1e-6)
    assert losses['loss_tv'] > 0  # tv of the (perfect) composite itself


def test_inpainting_loss_gradients_reach_the_output(vgg_file):
    loss = PCNetCInpaintingLoss(
        vgg=dict(type='VGG16Features', weights=vgg_file))
    gt, visible, output = _batch(seed=3)
    output.requires_grad_(True)
    total = sum(loss(gt * visible, visible, output, gt).values())
    total.backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0
    assert all(p.grad is None for p in loss.vgg.parameters())


def test_inpainting_loss_shape_error():
    loss = PCNetCInpaintingLoss(perceptual_weight=0, style_weight=0)
    with pytest.raises(ValueError, match='same shape'):
        loss(torch.zeros(1, 3, 8, 8), torch.ones(1, 1, 8, 8),
             torch.zeros(1, 3, 8, 4), torch.zeros(1, 3, 8, 8))
