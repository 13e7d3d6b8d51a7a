"""Pictures of de-occlusion results and of the occlusion graph."""
import numpy as np
import pytest

from mmdeocc.visualization import (DrawingInputError, draw_object_ids,
                                   draw_order_graph, graph_layout,
                                   invisible_parts, object_colours,
                                   order_edges, overlay_invisible,
                                   overlay_visible, render_deocclusion)

H, W = 40, 60


@pytest.fixture
def scene():
    """Object 0 (front rectangle) hides part of object 1 (a wider
    rectangle); object 2 is separate and not occluded."""
    amodal = np.zeros((3, H, W), bool)
    amodal[0, 10:30, 10:25] = True
    amodal[1, 5:35, 18:45] = True
    amodal[2, 30:38, 48:58] = True
    modal = amodal.copy()
    modal[1] &= ~amodal[0]
    order = np.zeros((3, 3), np.int8)
    order[0, 1], order[1, 0] = 1, -1
    image = np.full((H, W, 3), 128, np.uint8)
    return image, modal, amodal, order


def _changed(a, b):
    return (a != b).any(axis=2)


def test_invisible_colouring_changes_exactly_amodal_minus_modal(scene):
    image, modal, amodal, order = scene
    hidden = invisible_parts(modal, amodal)
    assert hidden[1].sum() == (amodal[0] & amodal[1]).sum() > 0
    assert not hidden[0].any() and not hidden[2].any()
    out = overlay_invisible(image, modal, amodal, order=order)
    assert np.array_equal(_changed(out, image), hidden.any(0))
    # Hatched: solid stripes in the object's colour and a translucent fill.
    colour = object_colours(3)[1]
    pixels = out[hidden[1]]
    solid = (pixels == colour).all(1)
    assert 0 < solid.sum() < len(pixels)
    # The same holds inside the full picture (labels off).
    full = render_deocclusion(image, modal, amodal, order, show_ids=False)
    without = render_deocclusion(image, modal, amodal, order,
                                 show_ids=False, show_invisible=False)
    assert np.array_equal(_changed(full, without), hidden.any(0))


def test_visible_colouring_changes_exactly_the_modal_masks(scene):
    image, modal, amodal, order = scene
    out = overlay_visible(image, modal, order=order)
    assert np.array_equal(_changed(out, image), modal.any(0))
    colours = object_colours(3)
    for k in range(3):
        expected = np.round(0.55 * 128 + 0.45 * colours[k].astype(float))
        assert np.array_equal(out[modal[k]][0], expected.astype(np.uint8))


def test_object_ids_are_drawn_inside_their_masks(scene):
    image, modal, _, _ = scene
    out = draw_object_ids(image, modal, ['0', '1', ''])
    changed = _changed(out, image)
    assert changed[modal[0]].any() and changed[modal[1]].any()
    assert not changed[30:38, 48:58].any()  # empty text: nothing drawn
    empty = np.zeros_like(modal)
    assert np.array_equal(draw_object_ids(image, empty, ['a'] * 3), image)


def test_render_is_deterministic_and_checks_shapes(scene):
    image, modal, amodal, order = scene
    names = ['car', 'van', None]
    a = render_deocclusion(image, modal, amodal, order, names)
    b = render_deocclusion(image, modal, amodal, order, names)
    assert a.shape == image.shape and a.dtype == np.uint8
    assert np.array_equal(a, b)
    with pytest.raises(DrawingInputError, match='amodal'):
        render_deocclusion(image, modal, amodal[:2])
    with pytest.raises(DrawingInputError, match=r'\(N, 40, 60\)'):
        overlay_visible(image, modal[:, :10])
    with pytest.raises(DrawingInputError, match='uint8'):
        overlay_visible(image.astype(np.float32), modal)
    empty = np.zeros((0, H, W), bool)
    assert np.array_equal(render_deocclusion(image, empty, empty), image)


def test_order_graph_layout_and_arrows():
    # 0 occludes 1 occludes 2; 3 is unrelated.
    order = np.zeros((4, 4), np.int8)
    for i, j in ((0, 1), (1, 2)):
        order[i, j], order[j, i] = 1, -1
    assert order_edges(order) == [(0, 1), (1, 2)]
    centres, (height, width) = graph_layout(order)
    # front-most layer on top
    assert centres[0, 1] < centres[1, 1] < centres[2, 1]
    assert centres[3, 1] == centres[0, 1]
    colours = object_colours(4)
    picture = draw_order_graph(order, ['a', 'b', 'c', 'd'], colours)
    assert picture.shape == (height, width, 3)
    for k in range(4):
        x, y = centres[k]
        assert np.array_equal(picture[y - 10, x], colours[k])
    # an arrow (dark pixels) halfway between 0 and 1, none between 0 and 3
    mid = (centres[0] + centres[1]) // 2
    patch = picture[mid[1] - 2:mid[1] + 3, mid[0] - 2:mid[0] + 3]
    assert (patch.max(2) < 100).any()
    mid03 = (centres[0] + centres[3]) // 2
    assert (picture[mid03[1], mid03[0]] == 255).all()
    # An edge skipping a layer (0 -> 2) arcs around node 1 instead of
    # running through it: node 1's disc keeps its colour and border only.
    order[0, 2], order[2, 0] = 1, -1
    skip = draw_order_graph(order, ['a', 'b', 'c', 'd'], colours)
    assert not np.array_equal(skip, picture)
    x, y = centres[1]
    yy, xx = np.mgrid[0:height, 0:width]
    near = np.hypot(xx - x, yy - y) <= 26
    assert np.array_equal(skip[near], picture[near])
    # Node ids can be the objects' original indices.
    relabelled = draw_order_graph(order, ids=[10, 11, 12, 13])
    assert not np.array_equal(relabelled, draw_order_graph(order))


def test_order_graph_cycles_and_empty():
    cycle = np.array([[0, 1, -1], [-1, 0, 1], [1, -1, 0]], np.int8)
    picture = draw_order_graph(cycle)
    centres, _ = graph_layout(cycle)
    assert len(set(centres[:, 1].tolist())) == 1  # one layer
    assert picture.dtype == np.uint8
    empty = draw_order_graph(np.zeros((0, 0), np.int8))
    assert empty.shape[0] > 0 and (empty != 255).any()  # 'no objects'
    with pytest.raises(DrawingInputError, match='square'):
        draw_order_graph(np.zeros((2, 3)))


def test_small_images_are_drawn_enlarged():
    from mmdeocc.visualization.deocclusion_drawing import enlargement
    image = np.full((40, 60, 3), 200, np.uint8)
    modal = np.zeros((1, 40, 60), bool)
    modal[0, 10:20, 10:30] = True
    amodal = modal.copy()
    amodal[0, 10:25] = True
    assert enlargement((40, 60), 100) == 3 and enlargement((40, 60), 0) == 1
    big = render_deocclusion(image, modal, amodal, min_side=100)
    assert big.shape == (120, 180, 3)
    # without hatching and labels the enlarged picture is the small one with
    # every pixel repeated 3 x 3
    small = render_deocclusion(image, modal, amodal, show_ids=False,
                               show_invisible=False)
    plain = render_deocclusion(image, modal, amodal, show_ids=False,
                               show_invisible=False, min_side=100)
    np.testing.assert_array_equal(plain, small.repeat(3, 0).repeat(3, 1))
