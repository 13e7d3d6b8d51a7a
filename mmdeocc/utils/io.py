"""Atomic file writing: a crash never leaves a truncated file behind."""
import contextlib
import os
import os.path as osp
import tempfile
from typing import IO, Iterator, Optional


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
