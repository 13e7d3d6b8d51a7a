"""Painting: the RGB image of a scene from its visible masks.

Flat colours (a greyish background and saturated, pairwise distinct object
colours) or, with a :class:`~.textures.TextureBank`, photo crops. Every
object shows exactly on its visible mask.
"""
from typing import Optional, Tuple

import cv2
import numpy as np

from .textures import TextureBank

__all__ = ['paint_scene']


def _random_colour(rng: np.random.Generator, saturation: Tuple[float, float],
                   value: Tuple[float, float]) -> np.ndarray:
    """A random RGB colour from an HSV box.

    Args:
        rng (np.random.Generator): Random source.
        saturation (tuple[float, float]): Saturation range in ``[0, 1]``.
        value (tuple[float, float]): Value (brightness) range in ``[0, 1]``.

    Returns:
        np.ndarray: ``(3,)`` int64 RGB.
    """
    hsv = np.array([[[
        rng.uniform(0, 180),
        rng.uniform(*saturation) * 255,
        rng.uniform(*value) * 255
    ]]], dtype=np.float32).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.int64)


def _distinct_colours(rng: np.random.Generator, num: int,
                      min_dist: float = 60.0) -> np.ndarray:
    """A background colour then ``num`` object colours, pairwise distinct.

    Each object colour is the first of up to 30 draws that lies at least
    ``min_dist`` (RGB Euclidean) from all colours so far, else the farthest
    draw.

    Args:
        rng (np.random.Generator): Random source.
        num (int): Number of object colours.
        min_dist (float): Wanted minimum RGB distance.

    Returns:
        np.ndarray: ``(num + 1, 3)`` uint8 RGB, background first.
    """
    colours = [_random_colour(rng, (0.0, 0.25), (0.3, 0.9))]
    for _ in range(num):
        best, best_d = None, -1.0
        for _ in range(30):
            c = _random_colour(rng, (0.45, 1.0), (0.35, 1.0))
            d = min(float(np.linalg.norm(c - o)) for o in colours)
            if d > best_d:
                best, best_d = c, d
            if d >= min_dist:
                break
        colours.append(best)
    return np.stack(colours).astype(np.uint8)


def paint_scene(modal: np.ndarray, rng: np.random.Generator,
                textures: Optional[TextureBank] = None) -> np.ndarray:
    """Paint the visible masks over a background.

    Args:
        modal (np.ndarray): ``(N, H, W)`` bool visible masks (disjoint).
        rng (np.random.Generator): Random source.
        textures (TextureBank, optional): Photo textures instead of flat
            colours.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB image.
    """
    n, height, width = modal.shape
    if textures is None:
        colours = _distinct_colours(rng, n)
        image = np.empty((height, width, 3), dtype=np.uint8)
        image[:] = colours[0]
        for k in range(n):
            image[modal[k]] = colours[k + 1]
        return image
    image = textures.sample(rng, height, width)
    for k in range(n):
        image[modal[k]] = textures.sample(rng, height, width)[modal[k]]
    return image
