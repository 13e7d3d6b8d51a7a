"""Fast-mode preparation: precision choice and verified BatchNorm folding."""
import logging

import torch
from torch import nn

from deocc_helpers import random_pcnet
from mmdeocc.deocclusion.fast import (default_fast_dtype, fold_batchnorm,
                                      native_bf16_cpu, prepare_fast_model)


def test_default_fast_dtype():
    assert default_fast_dtype(torch.device('cuda')) == torch.float16
    expected = torch.bfloat16 if native_bf16_cpu() else None
    assert default_fast_dtype(torch.device('cpu')) == expected


def test_fold_batchnorm_keeps_outputs():
    model = random_pcnet(seed=5)
    folded = random_pcnet(seed=5)
    count = fold_batchnorm(folded)
    num_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert count == num_bn > 0
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    modal = (torch.rand(3, 32, 32) > 0.5).float()
    eraser = (torch.rand(3, 32, 32) > 0.7).float()
    want = model.predict_probs(modal, eraser)
    got = folded.predict_probs(modal, eraser)
    assert torch.allclose(want, got, atol=1e-5)


class _SwappedOrder(nn.Module):
    """Registration order conv, bn but the forward applies bn to the input:
    folding by registration order would be wrong."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.head = nn.Conv2d(2, 2, 1)
        with torch.no_grad():
            self.bn.running_mean.fill_(0.7)
            self.bn.running_var.fill_(3.0)

    def predict_probs(self, modal, eraser, category_ids=None):
        x = torch.stack([modal, eraser], 1)
        return self.head(self.conv(self.bn(x))).softmax(1)[:, 1]


def test_wrong_fold_is_detected_and_undone(caplog):
    model = _SwappedOrder().eval()
    with caplog.at_level(logging.WARNING):
        fast = prepare_fast_model(model, 16, torch.device('cpu'))
    assert any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert 'keeping BatchNorm' in caplog.text
    modal = (torch.rand(2, 16, 16) > 0.5).float()
    assert torch.allclose(
        fast.predict_probs(modal, 1 - modal),
        model.predict_probs(modal, 1 - modal),
        atol=1e-6)
    # The caller's model keeps its layers.
    assert isinstance(model.bn, nn.BatchNorm2d)


def test_prepare_fast_model_category_model():
    model = random_pcnet(seed=6, use_category=True, category_map={3: 2.0})
    fast = prepare_fast_model(model, 32, torch.device('cpu'))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    modal = (torch.rand(2, 32, 32) > 0.5).float()
    cats = torch.tensor([3, 3])
    assert torch.allclose(
        fast.predict_probs(modal, 1 - modal, cats),
        model.predict_probs(modal, 1 - modal, cats),
        atol=1e-5)
