"""The content-completion picture: input and background side by side, one
tile per completed object, outlined in the object's colour."""
import numpy as np
import pytest

from mmdeocc.structures import ContentLayers
from mmdeocc.visualization import (DrawingInputError, checkerboard,
                                   object_colours, render_content_layers)
from mmdeocc.visualization.content_drawing import CAPTION, GAP

H, W = 60, 80


def _layers():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    modal = np.zeros((3, H, W), bool)
    modal[0, 10:30, 10:30] = True
    modal[1, 20:50, 25:60] = True
    modal[2, 5:15, 65:75] = True
    amodal = modal.copy()
    amodal[0, 10:40, 10:40] = True  # object 0 continues under object 1
    fill = amodal & ~modal
    rgb = np.broadcast_to(image, (3, H, W, 3)).copy()
    rgb[0][fill[0]] = (0, 255, 0)
    hole = modal.any(0)
    background = image.copy()
    background[hole] = (10, 20, 30)
    return ContentLayers(image=image, background=background,
                         background_hole=hole, rgb=rgb, fill_masks=fill,
                         alpha=amodal | modal, modal_masks=modal,
                         amodal_masks=amodal,
                         instance_indices=np.array([0, 2, 5]))


def test_panels_and_tiles():
    layers = _layers()
    colours = object_colours(3)
    picture = render_content_layers(layers, names=['a', 'b', 'c'],
                                    colours=colours)
    top = GAP + CAPTION
    # input (BGR) and background panels, unchanged
    assert np.array_equal(picture[top:top + H, GAP:GAP + W],
                          layers.image[..., ::-1])
    x = GAP + W + GAP
    assert np.array_equal(picture[top:top + H, x:x + W],
                          layers.background[..., ::-1])
    assert picture.shape[1] == 2 * W + 3 * GAP
    # one tile row below (only object 0 has completed pixels); its
    # completed part (green in RGB) and its outline colour are drawn
    below = picture[top + H:]
    assert below.shape[0] > 64
    assert (below == (0, 255, 0)).all(-1).any()
    assert (below == colours[0]).all(-1).any()
    assert not (below == colours[1]).all(-1).any()


def test_checkerboard_and_errors():
    board = checkerboard(16, 16, cell=8)
    assert board[0, 0, 0] != board[0, 8, 0] and board[0, 0, 0] == board[8, 8,
                                                                         0]
    with pytest.raises(DrawingInputError, match='2 colours for 3'):
        render_content_layers(_layers(), colours=object_colours(2))


def test_slivers_are_left_out():
    layers = _layers()
    layers.fill_masks[1, 20, 25:27] = True  # 2 px of a 1050 px layer
    base = render_content_layers(layers, colours=object_colours(3))
    assert not (base == object_colours(3)[1]).all(-1).any()
    every = render_content_layers(layers, colours=object_colours(3),
                                  min_fill_fraction=0.0)
    assert (every == object_colours(3)[1]).all(-1).any()


def test_no_object():
    layers = _layers()
    empty = ContentLayers(
        image=layers.image, background=layers.image.copy(),
        background_hole=np.zeros((H, W), bool),
        rgb=np.zeros((0, H, W, 3), np.uint8),
        fill_masks=np.zeros((0, H, W), bool), alpha=np.zeros((0, H, W), bool),
        modal_masks=np.zeros((0, H, W), bool),
        amodal_masks=np.zeros((0, H, W), bool))
    picture = render_content_layers(empty)
    assert picture.shape == (H + CAPTION + 2 * GAP, 2 * W + 3 * GAP, 3)
