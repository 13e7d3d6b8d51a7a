"""PCNet-C training samples: the target's RGB crop (METHOD 3.2).

``SurrogateOcclusion`` (with ``eraser_front_prob=1.0``: always case 1) gives
the target's crop window and the masks in the target's ``S x S`` canvas.
Two transforms follow it:

* :class:`LoadPCNetCImageCrop` reads the target's image and crops it with
  the very window (and mirroring) of the masks, resizes it to ``S`` and
  normalises it with the ImageNet mean and std;
* :class:`PackPCNetCInputs` builds ``hole = eraser ∩ target`` and
  ``modal = target minus eraser`` and packs the :class:`~mmdeocc.models.
  PCNetC` training sample.

The image helpers (:func:`crop_resize_image`, :func:`paste_resize_image`,
:func:`normalize_rgb`, :func:`denormalize_rgb`) live in
:mod:`mmdeocc.structures.image_ops`, shared with content completion at
inference, so training and inference crop RGB identically.

Pixel convention of the RGB crop: output pixel ``d`` of ``S`` samples the
window ``[x0, x0 + side)`` at ``x0 + (d + 0.5) * side / S - 0.5`` (half-pixel
centres, as ``cv2.resize`` and the bilinear mask crops of the inference
core), with zero (black) outside the image. The nearest-neighbour mask crop
of ``SurrogateOcclusion`` samples ``x0 + floor(d * side / S)``: the same
window, offset by less than half an output pixel.
"""
from typing import Any, Dict, Optional, Sequence

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmengine.fileio import get

from mmdeocc.structures.image_ops import (IMAGENET_MEAN, IMAGENET_STD,
                                          INTERPOLATIONS, crop_resize_image,
                                          denormalize_rgb, normalize_rgb,
                                          paste_resize_image)
from mmdeocc.utils.validation import check_choice

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'INTERPOLATIONS', 'crop_resize_image',
    'paste_resize_image', 'normalize_rgb', 'denormalize_rgb',
    'LoadPCNetCImageCrop', 'PackPCNetCInputs', 'PCNetCSampleError'
]


class PCNetCSampleError(ValueError):
    """A PCNet-C training sample cannot be built from the results dict."""


