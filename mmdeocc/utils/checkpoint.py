"""Weights-only checkpoint loading for mmengine checkpoints under torch >= 2.6.

Checkpoints are pickles. torch's weights-only unpickler refuses every global
that is not allow-listed; mmengine 0.10.7 stores numpy arrays/scalars and its
``HistoryBuffer`` in ``meta`` and ``message_hub``, so its own checkpoints fail
to load. Instead of disabling weights-only loading, this module allow-lists
exactly those data types and makes mmengine's local-file loader use it. Any
other pickled object is refused with :class:`UnsafeCheckpointError`.
"""
import hashlib
import os.path as osp
import pickle
import pickletools
import re
import zipfile
from typing import Any, Dict, List, Optional, Tuple

import _compat_pickle
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


#: Globals torch.save writes for tensors and containers, and the picklers'
#: helpers of the allow-listed numpy types; anything else in a checkpoint
#: that weights-only loading refused is what made it unsafe.
_EXPECTED_GLOBAL_PREFIXES = ('torch.', 'collections.OrderedDict',
                             '_codecs.encode', 'numpy.', 'builtins.getattr',
                             'mmengine.logging.')

#: Opcodes that push a string usable by STACK_GLOBAL.
_STRING_OPCODES = ('SHORT_BINUNICODE', 'BINUNICODE', 'BINUNICODE8',
                   'UNICODE', 'SHORT_BINSTRING', 'BINSTRING', 'STRING')


def _pickle_bytes(filename: str) -> Optional[bytes]:
    """The pickle stream of a checkpoint (``data.pkl`` of a torch zip)."""
    if zipfile.is_zipfile(filename):
        with zipfile.ZipFile(filename) as archive:
            names = [n for n in archive.namelist() if n.endswith('data.pkl')]
            return archive.read(names[0]) if names else None
    with open(filename, 'rb') as f:
        return f.read()


def pickled_globals(filename: str) -> List[str]:
    """Every global a checkpoint's pickle refers to, without unpickling it.

    Reads the opcodes only (:mod:`pickletools`), so nothing in the file is
    imported or called.

    Args:
        filename (str): A ``torch.save`` (zip) file or a plain pickle.

    Returns:
        list[str]: ``module.name`` of each ``GLOBAL`` / ``STACK_GLOBAL``,
        unique, in file order; empty when the file is no readable pickle.
    """
    try:
        data = _pickle_bytes(filename)
    except (OSError, zipfile.BadZipFile, KeyError):
        return []
    if not data:
        return []
    found: List[str] = []
    strings: List[str] = []
    memo: dict = {}
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name in _STRING_OPCODES:
                strings.append(str(arg))
            elif name == 'MEMOIZE' and strings:
                memo[len(memo)] = strings[-1]
            elif name in ('PUT', 'BINPUT', 'LONG_BINPUT') and strings:
                memo[arg] = strings[-1]
            elif name in ('GET', 'BINGET', 'LONG_BINGET') and arg in memo:
                strings.append(memo[arg])
            elif name == 'GLOBAL':
                found.append(_python3_name(*str(arg).split(' ', 1)))
            elif name == 'STACK_GLOBAL' and len(strings) >= 2:
                found.append(_python3_name(strings[-2], strings[-1]))
    except Exception:  # truncated or not a pickle: report what was read
        pass
    return list(dict.fromkeys(found))


def _python3_name(module: str, name: str) -> str:
    """``module.name`` with protocol-2 module names mapped to Python 3's
    (``__builtin__`` -> ``builtins``, ``commands`` -> ``subprocess``)."""
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f'{module}.{name}'


def _is_plain_pickle(filename: str) -> bool:
    """Whether a file is a complete pickle stream (not a torch zip file)."""
    if zipfile.is_zipfile(filename):
        return False
    try:
        with open(filename, 'rb') as f:
            ops = [op.name for op, _, _ in pickletools.genops(f.read())]
    except Exception:
        return False
    return bool(ops) and ops[-1] == 'STOP'


def _unexpected_globals(filename: str) -> List[str]:
    """Globals of a checkpoint that no allowed type pickles to."""
    return [
        g for g in pickled_globals(filename)
        if not g.startswith(_EXPECTED_GLOBAL_PREFIXES)
    ]


def _unsafe_message(filename: str, what: str) -> str:
    return (f'refusing to load checkpoint {filename}: it is unsafe, it '
            f'contains the pickled object "{what}", which weights-only '
            'loading does not allow. mmdeocc loads tensors, plain '
            'containers, numpy arrays/scalars and mmengine HistoryBuffer '
            'only. If you trust the file, re-save its state_dict with '
            'torch.save(...) from a trusted session.')


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
        unexpected = _unexpected_globals(filename)
        if unexpected:
            raise UnsafeCheckpointError(_unsafe_message(
                filename, unexpected[0])) from None
        match = re.search(r'unsupported global: GLOBAL ([\w.]+)', str(err),
                          re.IGNORECASE)
        if match is not None or 'not an allowed attribute access' in str(
                err):
            raise UnsafeCheckpointError(_unsafe_message(
                filename, match.group(1) if match else 'getattr')) from None
        if _is_plain_pickle(filename):
            raise UnsafeCheckpointError(
                f'refusing to load checkpoint {filename}: it is a plain '
                'pickle, not a torch.save checkpoint, and plain pickles can '
                'run arbitrary code when loaded. Re-save its tensors with '
                'torch.save(...) from a trusted session.') from None
        raise CorruptCheckpointError(
            f'cannot read checkpoint {filename}: it is not a valid '
            f'torch checkpoint ({str(err).splitlines()[-1][:200]})'
        ) from None
    except (RuntimeError, EOFError, ValueError) as err:
        raise CorruptCheckpointError(
            f'cannot read checkpoint {filename}: the file is truncated or '
            f'not a torch checkpoint ({err})') from None


def checkpoint_state_dict(checkpoint: Any) -> Dict[str, Any]:
    """The ``state_dict`` of a loaded checkpoint (``module.`` stripped).

    Args:
        checkpoint (Any): What :func:`safe_torch_load` returned.

    Returns:
        dict: Parameter name -> tensor (empty when there is none).
    """
    if not isinstance(checkpoint, dict):
        return {}
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict):
        return {}
    return {(k[7:] if k.startswith('module.') else k): v
            for k, v in state.items() if isinstance(k, str)}


def state_dict_coverage(module: torch.nn.Module,
                        state_dict: Dict[str, Any]) -> Tuple[int, int]:
    """How many of a module's weights a state dict provides.

    Args:
        module (nn.Module): The model to load into.
        state_dict (dict): Parameter name -> tensor.

    Returns:
        tuple[int, int]: ``(matched, total)``: tensors of ``module``'s own
        state dict that ``state_dict`` holds under the same name and shape.
    """
    own = module.state_dict()
    matched = sum(
        1 for k, v in own.items()
        if k in state_dict and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) == tuple(v.shape))
    return matched, len(own)


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


def state_dict_sha256(model: torch.nn.Module) -> str:
    """Hex SHA-256 of a model's state dict (names, dtypes, shapes, bytes).

    Args:
        model (nn.Module): The model.

    Returns:
        str: The digest (equal for equal weights, whatever the device).
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
