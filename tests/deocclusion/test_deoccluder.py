"""DeOccluder: API, edge cases, options, config building and memory bound."""
import numpy as np
import pytest
import torch

from deocc_helpers import random_pcnet, synthetic_scene
from mmdeocc.deocclusion import (DeOcclusionConfigError, DeOccluder,
                                 DeOcclusionInputError, ancestor_matrix,
                                 build_deoccluder, touching_pairs)
from mmdeocc.deocclusion.fast import fast_cpu_sub_batch
from mmdeocc.deocclusion.reference import reference_amodal, reference_order
from mmdeocc.structures import DeOcclusionResult


def _assert_valid(result, masks):
    n = len(masks)
    assert isinstance(result, DeOcclusionResult)
    assert result.order.dtype == torch.int8
    assert tuple(result.order.shape) == (n, n)
    assert torch.equal(result.order, -result.order.T)
    assert result.amodal_masks.dtype == torch.bool
    assert tuple(result.amodal_masks.shape) == tuple(masks.shape)
    assert sorted(result.drawing_order().tolist()) == list(range(n))


def test_zero_objects(model):
    deocc = DeOccluder(model)
    masks = np.zeros((0, 20, 30), dtype=bool)
    result = deocc(masks)
    _assert_valid(result, masks)
    assert deocc.stats['crops'] == 0
    assert deocc.run_many([]) == []
    assert deocc.order(masks).shape == (0, 0)
    assert deocc.amodal(masks, np.zeros((0, 0))).shape == (0, 20, 30)


def test_one_object_matches_reference(model):
    masks = np.zeros((1, 30, 30), dtype=bool)
    masks[0, 10:20, 5:15] = True
    deocc = DeOccluder(model)
    result = deocc(masks)
    _assert_valid(result, masks)
    assert not result.order.any()
    assert deocc.stats['crops'] == 1  # the reference runs the net anyway
    expected = reference_amodal(model, masks, np.zeros((1, 1)), size=32)
    np.testing.assert_array_equal(result.amodal_masks.numpy(), expected)


def test_empty_masks_get_zero_rows_and_empty_amodal(model):
    rng = np.random.default_rng(1)
    masks = synthetic_scene(rng, 40, 40, 4)
    masks = np.concatenate([
        masks[:2],
        np.zeros((1, 40, 40), bool), masks[2:],
        np.zeros((1, 40, 40), bool)
    ])
    for amodal_method in ('ours', 'ours_nog', 'raw', 'convex', 'convexr'):
        deocc = DeOccluder(
            model, amodal_method=amodal_method, amodal_union_visible=True)
        result = deocc(masks)
        _assert_valid(result, masks)
        for k in (2, 5):
            assert not result.order[k].any()
            assert not result.amodal_masks[k].any()


def test_all_touching_objects_match_reference(model):
    # Vertical stripes that all overlap each other's neighbourhood: every
    # pair touches.
    n, h, w = 6, 24, 24
    masks = np.zeros((n, h, w), dtype=bool)
    for k in range(n):
        masks[k, :, :] = False
        masks[k, k * 4:(k + 1) * 4, :] = True
        masks[k, :, k * 4:(k + 1) * 4] = True
    deocc = DeOccluder(model, batch_size=4)
    order = deocc.order(masks)
    assert deocc.stats['crops'] == n * (n - 1)  # every directed pair
    np.testing.assert_array_equal(order.numpy(),
                                  reference_order(model, masks, size=32))


def test_objects_at_image_borders_match_reference(model):
    h, w = 30, 40
    masks = np.zeros((4, h, w), dtype=bool)
    masks[0, :8, :10] = True  # top-left corner
    masks[1, :8, 10:25] = True  # top border, touching 0
    masks[2, 20:, 30:] = True  # bottom-right corner
    masks[3, 15:, 20:30] = True  # bottom border, touching 2
    deocc = DeOccluder(model)
    result = deocc(masks)
    np.testing.assert_array_equal(result.order.numpy(),
                                  reference_order(model, masks, size=32))
    np.testing.assert_array_equal(
        result.amodal_masks.numpy(),
        reference_amodal(model, masks, result.order.numpy(), size=32))


