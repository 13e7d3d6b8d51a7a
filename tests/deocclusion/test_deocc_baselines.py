"""Geometric baselines on hand-built scenes with known answers."""
import numpy as np
import pytest
import torch

from mmdeocc.deocclusion import (DeOccluder, area_order, convex_amodal,
                                 convex_hull_mask, convex_hulls, convex_order,
                                 convexr_amodal, raw_amodal, yaxis_order)


def _disc(h, w, cy, cx, r):
    yy, xx = np.mgrid[:h, :w]
    return (yy - cy)**2 + (xx - cx)**2 <= r * r


def square_over_disc():
    """A 14x14 square covering the lower-right part of a radius-12 disc.

    Returns (modal masks (2, H, W), full disc)."""
    h, w = 48, 48
    disc = _disc(h, w, 20, 20, 12)
    square = np.zeros((h, w), dtype=bool)
    square[24:38, 24:38] = True
    modal = np.stack([disc & ~square, square])
    return modal, disc


def test_convex_hull_pixel_convention():
    mask = np.zeros((9, 9), dtype=bool)
    mask[1, 1] = mask[1, 7] = mask[7, 1] = True  # three corners
    hull = convex_hull_mask(mask)
    # The triangle with vertices at pixel centres (1,1), (7,1), (1,7):
    # pixel centres on or inside it are x + y <= 8 with x, y >= 1.
    yy, xx = np.mgrid[:9, :9]
    expected = (xx >= 1) & (yy >= 1) & (xx + yy <= 8)
    np.testing.assert_array_equal(hull, expected)
    # Degenerate masks: a single pixel and a line are their own hulls.
    dot = np.zeros((5, 5), dtype=bool)
    dot[2, 3] = True
    np.testing.assert_array_equal(convex_hull_mask(dot), dot)
    line = np.zeros((5, 5), dtype=bool)
    line[1:4, 2] = True
    np.testing.assert_array_equal(convex_hull_mask(line), line)


def test_reference_hull_counts_pixel_diamonds():
    """The reference's hull: each pixel is the diamond of its four edge
    midpoints, and centres on the hull's border count."""
    mask = np.zeros((2, 3), dtype=bool)
    mask[0, 0] = mask[1, 2] = True
    # Diamonds of (x, y) = (0, 0) and (2, 1): the hull edges from (0, -0.5)
    # to (2, 0.5) and from (0, 0.5) to (2, 1.5) pass through the centres
    # (1, 0) and (1, 1); the 'centres' hull is the rasterised segment.
    np.testing.assert_array_equal(convex_hull_mask(mask),
                                  [[1, 1, 0], [0, 1, 1]])
    np.testing.assert_array_equal(convex_hull_mask(mask, 'centres'),
                                  [[1, 1, 0], [0, 0, 1]])
    assert not convex_hull_mask(np.zeros((3, 3), dtype=bool)).any()
    with pytest.raises(ValueError, match='hull convention'):
        convex_hull_mask(mask, 'corners')
    masks = torch.from_numpy(mask[None])
    centres = DeOccluder(order_method='convex', amodal_method='convex',
                         hull_convention='centres')
    assert centres.amodal(masks, torch.zeros(1, 1)).sum() == 3
    assert DeOccluder(order_method='convex', amodal_method='convex').amodal(
        masks, torch.zeros(1, 1)).sum() == 4


def test_square_over_disc_orders():
    modal, _ = square_over_disc()
    masks = torch.from_numpy(modal)
    area_disc, area_square = modal[0].sum(), modal[1].sum()
    assert area_square < area_disc
    # Area: the smaller (square) is on top; KINS variant the reverse.
    assert area_order(masks).tolist() == [[0, -1], [1, 0]]
    assert area_order(masks, larger_on_top=True).tolist() == [[0, 1], [-1, 0]]
    # Y-axis: the square's centroid is lower -> on top.
    assert yaxis_order(masks).tolist() == [[0, -1], [1, 0]]
    # Convex: the bitten disc's hull grows into the square, not vice versa.
    hulls = convex_hulls(masks)
    assert int((hulls[0] & masks[1]).sum()) > 0
    assert int((hulls[1] & masks[0]).sum()) == 0
    assert convex_order(masks).tolist() == [[0, -1], [1, 0]]


