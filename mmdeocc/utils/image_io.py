"""Reading images for the offline jobs and transforms, with clear errors."""
from typing import Type

import numpy as np

__all__ = ['read_rgb_image']


def read_rgb_image(path: str,
                   where: str,
                   error_cls: Type[Exception] = OSError) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB.

    Args:
        path (str): Image file.
        where (str): Sample description for errors.
        error_cls (type): Exception raised for a missing or undecodable
            file.

    Returns:
        np.ndarray: The image (grey images get three equal channels).

    Raises:
        error_cls: The file is missing or cannot be decoded.
    """
    import os.path as osp

    import mmcv
    if not osp.isfile(path):
        raise error_cls(f'{where}: image file {path} does not exist')
    # BGR decoding returns None for bad bytes (mmcv's RGB path would fail
    # inside OpenCV's colour conversion instead)
    image = mmcv.imread(path, channel_order='bgr')
    if image is None:
        raise error_cls(f'{where}: cannot decode image file {path}')
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., 2::-1])
