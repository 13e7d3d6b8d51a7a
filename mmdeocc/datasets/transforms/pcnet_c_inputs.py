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
:func:`normalize_rgb`, :func:`denormalize_rgb`) are shared with content
completion at inference (:mod:`mmdeocc.deocclusion.content`), so training
and inference crop RGB identically.

Pixel convention of the RGB crop: output pixel ``d`` of ``S`` samples the
window ``[x0, x0 + side)`` at ``x0 + (d + 0.5) * side / S - 0.5`` (half-pixel
centres, as ``cv2.resize`` and the bilinear mask crops of the inference
core), with zero (black) outside the image. The nearest-neighbour mask crop
of ``SurrogateOcclusion`` samples ``x0 + floor(d * side / S)``: the same
window, offset by less than half an output pixel.
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.fileio import get

from mmdet.registry import TRANSFORMS
from mmdeocc.utils.validation import check_choice

__all__ = [
    'IMAGENET_MEAN', 'IMAGENET_STD', 'INTERPOLATIONS', 'crop_resize_image',
    'paste_resize_image', 'normalize_rgb', 'denormalize_rgb',
    'LoadPCNetCImageCrop', 'PackPCNetCInputs', 'PCNetCSampleError'
]

#: ImageNet statistics of RGB in [0, 255] (the PCNet-C input space).
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255.0
INTERPOLATIONS = {'bilinear': cv2.INTER_LINEAR, 'bicubic': cv2.INTER_CUBIC}


class PCNetCSampleError(ValueError):
    """A PCNet-C training sample cannot be built from the results dict."""


def _interpolation(name: str) -> int:
    check_choice('interpolation', name, sorted(INTERPOLATIONS))
    return INTERPOLATIONS[name]


def crop_resize_image(image: np.ndarray,
                      window: Sequence[int],
                      size: int,
                      flip: bool = False,
                      interpolation: str = 'bicubic') -> np.ndarray:
    """Crop a square window of an image (zero outside it) and resize it.

    One affine resampling (``cv2.warpAffine``), so the cost is ``O(size^2)``
    whatever the window side: output pixel ``(u, v)`` samples the image at
    ``(x0 + (u + 0.5) * side / size - 0.5, y0 + (v + 0.5) * side / size -
    0.5)``; taps outside the image read 0. No anti-aliasing (as
    ``cv2.resize`` with the same interpolation).

    Args:
        image (np.ndarray): ``(H, W, C)`` (or ``(H, W)``) uint8 or float32.
        window (Sequence[int]): ``(x0, y0, side)`` in image pixels (may
            extend outside the image).
        size (int): Output side ``S``.
        flip (bool): Mirror the output horizontally.
        interpolation (str): ``'bicubic'`` or ``'bilinear'``.

    Returns:
        np.ndarray: ``(S, S, C)`` array of the input's dtype.
    """
    x0, y0, side = (int(v) for v in window[:3])
    if side < 1:
        raise ValueError(f'crop window side must be >= 1, got {side}')
    scale = side / float(size)
    matrix = np.array([[scale, 0.0, x0 + 0.5 * scale - 0.5],
                       [0.0, scale, y0 + 0.5 * scale - 0.5]], np.float64)
    out = cv2.warpAffine(
        image, matrix, (size, size),
        flags=_interpolation(interpolation) | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if out.ndim == 2 and image.ndim == 3:
        out = out[..., None]
    if flip:
        out = np.ascontiguousarray(out[:, ::-1])
    return out


def paste_resize_image(patch: np.ndarray, window: Sequence[int],
                       height: int, width: int,
                       interpolation: str = 'bicubic'
                       ) -> Tuple[np.ndarray, Tuple[int, int, int, int]]:
    """Resize an ``S x S`` patch back to its window, clipped to the image.

    The inverse mapping of :func:`crop_resize_image`: image pixel ``x`` of
    the window reads the patch at ``(x - x0 + 0.5) * S / side - 0.5``
    (border replicated inside the patch).

    Args:
        patch (np.ndarray): ``(S, S, C)`` float32 (or uint8) patch.
        window (Sequence[int]): ``(x0, y0, side)``.
        height (int): Image height.
        width (int): Image width.
        interpolation (str): ``'bicubic'`` or ``'bilinear'``.

    Returns:
        tuple: The resized region ``(yb - ya, xb - xa, C)`` and its image
        rectangle ``(ya, yb, xa, xb)`` (empty when the window misses the
        image).
    """
    x0, y0, side = (int(v) for v in window[:3])
    size = patch.shape[0]
    ya, yb = max(y0, 0), min(y0 + side, height)
    xa, xb = max(x0, 0), min(x0 + side, width)
    channels = patch.shape[2] if patch.ndim == 3 else 1
    if yb <= ya or xb <= xa:
        return np.zeros((0, 0, channels), patch.dtype), (ya, ya, xa, xa)
    scale = size / float(side)
    matrix = np.array([[scale, 0.0, (xa - x0 + 0.5) * scale - 0.5],
                       [0.0, scale, (ya - y0 + 0.5) * scale - 0.5]],
                      np.float64)
    out = cv2.warpAffine(
        patch, matrix, (xb - xa, yb - ya),
        flags=_interpolation(interpolation) | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE)
    if out.ndim == 2:
        out = out[..., None]
    return out, (ya, yb, xa, xb)


def normalize_rgb(rgb: np.ndarray) -> np.ndarray:
    """``(rgb - mean) / std`` with the ImageNet statistics.

    Args:
        rgb (np.ndarray): ``(..., 3)`` RGB in [0, 255].

    Returns:
        np.ndarray: float32, same shape.
    """
    return (rgb.astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD


def denormalize_rgb(rgb_norm: np.ndarray) -> np.ndarray:
    """Inverse of :func:`normalize_rgb` (float32, not clipped)."""
    return rgb_norm.astype(np.float32) * IMAGENET_STD + IMAGENET_MEAN


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
        _interpolation(interpolation)
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
