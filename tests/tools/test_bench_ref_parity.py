"""The reference-parity benchmarks skip cleanly without the reference."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'benchmarks'))

import bench_ref_parity  # noqa: E402
import bench_ref_training_parity  # noqa: E402


@pytest.mark.parametrize('module',
                         [bench_ref_parity, bench_ref_training_parity])
def test_skips_without_ref_src(module, monkeypatch, capsys):
    monkeypatch.delenv('REF_SRC', raising=False)
    assert module.main(['unused.json']) == 0
    assert 'skipped: set REF_SRC' in capsys.readouterr().out


def test_bad_ref_src_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv('REF_SRC', str(tmp_path))
    with pytest.raises(SystemExit, match='has no inference.py'):
        bench_ref_parity.main(['unused.json'])


def test_reference_windows_follow_the_float_side():
    """The benchmark's own statement of the reference crop rule agrees
    with the core's (a 6 x 6 box at (10, 10): corner 7, side 10)."""
    import numpy as np
    import torch

    from mmdeocc.structures import integer_crop_boxes, masks_to_bboxes
    modal = np.zeros((1, 40, 40), dtype=np.uint8)
    modal[0, 10:16, 10:16] = 1
    ref = bench_ref_parity.reference_boxes(modal)
    ours = integer_crop_boxes(masks_to_bboxes(torch.from_numpy(modal > 0)))
    assert ref.tolist() == [[7, 7, 10, 10]]
    assert ours.tolist() == [[7, 7, 10]]
