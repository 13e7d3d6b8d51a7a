"""Crop-and-resize, translation and overlap helpers against brute force."""
import cv2
import numpy as np
import torch
import pytest

from mmdeocc.datasets.transforms import (crop_resize_nearest, foreground_box,
                                         integer_window, shifted_overlap,
                                         translate)
from mmdeocc.structures import integer_crop_boxes, square_crop_boxes


def padded_crop(mask, x0, y0, side):
    """Zero-padded square crop of a full-image mask (via np.pad)."""
    pad = side + abs(x0) + abs(y0)
    padded = np.pad(mask, pad)
    return padded[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]


def test_integer_window_matches_integer_crop_boxes():
    rng = np.random.default_rng(0)
    boxes = np.concatenate([rng.uniform(-20, 300, (200, 2)),
                            rng.uniform(1, 200, (200, 2))], 1)
    expected = integer_crop_boxes(boxes)
    squares = square_crop_boxes(boxes)
    got = np.array([integer_window(*sq) for sq in squares])
    np.testing.assert_array_equal(got, expected)


def test_window_corner_comes_from_the_float_side():
    """The reference's rounding: ``x0 = int(cx - side / 2)`` with the float
    side, then ``int(side)``; truncating the side first would give 8."""
    box = np.array([[10.0, 10.0, 6.0, 6.0]])  # side sqrt(108) = 10.39
    assert integer_crop_boxes(box).tolist() == [[7, 7, 10]]
    assert integer_crop_boxes(torch.from_numpy(box).float()).tolist() == [
        [7, 7, 10]]
    assert integer_window(13.0, 13.0, 108**0.5) == (7, 7, 10)
    # Truncation toward zero left of the image, as Python's int().
    assert integer_window(1.0, 1.0, 5.0) == (-1, -1, 5)


@pytest.mark.parametrize('flip', [False, True])
def test_crop_resize_matches_padded_crop_and_cv2(flip):
    rng = np.random.default_rng(1)
    mask = rng.random((37, 53)) < 0.4
    mismatched = 0
    for _ in range(30):
        side = int(rng.integers(1, 90))
        x0, y0 = (int(v) for v in rng.integers(-40, 60, 2))
        size = int(rng.choice([16, 31, 64]))
        got = crop_resize_nearest(mask, (0, 0), (x0, y0, side), size, flip)
        crop = padded_crop(mask, x0, y0, side)
        src = (np.arange(size) * side) // size
        expected = crop[src][:, src]
        if flip:
            expected = expected[:, ::-1]
        np.testing.assert_array_equal(got, expected)
        ref = cv2.resize(crop.astype(np.uint8), (size, size),
                         interpolation=cv2.INTER_NEAREST).astype(bool)
        if flip:
            ref = ref[:, ::-1]
        mismatched += int((ref != got).any(axis=0).sum() +
                          (ref != got).any(axis=1).sum())
    # cv2 computes the source index in floating point; at most a few rows or
    # columns may differ at exact boundaries.
    assert mismatched <= 6


def test_crop_resize_with_offset_equals_full_mask():
    rng = np.random.default_rng(2)
    full = np.zeros((80, 100), bool)
    full[20:50, 30:70] = rng.random((30, 40)) < 0.6
    tight = full[20:50, 30:70]
    for _ in range(20):
        side = int(rng.integers(5, 120))
        x0, y0 = (int(v) for v in rng.integers(-30, 90, 2))
        flip = bool(rng.random() < 0.5)
        patch, (ex0, ey0, ex1, ey1) = crop_resize_nearest(
            tight, (30, 20), (x0, y0, side), 48, flip, return_extent=True)
        np.testing.assert_array_equal(
            patch, crop_resize_nearest(full, (0, 0), (x0, y0, side), 48, flip))
        # the extent bounds every foreground pixel
        assert patch.sum() == patch[ey0:ey1, ex0:ex1].sum()


def test_translate_and_shifted_overlap():
    rng = np.random.default_rng(3)
    a = rng.random((32, 32)) < 0.3
    b = rng.random((32, 32)) < 0.3
    box = foreground_box(a)
    for dx, dy in [(0, 0), (5, -3), (-31, 2), (40, 0), (-7, 31), (12, 12)]:
        shifted = translate(b, dx, dy)
        brute = np.zeros_like(b)
        for y in range(32):
            for x in range(32):
                if 0 <= y - dy < 32 and 0 <= x - dx < 32:
                    brute[y, x] = b[y - dy, x - dx]
        np.testing.assert_array_equal(shifted, brute)
        assert shifted_overlap(a, box, b, dx, dy) == int((a & brute).sum())


def test_foreground_box():
    mask = np.zeros((10, 12), bool)
    assert foreground_box(mask) == (0, 0, 0, 0)
    mask[2:5, 3:9] = True
    assert foreground_box(mask) == (3, 2, 9, 5)
