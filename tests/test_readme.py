"""The README's command blocks work as written from a clone.

The cheap blocks run for real (in a scratch folder that links the
repository's folders, so nothing is written into the clone): the Python
snippets, the tiny detector's "scenes + tools/test.py" block and the
Python inferencer. Every other block is checked for what can go stale
without running hours of training: each ``python tools/...`` script, each
``bash tools/...`` script and each ``configs/...`` / ``checkpoints/...``
path it names exists, and each Python tool answers ``--help``.
"""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
#: What the scratch folder links from the clone.
LINKED = ('mmdeocc', 'configs', 'checkpoints', 'tools', 'demo')

pytestmark = pytest.mark.usefixtures('one_torch_thread')


def readme_blocks() -> List[Tuple[str, str]]:
    """``(language, text)`` of every fenced block of the README."""
    text = README.read_text()
    return [(m.group(1), m.group(2))
            for m in re.finditer(r'```(\w+)\n(.*?)```', text, re.S)]


def commands(block: str) -> List[str]:
    """The shell commands of a bash block (continuations joined, comments
    dropped)."""
    joined = block.replace('\\\n', ' ')
    lines = [line.split(' #')[0].strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith('#')]


def block_containing(language: str, needle: str) -> str:
    found = [text for lang, text in readme_blocks()
             if lang == language and needle in text]
    assert len(found) == 1, f'README: expected one {language} block with ' \
        f'{needle!r}, found {len(found)}'
    return found[0]


@pytest.fixture
def scratch(tmp_path):
    """A folder that looks like the clone (linked folders, own data/)."""
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'shapes').symlink_to(ROOT / 'data' / 'shapes')
    return tmp_path


def run_shell(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run one README command with this interpreter as ``python``."""
    argv = shlex.split(command)
    if argv[0] == 'python':
        argv[0] = sys.executable
    env = dict(os.environ, PYTHONPATH=str(cwd), OMP_NUM_THREADS='1')
    return subprocess.run(argv, cwd=str(cwd), env=env, capture_output=True,
                          text=True, timeout=900)


def test_every_named_tool_config_and_checkpoint_exists():
    placeholders = re.compile(r'[A-Z_]{2,}|\.\.\.|\{|\[')
    for lang, block in readme_blocks():
        if lang != 'bash':
            continue
        for command in commands(block):
            for word in shlex.split(command):
                if word.startswith(('tools/', 'configs/', 'checkpoints/')) \
                        and not placeholders.search(word):
                    assert (ROOT / word).exists(), f'README names {word}'


def test_python_tools_answer_help(capsys):
    """Each README tool parses ``--help`` (loaded in this process: one
    mmdet import for all of them)."""
    import importlib.util
    tools = set()
    for lang, block in readme_blocks():
        if lang == 'bash':
            for command in commands(block):
                tools.update(w for w in shlex.split(command)
                             if re.fullmatch(r'tools/[\w/]+\.py', w))
    assert 'tools/test.py' in tools and 'tools/train.py' in tools
    for tool in sorted(tools):
        spec = importlib.util.spec_from_file_location(
            'readme_' + re.sub(r'\W', '_', tool), str(ROOT / tool))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with pytest.raises(SystemExit) as exc:
            module.parse_args(['--help'])
        assert exc.value.code == 0, tool
        assert 'usage' in capsys.readouterr().out.lower(), tool


def test_config_snippets_compile():
    for needle in ('custom_imports', 'custom_hooks'):
        compile(block_containing('python', needle), 'README', 'exec')


def test_deoccluder_snippet_runs(scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    scope = {}
    exec(block_containing('python', 'DeOccluder(model'), scope)
    result = scope['result']
    assert result.order.shape == (2, 2)
    assert result.amodal_masks.shape == scope['modal_masks'].shape


def test_inferencer_snippet_runs(scratch, monkeypatch):
    monkeypatch.chdir(scratch)
    scope = {}
    exec(block_containing('python', 'DeOcclusionInferencer('), scope)
    pred = scope['pred']
    for key in ('labels', 'scores', 'bboxes', 'masks', 'amodal_masks',
                'order'):
        assert key in pred
    assert len(list((scratch / 'outputs' / 'py' / 'preds').iterdir())) == 4


def test_tiny_detector_test_block_runs(scratch):
    """Scenes, then MMDetection's test tool with the hook, --out and
    --show-dir, as the README says (on 8 of its 50 scenes, to keep the
    suite short: de-occluding one costs ~2 s on a loaded core)."""
    block = block_containing('bash', 'tools/test.py configs/deocclusion')
    assert '--num-scenes 50' in block
    for command in commands(block):
        command = command.replace('--num-scenes 50', '--num-scenes 8')
        proc = run_shell(command, scratch)
        assert proc.returncode == 0, f'{command}\n{proc.stderr[-2000:]}'
    assert (scratch / 'work_dirs' / 'deocc.pkl').is_file()
    pictures = list((scratch / 'work_dirs').rglob('vis/*.png'))
    assert len(pictures) == 8


def test_recompose_block_runs(scratch):
    """Scenes, the re-composition cache and the picture of re-composed
    samples, as the README says (on 6 of its 150 scenes)."""
    block = block_containing('bash', 'tools/build_recompose_cache.py')
    assert '--num-scenes 150' in block
    for command in commands(block):
        command = command.replace('--num-scenes 150', '--num-scenes 6')
        proc = run_shell(command, scratch)
        assert proc.returncode == 0, f'{command}\n{proc.stderr[-2000:]}'
    cache = scratch / 'data' / 'scenes' / 'recompose_train' / 'recompose_cache'
    assert len(list((cache / 'entries').glob('*.npz'))) == 6
    assert (scratch / 'grid.png').is_file()


def test_heldout_outline_block_runs(scratch):
    """Split COCO128, cut the held-out outlines, compose scenes and
    evaluate, as the README says (6 of its 200 scenes)."""
    block = block_containing('bash', 'tools/dataset_converters/split_coco.py')
    assert '--num-scenes 200' in block
    (scratch / 'data' / 'shapes').unlink()  # written here, not in the clone
    (scratch / 'data' / 'coco128').mkdir()
    (scratch / 'data' / 'coco128' / 'annotations').symlink_to(
        ROOT / 'data' / 'coco128' / 'annotations')
    for command in commands(block):
        command = command.replace('--num-scenes 200', '--num-scenes 6')
        proc = run_shell(command, scratch)
        assert proc.returncode == 0, f'{command}\n{proc.stderr[-2000:]}'
    shapes = list((scratch / 'data' / 'shapes' / 'coco128_holdout').glob(
        '*.png'))
    assert len(shapes) == 80
    assert 'Ours (PCNet-M)' in proc.stdout and 'OG (ours)' in proc.stdout
