"""Devices and process groups of the sharded offline jobs (label generation,
the re-composition cache): ranks only exchange control messages, results
go through part files (:mod:`mmdeocc.utils.jobs`)."""
import os
from typing import Optional, Type

import torch
from mmengine.dist import init_dist

__all__ = [
    'resolve_job_device', 'init_job_distributed', 'finish_job_distributed'
]


def resolve_job_device(device: Optional[str],
                       launcher: str,
                       error_cls: Type[Exception] = ValueError) -> str:
    """The working device of this process.

    Under a launcher, ``'cuda'`` means ``cuda:(LOCAL_RANK % number of
    GPUs)``, so several processes may share a GPU (they parallelise the
    CPU-side work: JSON, RLE decoding/encoding, image reading); an explicit
    ``'cuda:K'`` is kept.

    Args:
        device (str, optional): Requested device (default: cuda if
            available, else cpu).
        launcher (str): Job launcher (``'none'``, ``'pytorch'``, ...).
        error_cls (type): Exception raised when CUDA is asked for and
            missing.

    Returns:
        str: A torch device string.
    """
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            raise error_cls(
                f'--device {device}: CUDA is not available on this machine')
        if launcher != 'none' and device == 'cuda':
            device = f'cuda:{local_rank % torch.cuda.device_count()}'
    return device


def init_job_distributed(launcher: str, device: str) -> None:
    """Start the process group of a sharded job.

    Only control messages travel between ranks (a barrier and rank 0's
    decision about the work folder), so the gloo backend serves every case.
    mmengine's ``init_dist`` is used when each process has its own GPU; with
    CPU processes, or more processes than GPUs, the group is started
    directly (mmengine's pytorch launcher calls
    ``torch.cuda.set_device(LOCAL_RANK)``, which fails there).

    Args:
        launcher (str): Job launcher; ``'none'`` does nothing.
        device (str): This process's device (:func:`resolve_job_device`).
    """
    if launcher == 'none':
        return
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    if device.startswith('cuda') and \
            local_rank < torch.cuda.device_count():
        init_dist(launcher, backend='gloo')
        torch.cuda.set_device(torch.device(device))
    else:
        torch.distributed.init_process_group(backend='gloo')


def finish_job_distributed(launcher: str) -> None:
    """End a job's process group: wait for every rank, then tear it down.

    Every rank must be done before the group's threads go away (a process
    that exits with a live gloo group can abort). A no-op without a
    launcher or without a group.

    Args:
        launcher (str): The tool's ``--launcher`` (``'none'`` = single
            process).
    """
    import torch.distributed as dist
    if launcher != 'none' and dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
