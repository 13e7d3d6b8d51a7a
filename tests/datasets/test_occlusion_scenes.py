"""Tests of the synthetic occlusion-scene generator."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmdeocc.datasets.amodal_coco import load_amodal_coco
from mmdeocc.datasets.cocoa import load_cocoa
from mmdeocc.datasets.synthesis import (OCCLUSION_LEVELS, ShapeError,
                                        SyntheticScene, TextureBank,
                                        compose_modal, generate_scenes,
                                        load_shapes, make_scene, scene_rng)
from mmdeocc.structures import decode_rle, gt_order_from_masks
from mmdeocc.structures.order import occlusion_edges

pytestmark = pytest.mark.usefixtures('one_torch_thread')

SHAPES_DIR = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'data',
    'shapes', 'mpeg7')


@pytest.fixture(scope='module')
def shapes():
    return load_shapes(SHAPES_DIR)


def check_exact(scene: SyntheticScene):
    """modal = amodal minus everything nearer, exactly; image consistent."""
    n = len(scene)
    assert sorted(scene.depth.tolist()) == list(range(n))
    for k in range(n):
        nearer = scene.depth < scene.depth[k]
        cover = scene.amodal[nearer].any(axis=0)
        np.testing.assert_array_equal(scene.modal[k],
                                      scene.amodal[k] & ~cover)
        assert scene.modal[k].any()


def check_flat_colours(scene: SyntheticScene):
    """Each visible region is one colour, different from its neighbours."""
    img = scene.image.reshape(-1, 3)
    colours = []
    for k in range(len(scene)):
        pix = img[scene.modal[k].reshape(-1)]
        assert (pix == pix[0]).all()
        colours.append(tuple(pix[0]))
    background = ~scene.amodal.any(axis=0).reshape(-1)
    bg = img[background]
    assert (bg == bg[0]).all()
    assert len(set(colours + [tuple(bg[0])])) == len(scene) + 1


def test_load_shapes_and_classes(shapes):
    all_shapes, categories = shapes
    assert len(categories) == 10
    assert len(all_shapes) == 40
    assert [c['id'] for c in categories] == list(range(1, 11))
    for s in all_shapes:
        assert s.mask.dtype == bool and max(s.mask.shape) <= 128
        assert s.mask[0].any() and s.mask[:, 0].any()  # tight crop
        assert categories[s.category_id - 1]['name'] == s.class_name
    sub, cats = load_shapes(SHAPES_DIR, classes='apple,cup')
    assert {s.class_name for s in sub} == {'apple', 'cup'}
    assert cats == categories  # ids do not depend on the subset
    rest, _ = load_shapes(SHAPES_DIR, exclude_classes=['apple'])
    assert len(rest) == 36 and 'apple' not in {s.class_name for s in rest}
    small, _ = load_shapes(SHAPES_DIR, classes=['apple'], max_side=20)
    assert all(max(s.mask.shape) <= 20 for s in small)
    with pytest.raises(ShapeError, match='not in'):
        load_shapes(SHAPES_DIR, classes='unicorn')
    with pytest.raises(ShapeError, match='does not exist'):
        load_shapes(SHAPES_DIR + '_missing')


def test_scene_is_deterministic(shapes):
    a = make_scene(shapes[0], scene_rng(3, 7))
    b = make_scene(shapes[0], scene_rng(3, 7))
    c = make_scene(shapes[0], scene_rng(3, 8))
    for field in ('image', 'modal', 'amodal', 'depth', 'category_ids'):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.shape_names == b.shape_names
    assert not (a.image.shape == c.image.shape
                and np.array_equal(a.image, c.image))


@pytest.mark.parametrize('level', sorted(OCCLUSION_LEVELS))
def test_modal_exact_and_edges_consistent(shapes, level):
    lo, hi = OCCLUSION_LEVELS[level]
    chains = 0
    for index in range(5):
        scene = make_scene(shapes[0], scene_rng(0, index),
                           num_objects=(4, 6), overlap_range=level)
        assert scene.image.shape == (256, 256, 3)
        assert scene.image.dtype == np.uint8
        assert 4 <= len(scene) <= 6
        check_exact(scene)
        check_flat_colours(scene)
        np.testing.assert_array_equal(
            scene.modal, compose_modal(scene.amodal, scene.depth))
        # no object is hidden by more than the level's upper bound
        hidden = 1 - scene.modal.sum((1, 2)) / scene.amodal.sum((1, 2))
        assert (hidden <= hi + 1e-9).all()
        edges = scene.occlusion_edges()
        assert edges, 'every scene has overlapping objects'
        for i, j in edges:
            assert scene.depth[i] < scene.depth[j]
            assert (scene.modal[i] & scene.amodal[j]).any()
        # edges are exactly the +1 entries of the METHOD 4.1 ground truth
        gt = gt_order_from_masks(scene.modal, scene.amodal, tie_rule='ignore')
        order = np.zeros_like(gt)
        for i, j in edges:
            order[i, j], order[j, i] = 1, -1
        np.testing.assert_array_equal(gt, order)
        if index == 0:  # no ties in exact scenes: both rules agree
            ref = gt_order_from_masks(scene.modal, scene.amodal)
            np.testing.assert_array_equal(ref, gt)
            np.testing.assert_array_equal(scene.order_matrix(), gt)
        # an occlusion chain i -> j -> k
        chains += any(j == j2 for _, j in edges for j2, _ in edges)
    assert chains >= 2


def test_truncation_flag(shapes):
    truncated = 0
    for index in range(8):
        scene = make_scene(shapes[0], scene_rng(1, index),
                           image_size=(160, 120), area_range=(0.08, 0.15))
        assert scene.image.shape == (120, 160, 3)
        for k in range(len(scene)):
            a = scene.amodal[k]
            on_border = a[0].any() or a[-1].any() or a[:, 0].any() or \
                a[:, -1].any()
            if scene.truncated[k]:
                assert on_border
        truncated += int(scene.truncated.sum())
        kept = make_scene(shapes[0], scene_rng(1, index),
                          image_size=(160, 120), area_range=(0.08, 0.15),
                          allow_truncation=False)
        assert not kept.truncated.any()
    assert truncated > 0


def test_two_object_scene(shapes):
    lo, hi = 0.2, 0.5
    for index in range(5):
        scene = make_scene(shapes[0], scene_rng(2, index), two_object=True,
                           overlap_range=(lo, hi))
        assert len(scene) == 2
        check_exact(scene)
        front = int(np.argmin(scene.depth))
        back = 1 - front
        np.testing.assert_array_equal(scene.modal[front], scene.amodal[front])
        hidden = 1 - scene.modal[back].sum() / scene.amodal[back].sum()
        assert lo <= hidden <= hi
        assert scene.occlusion_edges() == [(front, back)]
        assert not scene.truncated.any()


def test_min_visible_pixels(shapes):
    for index in range(4):
        scene = make_scene(shapes[0], scene_rng(4, index),
                           overlap_range='heavy', min_visible_pixels=1000,
                           num_objects=(2, 6))
        check_exact(scene)
        check_flat_colours(scene)  # removed objects are not painted
        assert (scene.modal.sum((1, 2)) >= 1000).all()


def test_polygonized_scene_matches_its_polygons(shapes):
    import pycocotools.mask as mask_utils
    scene = make_scene(shapes[0], scene_rng(5, 0), polygonize=True)
    check_exact(scene)
    h, w = scene.image.shape[:2]
    for k in range(len(scene)):
        rle = mask_utils.merge(
            mask_utils.frPyObjects([scene.polygons[k]], h, w))
        np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool),
                                      scene.amodal[k])


def test_textures(shapes, tmp_path):
    rng = np.random.default_rng(0)
    for k in range(2):
        img = (rng.random((90, 120, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / f'tex{k}.png'), img)
    bank = TextureBank(str(tmp_path))
    scene = make_scene(shapes[0], scene_rng(6, 0), textures=bank)
    check_exact(scene)
    big = int(np.argmax(scene.modal.sum((1, 2))))
    pix = scene.image[scene.modal[big]]
    assert len(np.unique(pix, axis=0)) > 10  # textured, not flat
    with pytest.raises(FileNotFoundError):
        TextureBank(str(tmp_path / 'none'))


def test_occlusion_edges_need_touching_visible_parts():
    h, w = 8, 20
    amodal = np.zeros((3, h, w), dtype=bool)
    amodal[0, :, 12:20] = True  # nearest, hides the right part of 1
    amodal[1, 2:6, 0:20] = True  # farthest
    amodal[2, :, 6:12] = True  # middle, hides the middle of 1
    depth = np.array([0, 2, 1])
    modal = compose_modal(amodal, depth)
    assert (modal[0] & amodal[1]).any()  # 0 does hide part of 1 ...
    # ... but their visible parts do not touch: only (2, 1) is an edge;
    # 0 and 2 touch without overlapping: no edge either.
    assert occlusion_edges(modal, amodal, depth) == [(2, 1)]


def test_generate_amodal_coco(shapes, tmp_path):
    all_shapes, categories = shapes
    out = tmp_path / 'scenes'
    ann_path = generate_scenes(all_shapes, categories, str(out), 4, seed=11,
                               progress=False, num_objects=(3, 5))
    coco = COCO(ann_path)
    assert len(coco.getImgIds()) == 4
    with open(ann_path) as f:
        data = json.load(f)
    assert data['categories'] == categories
    for img in data['images']:
        path = out / 'images' / img['file_name']
        image = cv2.imread(str(path))
        assert image.shape == (img['height'], img['width'], 3)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img['id']))
        modal = np.stack([coco.annToMask(a) for a in anns]).astype(bool)
        amodal = np.stack([
            decode_rle(a['amodal_segmentation']) for a in anns
        ]).astype(bool)
        depth = np.array([a['depth'] for a in anns])
        np.testing.assert_array_equal(modal, compose_modal(amodal, depth))
        for a, m, am in zip(anns, modal, amodal):
            assert a['area'] == m.sum() and a['amodal_area'] == am.sum()
            x, y, bw, bh = a['bbox']
            assert m[int(y):int(y + bh), int(x):int(x + bw)].sum() == m.sum()
        ids = [a['id'] for a in anns]
        edges = [(ids.index(i), ids.index(j))
                 for i, j in img['occlusion_edges']]
        assert sorted(edges) == occlusion_edges(modal, amodal, depth)
        assert edges
    # the project's reader: annotated order = the occlusion edges
    records, cats = load_amodal_coco(ann_path,
                                     img_prefix=str(out / 'images'))
    assert cats == categories and len(records) == 4
    for rec in records:
        modal = np.stack([decode_rle(i['modal_mask'])
                          for i in rec['instances']]).astype(bool)
        amodal = np.stack([decode_rle(i['amodal_mask'])
                           for i in rec['instances']]).astype(bool)
        np.testing.assert_array_equal(
            np.asarray(rec['gt_order']),
            gt_order_from_masks(modal, amodal, tie_rule='ignore'))
    # same seed -> identical dataset; existing output is protected
    out2 = tmp_path / 'scenes2'
    generate_scenes(all_shapes, categories, str(out2), 4, seed=11,
                    progress=False, num_objects=(3, 5))
    with open(out2 / 'annotations.json') as f:
        assert json.load(f) == data
    for name in os.listdir(out / 'images'):
        assert (out / 'images' / name).read_bytes() == \
            (out2 / 'images' / name).read_bytes()
    with pytest.raises(FileExistsError, match='overwrite'):
        generate_scenes(all_shapes, categories, str(out), 1, progress=False)
    assert not [n for n in os.listdir(out) if n.startswith('.tmp')]


def test_generate_cocoa_readable_by_cocoa_reader(shapes, tmp_path):
    all_shapes, categories = shapes
    ann_path = generate_scenes(all_shapes, categories, str(tmp_path), 3,
                               seed=5, fmt='cocoa', progress=False,
                               overlap_range='heavy')
    records, _ = load_cocoa(ann_path, img_prefix=str(tmp_path / 'images'))
    assert len(records) == 3
    for rec in records:
        modal = np.stack(
            [decode_rle(i['modal_mask']) for i in rec['instances']])
        amodal = np.stack(
            [decode_rle(i['amodal_mask']) for i in rec['instances']])
        modal, amodal = modal.astype(bool), amodal.astype(bool)
        gt = gt_order_from_masks(modal, amodal, tie_rule='ignore')
        np.testing.assert_array_equal(np.asarray(rec['gt_order']), gt)
        assert osp.exists(rec['img_path'])
        image = cv2.imread(rec['img_path'])[:, :, ::-1]
        for m in modal:  # flat colour per visible region
            pix = image[m]
            assert (pix == pix[0]).all()