def test_200_objects_in_one_image_bounded_batches():
    model = random_pcnet(width=0.25, in_size=16, seed=2)
    rng = np.random.default_rng(0)
    # A 20 x 10 grid of touching cells (each 6 x 6 px) with random shapes.
    h, w = 60, 120
    labels = np.arange(200).reshape(10, 20).repeat(6, 0).repeat(6, 1)
    masks = labels[None] == np.arange(200)[:, None, None]
    masks &= rng.random((200, h, w)) < 0.9
    calls = []
    original = model.predict_probs

    def spy(modal, eraser, category_ids=None):
        calls.append(modal.shape[0])
        return original(modal, eraser, category_ids)

    model.predict_probs = spy
    deocc = DeOccluder(model, batch_size=32, cpu_batch_size=32)
    result = deocc(masks)
    _assert_valid(result, masks)
    assert max(calls) == 32
    num_pairs = int(
        torch.triu(touching_pairs(torch.from_numpy(masks)), 1).sum())
    assert sum(calls) == 2 * num_pairs + 200
    assert num_pairs > 300
    # CPU sub-batches give the same result; the default is one crop per
    # call with one thread (set by the autouse fixture), 4 per thread else.
    calls.clear()
    small = DeOccluder(model, batch_size=32, cpu_batch_size=8)(masks)
    assert max(calls) == 8 and sum(calls) == 2 * num_pairs + 200
    assert DeOccluder(model)._cpu_sub_batch() == 1
    # Fast mode with one thread sizes sub-batches by the network's work per
    # crop (width x S^2); several threads keep 4 per thread in both modes.
    fast = DeOccluder(model, fast=True)
    width, size = float(model.unet.width), fast.input_size
    assert fast._cpu_sub_batch() == fast_cpu_sub_batch(width, size) == max(
        1, 2**17 // int(width * size * size))
    assert fast_cpu_sub_batch(0.5, 128) == 16
    assert fast_cpu_sub_batch(2, 256) == 1
    torch.set_num_threads(2)
    assert DeOccluder(model)._cpu_sub_batch() == 8
    assert fast._cpu_sub_batch() == 8
    assert torch.equal(small.order, result.order)
    assert torch.equal(small.amodal_masks, result.amodal_masks)


def test_results_follow_input_device_and_types(model):
    rng = np.random.default_rng(2)
    masks = synthetic_scene(rng, 32, 32, 3)
    deocc = DeOccluder(model, device='cpu')
    for given in (masks, masks.astype(np.uint8), torch.from_numpy(masks)):
        result = deocc(given)
        assert result.order.device.type == 'cpu'
        _assert_valid(result, masks)
    deocc_np = deocc(masks)
    deocc_u8 = deocc(torch.from_numpy(masks.astype(np.uint8)))
    assert torch.equal(deocc_np.amodal_masks, deocc_u8.amodal_masks)


def test_amodal_options_behave(model, coco_scenes):
    masks, _ = coco_scenes[0]
    base = DeOccluder(model)
    order = base.order(masks)
    plain = base.amodal(masks, order)
    union = DeOccluder(model, amodal_union_visible=True).amodal(masks, order)
    restricted = DeOccluder(
        model, amodal_restrict_to_eraser=True).amodal(masks, order)
    modal = torch.from_numpy(masks)
    assert torch.equal(union, plain | modal)
    assert bool((restricted <= plain).all())
    # Restricted growth lies in the ancestors' masks.
    anc = ancestor_matrix(order)
    for i in range(len(masks)):
        eraser = modal[torch.from_numpy(anc[i])].any(0)
        assert not (restricted[i] & ~modal[i] & ~eraser).any()


def test_bad_inputs_give_clear_errors(model):
    deocc = DeOccluder(model)
    with pytest.raises(DeOcclusionInputError, match='masks'):
        deocc(np.zeros((4, 4), dtype=bool))
    with pytest.raises(DeOcclusionInputError, match='masks'):
        deocc(np.zeros((1, 4, 4), dtype=np.float32))
    with pytest.raises(DeOcclusionInputError, match='category_ids'):
        deocc(np.zeros((2, 4, 4), dtype=bool), [1])
    with pytest.raises(DeOcclusionInputError, match='order'):
        deocc.amodal(np.zeros((2, 4, 4), dtype=bool), np.zeros((3, 3)))
    with pytest.raises(DeOcclusionInputError, match='antisymmetric'):
        deocc.amodal(np.zeros((2, 4, 4), dtype=bool), [[0, 1], [1, 0]])
    with pytest.raises(DeOcclusionInputError, match=r'items\[1\]'):
        deocc.run_many([np.zeros((1, 4, 4), bool), 'not masks'])


@pytest.mark.parametrize('kwargs, match', [
    (dict(order_method='depth'), 'order_method'),
    (dict(amodal_method='x'), 'amodal_method'),
    (dict(order_th=1.5), 'order_th'),
    (dict(batch_size=0), 'batch_size'),
    (dict(cpu_batch_size=0), 'cpu_batch_size'),
    (dict(gap_tolerance=2.5), 'gap_tolerance'),
    (dict(eraser_dilation=-1), 'eraser_dilation'),
])
def test_bad_options(model, kwargs, match):
    with pytest.raises(DeOcclusionConfigError, match=match):
        DeOccluder(model, **kwargs)


def test_model_required_for_network_methods():
    with pytest.raises(DeOcclusionConfigError, match='PCNet-M model'):
        DeOccluder()
    with pytest.raises(DeOcclusionConfigError, match='PCNet-M model'):
        DeOccluder(order_method='area')  # amodal 'ours' needs it
    DeOccluder(order_method='area', amodal_method='raw')


def test_build_deoccluder_from_dicts(tmp_path):
    deocc = build_deoccluder(
        dict(
            type='DeOccluder',
            model=dict(type='PCNetM', width=0.25, in_size=32),
            order_th=0.2,
            batch_size=8))
    assert deocc.order_th == 0.2 and deocc.batch_size == 8
    assert deocc.input_size == 32 and not deocc.model.training
    # From a checkpoint saved with its config (the training format).
    from mmdeocc.models import config_text_for_model
    model = random_pcnet(seed=4)
    path = tmp_path / 'pcnet.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(
                cfg=config_text_for_model(
                    dict(type='PCNetM', width=0.25, in_size=32)))), path)
    loaded = build_deoccluder(dict(checkpoint=str(path), batch_size=4))
    rng = np.random.default_rng(3)
    masks = synthetic_scene(rng, 40, 40, 4)
    direct = DeOccluder(model, batch_size=4)(masks)
    from_ckpt = loaded(masks)
    assert torch.equal(direct.order, from_ckpt.order)
    assert torch.equal(direct.amodal_masks, from_ckpt.amodal_masks)
    with pytest.raises(DeOcclusionConfigError, match='unknown'):
        build_deoccluder(dict(model=model, threshold=0.3))
    with pytest.raises(DeOcclusionConfigError, match='DeOccluder'):
        build_deoccluder(dict(type='Other'))


