"""Scene re-composition: exact stacking edits on hand-made layers, and the
tool on a real COCO photo (one object deleted, one moved): a picture is
written and the visible pixels of untouched objects are preserved."""
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

from deocc_helpers import random_pcnet
from mmdet.registry import MODELS
from mmdeocc.deocclusion import (RecomposeError, SceneRecomposer, recompose,
                                 shift_array)
from mmdeocc.models.checkpoint_io import (config_text_for_model,
                                          save_checkpoint_atomic)
from mmdeocc.structures import ContentLayers, decode_rle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tools'))

import recompose as recompose_tool  # noqa: E402

GRAY, RED, BLUE = (128, 128, 128), (220, 30, 30), (30, 30, 220)
GREEN, YELLOW = (30, 200, 30), (240, 240, 0)


def _two_objects():
    """A (red, index 0) partly hidden behind B (blue, index 1); A's hidden
    part is 'completed' green, the background 'inpainted' yellow."""
    h, w = 20, 40
    amodal = np.zeros((2, h, w), bool)
    amodal[0, 5:15, 5:15] = True
    amodal[1, 8:18, 10:22] = True
    modal = amodal.copy()
    modal[0] &= ~amodal[1]
    image = np.empty((h, w, 3), np.uint8)
    image[:] = GRAY
    image[modal[0]] = RED
    image[modal[1]] = BLUE
    fill = amodal & ~modal
    rgb = np.broadcast_to(image, (2, h, w, 3)).copy()
    rgb[0][fill[0]] = GREEN
    hole = cv2.dilate(modal.any(0).astype(np.uint8),
                      np.ones((3, 3), np.uint8)) > 0
    background = image.copy()
    background[hole] = YELLOW
    layers = ContentLayers(
        image=image, background=background, background_hole=hole, rgb=rgb,
        fill_masks=fill, alpha=amodal | modal, modal_masks=modal,
        amodal_masks=amodal, background_dilation=3)
    order = np.array([[0, -1], [1, 0]], np.int8)  # B occludes A
    return layers, order


def _colour(picture, mask):
    """The set of colours of a picture inside a mask."""
    return {tuple(int(v) for v in c) for c in picture[mask]}


def test_no_edit_reproduces_the_image():
    layers, order = _two_objects()
    np.testing.assert_array_equal(SceneRecomposer(layers, order).render(),
                                  layers.image)


@pytest.mark.parametrize('edit', [
    lambda s: s.bring_to_front(0), lambda s: s.send_to_back(1),
    lambda s: s.place_above(0, 1)
])
def test_depth_edits_show_the_completed_part(edit):
    layers, order = _two_objects()
    scene = SceneRecomposer(layers, order)
    out = edit(scene).render()
    overlap = layers.amodal_masks[0] & layers.amodal_masks[1]
    assert _colour(out, overlap) == {GREEN}
    assert _colour(out, layers.modal_masks[0]) == {RED}
    assert _colour(out, layers.modal_masks[1] & ~overlap) == {BLUE}
    # Nothing else changes (no background is revealed by a depth edit).
    others = ~(layers.alpha.any(0))
    np.testing.assert_array_equal(out[others], layers.image[others])
    assert scene.stacking == [1, 0]


def test_delete_reveals_completion_and_background():
    layers, order = _two_objects()
    out = recompose(layers, order, delete=[1])
    overlap = layers.amodal_masks[0] & layers.amodal_masks[1]
    assert _colour(out, overlap) == {GREEN}
    assert _colour(out, layers.modal_masks[0]) == {RED}
    rest = layers.modal_masks[1] & ~overlap
    assert _colour(out, rest) == {YELLOW}
    # The background band next to the deleted object is inpainted too, but
    # never over the untouched object's visible pixels.
    band = layers.background_hole & ~layers.alpha.any(0)
    near_b = cv2.dilate(layers.modal_masks[1].astype(np.uint8),
                        np.ones((3, 3), np.uint8)) > 0
    assert _colour(out, band & near_b & ~layers.amodal_masks[0]) == {YELLOW}
    far = ~layers.background_hole
    np.testing.assert_array_equal(out[far], layers.image[far])


def test_move_draws_the_object_elsewhere():
    layers, order = _two_objects()
    out = recompose(layers, order, move=[(1, 15, 0)])
    moved = shift_array(layers.amodal_masks[1], 15, 0)
    assert _colour(out, moved) == {BLUE}
    overlap = layers.amodal_masks[0] & layers.amodal_masks[1]
    assert _colour(out, overlap & ~moved) == {GREEN}
    old = layers.modal_masks[1] & ~overlap & ~moved
    assert _colour(out, old) == {YELLOW}
    assert _colour(out, layers.modal_masks[0]) == {RED}


