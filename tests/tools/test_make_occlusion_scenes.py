"""End-to-end tests of tools/make_occlusion_scenes.py on data/shapes."""
import importlib.util
import json
import os
import os.path as osp

import numpy as np
import pytest
from pycocotools.coco import COCO

from mmdeocc.datasets.synthesis import compose_modal
from mmdeocc.structures import decode_rle

pytestmark = pytest.mark.usefixtures('one_torch_thread')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'make_occlusion_scenes.py')
SHAPES = osp.join(ROOT, 'data', 'shapes', 'mpeg7')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('make_occlusion_scenes',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_help(tool, capsys):
    with pytest.raises(SystemExit) as exc:
        tool.parse_args(['--help'])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ('--shapes', '--num-scenes', '--two-object', '--format',
                 '--textures', '--objects-per-scene', '--image-size',
                 '--classes', '--exclude-classes', '--seed'):
        assert flag in out


def test_amodal_coco_end_to_end(tool, tmp_path):
    out = tmp_path / 'scenes'
    args = [
        '--shapes', SHAPES, '--out', str(out), '--num-scenes', '3',
        '--seed', '4', '--exclude-classes', 'apple,cup',
        '--objects-per-scene', '3', '4', '--image-size', '200', '150',
        '--occlusion', 'heavy', '--no-progress'
    ]
    ann_path = tool.main(args)
    coco = COCO(ann_path)
    assert sorted(os.listdir(out / 'images')) == [
        '000000.png', '000001.png', '000002.png'
    ]
    with open(ann_path) as f:
        data = json.load(f)
    assert data['info']['seed'] == 4
    used = {coco.cats[a['category_id']]['name'] for a in data['annotations']}
    assert used and not used & {'apple', 'cup'}
    for img in data['images']:
        assert (img['width'], img['height']) == (200, 150)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        assert 3 <= len(anns) <= 4
        modal = np.stack([coco.annToMask(a) for a in anns]).astype(bool)
        amodal = np.stack([decode_rle(a['amodal_segmentation'])
                           for a in anns]).astype(bool)
        depth = [a['depth'] for a in anns]
        np.testing.assert_array_equal(modal, compose_modal(amodal, depth))
    # deterministic under the seed
    again = tool.main(args[:3] + [str(tmp_path / 'again')] + args[4:])
    with open(again) as f:
        assert json.load(f) == data


def test_two_object_cocoa_end_to_end(tool, tmp_path):
    out = tmp_path / 'pairs'
    tool.main([
        '--shapes', SHAPES, '--out', str(out), '--num-scenes', '2',
        '--two-object', '--format', 'cocoa', '--overlap-range', '0.2', '0.4',
        '--no-progress'
    ])
    with open(out / 'annotations.json') as f:
        data = json.load(f)
    assert len(data['images']) == 2
    for ann in data['annotations']:
        regions = ann['regions']
        assert ann['size'] == len(regions) == 2
        back = [r for r in regions if r['order'] == 2][0]
        assert 0.2 <= back['occlude_rate'] <= 0.4
        front_index = [k for k, r in enumerate(regions) if r['order'] == 1][0]
        assert ann['depth_constraint'] == \
            f'{front_index + 1}-{2 - front_index}'
        assert 'visible_mask' in back and 'invisible_mask' in back


def test_bad_arguments(tool, tmp_path):
    with pytest.raises(SystemExit):
        tool.parse_args(['--shapes', SHAPES, '--out', str(tmp_path),
                         '--num-scenes', '0'])
    with pytest.raises(SystemExit):
        tool.parse_args(['--shapes', SHAPES, '--out', str(tmp_path),
                         '--num-scenes', '1', '--objects-per-scene', '4',
                         '2'])


def test_single_class_keeps_the_scenes(tool, tmp_path):
    """--single-class relabels every object, the images stay the same."""
    common = ['--shapes', SHAPES, '--num-scenes', '3', '--seed', '4',
              '--image-size', '64', '64', '--max-side', '64',
              '--no-progress']
    plain = tool.main(common + ['--out', str(tmp_path / 'plain')])
    single = tool.main(common + ['--out', str(tmp_path / 'one'),
                                 '--single-class', 'object'])
    a, b = (json.loads(open(p).read()) for p in (plain, single))
    assert b['categories'] == [dict(id=1, name='object',
                                    supercategory='shape')]
    assert {ann['category_id'] for ann in b['annotations']} == {1}
    assert len({ann['category_id'] for ann in a['annotations']}) > 1
    for x, y in zip(a['annotations'], b['annotations']):
        assert {**x, 'category_id': 1} == y
    for image in a['images']:
        name = image['file_name']
        assert open(tmp_path / 'plain' / 'images' / name, 'rb').read() == \
            open(tmp_path / 'one' / 'images' / name, 'rb').read()
