"""Exact mode reproduces the reference implementation's own outputs.

The golden files in ``tests/data/reference_golden/`` were written by the
reference implementation (XiaohangZhan/deocclusion, run on CPU by
``tools/benchmarks/bench_ref_parity.py --save-golden``) with the committed
checkpoints, on modal masks stored in the files. The test runs mmdeocc's
exact mode on the same masks with the same checkpoint and requires every
output to be identical: the dual-completion order, OG and NOG amodal masks,
the area / y-axis / convex orders and the Convex / Convex^R masks.
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mmdeocc.models import load_pcnet_m

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / 'tests' / 'data' / 'reference_golden'
sys.path.insert(0, str(ROOT / 'tools' / 'benchmarks'))

from bench_ref_parity import build_deoccluders, run_mmdeocc  # noqa: E402

pytestmark = pytest.mark.usefixtures('one_torch_thread')

CASES = [
    ('scenes_pcnet_m_shapes.npz', 'checkpoints/pcnet_m_shapes.pth'),
    ('coco128_pcnet_m_coco128.npz', 'checkpoints/pcnet_m_coco128.pth'),
]


def _golden_images(data):
    names = sorted({key.split('/')[0] for key in data.files if '/' in key})
    for name in names:
        shape = tuple(data[f'{name}/shape'])
        count = int(np.prod(shape))

        def unpack(key, shape=shape, count=count):
            return np.unpackbits(data[key])[:count].reshape(shape).astype(
                bool)

        expected = {}
        for key in data.files:
            if not key.startswith(name + '/') or key.endswith(
                    ('/shape', '/modal')):
                continue
            kind = key.split('/', 1)[1]
            expected[kind] = (data[key] if kind.startswith('order') else
                              unpack(key))
        yield name, unpack(f'{name}/modal').astype(np.uint8), expected


@pytest.mark.parametrize('golden, checkpoint', CASES)
def test_exact_mode_equals_reference(golden, checkpoint):
    data = np.load(GOLDEN / golden)
    info = json.loads(str(data['info']))
    digest = hashlib.sha256((ROOT / checkpoint).read_bytes()).hexdigest()
    assert digest == info['checkpoint_sha256'], (
        f'{checkpoint} is not the checkpoint {golden} was made with; '
        'regenerate it with tools/benchmarks/bench_ref_parity.py '
        '--save-golden (see tests/data/reference_golden/SOURCE.txt)')
    model = load_pcnet_m(str(ROOT / checkpoint))
    images = list(_golden_images(data))
    assert len(images) >= 8
    related = objects = 0
    deoccluders = build_deoccluders(model, info['input_size'], fast=False)
    for name, modal, expected in images:
        ours, _ = run_mmdeocc(deoccluders, modal)
        assert set(ours) == set(expected)
        for kind, value in expected.items():
            np.testing.assert_array_equal(
                ours[kind], value, err_msg=f'{golden}: {name} {kind}')
        related += int((expected['order_ours'] != 0).sum() // 2)
        objects += len(modal)
    # The files exercise real occlusions, not trivial scenes.
    assert related >= 2 * len(images) and objects >= 4 * len(images)
