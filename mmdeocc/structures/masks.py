"""Conversions between binary masks and COCO segmentations (RLE / polygons)."""
from typing import Any, Dict, List, Mapping, Optional, Type, Union

import numpy as np
import pycocotools.mask as mask_utils
import torch

Segmentation = Union[Dict[str, Any], List[List[float]]]
RLE = Dict[str, Any]


class SegmentationError(ValueError):
    """A segmentation in an annotation file cannot be decoded."""


def to_numpy(value: Any) -> np.ndarray:
    """A numpy view (or copy) of an array, tensor or mmdet mask container.

    Args:
        value: ``np.ndarray``, ``torch.Tensor`` (moved to the CPU),
            anything with ``to_ndarray()`` (``BitmapMasks``) or array-like.

    Returns:
        np.ndarray: The values.
    """
    if hasattr(value, 'to_ndarray'):
        return value.to_ndarray()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def as_bool_mask_array(masks: Any,
                       name: str = 'masks',
                       error: Optional[Type[Exception]] = None) -> np.ndarray:
    """Check a mask stack and return it as a ``(N, H, W)`` bool numpy array.

    Args:
        masks (np.ndarray | torch.Tensor | BitmapMasks): ``(N, H, W)`` masks
            of any numeric or bool dtype (non-zero = foreground).
        name (str): Name used in error messages.
        error (type, optional): Exception class to raise (default
            ``ValueError``).

    Returns:
        np.ndarray: ``(N, H, W)`` bool array.

    Raises:
        ValueError: If ``masks`` is not three-dimensional.
    """
    arr = to_numpy(masks)
    if arr.ndim != 3:
        raise (error or ValueError)(
            f'{name} must be (N, H, W), got shape {arr.shape}')
    return arr.astype(bool, copy=False)


def as_bool_mask_tensor(masks: Any,
                        where: str = 'masks',
                        error: Optional[Type[Exception]] = None,
                        float_hint: str = '') -> torch.Tensor:
    """Check a ``(N, H, W)`` binary mask stack and return it as a bool tensor.

    The one converter of the inference core's inputs: tensors stay on their
    device (no copy when already bool), numpy arrays are wrapped without a
    copy when contiguous, mmdet mask containers (``BitmapMasks``, anything
    with ``to_ndarray``) are decoded once.

    Args:
        masks (Tensor | np.ndarray | BitmapMasks): Bool or integer
            ``{0, 1}`` masks.
        where (str): Name used in error messages.
        error (type, optional): Exception class for every refusal (default:
            ``TypeError`` for a wrong container, ``ValueError`` otherwise).
        float_hint (str): Appended to the message for floating-point masks
            (e.g. how to binarise them).

    Returns:
        Tensor: ``(N, H, W)`` bool (the input itself when already a bool
        tensor).

    Raises:
        TypeError: Not a tensor, array or mask container.
        ValueError: Wrong rank, or an object / floating-point / complex
            dtype.
    """
    if hasattr(masks, 'to_ndarray'):
        masks = masks.to_ndarray()
    if isinstance(masks, np.ndarray):
        if masks.dtype == object:
            raise (error or ValueError)(
                f'{where}: expected a numeric (N, H, W) array, got dtype '
                'object')
        masks = torch.from_numpy(np.ascontiguousarray(masks))
    if not isinstance(masks, torch.Tensor):
        raise (error or TypeError)(
            f'{where}: expected a torch.Tensor, numpy array or BitmapMasks '
            f'of shape (N, H, W), got {type(masks).__name__}')
    if masks.dim() != 3:
        raise (error or ValueError)(
            f'{where}: expected shape (N, H, W), got {tuple(masks.shape)}')
    if masks.dtype != torch.bool:
        if masks.is_floating_point() or masks.is_complex():
            raise (error or ValueError)(
                f'{where}: expected bool or integer {{0, 1}} masks, got '
                f'dtype {masks.dtype}{float_hint}')
        masks = masks != 0
    return masks


def encode_rle(mask: np.ndarray) -> Dict[str, Any]:
    """Encode a binary mask as a JSON-ready compressed COCO RLE.

    Args:
        mask (np.ndarray): ``(H, W)`` binary mask.

    Returns:
        dict: ``{'size': [H, W], 'counts': str}``.
    """
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def encode_rles(masks: np.ndarray) -> List[Dict[str, Any]]:
    """Encode a stack of masks ``(N, H, W)``; see :func:`encode_rle`."""
    if len(masks) == 0:
        return []
    rles = mask_utils.encode(
        np.asfortranarray(masks.astype(np.uint8).transpose(1, 2, 0)))
    for rle in rles:
        rle['counts'] = rle['counts'].decode('ascii')
    return rles


