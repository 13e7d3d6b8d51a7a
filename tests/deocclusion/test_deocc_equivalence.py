"""Batched core == sequential reference (exactly), on random and real masks.

The reference (:mod:`mmdeocc.deocclusion.reference`) is a separate numpy /
OpenCV implementation with one network call per crop; the batched core
crops with bit-packed gathers, batches crops across pairs, objects and
images, and pastes back with ragged pixel enumeration.
"""

import numpy as np
import pytest
import torch

from deocc_helpers import random_pcnet, synthetic_scene
from mmdeocc.deocclusion import DeOccluder
from mmdeocc.deocclusion.fast import default_fast_dtype
from mmdeocc.deocclusion.reference import (reference_amodal, reference_order,
                                           reference_touching)
from mmdeocc.structures import masks_to_bboxes, touching_pairs


def _check_scene(model, masks, cats=None, batch_size=5, **options):
    """Run both paths on one scene and compare exactly."""
    ref_opts = {
        k: v
        for k, v in options.items()
        if k in ('gap_tolerance', 'eraser_dilation', 'order_th')
    }
    deocc = DeOccluder(model, batch_size=batch_size, **options)
    order = deocc.order(masks, cats)
    expected = reference_order(
        model, masks, cats, size=model.in_size, **ref_opts)
    np.testing.assert_array_equal(order.numpy(), expected)
    amodal = deocc.amodal(masks, order, cats)
    method = 'nog' if options.get('amodal_method') == 'ours_nog' else 'og'
    expected_amodal = reference_amodal(
        model,
        masks,
        expected,
        cats,
        method=method,
        amodal_th=options.get('amodal_th', 0.2),
        eraser_dilation=options.get('eraser_dilation', 0),
        union_visible=options.get('amodal_union_visible', False),
        restrict_to_eraser=options.get('amodal_restrict_to_eraser', False),
        size=model.in_size)
    np.testing.assert_array_equal(amodal.numpy(), expected_amodal)
    return order.numpy(), amodal.numpy()


def test_touch_matches_opencv_reference(synthetic_scenes, coco_scenes):
    scenes = list(synthetic_scenes) + [m for m, _ in coco_scenes]
    touching = 0
    for masks in scenes:
        for tol in (0, 2, 0.1):
            got = touching_pairs(torch.from_numpy(masks), tol).numpy()
            np.testing.assert_array_equal(got, reference_touching(masks, tol))
            touching += got.sum()
            # with the tight boxes, only the region where touches can be
            # is read: the same answer
            tensor = torch.from_numpy(masks.astype(bool))
            boxed = touching_pairs(tensor, tol,
                                   bboxes=masks_to_bboxes(tensor)).numpy()
            np.testing.assert_array_equal(boxed, got)
    assert touching > 100


def test_synthetic_scenes_equal(model, synthetic_scenes):
    stats = dict(related=0, grown=0, pairs=0)
    for k, masks in enumerate(synthetic_scenes):
        order, amodal = _check_scene(model, masks, batch_size=1 + k % 6)
        stats['related'] += int((order != 0).sum())
        stats['grown'] += int((amodal & ~masks).sum())
        stats['pairs'] += int(reference_touching(masks).sum())
    # The comparison is not vacuous: many relations, amodal masks grow.
    assert stats['related'] > 40 and stats['grown'] > 500


def test_coco_scenes_equal(model, coco_scenes):
    related = 0
    for masks, _ in coco_scenes:
        order, amodal = _check_scene(model, masks, batch_size=16)
        related += int((order != 0).sum())
    assert related > 20


@pytest.mark.parametrize('options', [
    dict(eraser_dilation=3),
    dict(eraser_dilation=2, gap_tolerance=1),
    dict(gap_tolerance=0.05, order_th=0.3),
    dict(amodal_method='ours_nog', amodal_th=0.5),
    dict(amodal_union_visible=True, amodal_restrict_to_eraser=True),
    dict(amodal_restrict_to_eraser=True),
])
def test_options_equal(model, synthetic_scenes, options):
    for masks in synthetic_scenes[:8]:
        _check_scene(model, masks, batch_size=4, **options)


