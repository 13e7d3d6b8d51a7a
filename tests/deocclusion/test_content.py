"""Content completion (METHOD 3.5): only the invisible region (amodal minus
modal, dilated) of each layer and the background hole change; every other
pixel is bit-identical to the input."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from mmdet.registry import MODELS
from mmdeocc.deocclusion import (ContentCompleter, ContentCompletionError,
                                 crop_union, dilate_square)
from mmdeocc.models import load_pcnet_c
from mmdeocc.models.checkpoint_io import (config_text_for_model,
                                          save_checkpoint_atomic)
from mmdeocc.structures import (PackedMasks, integer_crop_boxes,
                                masks_to_bboxes)

SIZE = 128
H, W = 80, 112
NO_VGG = dict(type='PCNetCInpaintingLoss', perceptual_weight=0,
              style_weight=0)
MODEL_CFG = dict(type='PCNetC',
                 generator=dict(type='PCNetCGenerator', window_rescale=True),
                 inpainting_loss=NO_VGG)


@pytest.fixture(scope='module')
def pcnet_c():
    """A random PCNet-C (the conftest's single_thread fixture applies)."""
    init_default_scope('mmdet')
    torch.manual_seed(0)
    return MODELS.build(MODEL_CFG).eval()


class Spy(torch.nn.Module):
    """Delegates ``complete`` to a PCNetC and records its inputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.calls = []

    @property
    def use_category(self):
        return self.model.use_category

    def complete(self, rgb, hole, modal, category=None):
        self.calls.append((rgb.clone(), hole.clone(), modal.clone(),
                           category))
        return self.model.complete(rgb, hole, modal, category)


def _scene():
    """A textured image, 3 modal masks and amodal masks: object 0 is
    occluded by object 1 (its amodal rectangle extends under 1), object 2
    is not occluded (amodal = modal)."""
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    amodal = np.zeros((3, H, W), bool)
    amodal[0, 10:50, 10:60] = True
    amodal[1, 30:70, 40:90] = True
    amodal[2, 5:25, 85:105] = True
    modal = amodal.copy()
    modal[0] &= ~amodal[1]
    return image, modal, amodal


def test_only_invisible_region_and_background_hole_change(pcnet_c):
    image, modal, amodal = _scene()
    spy = Spy(pcnet_c)
    completer = ContentCompleter(spy, input_size=SIZE, background_size=128)
    layers = completer(image, modal, amodal)
    invisible = amodal & ~modal
    windows = integer_crop_boxes(masks_to_bboxes(torch.from_numpy(modal)))
    for i in range(3):
        changed = (layers.rgb[i] != image).any(-1)
        # Bit-identical outside the fill mask ...
        assert not (changed & ~layers.fill_masks[i]).any()
        # ... the fill mask never touches the visible pixels (default
        # keep_visible) and stays within the dilated invisible region:
        # 2 crop pixels of dilation + 1 of resampling on each side.
        assert not (layers.fill_masks[i] & modal[i]).any()
        side = int(windows[i, 2])
        band = int(np.ceil(3 * side / SIZE)) + 2
        kernel = np.ones((2 * band + 1, 2 * band + 1), np.uint8)
        near = cv2.dilate(invisible[i].astype(np.uint8), kernel).astype(bool)
        assert not (layers.fill_masks[i] & ~near).any()
        # ... and covers the whole invisible part, which the (random)
        # network did repaint.
        assert not (invisible[i] & ~layers.fill_masks[i]).any()
    # Object 2 has no invisible part: no fill, no change.
    assert not layers.fill_masks[2].any()
    np.testing.assert_array_equal(layers.rgb[2], image)
    assert (layers.rgb[0] != image).any(-1)[invisible[0]].mean() > 0.9
    # Alpha = amodal ∪ modal; RGBA export.
    np.testing.assert_array_equal(layers.alpha, amodal | modal)
    rgba = layers.rgba(0)
    assert rgba.shape == (H, W, 4)
    np.testing.assert_array_equal(rgba[..., 3] > 0, layers.alpha[0])
    # Background: the dilated union of the modal masks, nothing else.
    union = modal.any(0).astype(np.uint8)
    expected_hole = cv2.dilate(union, np.ones((5, 5), np.uint8)) > 0
    np.testing.assert_array_equal(layers.background_hole, expected_hole)
    bg_changed = (layers.background != image).any(-1)
    assert not (bg_changed & ~expected_hole).any()
    assert bg_changed[expected_hole].mean() > 0.9
    # Only the occluded object was sent through the network (the second
    # call is the background), with hole = dilate(amodal - modal, 5x5) of
    # the crop and the cropped modal mask as the condition.
    assert [c[0].shape[0] for c in spy.calls] == [1, 1]
    _, hole, modal_in, _ = spy.calls[0]
    packed_m = PackedMasks.from_masks(torch.from_numpy(modal))
    packed_a = PackedMasks.from_masks(torch.from_numpy(amodal))
    sel = packed_m.selectors_from_indices(torch.tensor([0]))
    win = torch.as_tensor(windows[:1])
    m = crop_union(packed_m, win, sel, SIZE, 'bilinear')
    a = crop_union(packed_a, win, sel, SIZE, 'bilinear')
    np.testing.assert_array_equal(hole.bool().numpy(),
                                  dilate_square(a & ~m, 5).numpy())
    np.testing.assert_array_equal(modal_in.bool().numpy(), m.numpy())
    # The background call has an empty modal channel.
    assert not spy.calls[1][2].any()


def test_reference_mode_repaints_a_band_of_visible_pixels(pcnet_c):
    image, modal, amodal = _scene()
    layers = ContentCompleter(pcnet_c, input_size=SIZE, keep_visible=False,
                              background_size=128)(image, modal, amodal)
    band = layers.fill_masks[0] & modal[0]
    assert band.any()  # the dilated hole reaches into the visible part
    changed = (layers.rgb[0] != image).any(-1)
    assert not (changed & ~layers.fill_masks[0]).any()
    assert changed[band].any()


def test_batching_does_not_change_the_result(pcnet_c):
    image, modal, amodal = _scene()
    amodal[2, 20:40, 80:110] = True  # make object 2 occluded too
    one = ContentCompleter(pcnet_c, input_size=SIZE, batch_size=1,
                           background_dilation=0)
    many = ContentCompleter(pcnet_c, input_size=SIZE, batch_size=8,
                            background_dilation=0)
    a = one.complete_objects(image, modal, amodal)
    b = many.complete_objects(image, modal, amodal)
    np.testing.assert_array_equal(a[1], b[1])
    assert np.abs(a[0].astype(int) - b[0].astype(int)).max() <= 1


def test_input_errors(pcnet_c):
    image, modal, amodal = _scene()
    completer = ContentCompleter(pcnet_c, input_size=SIZE)
    with pytest.raises(ContentCompletionError, match='80x112'):
        completer(image[:50], modal, amodal)
    with pytest.raises(ContentCompletionError, match='uint8'):
        completer(image.astype(np.float32), modal, amodal)
    with pytest.raises(ContentCompletionError, match='differ in shape'):
        completer(image, modal, amodal[:2])
    with pytest.raises(ContentCompletionError, match='multiple of 128'):
        ContentCompleter(pcnet_c, input_size=100)
    with pytest.raises(ContentCompletionError, match='complete'):
        ContentCompleter(torch.nn.Linear(2, 2))
    pcnet_c.use_category = True
    try:
        with pytest.raises(ContentCompletionError, match='category_ids'):
            completer(image, modal, amodal)
    finally:
        pcnet_c.use_category = False


def test_load_pcnet_c_round_trip(pcnet_c, tmp_path):
    path = tmp_path / 'pcnet_c.pth'
    save_checkpoint_atomic(
        dict(state_dict=pcnet_c.state_dict(),
             meta=dict(cfg=config_text_for_model(MODEL_CFG))), str(path))
    loaded = load_pcnet_c(path)
    assert not loaded.training
    for key, value in pcnet_c.generator.state_dict().items():
        torch.testing.assert_close(loaded.generator.state_dict()[key], value)
    rgb = torch.randn(1, 3, SIZE, SIZE)
    hole = torch.zeros(1, SIZE, SIZE)
    hole[:, 30:90, 40:80] = 1
    torch.testing.assert_close(loaded.complete(rgb, hole, 1 - hole),
                               pcnet_c.complete(rgb, hole, 1 - hole))
    # A checkpoint without the generator, or of another model, is refused.
    broken = tmp_path / 'broken.pth'
    state = {k: v for k, v in pcnet_c.state_dict().items()
             if k.startswith('discriminator.')}
    save_checkpoint_atomic(
        dict(state_dict=state,
             meta=dict(cfg=config_text_for_model(MODEL_CFG))), str(broken))
    with pytest.raises(ContentCompletionError,
                       match='generator weights do not fit.*missing'):
        load_pcnet_c(broken)
    other = tmp_path / 'other.pth'
    save_checkpoint_atomic(
        dict(state_dict={}, meta=dict(
            cfg=config_text_for_model(dict(type='PCNetM')))), str(other))
    with pytest.raises(ContentCompletionError, match="not 'PCNetC'"):
        load_pcnet_c(other)
    with pytest.raises(FileNotFoundError):
        load_pcnet_c(tmp_path / 'missing.pth')