def test_square_over_disc_amodal():
    modal, disc = square_over_disc()
    masks = torch.from_numpy(modal)
    assert torch.equal(raw_amodal(masks), masks)
    hull = convex_amodal(masks)
    # The hull of the bitten disc recovers most of the disc; the square is
    # already convex.
    assert torch.equal(hull[1], masks[1])
    recovered = hull[0].numpy()
    assert (recovered & ~disc).sum() <= 0.05 * disc.sum()
    assert (disc & ~recovered).sum() <= 0.1 * (disc & ~modal[0]).sum() + 30
    # Convex^R with the convex order: the disc's hull restricted to disc +
    # square (its ancestor); the square keeps its own (convex) mask.
    amodal = convexr_amodal(masks)
    assert torch.equal(amodal[0], hull[0] & (masks[0] | masks[1]))
    assert torch.equal(amodal[1], masks[1])
    # With a given order where the disc is on top, nothing is added.
    flipped = np.array([[0, 1], [-1, 0]], dtype=np.int8)
    amodal = convexr_amodal(masks, flipped)
    assert torch.equal(amodal[0], masks[0])


def test_convexr_restriction_excludes_non_ancestors():
    # A C-shape whose hull covers a separate blob inside its opening: the
    # blob does not occlude the C, so Convex^R must not grow into it.
    h = w = 30
    c_shape = np.zeros((h, w), dtype=bool)
    c_shape[5:25, 5:9] = True
    c_shape[5:9, 5:25] = True
    c_shape[21:25, 5:25] = True
    blob = np.zeros((h, w), dtype=bool)
    blob[12:18, 14:20] = True
    masks = torch.from_numpy(np.stack([c_shape, blob]))
    order = np.zeros((2, 2), dtype=np.int8)  # not touching: no relation
    amodal = convexr_amodal(masks, order)
    assert torch.equal(amodal[0], masks[0])
    assert int((convex_hulls(masks)[0] & masks[1]).sum()) == 36


def test_only_touching_pairs_are_ordered():
    h, w = 20, 40
    a = np.zeros((h, w), dtype=bool)
    a[2:8, 2:8] = True
    b = np.zeros((h, w), dtype=bool)
    b[10:18, 20:30] = True  # far away
    masks = torch.from_numpy(np.stack([a, b]))
    for fn in (area_order, yaxis_order, convex_order):
        assert not fn(masks).any()


@pytest.mark.parametrize('order_method',
                         ['area', 'area_large', 'yaxis', 'convex'])
@pytest.mark.parametrize('amodal_method', ['raw', 'convex', 'convexr'])
def test_deoccluder_baselines_without_model(order_method, amodal_method):
    modal, _ = square_over_disc()
    deocc = DeOccluder(order_method=order_method, amodal_method=amodal_method)
    result = deocc(modal)
    assert result.order.dtype == torch.int8
    assert torch.equal(result.order, -result.order.T)
    expected = {'area': -1, 'area_large': 1, 'yaxis': -1, 'convex': -1}
    assert int(result.order[0, 1]) == expected[order_method]
    amodal = result.amodal_masks
    assert amodal.dtype == torch.bool and amodal.shape == modal.shape
    assert bool((amodal | torch.from_numpy(modal)).eq(amodal).all())
    if amodal_method == 'convexr':
        # The disc grows only when the square is its ancestor.
        grows = bool((amodal[0] & ~torch.from_numpy(modal[0])).any())
        assert grows == (expected[order_method] == -1)
