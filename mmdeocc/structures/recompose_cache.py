"""The on-disk de-occlusion of one training image (re-composition cache).

A :class:`RecomposeEntry` holds what re-composing an image needs besides
the image itself: per instance the modal and amodal masks, the completed
colours of its RGBA layer (only the pixels that differ from the image, see
:meth:`~mmdeocc.structures.ContentLayers.to_dict`), the order matrix, the
annotation and category ids, and the inpainted background on its hole. It
is lossless: :meth:`RecomposeEntry.to_layers` with the same image rebuilds
the :class:`~mmdeocc.structures.ContentLayers` bit for bit.

File format (``.npz``, zlib-compressed, read with ``allow_pickle=False``):

* ``meta``: UTF-8 JSON (uint8 array): ``format_version``, ``height``,
  ``width``, ``image_crc32`` (CRC-32 of the RGB image's bytes, to detect an
  image that changed since the cache was built), ``ann_ids``,
  ``category_ids``, ``order`` (``N x N`` lists), ``background_dilation``
  and the masks as COCO RLE (``modal_masks``, ``amodal_masks``,
  ``fill_masks``, ``background_hole``);
* ``fill_rgb``: ``(K, 3)`` uint8, the completed colours of all objects one
  after the other (``fill_lengths``: ``(N,)`` int64 pixels per object);
* ``background_rgb``: ``(M, 3)`` uint8, the background on its hole.

Files are written atomically (:func:`mmdeocc.utils.io.atomic_open`).
"""
import json
import zlib
from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

import numpy as np

from mmdeocc.utils.io import atomic_open
from .content_layers import ContentCompletionError, ContentLayers

__all__ = [
    'RECOMPOSE_ENTRY_VERSION', 'INDEX_FILE', 'ENTRIES_DIR',
    'RecomposeCacheError', 'RecomposeEntry', 'image_crc32'
]

#: Name of the index file inside a cache folder
#: (:mod:`mmdeocc.apis.recompose_cache`).
INDEX_FILE = 'index.json'
#: Folder of the per-image entries inside a cache folder.
ENTRIES_DIR = 'entries'

#: Version of the entry file layout.
RECOMPOSE_ENTRY_VERSION = 1
_MASK_KEYS = ('modal_masks', 'amodal_masks', 'fill_masks')


class RecomposeCacheError(ValueError):
    """A re-composition cache entry is missing, unreadable or does not fit
    the image it is used with."""


def image_crc32(image: np.ndarray) -> int:
    """CRC-32 of an image's pixel bytes (C order).

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 array.

    Returns:
        int: The checksum.
    """
    return zlib.crc32(np.ascontiguousarray(image, dtype=np.uint8).data)


def _json_bytes(obj: Any) -> np.ndarray:
    return np.frombuffer(json.dumps(obj).encode('utf-8'), dtype=np.uint8)


