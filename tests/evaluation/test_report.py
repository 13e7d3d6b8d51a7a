"""Report writing of the benchmark (mmdeocc.evaluation.report), no models.

Strict JSON (NaN/inf -> null, numpy scalars -> numbers), Markdown rows in
the order of the results (the paper's row order), atomic overwrite, and the
old import paths of the moved names.
"""
import json
import math
import os
import warnings

import numpy as np
import pytest

from mmdeocc.evaluation import AMODAL_ROWS, ORDER_ROWS
from mmdeocc.evaluation.report import format_markdown, save_results


def make_results():
    """Results shaped like ``DeOcclusionEvaluator.compute`` (every row)."""
    order = {
        name: dict(name=display, acc_occluded=50.0 + i, acc_all=60.0 + i,
                   num_occluded_pairs=10, num_pairs=20)
        for i, (name, display) in enumerate(ORDER_ROWS.items())
    }
    amodal = {
        name: dict(name=display, miou=70.0 + i, miou_inst=71.0 + i,
                   miou_occ=72.0 + i, miou_occ_inst=73.0 + i,
                   miou_inv=74.0 + i, miou_inv_inst=75.0 + i,
                   num_objects=30, num_occluded=12, num_unrecoverable=1)
        for i, (name, display) in enumerate(AMODAL_ROWS.items())
    }
    return dict(
        dataset=dict(name='Scenes (test.json)', num_images=4,
                     num_objects=30),
        settings=dict(methods=list(ORDER_ROWS), gt_order='masks'),
        order=order,
        amodal=amodal,
        timing_s=dict(total=1.5))


def test_json_is_strict_nan_and_inf_become_null(tmp_path):
    res = make_results()
    res['order']['area']['acc_all'] = float('nan')
    res['amodal']['raw']['miou_inv'] = float('inf')
    res['amodal']['ours']['miou'] = np.float32(12.5)
    res['amodal']['ours']['num_objects'] = np.int64(30)
    res['extra'] = (1.0, float('-inf'), [float('nan')])
    path = tmp_path / 'out' / 'r.json'  # the folder is created
    save_results(res, json_path=str(path))
    text = path.read_text()
    assert text.endswith('}\n')
    assert 'NaN' not in text and 'Infinity' not in text
    data = json.loads(text, parse_constant=pytest.fail)  # strict JSON
    assert data['order']['area']['acc_all'] is None
    assert data['amodal']['raw']['miou_inv'] is None
    assert data['amodal']['ours']['miou'] == 12.5
    assert data['amodal']['ours']['num_objects'] == 30
    assert data['extra'] == [1.0, None, [None]]
    # the caller's results are left untouched
    assert math.isnan(res['order']['area']['acc_all'])
    assert text == json.dumps(data, indent=2) + '\n'


def test_markdown_rows_in_documented_order():
    res = make_results()
    res['order']['yaxis']['acc_occluded'] = float('nan')
    text = format_markdown(res)
    lines = text.split('\n')
    assert lines[0] == '## De-occlusion evaluation on Scenes (test.json)'
    assert '4 images, 30 objects' in text
    assert '10 occluded pairs of 20 pairs' in text
    assert '30 objects (12 occluded; 1 fully hidden' in text
    table2 = lines.index(
        '### Amodal completion (Table 2): IoU with ground truth (%)')
    order_rows = [line for line in lines[:table2] if line.startswith('| ')]
    amodal_rows = [line for line in lines[table2:] if line.startswith('| ')]
    assert order_rows == ['| Method | Occluded pairs | All pairs |'] + [
        f'| {row["name"]} | '
        + ('-' if key == 'yaxis' else f'{row["acc_occluded"]:.2f}')
        + f' | {row["acc_all"]:.2f} |'
        for key, row in ((k, res['order'][k]) for k in ORDER_ROWS)
    ]
    assert amodal_rows[1:] == [
        f'| {row["name"]} | {row["miou"]:.2f} | {row["miou_inst"]:.2f} | '
        f'{row["miou_occ"]:.2f} | {row["miou_inv"]:.2f} |'
        for row in (res['amodal'][k] for k in AMODAL_ROWS)
    ]


def test_markdown_follows_the_results_order_and_skips_empty_tables():
    res = make_results()
    res['order'] = dict(reversed(list(res['order'].items())))
    res['amodal'] = {}
    text = format_markdown(res)
    assert 'Table 2' not in text
    names = [line.split(' | ')[0][2:] for line in text.split('\n')
             if line.startswith('| ') and 'Method' not in line]
    assert names == list(reversed(ORDER_ROWS.values()))
    empty = format_markdown({})
    assert empty.startswith('## De-occlusion evaluation on dataset')
    assert 'Table 1' not in empty and 'Table 2' not in empty


def test_overwrite_is_atomic_and_leaves_no_temp_file(tmp_path):
    json_path, md_path = tmp_path / 'r.json', tmp_path / 'r.md'
    json_path.write_text('old, longer than the new file ' * 1000)
    md_path.write_text('old')
    res = make_results()
    save_results(res, str(json_path), str(md_path))
    assert json.loads(json_path.read_text())['dataset']['num_images'] == 4
    assert md_path.read_text() == format_markdown(res)
    assert sorted(os.listdir(tmp_path)) == ['r.json', 'r.md']


def test_only_the_requested_files_are_written(tmp_path):
    save_results(make_results(), md_path=str(tmp_path / 'only.md'))
    save_results(make_results())  # nothing asked: nothing written
    assert os.listdir(tmp_path) == ['only.md']


def test_old_import_paths():
    from mmdeocc.evaluation import deocclusion_evaluator as old
    from mmdeocc.evaluation import from_config, report
    assert old.format_markdown is report.format_markdown
    assert old.save_results is report.save_results
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        assert old.evaluate_from_config is from_config.evaluate_from_config
        assert old.build_eval_dataset is from_config.build_eval_dataset
        assert old.resolve_device is from_config.resolve_eval_device
    assert len(caught) == 3
    assert all(issubclass(w.category, DeprecationWarning) for w in caught)
    with pytest.raises(AttributeError):
        old.no_such_name  # noqa: B018
