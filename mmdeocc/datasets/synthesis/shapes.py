"""Silhouettes: find, read, save and load the binary shapes of a folder.

A shape folder holds ``<class>-<n>.gif`` / ``<class>-<n>.png`` files (e.g.
the MPEG-7 CE-Shape-1 part B GIFs or ``data/shapes/mpeg7``); non-zero
(bright) pixels are the object. Category ids come from the sorted class
list of the whole folder, so they are the same whatever subset is loaded.
"""
import os
import os.path as osp
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from mmdeocc.utils.io import atomic_open

__all__ = [
    'SHAPE_EXTENSIONS', 'ShapeError', 'Shape', 'shape_categories',
    'tight_crop', 'read_shape_mask', 'save_shape_png', 'load_shapes'
]

#: File extensions of silhouettes (lower case).
SHAPE_EXTENSIONS = ('.gif', '.png')
_SHAPE_NAME = re.compile(r'^(?P<cls>.+)-(?P<idx>\d+)$')


class ShapeError(ValueError):
    """A silhouette folder or file cannot be used."""


@dataclass
class Shape:
    """A binary silhouette.

    Attributes:
        name (str): File stem, e.g. ``'apple-3'``.
        class_name (str): Class, the stem before ``-<n>``.
        category_id (int): 1-based index of the class in the sorted class
            list of the whole shape folder (stable across class subsets).
        mask (np.ndarray): ``(h, w)`` bool, cropped to its tight box.
    """
    name: str
    class_name: str
    category_id: int
    mask: np.ndarray


def _shape_files(shape_dir: str) -> List[Tuple[str, str, str]]:
    """List the silhouettes of a folder.

    Args:
        shape_dir (str): Folder of ``<class>-<n>.{gif,png}`` files.

    Returns:
        list[tuple[str, str, str]]: Sorted ``(path, stem, class)``.

    Raises:
        ShapeError: The folder is missing, has no silhouette or a
            silhouette file name does not follow ``<class>-<n>``.
    """
    if not osp.isdir(shape_dir):
        raise ShapeError(f'shape folder {shape_dir!r} does not exist')
    files = []
    for fname in sorted(os.listdir(shape_dir)):
        stem, ext = osp.splitext(fname)
        if ext.lower() not in SHAPE_EXTENSIONS:
            continue
        match = _SHAPE_NAME.match(stem)
        if match is None:
            raise ShapeError(
                f'{osp.join(shape_dir, fname)}: silhouette file names must '
                'be "<class>-<n>.gif" or "<class>-<n>.png"')
        files.append((osp.join(shape_dir, fname), stem, match.group('cls')))
    if not files:
        raise ShapeError(
            f'{shape_dir!r} contains no silhouettes (*.gif, *.png)')
    return files


def shape_categories(shape_dir: str) -> List[Dict[str, Any]]:
    """COCO ``categories`` of all classes of a shape folder.

    Args:
        shape_dir (str): Folder of ``<class>-<n>.{gif,png}`` files.

    Returns:
        list[dict]: ``[{'id': 1, 'name': ..., 'supercategory': 'shape'},
        ...]`` in sorted class order.
    """
    classes = sorted({cls for _, _, cls in _shape_files(shape_dir)})
    return [
        dict(id=k + 1, name=name, supercategory='shape')
        for k, name in enumerate(classes)
    ]


def tight_crop(mask: np.ndarray) -> np.ndarray:
    """Crop a mask to its tight box.

    Args:
        mask (np.ndarray): ``(h, w)`` bool mask.

    Returns:
        np.ndarray: The cropped mask (an empty mask is returned as is).
    """
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return mask
    return mask[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1]