@TRANSFORMS.register_module()
class LoadPCNetCImageCrop(BaseTransform):
    """Read the target's image and crop it like its masks.

    Uses ``results['target_crop'] = (x0, y0, side, flip)`` of
    ``SurrogateOcclusion`` and ``results['target_inst']['img_path']``
    (``PCNetInstanceDataset`` joins ``data_prefix['img']`` to the file
    name). The image is read with :func:`mmengine.fileio.get` (any storage
    backend) and decoded as RGB; only the window is resampled.

    Added keys: ``img_crop`` (float32 ``(S, S, 3)``, ImageNet-normalised
    RGB, ``S`` = the masks' size), ``img_path``, ``ori_shape``.

    Args:
        interpolation (str): ``'bicubic'`` (default, as at inference) or
            ``'bilinear'``.
        backend_args (dict, optional): mmengine file backend arguments.
    """

    def __init__(self,
                 interpolation: str = 'bicubic',
                 backend_args: Optional[dict] = None) -> None:
        check_choice('interpolation', interpolation, sorted(INTERPOLATIONS))
        self.interpolation = interpolation
        self.backend_args = backend_args

    def _read(self, img_path: str, inst: Dict[str, Any]) -> np.ndarray:
        where = (f'image of instance ann_id={inst.get("ann_id")} '
                 f'(img_id={inst.get("img_id")})')
        if not img_path:
            raise PCNetCSampleError(
                f'LoadPCNetCImageCrop: the {where} has no img_path; set the '
                "dataset's data_prefix=dict(img=...)")
        try:
            data = get(img_path, backend_args=self.backend_args)
        except FileNotFoundError:
            raise FileNotFoundError(
                f'LoadPCNetCImageCrop: {where} not found: {img_path} (check '
                "the dataset's data_prefix=dict(img=...))") from None
        image = mmcv.imfrombytes(data, flag='color', channel_order='rgb') \
            if data else None
        if image is None:
            raise PCNetCSampleError(
                f'LoadPCNetCImageCrop: cannot decode the {where}: '
                f'{img_path}')
        shape = inst.get('img_shape')
        if shape is not None and tuple(image.shape[:2]) != tuple(shape):
            raise PCNetCSampleError(
                f'LoadPCNetCImageCrop: {img_path} is {image.shape[0]}x'
                f'{image.shape[1]} but its annotation says {shape[0]}x'
                f'{shape[1]} (height x width): wrong image for the masks')
        return image

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Crop the target's image.

        Args:
            results (dict): Output of ``SurrogateOcclusion``.

        Returns:
            dict: ``results`` with ``img_crop``, ``img_path``, ``ori_shape``.
        """
        for key in ('target_crop', 'target_mask', 'target_inst'):
            if key not in results:
                raise KeyError(f'LoadPCNetCImageCrop: results has no '
                               f'"{key}"; put SurrogateOcclusion before it')
        inst = results['target_inst']
        img_path = inst.get('img_path', '')
        image = self._read(img_path, inst)
        x0, y0, side, flip = results['target_crop']
        size = results['target_mask'].shape[0]
        crop = crop_resize_image(image, (x0, y0, side), size, bool(flip),
                                 self.interpolation)
        results['img_crop'] = normalize_rgb(crop)
        results['img_path'] = img_path
        results['ori_shape'] = image.shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(interpolation='
                f'{self.interpolation!r})')


@TRANSFORMS.register_module()
class PackPCNetCInputs(BaseTransform):
    """Pack a surrogate-occlusion sample with its RGB crop for PCNet-C.

    METHOD 3.2 (always case 1): ``hole = eraser ∩ target`` (the rest of
    the eraser keeps its true pixels), ``modal = target minus eraser``.
    Output (the :class:`~mmdeocc.models.PCNetC` training format)::

        dict(inputs=FloatTensor (3, S, S),          # normalised RGB, un-erased
             data_samples=dict(modal=UInt8Tensor (S, S),
                               hole=UInt8Tensor (S, S),
                               category_id=int))

    ``default_collate`` makes ``inputs (B, 3, S, S)`` and ``modal``/``hole``
    ``(B, S, S)``, ``category_id (B,)``. The model erases the RGB itself.

    Args:
        meta_keys (Sequence[str]): Extra ``results`` keys copied into
            ``data_samples`` (must be collatable), e.g. ``('img_path',)``.
    """

    def __init__(self, meta_keys: Sequence[str] = ()) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: Dict[str, Any]) -> Dict[str, Any]:
        """Pack one sample.

        Args:
            results (dict): Needs ``img_crop`` (:class:`LoadPCNetCImageCrop`)
                and ``target_mask``, ``eraser_mask``, ``occlusion_case``,
                ``category_id`` (``SurrogateOcclusion``).

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        for key in ('img_crop', 'target_mask', 'eraser_mask',
                    'category_id'):
            if key not in results:
                raise KeyError(
                    f'PackPCNetCInputs: results has no "{key}"; the pipeline '
                    'must be SurrogateOcclusion, LoadPCNetCImageCrop, '
                    'PackPCNetCInputs')
        if results.get('occlusion_case', 1) != 1:
            raise PCNetCSampleError(
                'PackPCNetCInputs: got a case-2 ("eraser behind") sample; '
                'PCNet-C trains on case 1 only: set SurrogateOcclusion('
                'eraser_front_prob=1.0)')
        target = np.asarray(results['target_mask']).astype(bool)
        eraser = np.asarray(results['eraser_mask']).astype(bool)
        rgb = np.asarray(results['img_crop'], dtype=np.float32)
        if rgb.shape != target.shape + (3, ) or eraser.shape != target.shape:
            raise PCNetCSampleError(
                f'PackPCNetCInputs: img_crop {rgb.shape}, target_mask '
                f'{target.shape} and eraser_mask {eraser.shape} do not '
                'match (expected (S, S, 3), (S, S), (S, S))')
        hole = target & eraser
        modal = target & ~eraser
        inputs = torch.from_numpy(
            np.ascontiguousarray(rgb.transpose(2, 0, 1)))
        data_samples = dict(
            modal=torch.from_numpy(modal.astype(np.uint8)),
            hole=torch.from_numpy(hole.astype(np.uint8)),
            category_id=int(results['category_id']))
        for key in self.meta_keys:
            data_samples[key] = results[key]
        return dict(inputs=inputs, data_samples=data_samples)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
