"""Fast-mode model preparation: precision choice, BN folding, channels-last.

Fast mode trades bit-exactness for speed; its agreement with exact mode is
measured by ``tools/benchmarks/bench_deocclusion.py``. What is fastest
depends on the hardware:

* CUDA: fp16 autocast + channels-last.
* CPU with native bf16 (AMX or AVX512-BF16, as reported by oneDNN):
  bf16 autocast + channels-last.
* CPU without native bf16 (e.g. AVX2-only): oneDNN emulates bf16 and is
  several times *slower* than fp32, so autocast stays off; fast mode then
  means fp32 with BatchNorm folded into the preceding convolutions and
  channels-last memory format (results differ from exact mode only by float
  rounding).
"""
import copy
import logging
from typing import Optional

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

logger = logging.getLogger(__name__)


def native_bf16_cpu() -> bool:
    """Whether oneDNN runs bf16 natively on this CPU (AMX / AVX512-BF16)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def default_fast_dtype(device: torch.device) -> Optional[torch.dtype]:
    """Autocast dtype of fast mode on ``device`` (None = stay in fp32)."""
    if device.type == 'cuda':
        return torch.float16
    if device.type == 'cpu':
        return torch.bfloat16 if native_bf16_cpu() else None
    return None


#: Activation budget of one single-thread fast-mode CPU sub-batch, in units
#: of (UNet width x crop pixels): the per-crop time of the folded bf16
#: network falls with the sub-batch until a batch's feature maps outgrow
#: the caches (docs/benchmarks.md, "Fast mode with sub-batches sized by
#: the network's work").
FAST_CPU_BATCH_BUDGET = 2**17


def fast_cpu_sub_batch(width: float, input_size: int) -> int:
    """Crops per single-thread network call in fast mode on CPU.

    Args:
        width (float): UNet width multiplier (2 = the reference network).
        input_size (int): Crop side ``S``.

    Returns:
        int: ``max(1, FAST_CPU_BATCH_BUDGET // (width * S^2))``: 16 at width
        0.5 / 128 px, 4 at width 2 / 128 px or width 0.5 / 256 px, 1 at
        width 2 / 256 px.
    """
    cost = max(float(width), 1e-3) * int(input_size)**2
    return max(1, int(FAST_CPU_BATCH_BUDGET // cost))


def fold_batchnorm(model: nn.Module) -> int:
    """Fold eval-mode BatchNorm2d layers into the preceding Conv2d, in place.

    A ``BatchNorm2d`` child registered right after a ``Conv2d`` child with
    as many output channels is assumed to normalise that convolution's
    output; the pair becomes one convolution and an ``nn.Identity``. Callers
    must verify the result (see :func:`prepare_fast_model`), since the
    registration order is only a convention.

    Args:
        model (nn.Module): Model in eval mode.

    Returns:
        int: Number of folded pairs.
    """
    folded = 0
    for parent in list(model.modules()):
        children = list(parent.named_children())
        k = 0
        while k + 1 < len(children):
            (conv_name, conv), (bn_name, bn) = children[k], children[k + 1]
            if (type(conv) is nn.Conv2d and isinstance(bn, nn.BatchNorm2d)
                    and bn.track_running_stats and bn.running_mean is not None
                    and conv.out_channels == bn.num_features):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(parent, bn_name, nn.Identity())
                folded += 1
                k += 2
            else:
                k += 1
    return folded


def _probe_category_ids(model: nn.Module,
                        batch: int) -> Optional[torch.Tensor]:
    """Valid category ids for a probe forward of a ``use_category`` model."""
    if not getattr(model, 'use_category', False):
        return None
    category_map = getattr(model, 'category_map', None)
    cat_id = next(iter(category_map)) if category_map else 1
    return torch.full((batch, ), int(cat_id), dtype=torch.long)


def prepare_fast_model(model: nn.Module, input_size: int,
                       device: torch.device) -> nn.Module:
    """A fast copy of a PCNet-M: BN folded (verified) and channels-last.

    The caller's model is left untouched. Folding is kept only if a probe
    forward on random masks gives the same probabilities as the original
    (max abs difference <= 1e-4); otherwise it is undone with a warning.

    Args:
        model (nn.Module): The PCNet-M (eval mode, on ``device``).
        input_size (int): Crop side of the probe forward.
        device (torch.device): The model's device.

    Returns:
        nn.Module: The fast copy (eval mode, channels-last).
    """
    plain = copy.deepcopy(model).eval()
    fast = copy.deepcopy(plain)
    if fold_batchnorm(fast):
        gen = torch.Generator().manual_seed(0)
        modal = (torch.rand(2, input_size, input_size, generator=gen)
                 > 0.5).float().to(device)
        eraser = (torch.rand(2, input_size, input_size, generator=gen)
                  > 0.7).float().to(device)
        modal = modal * (1 - eraser)
        cats = _probe_category_ids(model, 2)
        try:
            with torch.inference_mode():
                want = plain.predict_probs(modal, eraser, cats)
                got = fast.predict_probs(modal, eraser, cats)
            ok = bool((want - got).abs().max() <= 1e-4)
        except Exception as err:  # noqa: BLE001 - any failure: keep BN
            logger.warning(
                'fast mode: probe forward failed (%s); BatchNorm '
                'is not folded', err)
            ok = False
        if not ok:
            logger.warning('fast mode: folding BatchNorm changed the model '
                           'output; keeping BatchNorm layers')
            fast = plain
    return fast.to(memory_format=torch.channels_last)