def segmentation_to_rle(segm: Segmentation, height: int, width: int,
                        where: str = 'segmentation') -> Dict[str, Any]:
    """Convert a COCO segmentation to one compressed RLE without decoding.

    Accepts polygon lists, a single flat polygon (COCOA regions) and RLE
    with ``str``/``bytes``/list counts, and validates them. It stays in the
    RLE domain (merging polygons with pycocotools), which is much cheaper
    than decoding full-image masks when reading large files.

    Args:
        segm (list | dict): The segmentation.
        height (int): Image height.
        width (int): Image width.
        where (str): Location for error messages (file, annotation, field).

    Returns:
        dict: ``{'size': [H, W], 'counts': bytes}``.

    Raises:
        SegmentationError: For malformed input.
    """
    if isinstance(segm, dict):
        if 'counts' not in segm or 'size' not in segm:
            raise SegmentationError(
                f'{where}: RLE needs "counts" and "size", got keys '
                f'{sorted(segm)}')
        size = [int(v) for v in segm['size']]
        if size != [height, width]:
            raise SegmentationError(
                f'{where}: RLE size {size} does not match the image size '
                f'[{height}, {width}]')
        counts = segm['counts']
        if isinstance(counts, list):
            if sum(counts) != height * width:
                raise SegmentationError(
                    f'{where}: uncompressed RLE counts sum to {sum(counts)}, '
                    f'expected {height * width}')
            return mask_utils.frPyObjects(dict(size=size, counts=counts),
                                          height, width)
        if isinstance(counts, str):
            counts = counts.encode('ascii')
        if not isinstance(counts, bytes):
            raise SegmentationError(
                f'{where}: RLE counts must be str, bytes or a list, got '
                f'{type(counts).__name__}')
        return dict(size=size, counts=counts)
    if isinstance(segm, (list, tuple)):
        polys = list(segm)
        if polys and not isinstance(polys[0], (list, tuple)):
            polys = [polys]  # a single flat polygon (COCOA regions)
        if not polys:
            raise SegmentationError(f'{where}: empty polygon list')
        for k, poly in enumerate(polys):
            if not isinstance(poly, (list, tuple)):
                raise SegmentationError(
                    f'{where}: polygon {k} is a {type(poly).__name__}, '
                    'expected a list of coordinates')
            if len(poly) % 2 != 0:
                raise SegmentationError(
                    f'{where}: polygon {k} has an odd number of coordinates '
                    f'({len(poly)})')
            if len(poly) < 6:
                raise SegmentationError(
                    f'{where}: polygon {k} has {len(poly) // 2} points; at '
                    'least 3 are needed')
        polys = [[float(v) for v in p] for p in polys]
        rles = mask_utils.frPyObjects(polys, height, width)
        return mask_utils.merge(rles)
    raise SegmentationError(
        f'{where}: expected polygons (list) or RLE (dict), got '
        f'{type(segm).__name__}')


def segmentation_to_mask(segm: Segmentation,
                         height: int,
                         width: int,
                         where: str = 'segmentation') -> np.ndarray:
    """Decode a COCO segmentation (polygons, RLE or uncompressed RLE).

    Args:
        segm (dict | list): Polygons ``[[x0, y0, x1, y1, ...], ...]`` (or one
            flat polygon) or an RLE dict with ``size`` and ``counts``
            (``str``/``bytes``/list).
        height (int): Image height.
        width (int): Image width.
        where (str): Description of the field (file, annotation id, key)
            used in error messages.

    Returns:
        np.ndarray: ``(height, width)`` uint8 mask with values {0, 1}.

    Raises:
        SegmentationError: For malformed input (see
            :func:`segmentation_to_rle`).
    """
    rle = segmentation_to_rle(segm, height, width, where)
    return mask_utils.decode(rle).astype(np.uint8)


def decode_rle(rle: Dict[str, Any]) -> np.ndarray:
    """Decode a compressed RLE (``counts`` as ``str`` or ``bytes``).

    Args:
        rle (dict): ``{'size': [H, W], 'counts': ...}``.

    Returns:
        np.ndarray: ``(H, W)`` uint8 mask.
    """
    h, w = rle['size']
    return segmentation_to_mask(rle, h, w, where='rle')


def rle_to_json(rle: Mapping[str, Any]) -> RLE:
    """Return a JSON-ready copy of an RLE (``counts`` as ``str``)."""
    counts = rle['counts']
    if isinstance(counts, bytes):
        counts = counts.decode('ascii')
    return dict(size=[int(v) for v in rle['size']], counts=counts)


def rle_bytes(rle: Mapping[str, Any]) -> RLE:
    """A copy of an RLE with ``bytes`` counts, as pycocotools needs."""
    counts = rle['counts']
    if isinstance(counts, str):
        counts = counts.encode('ascii')
    return dict(size=list(rle['size']), counts=counts)


def rle_area(rle: RLE) -> int:
    """Number of foreground pixels of an RLE."""
    return int(mask_utils.area(rle_bytes(rle)))


def rle_bbox(rle: RLE) -> List[float]:
    """Tight ``xywh`` pixel extent of an RLE (zeros when empty)."""
    return [float(v) for v in mask_utils.toBbox(rle_bytes(rle))]


def rle_intersection_area(rle_a: RLE, rle_b: RLE) -> int:
    """Number of pixels in both masks (computed on the RLEs)."""
    merged = mask_utils.merge([rle_bytes(rle_a), rle_bytes(rle_b)],
                              intersect=True)
    return int(mask_utils.area(merged))


def empty_rle(height: int, width: int) -> RLE:
    """The compressed RLE of an all-zero ``height x width`` mask."""
    return encode_rle(np.zeros((height, width), np.uint8))