def test_cycles_and_errors():
    layers, _ = _two_objects()
    three = ContentLayers(
        image=layers.image, background=layers.background,
        background_hole=layers.background_hole,
        rgb=np.concatenate([layers.rgb, layers.rgb[:1]]),
        fill_masks=np.concatenate([layers.fill_masks,
                                   layers.fill_masks[:1]]),
        alpha=np.concatenate([layers.alpha, layers.alpha[:1]]),
        modal_masks=np.concatenate(
            [layers.modal_masks,
             np.zeros_like(layers.modal_masks[:1])]),
        amodal_masks=np.concatenate([layers.amodal_masks,
                                     layers.amodal_masks[:1]]))
    cycle = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], np.int8)
    scene = SceneRecomposer(three, torch.from_numpy(cycle))
    assert sorted(scene.stacking) == [0, 1, 2]
    np.testing.assert_array_equal(scene.render(), layers.image)
    scene.delete(2)
    with pytest.raises(RecomposeError, match='deleted'):
        scene.move(2, 1, 1)
    with pytest.raises(RecomposeError, match='valid: 0..2'):
        scene.delete(3)
    with pytest.raises(RecomposeError, match='itself'):
        scene.place_above(0, 0)
    with pytest.raises(RecomposeError, match='integers'):
        scene.move(0, 0.5, 0)
    with pytest.raises(RecomposeError, match=r'\(3, 3\)'):
        SceneRecomposer(three, np.zeros((2, 2)))


def test_shift_array():
    a = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(
        shift_array(a, 1, -1), [[0, 4, 5, 6], [0, 8, 9, 10], [0, 0, 0, 0]])
    assert not shift_array(a, 4, 0).any()


# ----------------------------------------------------------------------
# The tool on a real photo
# ----------------------------------------------------------------------
PHOTO = ROOT / 'demo/images/000000000438.jpg'  # 13 donuts, many touching
ANN = ROOT / 'demo/annotations.json'
DELETED, MOVED, SHIFT = 0, 5, (0, -90)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    """Random PCNet-M (tiny) and PCNet-C checkpoints with their configs."""
    init_default_scope('mmdet')
    folder = tmp_path_factory.mktemp('recompose_ckpts')
    pcnet_m = random_pcnet(width=0.25, in_size=32)
    m_cfg = dict(type='PCNetM', width=0.25, in_size=32)
    save_checkpoint_atomic(
        dict(state_dict=pcnet_m.state_dict(),
             meta=dict(cfg=config_text_for_model(m_cfg))),
        str(folder / 'pcnet_m.pth'))
    c_cfg = dict(type='PCNetC',
                 generator=dict(type='PCNetCGenerator', window_rescale=True),
                 inpainting_loss=dict(type='PCNetCInpaintingLoss',
                                      perceptual_weight=0, style_weight=0))
    torch.manual_seed(0)
    pcnet_c = MODELS.build(c_cfg)
    save_checkpoint_atomic(
        dict(state_dict=pcnet_c.state_dict(),
             meta=dict(cfg=config_text_for_model(c_cfg))),
        str(folder / 'pcnet_c.pth'))
    return folder / 'pcnet_m.pth', folder / 'pcnet_c.pth'


def _photo_masks():
    data = json.loads(ANN.read_text())
    anns = [a for a in data['annotations']
            if a['image_id'] == 438 and not a.get('iscrowd')]
    from mmdeocc.datasets import load_coco_modal
    records, _ = load_coco_modal(str(ANN))
    record = [r for r in records if r['img_id'] == 438][0]
    masks = np.stack([decode_rle(i['modal_mask']).astype(bool)
                      for i in record['instances']
                      if not i.get('ignore_flag')])
    assert len(masks) == len(anns) == 13
    return masks


def test_tool_deletes_and_moves_on_a_real_photo(checkpoints, tmp_path,
                                               capsys):
    pcnet_m, pcnet_c = checkpoints
    out = tmp_path / 'out.png'
    layers_dir = tmp_path / 'layers'
    code = recompose_tool.main([
        str(PHOTO), '--masks-from', str(ANN), '--pcnet-m', str(pcnet_m),
        '--pcnet-c', str(pcnet_c), '--delete', str(DELETED), '--move',
        str(MOVED), str(SHIFT[0]), str(SHIFT[1]), '--content-size', '128',
        '--out', str(out), '--layers-dir', str(layers_dir)
    ])
    assert code == 0, capsys.readouterr().err
    assert '13 objects' in capsys.readouterr().out
    picture = cv2.imread(str(out))[..., ::-1]
    image = cv2.imread(str(PHOTO))[..., ::-1]
    assert picture.shape == image.shape == (480, 640, 3)
    masks = _photo_masks()
    scene = json.loads((layers_dir / 'scene.json').read_text())
    order = np.array(scene['order'])
    np.testing.assert_array_equal(order, -order.T)
    assert sorted(scene['drawing_order']) == list(range(13))
    alpha = np.stack([
        cv2.imread(str(layers_dir / f'layer_{i:03d}.png'),
                   cv2.IMREAD_UNCHANGED)[..., 3] > 0 for i in range(13)
    ])
    assert (alpha >= masks).all()  # every layer shows its visible part
    moved = shift_array(alpha[MOVED], *SHIFT)
    # Untouched objects keep their visible pixels wherever the moved
    # object is not drawn over them.
    untouched = [i for i in range(13) if i not in (DELETED, MOVED)]
    keep = masks[untouched].any(0) & ~moved
    assert keep.sum() > 50000
    np.testing.assert_array_equal(picture[keep], image[keep])
    # The deleted object is gone: most of its pixels changed.
    gone = masks[DELETED] & ~moved
    assert (picture[gone] != image[gone]).any(-1).mean() > 0.5
    # The moved object's visible pixels appear, shifted, where no other
    # layer can be drawn.
    others = alpha[[i for i in range(13) if i not in (DELETED, MOVED)]]
    shifted_modal = shift_array(masks[MOVED], *SHIFT)
    free = shifted_modal & ~others.any(0)
    assert free.sum() > 1000
    expected = shift_array(image, *SHIFT)
    np.testing.assert_array_equal(picture[free], expected[free])


