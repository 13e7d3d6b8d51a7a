"""DeOcclusionRecompose: masks, boxes and labels agree with the composited
picture; seeds; the identity; fallbacks; mmdet pipelines and workers.

The scenes are hand-made so that the check is independent of the code under
test: every object's whole layer has one colour of its own (and the
background another), so after any re-composition the pixels of an object's
colour are exactly where it is visible.
"""
import copy
import json

import cv2
import numpy as np
import pytest
from mmengine.registry import init_default_scope

import mmdeocc  # noqa: F401
from mmdeocc.datasets.transforms import (DeOcclusionRecompose,
                                         RecomposeTransformError)
from mmdeocc.structures import ContentLayers, encode_rles
from mmdeocc.structures.recompose_cache import RecomposeEntry

SIZE = 64
BACKGROUND = (20, 30, 40)
# per image: (category id, colour, amodal box x0, y0, x1, y1), back to front
SCENES = {
    1: [(1, (200, 40, 40), 8, 10, 40, 44),
        (2, (40, 200, 40), 26, 20, 56, 50),
        (1, (40, 40, 200), 14, 30, 34, 60)],
    2: [(2, (220, 220, 40), 4, 4, 30, 28),
        (1, (220, 40, 220), 18, 16, 50, 46)],
}


def _amodal(box):
    mask = np.zeros((SIZE, SIZE), bool)
    x0, y0, x1, y1 = box
    mask[y0:y1, x0:x1] = True
    mask[y0:y0 + 3, x0:x0 + 3] = False  # not a plain rectangle
    return mask


def _scene(objects):
    """Image, modal, amodal masks and the order of back-to-front objects."""
    image = np.broadcast_to(np.uint8(BACKGROUND), (SIZE, SIZE, 3)).copy()
    amodal = np.stack([_amodal(o[2:]) for o in objects])
    for k, obj in enumerate(objects):
        image[amodal[k]] = obj[1]
    n = len(objects)
    modal = amodal.copy()
    for k in range(n):
        modal[k] &= ~amodal[k + 1:].any(0)
    order = np.zeros((n, n), np.int8)
    for i in range(n):
        for j in range(n):
            if i > j and (amodal[i] & amodal[j]).any():
                order[i, j], order[j, i] = 1, -1
    return image, modal, amodal, order


def _layers(image, modal, amodal, objects):
    """Flat-colour layers (each frame is its object's colour)."""
    rgb = np.stack([
        np.broadcast_to(np.uint8(o[1]), image.shape).copy() for o in objects
    ])
    fill = (rgb != image[None]).any(-1)
    hole = cv2.dilate(modal.any(0).astype(np.uint8), np.ones((5, 5),
                                                             np.uint8)) > 0
    background = image.copy()
    background[hole] = BACKGROUND
    return ContentLayers(image=image, background=background,
                         background_hole=hole, rgb=rgb, fill_masks=fill,
                         alpha=amodal | modal, modal_masks=modal,
                         amodal_masks=amodal, background_dilation=5)


