"""Reproduce a reference batch size on any number of processes.

The reference trains PCNet-M with 32 samples per GPU on 8 GPUs: every
optimiser update sees 256 samples. A config states that recipe with a
top-level ``effective_batch_size = 256``; :func:`apply_effective_batch`
turns it, for the world size at hand, into gradient accumulation through
mmengine's ``optim_wrapper.accumulative_counts``:

``accumulative_counts = effective_batch_size / (batch_size x world_size)``

and, because mmengine counts *iterations* (forward passes) rather than
updates, it multiplies the schedule by the same factor: ``max_iters``, the
iteration-based scheduler milestones / ``begin`` / ``end`` and the
checkpoint interval. BatchNorm statistics stay per micro-batch of
``batch_size`` samples, as on each of the reference's GPUs (no synced BN),
so 1 GPU x 8 accumulation steps computes the same updates as 8 GPUs.
"""
import os
from typing import Any, Optional

#: Environment variables that carry the world size, per launcher.
WORLD_SIZE_ENV = {
    'pytorch': ('WORLD_SIZE', ),
    'slurm': ('SLURM_NTASKS', 'WORLD_SIZE'),
    'mpi': ('OMPI_COMM_WORLD_SIZE', 'WORLD_SIZE'),
}


class EffectiveBatchError(ValueError):
    """The effective batch cannot be reached with this configuration."""


def world_size_from_env(launcher: str) -> int:
    """Number of training processes the launcher starts.

    Args:
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        int: 1 for ``'none'``; otherwise the launcher's environment value
        (1 when unset).
    """
    for name in WORLD_SIZE_ENV.get(launcher, ()):
        value = os.environ.get(name)
        if value:
            return int(value)
    return 1


def _scale_schedule(cfg: Any, factor: int) -> None:
    """Multiply the iteration-based schedule of ``cfg`` by ``factor``."""
    train_cfg = cfg.get('train_cfg') or {}
    if 'max_iters' in train_cfg:
        train_cfg['max_iters'] = int(train_cfg['max_iters']) * factor
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        if scheduler.get('by_epoch', True):  # mmengine's default
            continue
        if 'milestones' in scheduler:
            scheduler['milestones'] = [
                int(m) * factor for m in scheduler['milestones']
            ]
        for key in ('begin', 'end', 'T_max'):
            value = scheduler.get(key)
            if isinstance(value, int) and value < 2**30:
                scheduler[key] = value * factor
    checkpoint = (cfg.get('default_hooks') or {}).get('checkpoint')
    if checkpoint and not checkpoint.get('by_epoch', False) and \
            checkpoint.get('interval', 0) > 0:
        checkpoint['interval'] = int(checkpoint['interval']) * factor


def apply_effective_batch(cfg: Any, world_size: int) -> Optional[str]:
    """Set gradient accumulation so each update sees the effective batch.

    Does nothing (returns None) when the config has no
    ``effective_batch_size`` or it is None. The config is edited in place
    and the applied setting is stored as ``cfg.effective_batch`` (a dict,
    with the returned line as ``summary``).

    Args:
        cfg (mmengine.Config): The training config (``train_dataloader.
            batch_size`` per process, ``optim_wrapper``, ``train_cfg``).
        world_size (int): Number of training processes.

    Returns:
        str | None: A one-line description for the log, e.g. ``'effective
        batch 256 = 32 per process x 2 processes x 4 accumulation steps
        (schedule x4: 128000 iterations)'``.

    Raises:
        EffectiveBatchError: If the effective batch is not a multiple of
            ``batch_size x world_size``, or the config already sets
            ``accumulative_counts`` to something else.
    """
    target = cfg.get('effective_batch_size')
    if target is None:
        return None
    per_process = int(cfg.train_dataloader.batch_size)
    world_size = int(world_size)
    samples = per_process * world_size
    if target % samples:
        raise EffectiveBatchError(
            f'effective_batch_size={target} is not a multiple of '
            f'train_dataloader.batch_size ({per_process}) x {world_size} '
            f'process(es) = {samples}; choose a batch size that divides it, '
            'or --cfg-options effective_batch_size=None to train with '
            f'{samples} samples per update')
    steps = target // samples
    optim_wrapper = cfg.optim_wrapper
    current = optim_wrapper.get('accumulative_counts', 1)
    if current not in (1, steps):
        raise EffectiveBatchError(
            f'optim_wrapper.accumulative_counts={current} conflicts with '
            f'effective_batch_size={target} ({steps} steps for {samples} '
            'samples per step); set only one of them')
    cfg.effective_batch = dict(
        size=target, per_process=per_process, world_size=world_size,
        accumulative_counts=steps,
        updates=(cfg.get('train_cfg') or {}).get('max_iters'))
    if steps > 1:
        optim_wrapper['accumulative_counts'] = steps
        _scale_schedule(cfg, steps)
    iters = (cfg.get('train_cfg') or {}).get('max_iters')
    schedule = (f' (schedule x{steps}: {iters} iterations = '
                f'{cfg.effective_batch["updates"]} updates)'
                if steps > 1 and iters else '')
    summary = (f'effective batch {target} = {per_process} per process x '
               f'{world_size} process(es) x {steps} accumulation step(s)'
               f'{schedule}')
    cfg.effective_batch['summary'] = summary
    return summary
