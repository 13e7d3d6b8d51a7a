"""Conversions between binary masks and COCO segmentations (RLE / polygons)."""
from typing import Any, Dict, List, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils

Segmentation = Union[Dict[str, Any], List[List[float]]]


class SegmentationError(ValueError):
    """A segmentation in an annotation file cannot be decoded."""


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


def segmentation_to_mask(segm: Segmentation,
                         height: int,
                         width: int,
                         where: str = 'segmentation') -> np.ndarray:
    """Decode a COCO segmentation (polygons, RLE or uncompressed RLE).

    Args:
        segm (dict | list): Polygons ``[[x0, y0, x1, y1, ...], ...]`` or an
            RLE dict with ``size`` and ``counts`` (``str``/``bytes``/list).
        height (int): Image height.
        width (int): Image width.
        where (str): Description of the field (file, annotation id, key)
            used in error messages.

    Returns:
        np.ndarray: ``(height, width)`` uint8 mask with values {0, 1}.

    Raises:
        SegmentationError: For malformed input (polygons with fewer than 3
            points, odd coordinate counts, RLE of a different size, ...).
    """
    if isinstance(segm, dict):
        if 'counts' not in segm or 'size' not in segm:
            raise SegmentationError(
                f'{where}: RLE needs "counts" and "size", got keys '
                f'{sorted(segm)}')
        size = list(segm['size'])
        if size != [height, width]:
            raise SegmentationError(
                f'{where}: RLE size {size} does not match the image size '
                f'[{height}, {width}]')
        rle = segm
        if isinstance(segm['counts'], list):
            rle = mask_utils.frPyObjects(segm, height, width)
        elif isinstance(segm['counts'], str):
            rle = dict(size=size, counts=segm['counts'].encode('ascii'))
        return mask_utils.decode(rle).astype(np.uint8)
    if isinstance(segm, Sequence) and not isinstance(segm, (str, bytes)):
        polys = [list(p) for p in segm]
        if not polys:
            raise SegmentationError(f'{where}: empty polygon list')
        for k, poly in enumerate(polys):
            if len(poly) % 2 != 0:
                raise SegmentationError(
                    f'{where}: polygon {k} has an odd number of coordinates '
                    f'({len(poly)})')
            if len(poly) < 6:
                raise SegmentationError(
                    f'{where}: polygon {k} has {len(poly) // 2} points; '
                    'at least 3 are needed')
        rles = mask_utils.frPyObjects(polys, height, width)
        return mask_utils.decode(mask_utils.merge(rles)).astype(np.uint8)
    raise SegmentationError(
        f'{where}: expected polygons (list) or RLE (dict), got '
        f'{type(segm).__name__}')


def decode_rle(rle: Dict[str, Any]) -> np.ndarray:
    """Decode a compressed RLE (``counts`` as ``str`` or ``bytes``).

    Args:
        rle (dict): ``{'size': [H, W], 'counts': ...}``.

    Returns:
        np.ndarray: ``(H, W)`` uint8 mask.
    """
    h, w = rle['size']
    return segmentation_to_mask(rle, h, w, where='rle')
