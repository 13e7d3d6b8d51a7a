"""Bit-packed masks, crops, paste-back and the touch test."""
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmdeocc.structures.image_ops import (crop_union, dilate_square,
                                          paste_patches)
from mmdeocc.structures import PackedMasks, touch_radii, touching_pairs
from mmdeocc.structures.packed_masks import extract_bits


def _random_masks(n, h, w, p=0.05, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, h, w, generator=g) < p


def _window_crop(mask, x0, y0, side):
    h, w = mask.shape
    out = np.zeros((side, side), dtype=np.float32)
    for yy in range(side):
        for xx in range(side):
            if 0 <= y0 + yy < h and 0 <= x0 + xx < w:
                out[yy, xx] = mask[y0 + yy, x0 + xx]
    return out


def test_extract_bits():
    values = torch.tensor([0, 1, 6, (1 << 62) | 5])
    rows, bits = extract_bits(values)
    pairs = sorted(zip(rows.tolist(), bits.tolist()))
    assert pairs == [(1, 0), (2, 1), (2, 2), (3, 0), (3, 2), (3, 62)]


@pytest.mark.parametrize('n', [0, 1, 63, 64, 130])
def test_pack_and_lookup_roundtrip(n):
    masks = _random_masks(n, 12, 17, p=0.3)
    packed = PackedMasks.from_masks(masks, pixel_chunk=50)
    assert packed.num_words == max(1, -(-n // 63))
    ys, xs = torch.meshgrid(torch.arange(12), torch.arange(17), indexing='ij')
    sel = packed.selectors_from_indices(torch.arange(n))
    got = packed.lookup(ys[None], xs[None], sel[:, None, None, :])
    assert torch.equal(got, masks)
    if n:
        members = torch.rand(
            5, n, generator=torch.Generator().manual_seed(1)) < 0.3
        union = packed.lookup(
            ys[None], xs[None],
            packed.selectors_from_members(members)[:, None, None, :])
        expected = (members[:, :, None, None] & masks[None]).any(1)
        assert torch.equal(union, expected)


def test_crop_matches_opencv_and_torch():
    masks = _random_masks(3, 40, 50, p=0.4, seed=2).numpy()
    packed = PackedMasks.from_masks(torch.from_numpy(masks))
    # Windows inside, across every border, larger than the image, tiny.
    windows = torch.tensor([[-5, -3, 37], [10, 10, 20], [0, 0, 3],
                            [30, 25, 40], [-20, -20, 90], [45, 35, 7]])
    objs = torch.tensor([0, 1, 2, 0, 1, 2])
    sel = packed.selectors_from_indices(objs)
    for size in (16, 32):
        near = crop_union(packed, windows, sel, size, 'nearest')
        bil = crop_union(packed, windows, sel, size, 'bilinear')
        for k, (x0, y0, side) in enumerate(windows.tolist()):
            crop = _window_crop(masks[objs[k]], x0, y0, side)
            ref_near = cv2.resize(
                crop, (size, size), interpolation=cv2.INTER_NEAREST) > 0.5
            np.testing.assert_array_equal(near[k].numpy(), ref_near)
            ref_t = F.interpolate(
                torch.from_numpy(crop)[None, None],
                size=(size, size),
                mode='bilinear',
                align_corners=False)[0, 0].numpy()
            ref_cv = cv2.resize(
                crop, (size, size), interpolation=cv2.INTER_LINEAR)
            for ref in (ref_t, ref_cv):
                # Float resizers may round an exact 0.5 either way.
                clear = np.abs(ref - 0.5) > 1e-3
                np.testing.assert_array_equal(bil[k].numpy()[clear],
                                              (ref > 0.5)[clear])


def test_crop_of_union_is_union_before_resampling():
    # Two half-planes that each cover less than half of an output pixel
    # footprint but together more: bilinear of the union != union of the
    # bilinears. The eraser must be the union first.
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, :, 0] = True
    masks[1, :, 1] = True
    packed = PackedMasks.from_masks(masks)
    window = torch.tensor([[0, 0, 4]])
    both = packed.selectors_from_members(torch.tensor([[True, True]]))
    union = crop_union(packed, window, both, 2, 'bilinear')
    assert union[0, :, 0].all()
    single = [
        crop_union(packed, window,
                   packed.selectors_from_indices(torch.tensor([k])), 2,
                   'bilinear') for k in range(2)
    ]
    assert not (single[0] | single[1])[0, :, 0].any()


def test_paste_matches_torch_and_clips():
    g = torch.Generator().manual_seed(0)
    patches = torch.rand(5, 16, 16, generator=g) > 0.5
    windows = torch.tensor([[-5, -3, 37], [10, 10, 20], [0, 0, 3],
                            [35, 25, 50], [3, 4, 16]])
    h, w = 30, 41
    for chunk in (37, 1 << 20):  # tiny chunks split windows into bands
        out = torch.zeros(6, h, w, dtype=torch.bool)
        paste_patches(
            patches,
            windows,
            out,
            torch.tensor([5, 1, 2, 3, 4]),
            pixel_chunk=chunk)
        assert not out[0].any()
        for k, (x0, y0, side) in enumerate(windows.tolist()):
            up = F.interpolate(
                patches[k][None, None].float(),
                size=(side, side),
                mode='bilinear',
                align_corners=False)[0, 0].numpy()
            full = np.full((h, w), 0.0)
            ya, yb = max(y0, 0), min(y0 + side, h)
            xa, xb = max(x0, 0), min(x0 + side, w)
            full[ya:yb, xa:xb] = up[ya - y0:yb - y0, xa - x0:xb - x0]
            clear = np.abs(full - 0.5) > 1e-4
            row = [5, 1, 2, 3, 4][k]
            np.testing.assert_array_equal(out[row].numpy()[clear],
                                          (full > 0.5)[clear])
            outside = np.ones((h, w), dtype=bool)
            outside[ya:yb, xa:xb] = False
            assert not out[row].numpy()[outside].any()


def test_paste_exact_half_rule():
    # Upsampling a [1, 0] row 2 -> 3 gives 1, 0.5, 0: the middle value is
    # exactly 0.5, which is not > 0.5.
    patch = torch.tensor([[[True, False], [True, False]]])
    out = torch.zeros(1, 3, 3, dtype=torch.bool)
    paste_patches(patch, torch.tensor([[0, 0, 3]]), out, torch.tensor([0]))
    assert out[0].tolist() == [[True, False, False]] * 3


def test_dilate_square_matches_opencv():
    masks = _random_masks(4, 20, 20, p=0.03, seed=3)
    for kernel in (2, 3, 4, 5):
        got = dilate_square(masks, kernel)
        for k in range(4):
            ref = cv2.dilate(masks[k].numpy().astype(np.uint8),
                             np.ones((kernel, kernel), np.uint8)) > 0
            np.testing.assert_array_equal(got[k].numpy(), ref)
    assert torch.equal(dilate_square(masks, 0), masks)


def _blocks(h, w, rects):
    masks = np.zeros((len(rects), h, w), dtype=bool)
    for k, (y0, y1, x0, x1) in enumerate(rects):
        masks[k, y0:y1, x0:x1] = True
    return torch.from_numpy(masks)


def test_touch_known_cases():
    masks = _blocks(
        20,
        30,
        [
            (0, 5, 0, 5),  # 0
            (0, 5, 5, 10),  # 1: shares an edge with 0
            (5, 10, 10, 15),  # 2: only a corner with 1 (diagonal)
            (0, 5, 12, 15),  # 3: 2-pixel gap to 1 (columns 10, 11)
            (14, 20, 0, 30),  # 4: far below (4-row gap to 2); 5 overlaps it
            (15, 18, 3, 6),  # 5: inside 4 (overlap)
        ])
    masks = torch.cat([masks, torch.zeros(1, 20, 30, dtype=torch.bool)])
    touch = touching_pairs(masks)
    expected = {(0, 1), (4, 5), (2, 3)}  # 2 and 3 share an edge at row 4/5
    got = {(i, j) for i, j in zip(*np.nonzero(np.triu(touch.numpy())))}
    assert got == expected
    # Tolerance 1 px: diagonal neighbours (L1 distance 2) now touch; 2 px
    # closes the 2-pixel gap between 1 and 3.
    got1 = {(i, j)
            for i, j in zip(*np.nonzero(np.triu(touching_pairs(masks, 1))))}
    assert got1 == expected | {(1, 2)}
    got2 = {(i, j)
            for i, j in zip(*np.nonzero(np.triu(touching_pairs(masks, 2))))}
    assert got2 == expected | {(1, 2), (1, 3)}
    assert not touching_pairs(masks, 2)[6].any()  # the empty mask
    # Reading only the region where grown boxes meet gives the same answer,
    # also when no two boxes meet (far apart) or only one mask is left.
    from mmdeocc.structures import masks_to_bboxes
    assert torch.equal(touching_pairs(masks, bboxes=masks_to_bboxes(masks)),
                       touch)
    far = masks[[0, 4]]
    assert not touching_pairs(far, bboxes=masks_to_bboxes(far)).any()
    one = masks[[0, 6]]
    assert not touching_pairs(one, bboxes=masks_to_bboxes(one)).any()


def test_relative_tolerance_scales_with_size():
    # Same 3-pixel gap; only the pair of large objects touches at 5%.
    masks = _blocks(100, 100, [(0, 60, 0, 60), (0, 60, 63, 100),
                               (80, 84, 0, 4), (80, 84, 7, 11)])
    radii = touch_radii(masks, 0.05)
    assert radii.tolist() == [4, 3, 1, 1]  # 1 + round(0.05 * sqrt(area))
    touch = touching_pairs(masks, 0.05)
    assert bool(touch[0, 1]) and not bool(touch[2, 3])


@pytest.mark.parametrize('bad', [-1, 1.5, 'x'])
def test_bad_gap_tolerance(bad):
    with pytest.raises(ValueError, match='gap_tolerance'):
        touching_pairs(torch.zeros(2, 4, 4, dtype=torch.bool), bad)


def test_touch_overlaps_without_edges():
    # Identical full-image masks (no inner edge at all), a mask strictly
    # inside another, and a far-away pair with a gap.
    full = torch.ones(2, 8, 8, dtype=torch.bool)
    assert touching_pairs(full).tolist() == [[False, True], [True, False]]
    nested = _blocks(20, 20, [(0, 20, 0, 20), (8, 12, 8, 12)])
    assert bool(touching_pairs(nested)[0, 1])
    apart = _blocks(20, 20, [(0, 5, 0, 5), (0, 5, 8, 12)])
    assert not touching_pairs(apart).any()
    assert not touching_pairs(apart, 2).any()  # a 3-pixel gap
    assert touching_pairs(apart, 3).any()