def test_stats_report_network_share(model, coco_scenes):
    deocc = DeOccluder(model, batch_size=16)
    deocc(coco_scenes[0][0])
    stats = deocc.stats
    assert stats['crops'] > 0 and stats['network_calls'] >= 1
    assert 0 < stats['network_s'] <= stats['total_s']


class _RampModel(torch.nn.Module):
    """predict_probs = modal x a left-to-right ramp (not mirror-symmetric)."""

    in_size = 8

    def predict_probs(self, modal, eraser, category_ids=None):
        ramp = torch.linspace(0.0, 1.0, modal.shape[-1])
        return modal.float() * ramp


def test_flip_tta_averages_the_mirrored_prediction():
    """Off by default; on, each crop's probabilities are the mean of the
    plain and the mirrored-back mirror prediction, with twice the calls."""
    from mmdeocc.deocclusion import build_deoccluder
    modal = torch.zeros((3, 8, 8))
    modal[:, 2:6, 1:7] = 1
    eraser = torch.zeros_like(modal)
    plain = DeOccluder(_RampModel())
    assert plain.flip_tta is False
    ramp = torch.linspace(0.0, 1.0, 8)
    assert torch.allclose(plain._predict(modal, eraser, None), modal * ramp)
    tta = build_deoccluder(dict(model=_RampModel(), flip_tta=True,
                                cpu_batch_size=2))
    assert tta.flip_tta is True
    out = tta._predict(modal, eraser, None)
    assert torch.allclose(out, modal * (ramp + ramp.flip(0)) / 2)
    assert tta.stats['network_calls'] == 4  # 2 sub-batches x 2 views
