"""tools/dataset_converters: split a COCO file by image, cut silhouettes.

Runs on the in-repository COCO128 annotations (real masks) and on a small
hand-made file whose expected output is known exactly.
"""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from mmdeocc.datasets.annotation_utils import AnnotationFormatError
from mmdeocc.datasets.coco_split import split_coco_by_image
from mmdeocc.datasets.synthesis import load_shapes, read_shape_mask
from mmdeocc.datasets.synthesis.coco_silhouettes import (
    class_file_name, export_coco_silhouettes)
from mmdeocc.structures import encode_rle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools' / 'dataset_converters'))
COCO128 = ROOT / 'data' / 'coco128' / 'annotations' / \
    'instances_train2017.json'

import coco_to_silhouettes  # noqa: E402
import split_coco  # noqa: E402


def test_split_coco128_is_a_partition(tmp_path):
    assert split_coco.main([
        str(COCO128), '--holdout-ids', '9,312', '--num-holdout', '10',
        '--seed', '0', '--out-dir', str(tmp_path)
    ]) == 0
    data = json.loads(COCO128.read_text())
    kept = json.loads(
        (tmp_path / 'instances_train2017_train.json').read_text())
    held = json.loads(
        (tmp_path / 'instances_train2017_holdout.json').read_text())
    kept_ids = {i['id'] for i in kept['images']}
    held_ids = {i['id'] for i in held['images']}
    assert len(held_ids) == 10 and {9, 312} <= held_ids
    assert not kept_ids & held_ids
    assert kept_ids | held_ids == {i['id'] for i in data['images']}
    for part, ids in ((kept, kept_ids), (held, held_ids)):
        assert all(a['image_id'] in ids for a in part['annotations'])
        assert part['categories'] == data['categories']
    assert len(kept['annotations']) + len(held['annotations']) == len(
        data['annotations'])
    # deterministic under the seed, different under another seed
    again_kept, again_held = split_coco_by_image(data, [9, 312], 10, seed=0)
    assert {i['id'] for i in again_held['images']} == held_ids
    _, other = split_coco_by_image(data, [9, 312], 10, seed=1)
    assert {i['id'] for i in other['images']} != held_ids


def test_split_bad_requests_name_the_problem():
    data = json.loads(COCO128.read_text())
    with pytest.raises(AnnotationFormatError, match=r'\[123456\]'):
        split_coco_by_image(data, [123456], 5, source='x.json')
    with pytest.raises(AnnotationFormatError, match='cannot hold out'):
        split_coco_by_image(data, [9, 312, 438], 2)
    with pytest.raises(AnnotationFormatError, match='images'):
        split_coco_by_image({'annotations': []}, [], 1, source='x.json')


def test_split_cli_errors_are_one_line(tmp_path, capsys):
    from mmdeocc.utils.cli import run_tool
    code = run_tool(split_coco.main, [
        str(tmp_path / 'missing.json'), '--out-dir', str(tmp_path)])
    assert code == 2
    assert 'missing.json' in capsys.readouterr().err
    code = run_tool(split_coco.main, [
        str(COCO128), '--holdout-ids', '9,x', '--out-dir', str(tmp_path)])
    assert code == 2
    assert '--holdout-ids' in capsys.readouterr().err


def _coco_file(path: Path) -> dict:
    """A 60 x 80 image: a lone 20 x 30 box, two touching boxes, one box cut
    by the border, one tiny box."""
    h, w = 60, 80
    masks = np.zeros((5, h, w), bool)
    masks[0, 5:25, 5:35] = True     # lone, whole
    masks[1, 30:55, 5:30] = True    # touches 2
    masks[2, 30:55, 30:50] = True
    masks[3, 10:40, 60:80] = True   # cut by the right border
    masks[4, 2:6, 50:54] = True     # too small
    anns = []
    for k, mask in enumerate(masks):
        ys, xs = np.nonzero(mask)
        rle = encode_rle(mask)
        anns.append(dict(id=100 + k, image_id=1, category_id=1 + (k == 0),
                         segmentation=rle, area=float(mask.sum()),
                         bbox=[float(xs.min()), float(ys.min()),
                               float(np.ptp(xs) + 1), float(np.ptp(ys) + 1)],
                         iscrowd=0))
    data = dict(images=[dict(id=1, file_name='a.jpg', height=h, width=w)],
                annotations=anns,
                categories=[dict(id=1, name='traffic light'),
                            dict(id=2, name='person')])
    path.write_text(json.dumps(data))
    return dict(masks=masks)


def test_silhouettes_keep_only_whole_objects(tmp_path):
    made = _coco_file(tmp_path / 'a.json')
    out = tmp_path / 'shapes'
    result = export_coco_silhouettes(str(tmp_path / 'a.json'), str(out),
                                     min_side=8)
    assert [Path(p).name for p in result.written] == ['person-100.png']
    assert result.skipped == {'touches another instance': 2,
                              'cut by the image border': 1,
                              'shorter side < 8 px': 1}
    shape = read_shape_mask(result.written[0])
    assert shape.shape == (20, 30) and shape.all()
    relaxed = export_coco_silhouettes(
        str(tmp_path / 'a.json'), str(tmp_path / 'all'), min_side=8,
        isolated_only=False, keep_truncated=True)
    names = sorted(Path(p).name for p in relaxed.written)
    assert names == ['person-100.png', 'traffic_light-101.png',
                     'traffic_light-102.png', 'traffic_light-103.png']
    cut = read_shape_mask(str(tmp_path / 'all' / 'traffic_light-103.png'))
    assert np.array_equal(cut, made['masks'][3][10:40, 60:80])
    # the scene generator reads them as classes of the folder
    shapes, categories = load_shapes(str(tmp_path / 'all'))
    assert {c['name'] for c in categories} == {'person', 'traffic_light'}
    assert len(shapes) == 4


def test_silhouettes_from_coco128_cli(tmp_path, capsys):
    out = tmp_path / 'shapes'
    assert coco_to_silhouettes.main(
        [str(COCO128), '--out-dir', str(out), '--min-side', '48']) == 0
    printed = capsys.readouterr().out
    files = sorted(out.glob('*.png'))
    assert files and f'{len(files)} silhouettes' in printed
    for path in files[:20]:
        mask = read_shape_mask(str(path))
        assert min(mask.shape) >= 48
    assert class_file_name('cell phone') == 'cell_phone'
    assert class_file_name('  ') == 'object'
