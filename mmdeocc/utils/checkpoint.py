"""Weights-only checkpoint loading for mmengine checkpoints under torch >= 2.6.

Checkpoints are pickles. torch's weights-only unpickler refuses every global
that is not allow-listed; mmengine 0.10.7 stores numpy arrays/scalars and its
``HistoryBuffer`` in ``meta`` and ``message_hub``, so its own checkpoints fail
to load. Instead of disabling weights-only loading, this module allow-lists
exactly those data types and makes mmengine's local-file loader use it. Any
other pickled object is refused with :class:`UnsafeCheckpointError`.
"""
import os.path as osp
import pickle
import re
from typing import Any, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint contains a pickled object outside the allow-list."""


class CorruptCheckpointError(ValueError):
    """A checkpoint file is truncated or is not a torch checkpoint."""


def _numpy_safe_globals() -> List[Any]:
    """Numpy callables/types that plain numpy arrays and scalars pickle to."""
    found: List[Any] = [np.ndarray, np.dtype]
    for module_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            module = __import__(module_name, fromlist=['_reconstruct'])
        except ImportError:
            continue
        found += [module._reconstruct, module.scalar]
    # Concrete dtype classes (numpy >= 1.25), e.g. numpy.dtypes.Float64DType.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        found += [
            getattr(dtypes, name) for name in dir(dtypes)
            if name.endswith('DType')
            and isinstance(getattr(dtypes, name), type)
        ]
    return found


_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """A ``getattr`` that only resolves HistoryBuffer's default statistics.

    mmengine pickles ``HistoryBuffer._statistics_methods`` as
    ``getattr(HistoryBuffer, 'min')`` and so on. Allow-listing the builtin
    ``getattr`` would let a checkpoint reach arbitrary attributes; this
    stand-in is registered under the builtin's pickled name instead and
    refuses everything else.

    Args:
        obj (Any): The object whose attribute is requested.
        name (str): The attribute name.

    Returns:
        Any: ``getattr(HistoryBuffer, name)`` for the default statistics.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Unsupported global: GLOBAL getattr({obj!r}, {name!r}) is not an '
        'allowed attribute access')


#: Globals a weights-only load may construct besides torch's own defaults.
SAFE_GLOBALS: List[Any] = _numpy_safe_globals() + [
    HistoryBuffer,
    (_history_buffer_getattr, '__builtin__.getattr'),
    (_history_buffer_getattr, 'builtins.getattr'),
]


def safe_torch_load(filename: str,
                    map_location: Optional[Any] = 'cpu') -> Any:
    """Load a checkpoint with weights-only unpickling plus the allow-list.

    Args:
        filename (str): Path of the checkpoint file.
        map_location (Any): Passed to :func:`torch.load`.

    Returns:
        Any: The unpickled object (usually a dict).

    Raises:
        FileNotFoundError: If the file does not exist.
        UnsafeCheckpointError: If the file pickles an object that is not a
            tensor, a container, a numpy array/scalar or an mmengine
            ``HistoryBuffer``.
        CorruptCheckpointError: If the file is not a readable checkpoint.
    """
    filename = osp.expanduser(str(filename))
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} does not exist')
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(
                filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        match = re.search(r'Unsupported global: GLOBAL ([\w.]+)', str(err))
        if match is None and 'not an allowed attribute access' not in str(
                err):
            raise CorruptCheckpointError(
                f'cannot read checkpoint {filename}: it is not a valid '
                f'torch checkpoint ({str(err).splitlines()[-1][:200]})'
            ) from None
        what = match.group(1) if match else 'getattr'
        raise UnsafeCheckpointError(
            f'refusing to load checkpoint {filename}: it contains the pickled '
            f'object "{what}", which weights-only loading does not allow. '
            'mmdeocc loads tensors, plain containers, numpy arrays/scalars '
            'and mmengine HistoryBuffer only. If you trust the file, '
            're-save its state_dict with torch.save(...) from a trusted '
            'session.') from None
    except (RuntimeError, EOFError, ValueError) as err:
        raise CorruptCheckpointError(
            f'cannot read checkpoint {filename}: the file is truncated or '
            f'not a torch checkpoint ({err})') from None


def _load_from_local(filename: str, map_location: Optional[Any]) -> Any:
    """mmengine loader for local paths that uses :func:`safe_torch_load`."""
    return safe_torch_load(filename, map_location=map_location)


def register_safe_checkpoint_loader() -> None:
    """Make mmengine's ``load_checkpoint``/``resume``/``load_from`` safe.

    Re-registers mmengine's scheme for local paths (prefix ``''``) so that
    every local checkpoint loaded through mmengine goes through
    :func:`safe_torch_load`.
    """
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)


register_safe_checkpoint_loader()