@pytest.fixture(scope='module')
def recompose_data(tmp_path_factory):
    """Images, a COCO file and a cache of the two scenes."""
    root = tmp_path_factory.mktemp('recompose')
    (root / 'images').mkdir()
    cache = root / 'cache'
    images, annotations, index = [], [], []
    ann_id = 1
    for img_id, objects in SCENES.items():
        image, modal, amodal, order = _scene(objects)
        name = f'{img_id:06d}.png'
        cv2.imwrite(str(root / 'images' / name), image[..., ::-1])
        images.append(dict(id=img_id, file_name=name, height=SIZE,
                           width=SIZE))
        ids = []
        for k, rle in enumerate(encode_rles(modal)):
            ys, xs = np.nonzero(modal[k])
            annotations.append(dict(
                id=ann_id, image_id=img_id, category_id=objects[k][0],
                segmentation=rle, area=float(modal[k].sum()), iscrowd=0,
                bbox=[float(xs.min()), float(ys.min()),
                      float(xs.max() - xs.min() + 1),
                      float(ys.max() - ys.min() + 1)]))
            ids.append(ann_id)
            ann_id += 1
        entry = RecomposeEntry.from_layers(
            _layers(image, modal, amodal, objects), order, ids,
            [o[0] for o in objects])
        rel = f'entries/{img_id:012d}.npz'
        entry.save(str(cache / rel))
        index.append(dict(img_id=img_id, file_name=name,
                          img_path=str(root / 'images' / name), height=SIZE,
                          width=SIZE, entry=rel, num_objects=len(objects),
                          ann_ids=ids))
    categories = [dict(id=1, name='a'), dict(id=2, name='b')]
    (root / 'ann.json').write_text(json.dumps(dict(
        images=images, annotations=annotations, categories=categories)))
    (cache / 'index.json').write_text(json.dumps(dict(
        info=dict(fingerprint='test'), categories=categories, images=index,
        skipped=[])))
    return root


def _dataset(root, recompose=None, extra=()):
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True)]
    if recompose is not None:
        pipeline.append(recompose)
    pipeline.extend(extra)
    return DATASETS.build(dict(
        type='CocoDataset', data_root=str(root), ann_file='ann.json',
        data_prefix=dict(img='images/'), metainfo=dict(classes=('a', 'b')),
        filter_cfg=dict(filter_empty_gt=False), pipeline=pipeline))


def _recompose_cfg(root, **kwargs):
    cfg = dict(type='DeOcclusionRecompose', cache_dir=str(root / 'cache'),
               prob=1.0, move_prob=0.7, scale_prob=0.4, flip_prob=0.4,
               depth_prob=0.5, remove_prob=0.2, paste_prob=0.5, max_paste=2,
               min_visible_fraction=0.0, min_visible_area=1,
               classes=('a', 'b'))
    cfg.update(kwargs)
    return cfg


COLOURS = {o[1]: o[0] for objects in SCENES.values() for o in objects}


