"""Tools end with one line for bad input (and a traceback with --debug)."""
import subprocess
import sys
from pathlib import Path

import pytest

from mmdeocc.utils.cli import run_tool

ROOT = Path(__file__).resolve().parents[2]


def _main(argv):
    if argv and argv[0] == 'missing':
        raise FileNotFoundError('checkpoint x.pth does not exist')
    if argv and argv[0] == 'bug':
        raise ZeroDivisionError('a bug')
    return 3 if argv else None


def test_bad_input_is_one_line_with_status_2(capsys):
    assert run_tool(_main, ['missing'], prog='tool.py') == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        'tool.py: error: checkpoint x.pth does not exist (--debug or '
        'MMDEOCC_DEBUG=1 for the traceback)'
    ]


def test_debug_flag_and_env_reraise(monkeypatch):
    with pytest.raises(FileNotFoundError):
        run_tool(_main, ['missing', '--debug'])
    monkeypatch.setenv('MMDEOCC_DEBUG', '1')
    with pytest.raises(FileNotFoundError):
        run_tool(_main, ['missing'])


def test_status_and_bugs_pass_through():
    assert run_tool(_main, ['ok']) == 3
    assert run_tool(_main, []) == 0
    with pytest.raises(ZeroDivisionError):
        run_tool(_main, ['bug'])


def test_a_tool_prints_one_line_for_a_missing_config():
    out = subprocess.run(
        [sys.executable, 'tools/train.py', 'no/such/config.py'],
        capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith('train.py: error: ')
    assert 'Traceback' not in out.stderr
