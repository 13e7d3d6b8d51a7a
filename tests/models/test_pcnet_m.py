"""Tests of the PCNet-M model (METHOD 1.2, 1.5) and its mmengine interface."""
import pytest
import torch
import torch.nn.functional as F
from mmengine.dataset import default_collate
from mmengine.model import BaseDataPreprocessor
from mmengine.optim import OptimWrapper

from mmdet.registry import MODELS
from mmdeocc.models import PCNetM, UnknownCategoryError


def _batch(b=3, s=32, seed=0):
    """Random binary inputs and targets in the training-sample format."""
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(b, s, s, generator=g) > 0.5).to(torch.uint8)
    eraser = (torch.rand(b, s, s, generator=g) > 0.7).float()
    modal = target.float() * (1 - eraser)
    return torch.stack([modal, eraser], dim=1), target


def _samples(b=3, s=32, seed=0, category_ids=None):
    """A list of per-sample dicts as the training pipeline produces."""
    inputs, target = _batch(b, s, seed)
    ids = category_ids or [1] * b
    return [
        dict(inputs=inputs[i],
             data_samples=dict(target=target[i], category_id=ids[i]))
        for i in range(b)
    ]


def test_build_from_registry_with_defaults():
    model = MODELS.build(dict(type='PCNetM'))
    assert isinstance(model, PCNetM)
    assert model.width == 2 and model.in_size == 256
    assert model.inmask_weight == 5.0 and not model.use_category
    assert sum(p.numel() for p in model.parameters()) == 3_352_002
    assert isinstance(model.data_preprocessor, BaseDataPreprocessor)


def test_tensor_and_predict_modes():
    torch.manual_seed(0)
    model = PCNetM(width=0.5).eval()
    inputs, _ = _batch()
    logits = model(inputs, mode='tensor')
    assert logits.shape == (3, 2, 32, 32)
    probs = model(inputs, mode='predict')
    assert probs.shape == (3, 32, 32)
    torch.testing.assert_close(probs, logits.softmax(1)[:, 1])
    assert ((probs >= 0) & (probs <= 1)).all()


@pytest.mark.parametrize('inmask_weight', [5.0, 6.0, 1.0])
def test_loss_is_weighted_ce_over_all_pixels(inmask_weight):
    torch.manual_seed(0)
    model = PCNetM(width=0.5, inmask_weight=inmask_weight)
    inputs, target = _batch()
    losses = model(inputs, dict(target=target), mode='loss')
    logits = model(inputs, mode='tensor')
    log_p = logits.log_softmax(1)
    nll = -log_p.gather(1, target.long()[:, None])[:, 0]
    weight = torch.where(inputs[:, 1] > 0, inmask_weight, 1.0)
    expected = (nll * weight).sum() / target.numel()
    torch.testing.assert_close(losses['loss'], expected)
    if inmask_weight == 1.0:
        torch.testing.assert_close(losses['loss'],
                                   F.cross_entropy(logits, target.long()))
    assert losses['loss'].requires_grad
    assert not losses['acc'].requires_grad


def test_parity_weight_six_weighs_eraser_more():
    torch.manual_seed(0)
    inputs, target = _batch()
    five = PCNetM(width=0.5, inmask_weight=5.0)
    six = PCNetM(width=0.5, inmask_weight=6.0)
    six.load_state_dict(five.state_dict())
    l5 = five(inputs, dict(target=target), mode='loss')['loss']
    l6 = six(inputs, dict(target=target), mode='loss')['loss']
    logits = five(inputs, mode='tensor')
    ce = F.cross_entropy(logits, target.long(), reduction='none')
    inside = (ce * inputs[:, 1]).sum() / target.numel()
    torch.testing.assert_close(l6 - l5, inside)


def test_accuracy_and_iou_logging():
    model = PCNetM(width=0.5)
    target = torch.tensor([[[1, 1], [0, 0]]], dtype=torch.uint8)
    pred = torch.tensor([[[1, 0], [1, 0]]])  # 2/4 correct; IoU 1/3
    logits = torch.stack([1 - pred, pred], dim=1).float() * 4
    out = model.loss(logits, torch.zeros(1, 2, 2), target)
    assert out['acc'].item() == pytest.approx(0.5)
    assert out['fg_iou'].item() == pytest.approx(1 / 3)


def test_category_encoding_raw_ids_and_map():
    torch.manual_seed(0)
    inputs, _ = _batch(b=2)
    raw = PCNetM(width=0.5, use_category=True)
    enc = raw.encode_inputs(inputs, torch.tensor([3, 7]))
    torch.testing.assert_close(enc[:, 0], inputs[:, 0] * torch.tensor(
        [3.0, 7.0]).view(2, 1, 1))
    torch.testing.assert_close(enc[:, 1], inputs[:, 1])
    mapped = PCNetM(
        width=0.5, use_category=True, category_map={'3': 0.5, 7: 2})
    enc = mapped.encode_inputs(inputs, [3, 7])
    torch.testing.assert_close(enc[:, 0], inputs[:, 0] * torch.tensor(
        [0.5, 2.0]).view(2, 1, 1))
    # The encoding is what forward feeds to the network.
    mapped.eval()
    torch.testing.assert_close(
        mapped(inputs, dict(category_id=torch.tensor([3, 7]))),
        mapped.unet(enc))
    # Without use_category the ids are ignored: channel 0 times 1.
    plain = PCNetM(width=0.5)
    assert plain.encode_inputs(inputs, [3, 7]) is inputs


def test_category_errors():
    inputs, target = _batch(b=2)
    mapped = PCNetM(width=0.5, use_category=True, category_map={1: 1.0})
    with pytest.raises(UnknownCategoryError, match='category_id 9 '):
        mapped(inputs, dict(target=target, category_id=torch.tensor([1, 9])),
               mode='loss')
    with pytest.raises(ValueError, match='needs category_ids'):
        mapped(inputs, dict(target=target), mode='loss')
    with pytest.raises(ValueError, match='2 integers'):
        mapped.encode_inputs(inputs, [1])
    with pytest.raises(ValueError, match='2 integers'):
        mapped.encode_inputs(inputs, torch.tensor([1.0, 1.0]))
    with pytest.raises(ValueError, match="key 'car'"):
        PCNetM(width=0.5, use_category=True, category_map={'car': 1})
    with pytest.raises(ValueError, match='must be a number'):
        PCNetM(width=0.5, use_category=True, category_map={1: 'one'})


@pytest.mark.parametrize('shape', [(2, 32, 32), (2, 3, 32, 32),
                                   (2, 1, 32, 32), (2, 2, 8, 8)])
def test_bad_inputs_name_expected_shape(shape):
    model = PCNetM(width=0.5)
    with pytest.raises(ValueError, match=r'\(B, 2, H, W\)'):
        model(torch.zeros(shape), mode='tensor')


def test_bad_targets_and_modes():
    model = PCNetM(width=0.5)
    inputs, target = _batch(b=2)
    with pytest.raises(ValueError, match=r'target.*\(2, 32, 32\)'):
        model(inputs, dict(target=target[:, :16]), mode='loss')
    with pytest.raises(ValueError, match=r'\{0, 1\}.*255'):
        model(inputs, dict(target=target * 255), mode='loss')
    with pytest.raises(ValueError, match="needs data_samples\\['target'\\]"):
        model(inputs, None, mode='loss')
    with pytest.raises(ValueError, match='mode'):
        model(inputs, mode='features')
    with pytest.raises(ValueError, match='float'):
        model(inputs.to(torch.uint8), mode='tensor')
    with pytest.raises(ValueError, match='inmask_weight'):
        PCNetM(inmask_weight=-1)


def test_predict_probs():
    torch.manual_seed(0)
    model = PCNetM(width=0.5, use_category=True).eval()
    inputs, _ = _batch(b=2)
    modal, eraser = inputs[:, 0] > 0, inputs[:, 1].to(torch.uint8)
    probs = model.predict_probs(modal, eraser, category_ids=[2, 5])
    assert probs.shape == (2, 32, 32) and probs.dtype == torch.float32
    assert not probs.requires_grad
    expected = model(inputs, dict(category_id=torch.tensor([2, 5])),
                     mode='predict')
    torch.testing.assert_close(probs, expected)
    with pytest.raises(ValueError, match='needs category_ids'):
        model.predict_probs(modal, eraser)
    with pytest.raises(ValueError, match=r'same shape \(B, S, S\)'):
        model.predict_probs(modal, eraser[:, :16])


def test_train_step_with_default_collate_learns():
    torch.manual_seed(0)
    model = PCNetM(width=0.5, use_category=True, category_map={1: 1, 2: 1})
    model.init_weights()
    data = default_collate(_samples(b=4, category_ids=[1, 2, 1, 2]))
    assert data['inputs'].shape == (4, 2, 32, 32)
    assert data['data_samples']['category_id'].dtype == torch.int64
    optim = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    first = model.train_step(data, optim)
    assert set(first) == {'loss', 'acc', 'fg_iou'}
    for _ in range(15):
        last = model.train_step(data, optim)
    # Outside the eraser the target is visible in the input: the net
    # quickly learns to copy it (loss 1.52 -> ~1.0, accuracy 0.5 -> ~0.85).
    assert last['loss'].item() < 0.8 * first['loss'].item()
    assert last['acc'].item() > first['acc'].item() + 0.2
    model.eval()
    probs = model.val_step(data)
    assert probs.shape == (4, 32, 32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_batches_move_to_model_device():
    model = PCNetM(width=0.5).cuda()
    data = default_collate(_samples(b=2))
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-3))
    log = model.train_step(data, optim)
    assert log['loss'].is_cuda
    probs = model.eval().predict_probs(data['inputs'][:, 0],
                                       data['inputs'][:, 1])
    assert probs.is_cuda
    with torch.autocast('cuda', dtype=torch.bfloat16):
        probs_bf16 = model.predict_probs(data['inputs'][:, 0],
                                         data['inputs'][:, 1])
    assert probs_bf16.dtype == torch.float32
    assert (probs_bf16 - probs).abs().max() < 0.05