def test_category_encoding_equal(coco_scenes):
    cat_ids = sorted({c for _, cats in coco_scenes for c in cats})
    model = random_pcnet(
        seed=3,
        use_category=True,
        category_map={c: 1.0 + (c % 5) * 0.5
                      for c in cat_ids})
    for masks, cats in coco_scenes[:4]:
        _check_scene(model, masks, cats, batch_size=3)


def test_default_input_size_256_equal():
    model = random_pcnet(width=0.25, in_size=256, seed=1)
    rng = np.random.default_rng(5)
    masks = synthetic_scene(rng, 90, 120, 4)
    _check_scene(model, masks, batch_size=3)


def test_run_many_equals_single_images(model, synthetic_scenes, coco_scenes):
    scenes = [(m, None) for m in synthetic_scenes[:6]]
    scenes += [(m, None) for m, _ in coco_scenes[:3]]
    deocc = DeOccluder(model, batch_size=7, cpu_batch_size=7)
    many = deocc.run_many(scenes)
    # Pairs and objects of different images share network calls: full
    # batches of 7 except the last one of each phase.
    crops = deocc.stats['crops']
    assert deocc.stats['network_calls'] <= -(-crops // 7) + 1
    per_image_calls = 0
    for masks, cats in scenes:
        single = DeOccluder(model, batch_size=7, cpu_batch_size=7)
        single(masks, cats)
        per_image_calls += single.stats['network_calls']
    assert deocc.stats['network_calls'] < per_image_calls
    for (masks, cats), result in zip(scenes, many):
        single = DeOccluder(model, batch_size=64)(masks, cats)
        assert torch.equal(result.order, single.order)
        assert torch.equal(result.amodal_masks, single.amodal_masks)
    # Category ids for some images only is ambiguous: a clear error.
    with pytest.raises(ValueError, match='category_ids'):
        deocc.run_many([(synthetic_scenes[0], None), coco_scenes[0]])


@pytest.mark.parametrize('fast_dtype', [None, torch.bfloat16])
def test_fast_mode_agrees(model, coco_scenes, fast_dtype):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    exact = DeOccluder(model, batch_size=16)
    fast = DeOccluder(model, batch_size=16, fast=True, fast_dtype=fast_dtype)
    assert fast.model is not model  # the caller's model is not modified
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])
    expected_dtype = fast_dtype or default_fast_dtype(torch.device('cpu'))
    assert fast.fast_dtype == expected_dtype
    same_order = total_order = same_px = total_px = 0
    for masks, _ in coco_scenes[:6]:
        a, b = exact(masks), fast(masks)
        same_order += int((a.order == b.order).sum())
        total_order += a.order.numel()
        same_px += int((a.amodal_masks == b.amodal_masks).sum())
        total_px += a.amodal_masks.numel()
    assert same_order / total_order > 0.95
    assert same_px / total_px > 0.99


def test_order_and_amodal_many_equal_single_images(model, synthetic_scenes,
                                                   coco_scenes):
    items = [(m, None) for m in synthetic_scenes[:4]]
    items += [(m, None) for m, _ in coco_scenes[:2]]
    for method in ('ours', 'ours_nog'):
        deocc = DeOccluder(model, amodal_method=method, batch_size=7)
        orders = deocc.order_many(items)
        amodals = deocc.amodal_many(items, orders)
        for (masks, _), order, amodal in zip(items, orders, amodals):
            assert torch.equal(order, deocc.order(masks))
            assert torch.equal(amodal, deocc.amodal(masks, order))
    with pytest.raises(ValueError, match='one order matrix per image'):
        deocc.amodal_many(items, orders[:1])
    with pytest.raises(ValueError, match=r'items\[1\]'):
        deocc.order_many([items[0], 'not masks'])
