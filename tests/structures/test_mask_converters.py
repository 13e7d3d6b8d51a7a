"""The one mask converter every entry point shares (structures.masks)."""
import numpy as np
import pytest
import torch
from mmdet.structures.mask import BitmapMasks

from mmdeocc.deocclusion.det_samples import DetSampleError, _mask_tensor
from mmdeocc.deocclusion.scene import DeOcclusionInputError, as_mask_tensor
from mmdeocc.evaluation.metrics.sample_fields import (SampleFieldError,
                                                      to_mask_array)
from mmdeocc.structures import as_bool_mask_array, as_bool_mask_tensor


def _masks() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 2, (3, 7, 9)).astype(np.uint8)


@pytest.mark.parametrize('container', ['tensor', 'array', 'bitmap'])
def test_every_container_gives_the_same_bool_tensor(container):
    masks = _masks()
    value = dict(tensor=torch.from_numpy(masks), array=masks,
                 bitmap=BitmapMasks(masks, 7, 9))[container]
    out = as_bool_mask_tensor(value)
    assert out.dtype == torch.bool and out.shape == (3, 7, 9)
    assert torch.equal(out, torch.from_numpy(masks.astype(bool)))
    assert np.array_equal(as_bool_mask_array(value), masks.astype(bool))


def test_bool_tensor_is_returned_without_copy():
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    assert as_bool_mask_tensor(masks) is masks


@pytest.mark.parametrize('value,default_error,text', [
    ([[0, 1]], TypeError, 'got list'),
    (np.zeros((4, 4), np.uint8), ValueError, r'\(N, H, W\), got \(4, 4\)'),
    (np.zeros((1, 2, 2), object), ValueError, 'dtype object'),
    (torch.zeros(1, 2, 2), ValueError, 'torch.float32'),
])
def test_refusals_name_the_field_in_each_callers_error(value, default_error,
                                                        text):
    with pytest.raises(default_error, match=text):
        as_bool_mask_tensor(value, 'my_masks')
    with pytest.raises(DeOcclusionInputError, match=f'modal_masks.*{text}'):
        as_mask_tensor(value, where='modal_masks')
    with pytest.raises(DetSampleError, match=f'image 3.*{text}'):
        _mask_tensor(value, 'image 3')


def test_detector_float_masks_say_how_to_binarise():
    with pytest.raises(DetSampleError, match='mask_thr_binary'):
        _mask_tensor(torch.rand(2, 3, 3), 'img 1')


def test_evaluation_fields_share_the_converter():
    masks = _masks()
    assert np.array_equal(
        to_mask_array(BitmapMasks(masks, 7, 9), None, 'gt'),
        masks.astype(bool))
    with pytest.raises(SampleFieldError, match=r'gt must be \(N, H, W\)'):
        to_mask_array(np.zeros((7, 9)), None, 'gt')