def _check_consistent(results):
    """Each mask is exactly the pixels of one object colour; boxes are the
    masks' boxes; labels are the colours' categories."""
    img = results['img'][..., ::-1]  # BGR -> RGB
    masks = results['gt_masks'].to_ndarray().astype(bool)
    boxes = results['gt_bboxes'].numpy()
    labels = results['gt_bboxes_labels']
    assert len(masks) == len(boxes) == len(labels) == len(
        results['gt_ignore_flags'])
    seen = set()
    for k, mask in enumerate(masks):
        assert mask.any()
        colours = {tuple(c) for c in img[mask].tolist()}
        assert len(colours) == 1, colours
        colour = colours.pop()
        assert colour not in seen and colour in COLOURS
        seen.add(colour)
        np.testing.assert_array_equal(mask, (img == colour).all(-1))
        assert labels[k] == COLOURS[colour] - 1
        ys, xs = np.nonzero(mask)
        # unchanged instances keep their annotated box (here the same)
        np.testing.assert_allclose(
            boxes[k], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    # everything else is background
    others = ~masks.any(0)
    visible_colours = {tuple(c) for c in img[others].tolist()}
    assert visible_colours <= {BACKGROUND} | set(COLOURS)


def test_masks_boxes_labels_follow_the_layering(recompose_data):
    dataset = _dataset(recompose_data, _recompose_cfg(recompose_data))
    transform = dataset.pipeline.transforms[-1]
    edited = 0
    for seed in range(30):
        np.random.seed(seed)
        results = dataset[seed % 2]
        edits = results.get('recompose_edits')
        edited += bool(edits)
        _check_consistent(results)
    assert edited >= 25
    assert not transform.fallbacks


def test_edits_change_the_sample_and_paste_adds_instances(recompose_data):
    dataset = _dataset(recompose_data, _recompose_cfg(
        recompose_data, remove_prob=0.0, paste_prob=1.0, max_paste=1,
        move_prob=0.0, scale_prob=0.0, flip_prob=0.0, depth_prob=0.0))
    np.random.seed(0)
    results = dataset[0]
    assert 'pasted' in results['recompose_edits']
    assert len(results['gt_bboxes_labels']) == len(SCENES[1]) + 1
    _check_consistent(results)
    # removal: the background (or what lies behind) shows through
    dataset = _dataset(recompose_data, _recompose_cfg(
        recompose_data, remove_prob=1.0, paste_prob=0.0, move_prob=0.0,
        scale_prob=0.0, flip_prob=0.0, depth_prob=0.0))
    results = dataset[0]
    assert len(results['recompose_edits']['removed']) == len(SCENES[1]) - 1
    assert len(results['gt_bboxes_labels']) == 1  # one object is kept
    _check_consistent(results)


def test_deterministic_under_a_seed(recompose_data):
    dataset = _dataset(recompose_data, _recompose_cfg(recompose_data))
    outputs = []
    for seed in (3, 3, 4):
        np.random.seed(seed)
        outputs.append(dataset[0])
    a, b, c = outputs
    np.testing.assert_array_equal(a['img'], b['img'])
    np.testing.assert_array_equal(a['gt_masks'].masks, b['gt_masks'].masks)
    assert a['recompose_edits'] == b['recompose_edits']
    assert a['recompose_edits'] != c['recompose_edits']


@pytest.mark.parametrize('probs', [
    dict(prob=0.0),
    dict(move_prob=0.0, scale_prob=0.0, flip_prob=0.0, depth_prob=0.0,
         remove_prob=0.0, paste_prob=0.0),
])
def test_untouched_when_probabilities_are_zero(recompose_data, probs):
    plain = _dataset(recompose_data)
    dataset = _dataset(recompose_data,
                       _recompose_cfg(recompose_data, **probs))
    for index in range(2):
        expected, got = plain[index], dataset[index]
        np.testing.assert_array_equal(got['img'], expected['img'])
        np.testing.assert_array_equal(got['gt_masks'].masks,
                                      expected['gt_masks'].masks)
        np.testing.assert_array_equal(got['gt_bboxes'].numpy(),
                                      expected['gt_bboxes'].numpy())
        assert 'recompose_edits' not in got


def test_drops_too_occluded_instances(recompose_data):
    """With a strict visibility rule, every changed instance that stays is
    visible enough; the check holds across seeds."""
    dataset = _dataset(recompose_data, _recompose_cfg(
        recompose_data, min_visible_fraction=0.9, min_visible_area=50,
        remove_prob=0.0, paste_prob=0.0))
    transform = dataset.pipeline.transforms[-1]
    plain = _dataset(recompose_data)
    dropped = 0
    for seed in range(20):
        np.random.seed(seed)
        results = dataset[0]
        before = plain[0]['gt_masks'].to_ndarray().astype(bool)
        masks = results['gt_masks'].to_ndarray().astype(bool)
        dropped += len(before) - len(masks)
        for mask in masks:
            unchanged = any(np.array_equal(mask, m) for m in before)
            assert unchanged or mask.sum() >= 50
    assert dropped > 0
    assert transform.min_visible_fraction == 0.9


def test_visible_baseline_needs_no_cache(recompose_data):
    cfg = dict(type='DeOcclusionRecompose', layers='visible', prob=1.0,
               move_prob=1.0, scale_prob=0.0, flip_prob=0.5, depth_prob=0.0,
               remove_prob=0.0, paste_prob=0.0, min_visible_fraction=0.0,
               min_visible_area=1)
    dataset = _dataset(recompose_data, cfg)
    np.random.seed(1)
    results = dataset[0]
    assert results['recompose_edits']['placed']
    masks = results['gt_masks'].to_ndarray().astype(bool)
    img = results['img'][..., ::-1]
    for mask in masks:  # each visible layer keeps its single colour
        assert len({tuple(c) for c in img[mask].tolist()}) == 1
    assert (masks.sum(0) <= 1).all()
    with pytest.raises(RecomposeTransformError, match='paste_prob'):
        DeOcclusionRecompose(layers='visible', paste_prob=0.3)
    with pytest.raises(RecomposeTransformError, match='cache_dir'):
        DeOcclusionRecompose(layers='amodal')
    with pytest.raises(FileNotFoundError, match='index.json'):
        DeOcclusionRecompose(cache_dir=str(recompose_data / 'missing'))
    with pytest.raises(RecomposeTransformError, match='probability'):
        DeOcclusionRecompose(layers='visible', paste_prob=0, move_prob=1.5)


def _copy_cache(root, tmp_path):
    import shutil
    target = tmp_path / 'data'
    shutil.copytree(root, target)
    index = json.loads((target / 'cache' / 'index.json').read_text())
    for record in index['images']:
        record['img_path'] = str(target / 'images' / record['file_name'])
    (target / 'cache' / 'index.json').write_text(json.dumps(index))
    return target


@pytest.mark.parametrize('damage, reason', [
    ('delete', 'unreadable cache entry'),
    ('corrupt', 'unreadable cache entry'),
    ('image', 'image differs from the cached one'),
    ('unindexed', 'no cache entry'),
    ('instances', 'instances do not match the cache'),
])
def test_bad_cache_entries_fall_back(recompose_data, tmp_path, damage,
                                     reason):
    root = _copy_cache(recompose_data, tmp_path)
    entry = root / 'cache' / 'entries' / f'{1:012d}.npz'
    if damage == 'delete':
        entry.unlink()
    elif damage == 'corrupt':
        entry.write_bytes(entry.read_bytes()[:100])
    elif damage == 'image':
        path = root / 'images' / '000001.png'
        img = cv2.imread(str(path))
        img[0, 0] = (1, 2, 3)
        cv2.imwrite(str(path), img)
    elif damage == 'unindexed':
        index = json.loads((root / 'cache' / 'index.json').read_text())
        index['images'] = [r for r in index['images'] if r['img_id'] != 1]
        (root / 'cache' / 'index.json').write_text(json.dumps(index))
    elif damage == 'instances':
        ann = json.loads((root / 'ann.json').read_text())
        extra = copy.deepcopy(ann['annotations'][0])
        mask = np.zeros((SIZE, SIZE), bool)
        mask[58:63, 1:6] = True
        extra.update(id=99, segmentation=encode_rles(mask[None])[0],
                     bbox=[1.0, 58.0, 5.0, 5.0], area=25.0)
        ann['annotations'].append(extra)
        (root / 'ann.json').write_text(json.dumps(ann))
    plain = _dataset(root)
    dataset = _dataset(root, _recompose_cfg(root, paste_prob=0.0))
    transform = dataset.pipeline.transforms[-1]
    np.random.seed(0)
    results = dataset[0]
    expected = plain[0]
    np.testing.assert_array_equal(results['img'], expected['img'])
    np.testing.assert_array_equal(results['gt_masks'].masks,
                                  expected['gt_masks'].masks)
    assert transform.fallbacks == {reason: 1}
    results = dataset[1]  # the other image still works
    assert transform.fallbacks == {reason: 1}


def test_packs_and_loads_with_workers(recompose_data):
    """After PackDetInputs, through a 2-worker DataLoader."""
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader
    dataset = _dataset(recompose_data, _recompose_cfg(recompose_data), [
        dict(type='Resize', scale=(96, 96), keep_ratio=True),
        dict(type='PackDetInputs')
    ])
    loader = DataLoader(dataset, batch_size=2, num_workers=2,
                        collate_fn=pseudo_collate)
    batch = next(iter(loader))
    for inputs, sample in zip(batch['inputs'], batch['data_samples']):
        assert tuple(inputs.shape) == (3, 96, 96)
        gt = sample.gt_instances
        assert len(gt.masks) == len(gt.bboxes) == len(gt.labels)
        assert gt.masks.masks.shape[1:] == (96, 96)
