"""Utilities: safe (weights-only) checkpoint loading."""
from .checkpoint import (SAFE_GLOBALS, CorruptCheckpointError,
                         UnsafeCheckpointError,
                         register_safe_checkpoint_loader, safe_torch_load)

__all__ = [
    'SAFE_GLOBALS', 'CorruptCheckpointError', 'UnsafeCheckpointError',
    'register_safe_checkpoint_loader', 'safe_torch_load'
]
