"""PCNet-C training data (METHOD 3.2): the target's RGB crop has exactly the
masks' geometry (window and flip), hole = eraser ∩ target, modal = target
minus eraser, and bad inputs fail clearly."""
import json

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
import torch
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

from mmdeocc.datasets import PCNetInstanceDataset
from mmdeocc.datasets.transforms.pcnet_c_inputs import (
    IMAGENET_MEAN, IMAGENET_STD, LoadPCNetCImageCrop, PackPCNetCInputs,
    PCNetCSampleError, crop_resize_image, denormalize_rgb, normalize_rgb,
    paste_resize_image)

SIZE = 64
HEIGHT, WIDTH = 96, 128
# Flat colours (RGB) of the background and of three objects.
BACKGROUND = (128, 128, 128)
OBJECTS = [
    # (category_id, colour, polygon)
    (1, (230, 20, 20), [10, 10, 60, 10, 60, 50, 10, 50]),
    (2, (20, 20, 230), [45, 30, 100, 30, 100, 80, 45, 80]),
    (3, (20, 200, 40), [80, 5, 120, 5, 120, 25, 80, 25]),
]


@pytest.fixture(scope='module')
def flat_scene(tmp_path_factory):
    """A PNG with flat-coloured objects (later ones in front) and a COCO
    file with their visible masks."""
    folder = tmp_path_factory.mktemp('pcnet_c_scene')
    image = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    image[:] = BACKGROUND
    visible = np.zeros((len(OBJECTS), HEIGHT, WIDTH), bool)
    for k, (_, colour, poly) in enumerate(OBJECTS):
        rle = mask_utils.frPyObjects([poly], HEIGHT, WIDTH)
        mask = mask_utils.decode(rle)[..., 0].astype(bool)
        visible[:k] &= ~mask
        visible[k] = mask
        image[mask] = colour
    cv2.imwrite(str(folder / 'scene.png'), image[..., ::-1])
    anns = []
    for k, (cat, _, _) in enumerate(OBJECTS):
        rle = mask_utils.encode(np.asfortranarray(visible[k].astype(np.uint8)))
        ys, xs = np.nonzero(visible[k])
        anns.append(dict(
            id=k + 1, image_id=1, category_id=cat, iscrowd=0,
            area=float(visible[k].sum()),
            bbox=[float(xs.min()), float(ys.min()),
                  float(xs.max() - xs.min() + 1),
                  float(ys.max() - ys.min() + 1)],
            segmentation=dict(size=[HEIGHT, WIDTH],
                              counts=rle['counts'].decode('ascii'))))
    ann_file = folder / 'ann.json'
    ann_file.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='scene.png', height=HEIGHT,
                     width=WIDTH)],
        annotations=anns,
        categories=[dict(id=c, name=f'c{c}') for c, _, _ in OBJECTS])))
    return folder, ann_file, image


def _dataset(folder, ann_file, seed=0, **surrogate):
    init_default_scope('mmdet')
    return PCNetInstanceDataset(
        ann_file=str(ann_file), data_format='coco',
        data_prefix=dict(img=str(folder)), seed=seed,
        pipeline=[
            dict(type='SurrogateOcclusion', size=SIZE, eraser_front_prob=1.0,
                 **surrogate),
            dict(type='LoadPCNetCImageCrop'),
            dict(type='PackPCNetCInputs',
                 meta_keys=('target_mask', 'eraser_mask', 'target_crop',
                            'occlusion_case', 'img_path')),
        ])


def test_crop_resize_image_geometry():
    # A ramp image: value = x coordinate (float32) in channel 0, y in 1.
    ys, xs = np.mgrid[0:40, 0:50].astype(np.float32)
    image = np.stack([xs, ys, np.ones_like(xs)], -1)
    # side 20 -> 40: output u samples x0 + (u + 0.5) / 2 - 0.5.
    out = crop_resize_image(image, (5, 7, 20), 40, interpolation='bilinear')
    u = np.arange(40)
    expected_x = np.clip(5 + (u + 0.5) * 0.5 - 0.5, 0, 49)
    np.testing.assert_allclose(out[10, 2:-2, 0], expected_x[2:-2], atol=1e-4)
    np.testing.assert_allclose(out[2:-2, 10, 1],
                               (7 + (u + 0.5) * 0.5 - 0.5)[2:-2], atol=1e-4)
    # Mirroring flips the columns of the same crop.
    flipped = crop_resize_image(image, (5, 7, 20), 40, flip=True,
                                interpolation='bilinear')
    np.testing.assert_array_equal(flipped, out[:, ::-1])
    # Outside the image: zeros (window half outside on the left and top).
    out = crop_resize_image(image, (-20, -20, 40), 40,
                            interpolation='bicubic')
    assert np.all(out[:19, :, 2] == 0) and np.all(out[:, :19, 2] == 0)
    np.testing.assert_allclose(out[25:, 25:, 2], 1.0, atol=1e-5)
    # Exact copy at scale 1.
    img8 = (np.arange(30 * 30 * 3) % 251).astype(np.uint8).reshape(30, 30, 3)
    np.testing.assert_array_equal(crop_resize_image(img8, (3, 4, 16), 16),
                                  img8[4:20, 3:19])
    with pytest.raises(ValueError, match='interpolation'):
        crop_resize_image(img8, (0, 0, 8), 8, interpolation='lanczos')


