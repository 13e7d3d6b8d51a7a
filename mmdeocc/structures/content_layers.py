"""The result of content completion: :class:`ContentLayers`.

One image's inpainted background and one RGBA layer per object, with its
compact, lossless dictionary form (:meth:`ContentLayers.to_dict` /
:meth:`ContentLayers.from_dict`), and :class:`ContentCompletionError`, the
error of content completion and of malformed layer dictionaries. Plain data:
nothing here imports models, datasets or the core.
"""
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional

import numpy as np

from .masks import decode_rle, encode_rle, encode_rles

__all__ = ['ContentLayers', 'ContentCompletionError', 'check_rgb_image']


class ContentCompletionError(ValueError):
    """Invalid input to content completion or an unusable PCNet-C model."""


@dataclass
class ContentLayers:
    """Content completion of one image: background + one layer per object.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB input.
        background (np.ndarray): ``(H, W, 3)`` uint8 inpainted background
            (equal to ``image`` outside ``background_hole``).
        background_hole (np.ndarray): ``(H, W)`` bool, pixels inpainted.
        rgb (np.ndarray): ``(N, H, W, 3)`` uint8 colour of each layer
            (equal to ``image`` outside ``fill_masks[i]``).
        fill_masks (np.ndarray): ``(N, H, W)`` bool, pixels completed by
            PCNet-C.
        alpha (np.ndarray): ``(N, H, W)`` bool layer masks, amodal ∪ modal.
        modal_masks (np.ndarray): ``(N, H, W)`` bool visible masks.
        amodal_masks (np.ndarray): ``(N, H, W)`` bool amodal masks as given.
        background_dilation (int): Square kernel that made
            ``background_hole`` from the union of the modal masks
            (re-composition reveals the background of a removed object
            within the same band).
        instance_indices (np.ndarray, optional): ``(N,)`` int64 index of
            each layer's object among the predictions it was made from
            (detector outputs: only de-occluded instances get a layer);
            None when the layers are the objects given, in order.
    """
    image: np.ndarray
    background: np.ndarray
    background_hole: np.ndarray
    rgb: np.ndarray
    fill_masks: np.ndarray
    alpha: np.ndarray
    modal_masks: np.ndarray
    amodal_masks: np.ndarray
    background_dilation: int = 0
    instance_indices: Optional[np.ndarray] = None

    @property
    def num_objects(self) -> int:
        """Number of object layers ``N``."""
        return int(self.alpha.shape[0])

    def rgba(self, index: int) -> np.ndarray:
        """Layer ``index`` as an ``(H, W, 4)`` uint8 RGBA image.

        Args:
            index (int): Object index.

        Returns:
            np.ndarray: RGB where the alpha mask is set, alpha 255 there and
            0 elsewhere (RGB 0 too).
        """
        if not 0 <= index < self.num_objects:
            raise IndexError(f'layer {index} out of range for '
                             f'{self.num_objects} objects')
        out = np.zeros(self.image.shape[:2] + (4, ), np.uint8)
        alpha = self.alpha[index]
        out[alpha, :3] = self.rgb[index][alpha]
        out[alpha, 3] = 255
        return out

    def to_dict(self) -> Dict[str, Any]:
        """A compact, lossless, picklable / JSON-able form without the image.

        Only what differs from the input image is kept: the masks as COCO
        RLE and the colours of the completed pixels (row-major order within
        each mask). :meth:`from_dict` with the same image rebuilds the
        layers exactly.

        Returns:
            dict: ``height``, ``width``, ``modal_masks`` / ``amodal_masks``
            / ``fill_masks`` (lists of RLE), ``fill_rgb`` (list of ``(K_i,
            3)`` uint8 arrays), ``background_hole`` (RLE),
            ``background_rgb`` (``(M, 3)`` uint8), ``background_dilation``
            and ``instance_indices`` (list or None).
        """
        height, width = self.image.shape[:2]
        return dict(
            height=int(height),
            width=int(width),
            modal_masks=encode_rles(self.modal_masks),
            amodal_masks=encode_rles(self.amodal_masks),
            fill_masks=encode_rles(self.fill_masks),
            fill_rgb=[
                self.rgb[i][self.fill_masks[i]].copy()
                for i in range(self.num_objects)
            ],
            background_hole=encode_rle(self.background_hole),
            background_rgb=self.background[self.background_hole].copy(),
            background_dilation=int(self.background_dilation),
            instance_indices=None if self.instance_indices is None else
            [int(i) for i in self.instance_indices])

    @classmethod
    def from_dict(cls, image: np.ndarray,
                  data: Mapping[str, Any]) -> 'ContentLayers':
        """Rebuild the layers from :meth:`to_dict` and the input image.

        Args:
            image (np.ndarray): The ``(H, W, 3)`` uint8 RGB input image.
            data (Mapping): Output of :meth:`to_dict`.

        Returns:
            ContentLayers: Equal to the layers that were converted.

        Raises:
            ContentCompletionError: Missing fields or sizes that disagree.
        """
        missing = sorted({
            'height', 'width', 'modal_masks', 'amodal_masks', 'fill_masks',
            'fill_rgb', 'background_hole', 'background_rgb'
        } - set(data))
        if missing:
            raise ContentCompletionError(
                f'content layers dict: missing fields {missing}')
        height, width = int(data['height']), int(data['width'])
        image = check_rgb_image(image, height, width)

        def masks(key: str) -> np.ndarray:
            decoded = [decode_rle(rle).astype(bool) for rle in data[key]]
            for mask in decoded:
                if mask.shape != (height, width):
                    raise ContentCompletionError(
                        f'content layers dict: a mask of {key} is '
                        f'{mask.shape}, expected {(height, width)}')
            return np.stack(decoded) if decoded else np.zeros(
                (0, height, width), bool)

        modal, amodal, fill = (masks(k) for k in ('modal_masks',
                                                  'amodal_masks',
                                                  'fill_masks'))
        if not len(modal) == len(amodal) == len(fill) == len(
                data['fill_rgb']):
            raise ContentCompletionError(
                'content layers dict: modal_masks, amodal_masks, fill_masks '
                'and fill_rgb differ in length')
        rgb = np.broadcast_to(image, (len(fill), ) + image.shape).copy()
        for i, values in enumerate(data['fill_rgb']):
            values = np.asarray(values, np.uint8).reshape(-1, 3)
            if len(values) != int(fill[i].sum()):
                raise ContentCompletionError(
                    f'content layers dict: fill_rgb[{i}] has {len(values)} '
                    f'colours for {int(fill[i].sum())} fill pixels')
            rgb[i][fill[i]] = values
        hole = decode_rle(data['background_hole']).astype(bool)
        background = image.copy()
        values = np.asarray(data['background_rgb'], np.uint8).reshape(-1, 3)
        if hole.shape != (height, width) or len(values) != int(hole.sum()):
            raise ContentCompletionError(
                'content layers dict: background_hole / background_rgb do '
                'not fit the image')
        background[hole] = values
        indices = data.get('instance_indices')
        return cls(
            image=image,
            background=background,
            background_hole=hole,
            rgb=rgb,
            fill_masks=fill,
            alpha=amodal | modal,
            modal_masks=modal,
            amodal_masks=amodal,
            background_dilation=int(data.get('background_dilation', 0)),
            instance_indices=None if indices is None else np.asarray(
                indices, np.int64))


def check_rgb_image(image: Any, height: int, width: int) -> np.ndarray:
    """Check that ``image`` is an ``(height, width, 3)`` uint8 RGB array.

    Args:
        image (Any): The image to check.
        height (int): Expected height (that of the masks).
        width (int): Expected width.

    Returns:
        np.ndarray: ``image`` as a C-contiguous array.

    Raises:
        ContentCompletionError: Not a numpy array of that shape and dtype.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or \
            image.shape[2] != 3:
        shape = getattr(image, 'shape', type(image).__name__)
        raise ContentCompletionError(
            f'image: expected an (H, W, 3) uint8 RGB numpy array, got {shape}')
    if image.dtype != np.uint8:
        raise ContentCompletionError(
            f'image: expected dtype uint8 (RGB in [0, 255]), got {image.dtype}'
        )
    if image.shape[:2] != (height, width):
        raise ContentCompletionError(
            f'image is {image.shape[0]}x{image.shape[1]} but the masks are '
            f'{height}x{width} (height x width)')
    return np.ascontiguousarray(image)
