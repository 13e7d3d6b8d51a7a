"""The re-composition cache: built with the committed PCNet-M / PCNet-C on
generated scenes, lossless, resumable, refusing other settings, and read by
DeOcclusionRecompose."""
import json
import shutil
import sys
from pathlib import Path

import mmcv
import numpy as np
import pytest

from mmdeocc.apis.recompose_cache import (RecomposeCacheBuildError,
                                          build_recompose_cache)
from mmdeocc.deocclusion import ContentCompleter, build_deoccluder
from mmdeocc.models import load_pcnet_c
from mmdeocc.structures.recompose_cache import (RecomposeCacheError,
                                                RecomposeEntry, image_crc32)

ROOT = Path(__file__).resolve().parents[2]
PCNET_M = ROOT / 'checkpoints' / 'pcnet_m_shapes.pth'
PCNET_C = ROOT / 'checkpoints' / 'pcnet_c_w025_coco128.pth'
CONFIG = ROOT / 'configs' / 'recompose' / 'deocc-recompose-cache_scenes.py'


@pytest.fixture(scope='module')
def networks():
    deoccluder = build_deoccluder(dict(checkpoint=str(PCNET_M)))
    completer = ContentCompleter(load_pcnet_c(str(PCNET_C)),
                                 background_inpainting='telea')
    return deoccluder, completer


def _build(ann, out, networks, **kwargs):
    return build_recompose_cache(str(ann), str(out), *networks,
                                 data_format='amodal_coco',
                                 img_prefix=str(ann.parent / 'images'),
                                 chunk_size=2, progress=False, **kwargs)


def test_entries_are_the_layers_exactly(api_scenes, tmp_path, networks):
    summary = _build(api_scenes, tmp_path / 'cache', networks)
    assert summary.num_images == 3 and summary.chunks_processed == 2
    index = json.loads((tmp_path / 'cache' / 'index.json').read_text())
    assert [r['img_id'] for r in index['images']] == [1, 2, 3]
    assert summary.num_objects == sum(r['num_objects']
                                      for r in index['images']) > 0
    deoccluder, completer = networks
    ann = json.loads(api_scenes.read_text())
    for record in index['images']:
        entry = RecomposeEntry.load(str(tmp_path / 'cache' / record['entry']))
        image = mmcv.imread(record['img_path'], channel_order='rgb')
        layers = entry.to_layers(image)
        assert entry.ann_ids == record['ann_ids']
        # the same computation again, outside the cache
        from mmdeocc.structures import segmentation_to_mask
        anns = {a['id']: a for a in ann['annotations']}
        modal = np.stack([
            segmentation_to_mask(anns[i]['segmentation'], *image.shape[:2])
            for i in entry.ann_ids
        ]).astype(bool)
        result = deoccluder(modal)
        expected = completer(image, modal, result.amodal_masks.numpy())
        np.testing.assert_array_equal(entry.order, result.order.numpy())
        for key in ('rgb', 'alpha', 'modal_masks', 'background',
                    'background_hole', 'fill_masks'):
            np.testing.assert_array_equal(getattr(layers, key),
                                          getattr(expected, key))
        assert (layers.fill_masks.any() or
                not (layers.amodal_masks & ~layers.modal_masks).any())
        changed = image.copy()
        changed[0, 0] ^= 1
        with pytest.raises(RecomposeCacheError, match='checksum'):
            entry.to_layers(changed)
        assert image_crc32(image) == entry.image_crc32


