"""Atomic file writing: a crash never leaves a truncated file behind."""
import contextlib
import json
import os
import os.path as osp
import pickle
import tempfile
from typing import IO, Any, Iterator, Optional


def _umask() -> int:
    """The process umask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(path: str,
                mode: str = 'wb',
                prefix: Optional[str] = None,
                encoding: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success move it there.

    The temporary file lives in the destination folder (created if needed),
    is flushed and fsynced, gets the usual permissions (``0666 & ~umask``,
    not ``mkstemp``'s 0600) and replaces ``path`` with ``os.replace``. On any
    exception it is removed and ``path`` is left untouched.

    Args:
        path (str): Destination file.
        mode (str): ``'wb'`` or ``'w'``.
        prefix (str, optional): Name prefix of the temporary file (default
            ``'.<basename>.'``), so callers can find leftovers of a killed run.
        encoding (str, optional): Text encoding for ``mode='w'`` (UTF-8 by
            default).

    Yields:
        IO: The open temporary file.
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=prefix or f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    try:
        if mode == 'w':
            f = os.fdopen(fd, mode, encoding=encoding or 'utf-8')
        else:
            f = os.fdopen(fd, mode)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_open`)."""
    with atomic_open(path, 'wb') as f:
        f.write(data)


def atomic_write_text(text: str, path: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically (see :func:`atomic_open`).

    Args:
        text (str): Content.
        path (str): Destination (its folder is created).
    """
    with atomic_open(path, 'w') as f:
        f.write(text)


def atomic_write_json(obj: Any,
                      path: str,
                      prefix: Optional[str] = None,
                      compact: bool = True) -> None:
    """Write ``obj`` as JSON to ``path`` atomically.

    A reader (or a resumed run) sees either the old file or the complete new
    one, never a truncated file, whenever the process is killed.

    Args:
        obj (Any): JSON-serialisable object.
        path (str): Destination (its folder is created).
        prefix (str, optional): Temporary-file prefix (see
            :func:`atomic_open`).
        compact (bool): No spaces after separators (``','`` / ``':'``);
            False writes ``json.dumps``' default separators.
    """
    separators = (',', ':') if compact else None
    with atomic_open(path, 'w', prefix=prefix) as f:
        json.dump(obj, f, separators=separators)


def atomic_pickle_dump(obj: Any, path: str) -> None:
    """Pickle ``obj`` to ``path`` atomically (highest protocol).

    Args:
        obj (Any): Object to pickle.
        path (str): Destination (its folder is created).
    """
    with atomic_open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
