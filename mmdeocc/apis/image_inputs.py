"""The inferencers' inputs: image files, folders and arrays, named and read.

Folders are listed in natural order (``frame_2`` before ``frame_10``, e.g.
extracted video frames); every input gets a unique output name (its file
stem, ``array_<k>`` for arrays); images are read as BGR uint8 like mmdet's
``LoadImageFromFile``, and bad files raise one clear error naming them.
"""
import os
import os.path as osp
import re
from typing import Any, Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np

#: File extensions listed when a folder is given.
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]


class ImageSkipped(ValueError):
    """An image cannot be processed (the reason names the file)."""


class UnreadableImageError(OSError):
    """An image file cannot be read or decoded."""


def natural_key(text: str) -> List[Any]:
    """Sort key that orders ``frame_2`` before ``frame_10``."""
    return [int(part) if part.isdigit() else part.lower()
            for part in re.split(r'(\d+)', text)]


def list_images(path: str) -> List[str]:
    """An image file, or the image files of a folder (natural order).

    Args:
        path (str): A file or a folder (not searched recursively; files
            with :data:`IMAGE_EXTENSIONS`, e.g. extracted video frames).

    Returns:
        list[str]: Paths.

    Raises:
        FileNotFoundError: ``path`` does not exist or a folder holds no
            image.
    """
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'input {path!r} is neither a file nor a '
                                'folder')
    names = sorted((name for name in os.listdir(path)
                    if name.lower().endswith(IMAGE_EXTENSIONS)
                    and osp.isfile(osp.join(path, name))), key=natural_key)
    if not names:
        raise FileNotFoundError(
            f'folder {path!r} contains no image '
            f'({", ".join(IMAGE_EXTENSIONS)})')
    return [osp.join(path, name) for name in names]


def read_image(path: str) -> np.ndarray:
    """Read an image as BGR uint8 (like mmdet's ``LoadImageFromFile``).

    Args:
        path (str): Image file.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.

    Raises:
        UnreadableImageError: Missing, unreadable or undecodable file.
    """
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except OSError as err:
        raise UnreadableImageError(
            f'cannot read image {path}: {err.strerror or err}') from None
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) \
        if data else None
    if image is None:
        raise UnreadableImageError(
            f'cannot decode image {path} (not an image, or a truncated / '
            'corrupt file)')
    return image


def name_inputs(inputs: InputsType) -> List[Tuple[str, InputType]]:
    """Expand inputs to ``(name, path or array)`` items.

    Args:
        inputs: An image path, a folder, an ``(H, W, 3)`` uint8 BGR
            array, or a list of paths / arrays.

    Returns:
        list[tuple[str, str | np.ndarray]]: Unique output names (file
        stems; ``array_<k>`` for arrays) and the inputs.
    """
    if isinstance(inputs, (str, os.PathLike, np.ndarray)):
        inputs = [inputs]
    items: List[Tuple[str, InputType]] = []
    for k, item in enumerate(inputs):
        if isinstance(item, np.ndarray):
            items.append((f'array_{k:06d}', item))
        else:
            items.extend((None, path) for path in list_images(
                os.fspath(item)))
    stems: Dict[str, int] = {}
    for _, item in items:
        if isinstance(item, str):
            stem = osp.splitext(osp.basename(item))[0]
            stems[stem] = stems.get(stem, 0) + 1
    named, used = [], set()
    for name, item in items:
        if name is None:
            stem, ext = osp.splitext(osp.basename(item))
            name = stem if stems[stem] == 1 else f'{stem}_{ext[1:]}'
        base, n = name, 1
        while name in used:
            name, n = f'{base}_{n}', n + 1
        used.add(name)
        named.append((name, item))
    return named


def load_input(item: InputType) -> np.ndarray:
    """The BGR image of an input.

    Args:
        item (str | np.ndarray): An image file or an ``(H, W, 3)`` uint8 BGR
            array.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR.

    Raises:
        ImageSkipped: Unreadable file or wrong array (the reason names it).
    """
    if isinstance(item, np.ndarray):
        if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
            raise ImageSkipped(
                f'input array must be (H, W, 3) uint8 BGR, got shape '
                f'{item.shape} {item.dtype}')
        return item
    try:
        return read_image(item)
    except UnreadableImageError as err:
        raise ImageSkipped(str(err)) from None
