"""Utilities: safe (weights-only) checkpoint loading, atomic writing,
argument checks and the device of a module."""
from .checkpoint import (SAFE_GLOBALS, CorruptCheckpointError,
                         UnsafeCheckpointError, checkpoint_state_dict,
                         register_safe_checkpoint_loader, safe_torch_load,
                         state_dict_coverage)
from .device import module_device
from .io import (atomic_open, atomic_pickle_dump, atomic_write_bytes,
                 atomic_write_json, atomic_write_text)
from .jobs import (JobError, JobReport, JobSettingsMismatchError, ShardedJob,
                   job_fingerprint, run_sharded_job, write_job_json)
from .validation import check_choice

__all__ = [
    'atomic_open', 'atomic_write_bytes', 'atomic_write_text',
    'atomic_write_json', 'atomic_pickle_dump', 'SAFE_GLOBALS',
    'CorruptCheckpointError', 'UnsafeCheckpointError',
    'register_safe_checkpoint_loader', 'safe_torch_load',
    'checkpoint_state_dict', 'state_dict_coverage', 'check_choice',
    'module_device', 'ShardedJob', 'JobReport', 'JobError',
    'JobSettingsMismatchError', 'run_sharded_job', 'job_fingerprint',
    'write_job_json'
]