@dataclass
class RecomposeEntry:
    """The cached de-occlusion of one image (see the module docstring).

    Attributes:
        layers (dict): :meth:`ContentLayers.to_dict` without the image.
        order (np.ndarray): ``(N, N)`` int8 order matrix.
        ann_ids (list[int]): Annotation id of each object.
        category_ids (list[int]): Dataset category id of each object.
        image_crc32 (int): :func:`image_crc32` of the RGB image.
    """
    layers: Dict[str, Any]
    order: np.ndarray
    ann_ids: List[int]
    category_ids: List[int]
    image_crc32: int

    @classmethod
    def from_layers(cls, layers: ContentLayers, order: Any,
                    ann_ids: Sequence[int],
                    category_ids: Sequence[int]) -> 'RecomposeEntry':
        """Make the entry of completed layers.

        Args:
            layers (ContentLayers): The image's layers.
            order (array-like): ``(N, N)`` order matrix.
            ann_ids (Sequence[int]): Annotation id of each layer.
            category_ids (Sequence[int]): Category id of each layer.

        Returns:
            RecomposeEntry: The entry.
        """
        n = layers.num_objects
        order = np.asarray(order, dtype=np.int8).reshape(n, n)
        if len(ann_ids) != n or len(category_ids) != n:
            raise RecomposeCacheError(
                f'{n} layers but {len(ann_ids)} annotation ids and '
                f'{len(category_ids)} category ids')
        return cls(layers.to_dict(), order, [int(i) for i in ann_ids],
                   [int(c) for c in category_ids],
                   image_crc32(layers.image))

    @property
    def num_objects(self) -> int:
        """Number of objects ``N``."""
        return len(self.ann_ids)

    @property
    def shape(self) -> tuple:
        """``(height, width)`` of the image."""
        return int(self.layers['height']), int(self.layers['width'])

    def save(self, path: str) -> None:
        """Write the entry to ``path`` (``.npz``) atomically."""
        layers = self.layers
        fill = [np.asarray(v, np.uint8).reshape(-1, 3)
                for v in layers['fill_rgb']]
        meta = dict(
            format_version=RECOMPOSE_ENTRY_VERSION,
            height=int(layers['height']),
            width=int(layers['width']),
            image_crc32=int(self.image_crc32),
            ann_ids=self.ann_ids,
            category_ids=self.category_ids,
            order=self.order.astype(int).tolist(),
            background_dilation=int(layers.get('background_dilation', 0)),
            background_hole=layers['background_hole'],
            **{k: layers[k]
               for k in _MASK_KEYS})
        arrays = dict(
            meta=_json_bytes(meta),
            fill_rgb=np.concatenate(fill) if fill else np.zeros(
                (0, 3), np.uint8),
            fill_lengths=np.asarray([len(v) for v in fill], np.int64),
            background_rgb=np.asarray(layers['background_rgb'],
                                      np.uint8).reshape(-1, 3))
        with atomic_open(path, 'wb') as f:
            np.savez_compressed(f, **arrays)

    @classmethod
    def load(cls, path: str) -> 'RecomposeEntry':
        """Read an entry written by :meth:`save`.

        Args:
            path (str): The ``.npz`` file.

        Returns:
            RecomposeEntry: The entry.

        Raises:
            RecomposeCacheError: Missing, unreadable or inconsistent file
                (the message names it).
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data['meta']).decode('utf-8'))
                fill_rgb = data['fill_rgb']
                lengths = data['fill_lengths']
                background_rgb = data['background_rgb']
        except FileNotFoundError:
            raise RecomposeCacheError(
                f'{path}: cache entry not found') from None
        except Exception as err:  # zip, npz, JSON and key errors
            raise RecomposeCacheError(
                f'{path}: unreadable cache entry ({type(err).__name__}: '
                f'{err})') from None
        if meta.get('format_version') != RECOMPOSE_ENTRY_VERSION:
            raise RecomposeCacheError(
                f'{path}: cache entry format {meta.get("format_version")!r}, '
                f'expected {RECOMPOSE_ENTRY_VERSION} (rebuild the cache)')
        try:
            n = len(meta['ann_ids'])
            if len(lengths) != n or int(lengths.sum()) != len(fill_rgb):
                raise ValueError('fill_lengths do not match fill_rgb')
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            layers = {k: meta[k] for k in _MASK_KEYS}
            layers.update(
                height=int(meta['height']),
                width=int(meta['width']),
                background_hole=meta['background_hole'],
                background_dilation=int(meta['background_dilation']),
                fill_rgb=[
                    fill_rgb[bounds[i]:bounds[i + 1]] for i in range(n)
                ],
                background_rgb=background_rgb,
                instance_indices=None)
            order = np.asarray(meta['order'], np.int8).reshape(n, n)
            return cls(layers, order, [int(i) for i in meta['ann_ids']],
                       [int(c) for c in meta['category_ids']],
                       int(meta['image_crc32']))
        except (KeyError, TypeError, ValueError) as err:
            raise RecomposeCacheError(
                f'{path}: inconsistent cache entry ({err})') from None

    def to_layers(self, image: np.ndarray,
                  check_image: bool = True) -> ContentLayers:
        """Rebuild the layers with the image they were made from.

        Args:
            image (np.ndarray): ``(H, W, 3)`` uint8 **RGB** image.
            check_image (bool): Refuse an image whose checksum differs from
                the one the cache was built on.

        Returns:
            ContentLayers: The layers (bit-identical to the cached ones).

        Raises:
            RecomposeCacheError: Wrong size, changed image, or an entry
                that does not decode.
        """
        height, width = self.shape
        if tuple(image.shape) != (height, width, 3):
            raise RecomposeCacheError(
                f'image is {tuple(image.shape)}, the cache entry was made for '
                f'{(height, width, 3)}')
        if check_image and image_crc32(image) != self.image_crc32:
            raise RecomposeCacheError(
                'the image differs from the one the cache entry was made '
                'from (checksum mismatch)')
        try:
            return ContentLayers.from_dict(image, self.layers)
        except ContentCompletionError as err:
            raise RecomposeCacheError(str(err)) from None
