"""The package's layers, read from its imports (docs/design.md, "Layers").

Each subpackage may import only packages on lower floors (and itself); no
module-level import cycles; the bottom floor (``mmdeocc.structures``) loads
no model, dataset or core code. Imports inside functions count too (a lazy
import of a higher floor is still a back-edge).
"""
import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / 'mmdeocc'

#: Floor of each subpackage; a module may import its own subpackage and any
#: subpackage on a strictly lower floor.
FLOORS = {
    'version': 0,
    'utils': 0,
    'structures': 1,
    'datasets': 2,
    'models': 2,
    'deocclusion': 3,
    'visualization': 4,
    'evaluation': 4,
    'engine': 5,
    'apis': 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    if parts[-1] == '__init__':
        parts.pop()
    return '.'.join(parts)


def _imports() -> Tuple[Dict[str, Set[str]], Dict[str, Set[str]]]:
    """``(module-level, all)`` mmdeocc imports of every mmdeocc module."""
    modules = {_module_name(p): p for p in PACKAGE.rglob('*.py')}
    top_level, every = defaultdict(set), defaultdict(set)
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        is_package = path.name == '__init__.py'
        body = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split('.')
                    if not is_package:
                        base = base[:-1]
                    base = base[:len(base) - node.level + 1]
                    source = '.'.join(base + ([node.module]
                                              if node.module else []))
                else:
                    source = node.module or ''
                targets = [
                    f'{source}.{a.name}'
                    if f'{source}.{a.name}' in modules else source
                    for a in node.names
                ]
            for target in targets:
                if target.split('.')[0] != 'mmdeocc':
                    continue
                every[name].add(target)
                if id(node) in body:
                    top_level[name].add(target)
    return top_level, every


def _subpackage(module: str) -> str:
    parts = module.split('.')
    return parts[1] if len(parts) > 1 else ''


def test_every_subpackage_has_a_floor():
    found = {p.name for p in PACKAGE.iterdir()
             if (p / '__init__.py').exists()}
    found |= {p.stem for p in PACKAGE.glob('*.py') if p.stem != '__init__'}
    assert found <= set(FLOORS), f'no floor for {sorted(found - set(FLOORS))}'


def test_no_import_from_a_higher_floor():
    _, every = _imports()
    back_edges = []
    for module, targets in every.items():
        own = _subpackage(module)
        if not own:  # the root package registers everything
            continue
        for target in targets:
            other = _subpackage(target)
            if other and other != own and FLOORS[other] >= FLOORS[own]:
                back_edges.append(f'{module} -> {target}')
    assert not back_edges, 'imports of a higher (or sibling) floor:\n' + \
        '\n'.join(sorted(back_edges))


def test_no_module_level_import_cycles():
    top_level, _ = _imports()
    graph = {m: {t for t in ts if t != 'mmdeocc'}
             for m, ts in top_level.items() if m != 'mmdeocc'}

    def parents(module):  # importing a.b.c runs a.b's __init__ first
        parts = module.split('.')
        return {'.'.join(parts[:k]) for k in range(2, len(parts))}

    for module in list(graph):
        graph[module] |= {p for t in graph[module] for p in parents(t)
                          if p not in parents(module) and p != module}
    state: Dict[str, int] = {}
    cycle = []

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle.extend(stack[stack.index(nxt):] + [nxt])
                return True
            if state.get(nxt) is None and visit(nxt, stack):
                return True
        stack.pop()
        state[node] = 2
        return False

    for module in sorted(graph):
        if state.get(module) is None and visit(module, []):
            break
    assert not cycle, 'import cycle: ' + ' -> '.join(cycle)


@pytest.mark.parametrize('package,forbidden', [
    ('mmdeocc.structures',
     ('mmdeocc.models', 'mmdeocc.deocclusion', 'mmdeocc.datasets',
      'mmdeocc.evaluation', 'mmdeocc.engine', 'mmdeocc.apis', 'mmdet')),
    ('mmdeocc.datasets', ('mmdeocc.models', 'mmdeocc.deocclusion',
                          'mmdeocc.evaluation', 'mmdeocc.apis')),
    ('mmdeocc.deocclusion', ('mmdeocc.evaluation', 'mmdeocc.engine',
                             'mmdeocc.apis')),
])
def test_a_floor_loads_nothing_above_it(package, forbidden):
    """Import one subpackage without the root's registration imports."""
    code = (
        'import sys, types\n'
        f'root = types.ModuleType("mmdeocc"); root.__path__ = [{str(PACKAGE)!r}]\n'
        'sys.modules["mmdeocc"] = root\n'
        f'import {package}\n'
        f'bad = sorted(m for m in sys.modules if m.startswith({forbidden!r}))\n'
        'print("\\n".join(bad))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, cwd=str(ROOT), timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == '', \
        f'import {package} loaded:\n{out.stdout}'
