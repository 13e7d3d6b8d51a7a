"""How command-line tools end: one readable line for bad input.

A tool's ``main`` raises the package's clear errors (``ValueError`` /
``OSError`` / ``LookupError`` subclasses naming the file and the field);
:func:`run_tool` prints them as ``tool: error: <message>`` and exits with
status 2, like argparse does for bad arguments. ``--debug`` on the command
line (or ``MMDEOCC_DEBUG=1``) shows the full traceback instead. Other
exceptions are bugs and keep their traceback.
"""
import os
import os.path as osp
import pickle
import sys
from typing import Any, Callable, Dict, List, Optional

__all__ = ['USER_ERRORS', 'DEBUG_ENV', 'run_tool', 'load_tool_config']

#: Exceptions that mean "the input is wrong", reported in one line.
USER_ERRORS = (ValueError, OSError, LookupError, pickle.UnpicklingError)
#: Environment variable that turns on full tracebacks.
DEBUG_ENV = 'MMDEOCC_DEBUG'


def run_tool(main: Callable[[Optional[List[str]]], Optional[int]],
             argv: Optional[List[str]] = None,
             prog: Optional[str] = None) -> int:
    """Run a tool's ``main(argv)`` and turn bad-input errors into one line.

    Args:
        main (Callable): The tool's entry point; takes the argument list and
            returns an exit status (None means 0).
        argv (list[str], optional): Arguments (default ``sys.argv[1:]``);
            ``--debug`` is taken out of them before ``main`` sees them.
        prog (str, optional): Tool name for the message (default: the
            script's file name).

    Returns:
        int: The exit status: ``main``'s, 2 for bad input, 130 when
        interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get(DEBUG_ENV, '') not in ('', '0')
    if '--debug' in argv:
        argv.remove('--debug')
        debug = True
    prog = prog or osp.basename(sys.argv[0]) or 'mmdeocc'
    try:
        status = main(argv)
    except USER_ERRORS as err:
        if debug:
            raise
        message = str(err) or type(err).__name__
        print(f'{prog}: error: {message} (--debug or {DEBUG_ENV}=1 for the '
              'traceback)', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if debug:
            raise
        print(f'{prog}: interrupted', file=sys.stderr)
        return 130
    return status if isinstance(status, int) else 0


def load_tool_config(path: str,
                     cfg_options: Optional[Dict[str, Any]] = None,
                     default: Optional[Dict[str, Any]] = None) -> Any:
    """A tool's optional config: a file, or ``'none'`` for ``default``.

    Args:
        path (str): Config file, or ``'none'`` (any case).
        cfg_options (dict, optional): Dotted overrides
            (``--cfg-options``), merged last.
        default (dict, optional): Content used for ``'none'`` (default:
            empty).

    Returns:
        mmengine.config.Config: The config.

    Raises:
        FileNotFoundError: ``path`` is neither ``'none'`` nor a file.
    """
    from mmengine.config import Config
    if path.lower() == 'none':
        cfg = Config(dict(default or {}))
    elif not osp.isfile(path):
        raise FileNotFoundError(f'config file not found: {path}')
    else:
        cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg
