"""The content-completion picture: input and background side by side, one
tile per completed object, outlined in the object's colour."""
import numpy as np
import pytest

from mmdeocc.deocclusion import ContentLayers
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
