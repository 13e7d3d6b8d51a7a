"""bf16 autocast training on CPUs that run bf16 natively.

mmengine's ``AmpOptimWrapper`` is GPU-only. On CPUs with native bf16
(AVX512-BF16 or AMX, as oneDNN reports) bf16 autocast with channels-last
makes PCNet-M training 2-3x faster; where bf16 is emulated (AVX2-only
CPUs) it is many times *slower*. :func:`training_precision`
chooses, :class:`CPUBF16OptimWrapper` runs it: weights, gradients and the
optimiser stay fp32 (bf16 has fp32's exponent range, so no loss scaling),
only the forward pass is autocast.
"""
from contextlib import contextmanager

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from mmdet.registry import OPTIM_WRAPPERS
from mmdeocc.deocclusion.fast import native_bf16_cpu

__all__ = ['CPUBF16OptimWrapper', 'training_precision']


@OPTIM_WRAPPERS.register_module()
class CPUBF16OptimWrapper(OptimWrapper):
    """An ``OptimWrapper`` whose forward pass runs under CPU bf16 autocast.

    With ``channels_last`` (the default) the model's parameters are moved
    to the channels-last memory format the first time the context is
    entered (in place: the optimiser keeps the same parameter objects), so
    oneDNN's convolutions skip a layout conversion per layer: on an
    AVX512-BF16 CPU this makes PCNet-M training 2.3-3.2x faster than fp32,
    against 1.6-2.2x for autocast alone (docs/benchmarks.md). Use it only
    where :func:`training_precision` says ``'cpu_bf16'``; elsewhere it is
    correct but slow. Example::

        optim_wrapper = dict(type='CPUBF16OptimWrapper',
                             optimizer=dict(type='Adam', lr=1e-3))

    Args:
        *args: ``OptimWrapper``'s arguments (``optimizer``, ...).
        channels_last (bool): Move the model to channels-last.
            Defaults to True.
        **kwargs: ``OptimWrapper``'s keyword arguments.
    """

    def __init__(self, *args, channels_last: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.channels_last = channels_last
        self._layout_done = False

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of ``OptimWrapper`` plus autocast.

        Args:
            model (nn.Module): The training model.
        """
        if self.channels_last and not self._layout_done:
            model.to(memory_format=torch.channels_last)
            self._layout_done = True
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=torch.bfloat16):
            yield


def training_precision(cuda: bool) -> str:
    """What ``tools/train.py --amp`` runs on this machine.

    Args:
        cuda (bool): Whether training runs on CUDA.

    Returns:
        str: ``'cuda_amp'`` (mmengine's ``AmpOptimWrapper``), ``'cpu_bf16'``
        (:class:`CPUBF16OptimWrapper`) or ``'fp32'`` (a CPU without native
        bf16: autocast would be slower than fp32).
    """
    if cuda:
        return 'cuda_amp'
    return 'cpu_bf16' if native_bf16_cpu() else 'fp32'
