"""Utilities: safe (weights-only) checkpoint loading, atomic writing and
argument checks."""
from .io import atomic_open, atomic_write_bytes
from .checkpoint import (SAFE_GLOBALS, CorruptCheckpointError,
                         UnsafeCheckpointError,
                         register_safe_checkpoint_loader, safe_torch_load)
from .validation import check_choice

__all__ = [
    'atomic_open', 'atomic_write_bytes', 'SAFE_GLOBALS',
    'CorruptCheckpointError', 'UnsafeCheckpointError',
    'register_safe_checkpoint_loader', 'safe_torch_load', 'check_choice'
]