def test_paste_resize_image_inverts_the_crop():
    rng = np.random.default_rng(0)
    image = rng.random((30, 40, 3)).astype(np.float32)
    window = (-5, 10, 24)
    crop = crop_resize_image(image, window, 24)
    back, (ya, yb, xa, xb) = paste_resize_image(crop, window, 30, 40)
    assert (ya, yb, xa, xb) == (10, 30, 0, 19)
    np.testing.assert_allclose(back, image[10:30, 0:19], atol=1e-6)
    # A window that misses the image pastes nothing.
    empty, rect = paste_resize_image(crop, (100, 100, 24), 30, 40)
    assert empty.size == 0 and rect[1] <= rect[0]


def test_normalisation_round_trip():
    rgb = np.array([[[0, 128, 255]]], np.uint8)
    norm = normalize_rgb(rgb)
    np.testing.assert_allclose(norm[0, 0],
                               (rgb[0, 0] - IMAGENET_MEAN) / IMAGENET_STD,
                               rtol=1e-6)
    np.testing.assert_allclose(denormalize_rgb(norm), rgb, atol=1e-4)


def test_sample_geometry_matches_the_masks(flat_scene):
    """Over many augmented samples (shift, scale, flips), every pixel well
    inside the target mask has the target's colour, and the hole / modal
    channels are exactly eraser ∩ target and target minus eraser."""
    folder, ann_file, image = flat_scene
    dataset = _dataset(folder, ann_file)
    colours = {cat: np.array(colour, np.float32)
               for cat, colour, _ in OBJECTS}
    flips = set()
    checked = 0
    for idx in range(4 * len(dataset)):
        sample = dataset[idx]
        meta = sample['data_samples']
        assert sample['inputs'].shape == (3, SIZE, SIZE)
        assert sample['inputs'].dtype == torch.float32
        assert meta['occlusion_case'] == 1
        target = meta['target_mask'].astype(bool)
        eraser = meta['eraser_mask'].astype(bool)
        hole = meta['hole'].numpy().astype(bool)
        modal = meta['modal'].numpy().astype(bool)
        assert meta['hole'].dtype == torch.uint8
        np.testing.assert_array_equal(hole, target & eraser)
        np.testing.assert_array_equal(modal, target & ~eraser)
        x0, y0, side, flip = meta['target_crop']
        flips.add(flip)
        # Exactly the window (and mirroring) of the masks: the crop whose
        # sampling positions test_crop_resize_image_geometry checks.
        expected = normalize_rgb(
            crop_resize_image(image, (x0, y0, side), SIZE, flip))
        np.testing.assert_array_equal(
            sample['inputs'].numpy().transpose(1, 2, 0), expected)
        rgb = denormalize_rgb(sample['inputs'].numpy().transpose(1, 2, 0))
        # Bicubic taps reach 2 source pixels: erode by that many output
        # pixels plus the half-pixel offset of nearest mask sampling.
        margin = int(np.ceil(2 * SIZE / side)) + 2
        kernel = np.ones((2 * margin + 1, 2 * margin + 1), np.uint8)
        inner = cv2.erode(target.astype(np.uint8), kernel).astype(bool)
        if not inner.any():
            continue
        error = np.abs(rgb[inner] - colours[meta['category_id']]).max()
        assert error <= 2.0, (idx, error, meta['target_crop'])
        checked += 1
    assert checked >= len(dataset)
    assert flips == {False, True}


def test_collated_batch_is_the_pcnet_c_format(flat_scene):
    folder, ann_file, _ = flat_scene
    init_default_scope('mmdet')
    dataset = PCNetInstanceDataset(
        ann_file=str(ann_file), data_format='coco',
        data_prefix=dict(img=str(folder)), seed=0,
        pipeline=[dict(type='SurrogateOcclusion', size=SIZE,
                       eraser_front_prob=1.0),
                  dict(type='LoadPCNetCImageCrop'),
                  dict(type='PackPCNetCInputs')])
    batch = default_collate([dataset[i] for i in range(3)])
    assert batch['inputs'].shape == (3, 3, SIZE, SIZE)
    assert batch['data_samples']['modal'].shape == (3, SIZE, SIZE)
    assert batch['data_samples']['hole'].shape == (3, SIZE, SIZE)
    assert batch['data_samples']['category_id'].tolist() == [1, 2, 3]
    assert set(batch['data_samples']) == {'modal', 'hole', 'category_id'}


def test_missing_image_is_named(flat_scene, tmp_path):
    _, ann_file, _ = flat_scene
    dataset = _dataset(tmp_path / 'nowhere', ann_file)
    with pytest.raises(FileNotFoundError, match='nowhere/scene.png'):
        dataset[0]


def test_wrong_image_size_and_case_two_fail(flat_scene, tmp_path):
    folder, ann_file, image = flat_scene
    cv2.imwrite(str(tmp_path / 'scene.png'), image[:50])
    with pytest.raises(PCNetCSampleError, match='50x128.*96x128'):
        _dataset(tmp_path, ann_file)[0]
    init_default_scope('mmdet')
    dataset = PCNetInstanceDataset(
        ann_file=str(ann_file), data_format='coco',
        data_prefix=dict(img=str(folder)), seed=0,
        pipeline=[dict(type='SurrogateOcclusion', size=SIZE,
                       eraser_front_prob=0.0),
                  dict(type='LoadPCNetCImageCrop'),
                  dict(type='PackPCNetCInputs')])
    with pytest.raises(PCNetCSampleError, match='eraser_front_prob=1.0'):
        dataset[0]
    with pytest.raises(KeyError, match='SurrogateOcclusion'):
        LoadPCNetCImageCrop()(dict(target_inst={}))
    with pytest.raises(KeyError, match='img_crop'):
        PackPCNetCInputs()(dict(target_mask=np.zeros((4, 4))))