def read_shape_mask(path: str, max_side: Optional[int] = None) -> np.ndarray:
    """Read a silhouette (GIF or PNG; non-zero/bright = object).

    Args:
        path (str): Image file.
        max_side (int, optional): Downscale (box filter, threshold at half
            intensity) so that the longest side of the object is at most
            this many pixels.

    Returns:
        np.ndarray: ``(h, w)`` bool mask cropped to the object.

    Raises:
        ShapeError: The file cannot be read or the silhouette is empty.
    """
    try:
        from PIL import Image
    except ImportError as err:  # pragma: no cover - pillow comes with mmdet
        raise ImportError(
            'reading silhouettes needs pillow (`pip install pillow`)') from err
    try:
        with Image.open(path) as img:
            gray = np.asarray(img.convert('L'))
    except OSError as err:
        raise ShapeError(f'{path}: cannot read the image ({err})') from err
    mask = tight_crop(gray >= 128)
    if not mask.any():
        raise ShapeError(f'{path}: the silhouette is empty (no pixel >= 128)')
    if max_side is not None and max(mask.shape) > max_side:
        scale = max_side / max(mask.shape)
        size = (max(1, round(mask.shape[1] * scale)),
                max(1, round(mask.shape[0] * scale)))
        small = Image.fromarray(mask.astype(np.uint8) * 255).resize(
            size, Image.BOX)
        mask = tight_crop(np.asarray(small) >= 128)
        if not mask.any():
            raise ShapeError(
                f'{path}: the silhouette vanishes at max_side={max_side}')
    return mask


def save_shape_png(mask: np.ndarray, path: str) -> None:
    """Save a silhouette as a 1-bit PNG (atomic write).

    Args:
        mask (np.ndarray): ``(h, w)`` bool mask.
        path (str): Destination ``.png``.
    """
    from PIL import Image
    with atomic_open(path, 'wb') as f:
        Image.fromarray(mask.astype(bool)).save(f, format='PNG')


def _parse_classes(
        value: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    """Read a class selection.

    Args:
        value (str | Sequence[str], optional): ``'a,b'`` or ``['a', 'b']``.

    Returns:
        list[str] | None: The stripped non-empty names, or None for no
        selection.
    """
    if value is None:
        return None
    if isinstance(value, str):
        value = value.split(',')
    names = [v.strip() for v in value if v.strip()]
    return names or None


def load_shapes(shape_dir: str,
                classes: Union[None, str, Sequence[str]] = None,
                exclude_classes: Union[None, str, Sequence[str]] = None,
                max_side: Optional[int] = None
                ) -> Tuple[List[Shape], List[Dict[str, Any]]]:
    """Load the silhouettes of a folder.

    Args:
        shape_dir (str): Folder of ``<class>-<n>.{gif,png}`` files (e.g.
            the MPEG-7 CE-Shape-1 part B GIFs or ``data/shapes/mpeg7``).
        classes (str | list[str], optional): Keep only these classes.
        exclude_classes (str | list[str], optional): Drop these classes
            (e.g. classes held out of training).
        max_side (int, optional): Downscale large silhouettes on load.

    Returns:
        tuple: ``(shapes, categories)``; ``categories`` lists all classes of
        the folder (ids stay the same whatever subset is loaded).

    Raises:
        ShapeError: Unknown class, unusable file or nothing left.
    """
    files = _shape_files(shape_dir)
    categories = shape_categories(shape_dir)
    cat_ids = {c['name']: c['id'] for c in categories}
    keep = _parse_classes(classes)
    drop = set(_parse_classes(exclude_classes) or [])
    for name in (keep or []) + sorted(drop):
        if name not in cat_ids:
            raise ShapeError(
                f'class {name!r} is not in {shape_dir!r}; available: '
                f'{", ".join(sorted(cat_ids))}')
    shapes = []
    for path, stem, cls in files:
        if (keep is not None and cls not in keep) or cls in drop:
            continue
        shapes.append(
            Shape(stem, cls, cat_ids[cls], read_shape_mask(path, max_side)))
    if not shapes:
        raise ShapeError(f'no silhouette of {shape_dir!r} is left after the '
                         'class selection')
    return shapes, categories