def test_tool_rejects_bad_edits(checkpoints, tmp_path, capsys):
    pcnet_m, pcnet_c = checkpoints
    code = recompose_tool.main([
        str(PHOTO), '--masks-from', str(ANN), '--pcnet-m', str(pcnet_m),
        '--pcnet-c', str(pcnet_c), '--delete', '13', '--out',
        str(tmp_path / 'x.png')
    ])
    assert code == 2
    assert '--delete 13: the image has 13 objects' in capsys.readouterr().err
    assert not (tmp_path / 'x.png').exists()
    with pytest.raises(SystemExit) as exc:
        recompose_tool.parse_args(['--help'])
    assert exc.value.code == 0
    assert '--masks-from' in capsys.readouterr().out
    with pytest.raises(SystemExit):
        recompose_tool.parse_args([
            str(tmp_path / 'missing.jpg'), '--masks-from', str(ANN),
            '--pcnet-m', str(pcnet_m), '--pcnet-c', str(pcnet_c), '--out',
            'x.png'
        ])


def test_flip_scale_and_identity_placements():
    layers, order = _two_objects()
    # flipping twice and scaling by 1 draws the layer where it was
    scene = SceneRecomposer(layers, order).flip(0).flip(0).scale(0, 1.0)
    assert not scene.moved
    np.testing.assert_array_equal(scene.render(), layers.image)
    # a mirrored A in front: its box keeps its place, its colours mirror
    scene = SceneRecomposer(layers, order).flip(0).bring_to_front(0)
    out = scene.compose()
    box = (slice(5, 15), slice(5, 15))
    np.testing.assert_array_equal(out.image[box],
                                  layers.rgb[0][box][:, ::-1])
    np.testing.assert_array_equal(out.owner[box], 0)
    # doubled about its centre: a 20 x 20 square centred where A was
    out = SceneRecomposer(layers, order).scale(0, 2.0).bring_to_front(0)
    visible = out.compose().visible_masks()
    ys, xs = np.nonzero(visible[0])
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (0, 19, 0, 19)
    with pytest.raises(RecomposeError, match='factor'):
        SceneRecomposer(layers, order).scale(0, 0.0)


def test_compose_owner_is_the_picture():
    """The owner map and the picture agree: each object's pixels show its
    layer, background pixels the background; no edit = the modal masks."""
    from mmdeocc.deocclusion import LayerCrop
    layers, order = _two_objects()
    identity = SceneRecomposer(layers, order).compose()
    np.testing.assert_array_equal(identity.visible_masks(),
                                  layers.modal_masks)
    scene = SceneRecomposer(layers, order).move(1, 15, 0)
    patch = LayerCrop(30, 0, np.ones((6, 6), bool),
                      np.full((6, 6, 3), YELLOW, np.uint8))
    index = scene.paste(patch, depth=0)  # behind everything
    assert index == 2 and scene.num_layers == 3
    out = scene.compose()
    np.testing.assert_array_equal(out.image, scene.render())
    masks = out.visible_masks()
    assert masks.shape == (3, 20, 40)
    assert (masks.sum(0) <= 1).all()
    assert _colour(out.image, masks[0]) <= {RED, GREEN}
    assert _colour(out.image, masks[1]) == {BLUE}
    # the paste is behind B where they overlap, clipped at the border
    assert masks[2].sum() == 6 * 6 - (masks[1][:6, 30:36]).sum()
    assert _colour(out.image, masks[2]) == {YELLOW}
    with pytest.raises(RecomposeError, match='paste'):
        scene.paste(LayerCrop(0, 0, np.ones((2, 2), bool),
                              np.zeros((3, 3, 3), np.uint8)))
