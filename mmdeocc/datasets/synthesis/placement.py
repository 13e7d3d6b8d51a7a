"""Object placement with controlled overlap (the occlusion level).

Every object after the first is placed against the objects already placed
so that the fraction of its area covered by them lies in ``[lo, hi]`` and
no object is ever covered by more than ``hi`` (in total, by all other
objects). Since the occluded part of an object is a subset of what covers
it, no object is occluded by more than the upper bound. Presets:
:data:`OCCLUSION_LEVELS`.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from .shapes import Shape, tight_crop

__all__ = [
    'OCCLUSION_LEVELS', 'PlacedObject', 'resolve_overlap_range',
    'place_objects'
]

#: Overlap ranges of the occlusion presets (fraction of an object's area
#: covered by other objects: lower bound at placement, upper bound always).
OCCLUSION_LEVELS: Dict[str, Tuple[float, float]] = dict(
    slight=(0.02, 0.15), moderate=(0.1, 0.35), heavy=(0.3, 0.6))


@dataclass
class PlacedObject:
    """An object placed in the image.

    Attributes:
        mask (np.ndarray): ``(H, W)`` bool amodal mask clipped to the image.
        area (int): Pixels of ``mask``.
        cx (float): Centre x of the transformed silhouette.
        cy (float): Centre y of the transformed silhouette.
        radius (float): Half the diagonal of the silhouette's box.
        truncated (bool): The silhouette crosses the image border.
        shape (Shape): The source silhouette.
        polygon (list[float], optional): Flat amodal outline polygon when
            placed with ``polygonize``.
    """
    mask: np.ndarray
    area: int
    cx: float
    cy: float
    radius: float
    truncated: bool
    shape: Shape
    polygon: Optional[List[float]]


def resolve_overlap_range(overlap_range: Union[str, Sequence[float]],
                          rng: np.random.Generator) -> Tuple[float, float]:
    """Turn an occlusion level into an overlap range.

    Args:
        overlap_range (str | Sequence[float]): An :data:`OCCLUSION_LEVELS`
            name, ``'mixed'`` (a level drawn from ``rng``) or ``(lo, hi)``.
        rng (np.random.Generator): Random source (used by ``'mixed'``
            only).

    Returns:
        tuple[float, float]: ``(lo, hi)``.

    Raises:
        ValueError: Unknown level or an invalid range.
    """
    if isinstance(overlap_range, str):
        if overlap_range == 'mixed':
            names = sorted(OCCLUSION_LEVELS)
            overlap_range = names[int(rng.integers(len(names)))]
        if overlap_range not in OCCLUSION_LEVELS:
            raise ValueError(
                f'unknown occlusion level {overlap_range!r}; use one of '
                f'{sorted(OCCLUSION_LEVELS)}, "mixed" or a (lo, hi) pair')
        return OCCLUSION_LEVELS[overlap_range]
    lo, hi = (float(v) for v in overlap_range)
    if not 0.0 <= lo <= hi < 1.0:
        raise ValueError(f'overlap_range must satisfy 0 <= lo <= hi < 1, got '
                         f'({lo}, {hi})')
    return lo, hi


def _transform_shape(mask: np.ndarray, target_area: float, angle: float,
                     flip: bool) -> np.ndarray:
    """Scale a silhouette to ``target_area`` pixels, flip and rotate it.

    Args:
        mask (np.ndarray): ``(h, w)`` bool silhouette.
        target_area (float): Wanted object area in pixels.
        angle (float): Rotation in degrees (counter-clockwise).
        flip (bool): Flip horizontally first.

    Returns:
        np.ndarray: The transformed bool mask, cropped to its tight box.
    """
    if flip:
        mask = mask[:, ::-1]
    h, w = mask.shape
    scale = float(np.sqrt(target_area / max(int(mask.sum()), 1)))
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    m = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=interp)
    if angle != 0.0:
        side = int(np.ceil(np.hypot(nh, nw))) + 2
        canvas = np.zeros((side, side), dtype=np.float32)
        y0, x0 = (side - nh) // 2, (side - nw) // 2
        canvas[y0:y0 + nh, x0:x0 + nw] = m
        centre = ((side - 1) / 2.0, (side - 1) / 2.0)
        rot = cv2.getRotationMatrix2D(centre, angle, 1.0)
        m = cv2.warpAffine(canvas, rot, (side, side), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return tight_crop(m >= 0.5)


def _paste(patch: np.ndarray, x0: int, y0: int, height: int,
           width: int) -> np.ndarray:
    """Place a patch in an empty image, clipped to the image.

    Args:
        patch (np.ndarray): ``(h, w)`` bool mask.
        x0 (int): Column of the patch's top-left corner (may be negative).
        y0 (int): Row of the patch's top-left corner (may be negative).
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: ``(height, width)`` bool mask.
    """
    out = np.zeros((height, width), dtype=bool)
    ph, pw = patch.shape
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(height, y0 + ph), min(width, x0 + pw)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = patch[ys - y0:ye - y0, xs - x0:xe - x0]
    return out


def _amodal_polygon(mask: np.ndarray) -> Optional[List[float]]:
    """Outline of the largest connected part of a mask.

    Args:
        mask (np.ndarray): ``(H, W)`` bool mask.

    Returns:
        list[float] | None: One flat polygon ``[x0, y0, x1, y1, ...]`` in
        pycocotools' continuous coordinates, or None when the mask has no
        outline of at least three points.
    """
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea).reshape(-1, 2)
    if len(contour) < 3:
        return None
    # Pixel indices are pixel centres: shift to pycocotools' continuous
    # coordinates so that the rasterised polygon hugs the mask.
    return (contour.astype(np.float64) + 0.5).reshape(-1).round(2).tolist()


def _rasterise(polygon: List[float], height: int, width: int) -> np.ndarray:
    """Rasterise one flat polygon the way pycocotools does.

    Args:
        polygon (list[float]): Flat polygon ``[x0, y0, x1, y1, ...]``.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: ``(height, width)`` bool mask.
    """
    rles = mask_utils.frPyObjects([polygon], height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def place_objects(shapes: Sequence[Shape], rng: np.random.Generator,
                  height: int, width: int, num: int,
                  area_range: Tuple[float, float], lo: float, hi: float,
                  rotate: bool, flip: bool, allow_truncation: bool,
                  two_object: bool, min_in_image: float, polygonize: bool,
                  max_attempts: int) -> List[PlacedObject]:
    """Place up to ``num`` objects with controlled overlap (module doc).

    The first object lands near the image centre; every other one next to a
    random object already placed. Objects that cannot be placed within
    ``max_attempts`` tries are skipped. With ``polygonize`` each candidate
    mask is replaced by its rasterised outline polygon before the overlap
    tests, so the bounds hold exactly for the polygon masks.

    Args:
        shapes (Sequence[Shape]): Silhouettes (drawn without replacement
            when there are at least ``num``).
        rng (np.random.Generator): Random source.
        height (int): Image height.
        width (int): Image width.
        num (int): Objects to try to place.
        area_range (tuple[float, float]): Object area as a fraction of the
            image area.
        lo (float): Minimum covered fraction of each new object.
        hi (float): Maximum covered fraction of every object.
        rotate (bool): Random rotation.
        flip (bool): Random horizontal flip.
        allow_truncation (bool): Allow objects to cross the image border.
        two_object (bool): Also require the covered fraction of the objects
            already placed to be at least ``lo``.
        min_in_image (float): Minimum fraction of an object inside the
            image.
        polygonize (bool): Use polygon masks (see above).
        max_attempts (int): Placement attempts per object.

    Returns:
        list[PlacedObject]: The placed objects, in placement order.
    """
    placed: List[PlacedObject] = []
    count = np.zeros((height, width), dtype=np.uint8)  # objects per pixel
    order = rng.permutation(len(shapes))
    for k in range(num):
        shape = shapes[order[k % len(shapes)]] if len(shapes) >= num else \
            shapes[int(rng.integers(len(shapes)))]
        area = rng.uniform(*area_range) * height * width
        angle = float(rng.uniform(0.0, 360.0)) if rotate else 0.0
        patch = _transform_shape(shape.mask, area, angle,
                                 bool(flip and rng.random() < 0.5))
        ph, pw = patch.shape
        full_area = int(patch.sum())
        if full_area == 0:
            continue
        for _ in range(max_attempts):
            if not placed:
                cx = rng.uniform(0.3, 0.7) * width
                cy = rng.uniform(0.3, 0.7) * height
            else:
                anchor = placed[int(rng.integers(len(placed)))]
                radius = 0.5 * (np.hypot(ph, pw) / 2 + anchor.radius)
                dist = rng.uniform(0.1, 1.6) * radius
                phi = rng.uniform(0.0, 2 * np.pi)
                cx = anchor.cx + dist * np.cos(phi)
                cy = anchor.cy + dist * np.sin(phi)
            x0, y0 = int(round(cx - pw / 2)), int(round(cy - ph / 2))
            inside = (x0 >= 0 and y0 >= 0 and x0 + pw <= width
                      and y0 + ph <= height)
            if not inside and not allow_truncation:
                continue
            mask = _paste(patch, x0, y0, height, width)
            polygon = None
            if polygonize:
                polygon = _amodal_polygon(mask)
                if polygon is None:
                    continue
                mask = _rasterise(polygon, height, width)
            area_in = int(mask.sum())
            if area_in == 0 or area_in < min_in_image * full_area:
                continue
            if placed:
                frac = np.count_nonzero(mask & (count > 0)) / area_in
                if not lo <= frac <= hi:
                    continue
                ok = True
                others = (count >= 2) | mask
                for obj in placed:
                    cover = np.count_nonzero(obj.mask & others) / obj.area
                    if cover > hi or (two_object and cover < lo):
                        ok = False
                        break
                if not ok:
                    continue
            placed.append(
                PlacedObject(mask=mask, area=area_in, cx=cx, cy=cy,
                             radius=np.hypot(ph, pw) / 2,
                             truncated=not inside, shape=shape,
                             polygon=polygon))
            count += mask
            break
    return placed