def test_resume_and_settings(api_scenes, tmp_path, networks):
    out = tmp_path / 'cache'
    _build(api_scenes, out, networks, keep_parts=True)
    first = (out / 'index.json').read_text()
    (out / 'index.json').unlink()
    (out / 'parts' / 'chunk-000001.json').unlink()  # "killed" mid-way
    again = _build(api_scenes, out, networks)
    assert again.chunks_reused == 1 and again.chunks_processed == 1
    assert json.loads((out / 'index.json').read_text()) == json.loads(first)
    assert _build(api_scenes, out, networks).already_complete
    # a new process loads the networks again (a PCNet-C's discriminator is
    # not in the checkpoint: random): the settings are the same
    fresh = (build_deoccluder(dict(checkpoint=str(PCNET_M))),
             ContentCompleter(load_pcnet_c(str(PCNET_C)),
                              background_inpainting='telea'))
    assert _build(api_scenes, out, fresh).already_complete
    deoccluder, completer = networks
    other = ContentCompleter(completer.model, hole_dilation=3,
                             background_inpainting='telea')
    with pytest.raises(RecomposeCacheBuildError, match='--restart'):
        build_recompose_cache(str(api_scenes), str(out), deoccluder, other,
                              data_format='amodal_coco',
                              img_prefix=str(api_scenes.parent / 'images'),
                              chunk_size=2, progress=False)


def test_unreadable_images_are_listed(api_scenes, tmp_path, networks):
    scenes = tmp_path / 'scenes'
    shutil.copytree(api_scenes.parent, scenes)
    (scenes / 'images' / '000001.png').write_bytes(b'not a png')
    summary = _build(scenes / api_scenes.name, tmp_path / 'cache', networks)
    index = json.loads((tmp_path / 'cache' / 'index.json').read_text())
    assert summary.skipped == 1 and summary.num_images == 2
    assert index['skipped'][0]['img_id'] == 2
    assert 'unreadable' in index['skipped'][0]['reason']
    with pytest.raises(FileNotFoundError, match='annotation file'):
        _build(tmp_path / 'missing.json', tmp_path / 'c2', networks)


def test_tool_and_transform_on_real_layers(api_scenes, tmp_path):
    """The CLI builds the cache; the transform trains on it: every new
    mask is exactly the pixels the composited layering shows."""
    sys.path.insert(0, str(ROOT / 'tools'))
    import build_recompose_cache as tool
    out = tmp_path / 'cache'
    tool.main([
        str(CONFIG), str(PCNET_M), str(PCNET_C), '--ann', str(api_scenes),
        '--format', 'amodal_coco', '--img-dir',
        str(api_scenes.parent / 'images'), '--out-dir', str(out),
        '--no-progress'
    ])
    from mmdeocc.datasets.transforms import DeOcclusionRecompose
    from mmdeocc.deocclusion import SceneRecomposer
    transform = DeOcclusionRecompose(cache_dir=str(out), prob=1.0,
                                     paste_prob=0.0, min_visible_fraction=0,
                                     min_visible_area=1)
    index = json.loads((out / 'index.json').read_text())
    record = index['images'][0]
    entry = RecomposeEntry.load(str(out / record['entry']))
    image = mmcv.imread(record['img_path'], channel_order='rgb')
    layers = entry.to_layers(image)
    # nothing edited: the composition is the image, visible masks = modal
    composition = SceneRecomposer(layers, entry.order).compose()
    np.testing.assert_array_equal(composition.image, image)
    visible = composition.visible_masks()
    np.testing.assert_array_equal(visible, layers.modal_masks)
    from mmdet.structures.bbox import HorizontalBoxes
    from mmdet.structures.mask import BitmapMasks
    results = dict(
        img=np.ascontiguousarray(image[..., ::-1]), img_id=record['img_id'],
        img_path=record['img_path'],
        gt_masks=BitmapMasks(layers.modal_masks.astype(np.uint8),
                             *image.shape[:2]),
        gt_bboxes=HorizontalBoxes(np.zeros((len(entry.ann_ids), 4),
                                           np.float32)),
        gt_bboxes_labels=np.zeros(len(entry.ann_ids), np.int64),
        gt_ignore_flags=np.zeros(len(entry.ann_ids), bool))
    np.random.seed(5)
    out_results = transform(results)
    assert out_results.get('recompose_edits')
    assert not transform.fallbacks
    masks = out_results['gt_masks'].to_ndarray().astype(bool)
    assert (masks.sum(0) <= 1).all()  # visible masks never overlap
