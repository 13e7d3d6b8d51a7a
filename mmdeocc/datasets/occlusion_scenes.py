"""Synthetic occlusion scenes with exact amodal and order ground truth.

Binary silhouettes (e.g. MPEG-7 CE-Shape-1) are scaled, rotated, flipped and
placed near each other in an image, given a random depth order and painted
back to front. Because the scene is composed, everything is known exactly:

- ``amodal[k]``: the whole object, **clipped to the image** (an object that
  crosses the border is *truncated*, flagged in ``truncated``; the part
  outside the image is not part of any mask);
- ``modal[k] = amodal[k]`` minus the amodal masks of all nearer objects
  (exact by construction; the image shows object ``k``'s colour exactly on
  ``modal[k]``);
- ``depth[k]``: rank, 0 = nearest, unique;
- occlusion edges ``(i, j)``: pairs whose modal masks touch (METHOD 2.1)
  and where ``i`` visibly hides pixels of ``j`` (``modal_i & amodal_j``
  non-empty, ``depth_i < depth_j``). These are exactly the ``+1`` entries of
  the mask-derived ground truth of METHOD 4.1
  (:func:`mmdeocc.evaluation.functional.gt_order_from_masks`); ``depth``
  gives the full order, including hidden relations between objects whose
  visible parts do not touch.

Occlusion level: every object after the first is placed against the objects
already placed so that the fraction of its area covered by them lies in
``overlap_range`` and no object is ever covered by more than the upper bound
(in total, by all other objects). Since the occluded part of an object is a
subset of what covers it, no object is occluded by more than the upper
bound. Presets: :data:`OCCLUSION_LEVELS`.

Hidden objects: objects whose visible area is below ``min_visible_pixels``
(fully hidden ones included) are removed from the scene *before* it is
painted, and the masks are recomputed, so the image and the annotations
stay exact; the images never contain unannotated objects.

Object indices are a random permutation independent of depth and placement,
so index-based tie rules cannot leak the answer.
"""
import json
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pycocotools.mask as mask_utils
from tqdm import tqdm

from mmdeocc.structures import encode_rle, mask_to_bbox
from mmdeocc.structures.order import (occlusion_edges, order_from_edges,
                                      touch_matrix)
from mmdeocc.utils.io import atomic_open, atomic_write_bytes
from mmdeocc.utils.validation import check_choice

#: Overlap ranges of the occlusion presets (fraction of an object's area
#: covered by other objects: lower bound at placement, upper bound always).
OCCLUSION_LEVELS: Dict[str, Tuple[float, float]] = dict(
    slight=(0.02, 0.15), moderate=(0.1, 0.35), heavy=(0.3, 0.6))
FORMATS = ('amodal_coco', 'cocoa')
SHAPE_EXTENSIONS = ('.gif', '.png')
TEXTURE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')
_SHAPE_NAME = re.compile(r'^(?P<cls>.+)-(?P<idx>\d+)$')


class ShapeError(ValueError):
    """A silhouette folder or file cannot be used."""


class SceneGenerationError(RuntimeError):
    """No valid scene could be made with the requested settings."""


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
    """Sorted ``(path, stem, class)`` of the silhouettes of a folder."""
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


def _tight(mask: np.ndarray) -> np.ndarray:
    """Crop a mask to its tight box (empty masks are returned as is)."""
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
    mask = _tight(gray >= 128)
    if not mask.any():
        raise ShapeError(f'{path}: the silhouette is empty (no pixel >= 128)')
    if max_side is not None and max(mask.shape) > max_side:
        scale = max_side / max(mask.shape)
        size = (max(1, round(mask.shape[1] * scale)),
                max(1, round(mask.shape[0] * scale)))
        small = Image.fromarray(mask.astype(np.uint8) * 255).resize(
            size, Image.BOX)
        mask = _tight(np.asarray(small) >= 128)
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


def _parse_classes(value: Union[None, str, Sequence[str]]) -> Optional[list]:
    """Accept ``'a,b'`` or ``['a', 'b']``."""
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


class TextureBank:
    """Random RGB crops of the photos of a folder (textures of scenes).

    Args:
        folder (str): Folder of ``.jpg/.jpeg/.png/.bmp`` images.
    """

    def __init__(self, folder: str) -> None:
        if not osp.isdir(folder):
            raise FileNotFoundError(f'texture folder {folder!r} not found')
        self.files = sorted(
            osp.join(folder, f) for f in os.listdir(folder)
            if osp.splitext(f)[1].lower() in TEXTURE_EXTENSIONS)
        if not self.files:
            raise FileNotFoundError(
                f'texture folder {folder!r} has no {TEXTURE_EXTENSIONS} image')

    def sample(self, rng: np.random.Generator, height: int,
               width: int) -> np.ndarray:
        """A random ``(height, width, 3)`` uint8 RGB crop of a random photo.

        Args:
            rng (np.random.Generator): Random source.
            height (int): Crop height.
            width (int): Crop width.

        Returns:
            np.ndarray: RGB uint8 crop.
        """
        path = self.files[int(rng.integers(len(self.files)))]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'{path}: cannot read the texture image')
        h, w = img.shape[:2]
        scale = max(height / h, width / w, 1.0)
        if scale > 1.0:
            img = cv2.resize(img, (int(np.ceil(w * scale)),
                                   int(np.ceil(h * scale))),
                             interpolation=cv2.INTER_LINEAR)
            h, w = img.shape[:2]
        y0 = int(rng.integers(h - height + 1))
        x0 = int(rng.integers(w - width + 1))
        crop = img[y0:y0 + height, x0:x0 + width]
        return np.ascontiguousarray(crop[:, :, ::-1])


@dataclass
class Scene:
    """A composed scene; all masks at image size, objects in random order.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 **RGB**.
        modal (np.ndarray): ``(N, H, W)`` bool visible masks.
        amodal (np.ndarray): ``(N, H, W)`` bool full masks clipped to the
            image.
        depth (np.ndarray): ``(N,)`` int64 ranks, 0 = nearest, unique.
        category_ids (np.ndarray): ``(N,)`` int64 category ids.
        class_names (list[str]): Class of each object.
        shape_names (list[str]): Source silhouette of each object.
        truncated (np.ndarray): ``(N,)`` bool, the object crosses the image
            border (part of it lies outside and is in no mask).
        polygons (list, optional): Per object, the amodal outline as one flat
            polygon ``[x0, y0, x1, y1, ...]``; when present the amodal masks
            are exactly this polygon rasterised by pycocotools (COCOA
            output).
    """
    image: np.ndarray
    modal: np.ndarray
    amodal: np.ndarray
    depth: np.ndarray
    category_ids: np.ndarray
    class_names: List[str]
    shape_names: List[str]
    truncated: np.ndarray
    polygons: Optional[List[List[float]]] = field(default=None)

    def __len__(self) -> int:
        return int(self.modal.shape[0])

    def occlusion_edges(self) -> List[Tuple[int, int]]:
        """``(occluder, occludee)`` index pairs; see the module docstring."""
        return occlusion_edges(self.modal, self.amodal, self.depth)

    def order_matrix(self) -> np.ndarray:
        """``(N, N)`` int8 order of the occlusion edges (+1: i occludes j)."""
        return order_from_edges(len(self), self.occlusion_edges())[0]


def compose_modal(amodal: np.ndarray, depth: Sequence[int]) -> np.ndarray:
    """Visible masks: each amodal mask minus all nearer amodal masks.

    Args:
        amodal (np.ndarray): ``(N, H, W)`` bool.
        depth (Sequence[int]): ``(N,)`` ranks, smaller = nearer.

    Returns:
        np.ndarray: ``(N, H, W)`` bool modal masks.
    """
    modal = np.zeros_like(amodal, dtype=bool)
    covered = np.zeros(amodal.shape[1:], dtype=bool)
    for k in np.argsort(np.asarray(depth), kind='stable'):
        modal[k] = amodal[k] & ~covered
        covered |= amodal[k]
    return modal


def _transform_shape(mask: np.ndarray, target_area: float, angle: float,
                     flip: bool) -> np.ndarray:
    """Scale a silhouette to ``target_area`` pixels, flip and rotate it."""
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
    return _tight(m >= 0.5)


def _paste(patch: np.ndarray, x0: int, y0: int, height: int,
           width: int) -> np.ndarray:
    """Place ``patch`` with its top-left at ``(x0, y0)``, clipped."""
    out = np.zeros((height, width), dtype=bool)
    ph, pw = patch.shape
    ys, xs = max(0, y0), max(0, x0)
    ye, xe = min(height, y0 + ph), min(width, x0 + pw)
    if ys < ye and xs < xe:
        out[ys:ye, xs:xe] = patch[ys - y0:ye - y0, xs - x0:xe - x0]
    return out


def _amodal_polygon(mask: np.ndarray) -> Optional[List[float]]:
    """Outline of the largest connected part as one flat polygon."""
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
    """pycocotools rasterisation of one flat polygon."""
    rles = mask_utils.frPyObjects([polygon], height, width)
    return mask_utils.decode(mask_utils.merge(rles)).astype(bool)


def _resolve_range(overlap_range: Union[str, Sequence[float]],
                   rng: np.random.Generator) -> Tuple[float, float]:
    """An occlusion preset name, ``'mixed'`` or an explicit ``(lo, hi)``."""
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


def _random_colour(rng: np.random.Generator, saturation: Tuple[float, float],
                   value: Tuple[float, float]) -> np.ndarray:
    """A random RGB colour from an HSV box."""
    hsv = np.array([[[
        rng.uniform(0, 180),
        rng.uniform(*saturation) * 255,
        rng.uniform(*value) * 255
    ]]], dtype=np.float32).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.int64)


def _distinct_colours(rng: np.random.Generator, num: int,
                      min_dist: float = 60.0) -> np.ndarray:
    """Background colour then ``num`` object colours, pairwise distinct."""
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


def _render(modal: np.ndarray, rng: np.random.Generator,
            textures: Optional[TextureBank]) -> np.ndarray:
    """Paint the visible masks over a background (RGB uint8)."""
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


def _place_objects(shapes: Sequence[Shape], rng: np.random.Generator,
                   height: int, width: int, num: int,
                   area_range: Tuple[float, float], lo: float, hi: float,
                   rotate: bool, flip: bool, allow_truncation: bool,
                   two_object: bool, min_in_image: float, polygonize: bool,
                   max_attempts: int) -> List[dict]:
    """Place up to ``num`` objects with controlled overlap (see module doc).

    With ``polygonize`` each candidate mask is replaced by its rasterised
    outline polygon before the overlap tests, so the bounds hold exactly for
    the polygon masks.
    """
    placed: List[dict] = []
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
                radius = 0.5 * (np.hypot(ph, pw) / 2 + anchor['radius'])
                dist = rng.uniform(0.1, 1.6) * radius
                phi = rng.uniform(0.0, 2 * np.pi)
                cx = anchor['cx'] + dist * np.cos(phi)
                cy = anchor['cy'] + dist * np.sin(phi)
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
                    cover = np.count_nonzero(obj['mask'] & others) / \
                        obj['area']
                    if cover > hi or (two_object and cover < lo):
                        ok = False
                        break
                if not ok:
                    continue
            placed.append(
                dict(mask=mask, area=area_in, cx=cx, cy=cy,
                     radius=np.hypot(ph, pw) / 2, truncated=not inside,
                     shape=shape, polygon=polygon))
            count += mask
            break
    return placed


def make_scene(shapes: Sequence[Shape],
               rng: np.random.Generator,
               image_size: Tuple[int, int] = (256, 256),
               num_objects: Union[int, Tuple[int, int]] = (3, 6),
               area_range: Tuple[float, float] = (0.02, 0.08),
               overlap_range: Union[str, Sequence[float]] = 'moderate',
               rotate: bool = True,
               flip: bool = True,
               allow_truncation: bool = True,
               min_visible_pixels: int = 20,
               two_object: bool = False,
               textures: Optional[TextureBank] = None,
               polygonize: bool = False,
               min_in_image: float = 0.5,
               max_attempts: int = 60,
               max_retries: int = 20) -> Scene:
    """Compose one occlusion scene (see the module docstring).

    Args:
        shapes (Sequence[Shape]): Silhouettes to draw from (without
            replacement when there are enough).
        rng (np.random.Generator): Random source; the scene is a pure
            function of its state.
        image_size (tuple[int, int]): ``(W, H)``.
        num_objects (int | tuple[int, int]): Count, or inclusive
            ``(min, max)`` range. Objects that cannot be placed within the
            overlap constraints are skipped; a scene with fewer than the
            minimum is redrawn.
        area_range (tuple[float, float]): Object area as a fraction of the
            image area.
        overlap_range (str | tuple[float, float]): An
            :data:`OCCLUSION_LEVELS` name, ``'mixed'`` (a random level) or
            ``(lo, hi)``.
        rotate (bool): Random rotation.
        flip (bool): Random horizontal flip.
        allow_truncation (bool): Allow objects to cross the image border.
        min_visible_pixels (int): Objects with fewer visible pixels are
            removed before painting.
        two_object (bool): The "two-object occlusion" scene: exactly two
            objects inside the image, one partly covering the other, with
            the covered fraction of the one behind in ``overlap_range``
            (overrides ``num_objects`` and ``allow_truncation``).
        textures (TextureBank, optional): Paint objects and background with
            photo crops instead of flat colours.
        polygonize (bool): Replace each amodal mask by the rasterisation of
            its outline polygon (single polygon of the largest part) before
            composing, so polygon annotations (COCOA) are exact.
        min_in_image (float): Minimum fraction of an object inside the image.
        max_attempts (int): Placement attempts per object.
        max_retries (int): Scene redraws before giving up.

    Returns:
        Scene: The composed scene.
    """
    width, height = (int(v) for v in image_size)
    if two_object:
        num_objects, allow_truncation = (2, 2), False
    nmin, nmax = ((num_objects, num_objects) if isinstance(num_objects, int)
                  else (int(num_objects[0]), int(num_objects[1])))
    if not 1 <= nmin <= nmax:
        raise ValueError(f'num_objects must satisfy 1 <= min <= max, got '
                         f'({nmin}, {nmax})')
    if not shapes:
        raise ValueError('make_scene needs at least one shape')
    lo, hi = _resolve_range(overlap_range, rng)
    for _ in range(max_retries):
        num = int(rng.integers(nmin, nmax + 1))
        placed = _place_objects(shapes, rng, height, width, num, area_range,
                                lo, hi, rotate, flip, allow_truncation,
                                two_object, min_in_image, polygonize,
                                max_attempts)
        amodal = np.stack([p['mask'] for p in placed]) if placed else \
            np.zeros((0, height, width), dtype=bool)
        keep = np.ones(len(placed), dtype=bool)
        depth = rng.permutation(len(placed))
        # Drop barely visible objects; removing objects only uncovers
        # others, so iterate until no visible area is below the limit.
        while True:
            idx = np.flatnonzero(keep)
            modal = compose_modal(amodal[idx], depth[idx])
            small = modal.reshape(len(idx), -1).sum(1) < min_visible_pixels
            if not small.any():
                break
            keep[idx[small]] = False
        idx = np.flatnonzero(keep)
        if len(idx) < nmin:
            continue
        perm = idx[rng.permutation(len(idx))]
        sub_depth = np.argsort(np.argsort(depth[perm], kind='stable'),
                               kind='stable').astype(np.int64)
        amodal_out = amodal[perm]
        modal_out = compose_modal(amodal_out, sub_depth)
        image = _render(modal_out, rng, textures)
        return Scene(
            image=image,
            modal=modal_out,
            amodal=amodal_out,
            depth=sub_depth,
            category_ids=np.array(
                [placed[k]['shape'].category_id for k in perm],
                dtype=np.int64),
            class_names=[placed[k]['shape'].class_name for k in perm],
            shape_names=[placed[k]['shape'].name for k in perm],
            truncated=np.array([placed[k]['truncated'] for k in perm],
                               dtype=bool),
            polygons=[placed[k]['polygon'] for k in perm]
            if polygonize else None)
    raise SceneGenerationError(
        f'could not place {nmin} objects in {max_retries} tries (image '
        f'{width}x{height}, area_range={area_range}, overlap=({lo}, {hi})); '
        'use a larger image, smaller objects or a wider overlap range')


def scene_to_amodal_coco(scene: Scene, image_id: int, file_name: str,
                         first_ann_id: int) -> Tuple[dict, List[dict]]:
    """Image entry and annotations in the project's amodal COCO format.

    Args:
        scene (Scene): The scene.
        image_id (int): COCO image id.
        file_name (str): Image file name relative to the image folder.
        first_ann_id (int): Id of the first annotation.

    Returns:
        tuple: ``(image_entry, annotations)``; see ``docs/design.md``. Extra
        per-annotation keys: ``depth`` (0 = nearest), ``truncated``,
        ``occlude_rate`` (hidden fraction of the in-image amodal area),
        ``shape_name``.
    """
    height, width = scene.image.shape[:2]
    ann_ids = [first_ann_id + k for k in range(len(scene))]
    anns = []
    for k in range(len(scene)):
        modal_area = int(scene.modal[k].sum())
        amodal_area = int(scene.amodal[k].sum())
        anns.append(
            dict(
                id=ann_ids[k],
                image_id=image_id,
                category_id=int(scene.category_ids[k]),
                segmentation=encode_rle(scene.modal[k]),
                area=float(modal_area),
                bbox=[float(v) for v in mask_to_bbox(scene.modal[k])],
                iscrowd=0,
                amodal_segmentation=encode_rle(scene.amodal[k]),
                amodal_area=float(amodal_area),
                amodal_bbox=[float(v) for v in mask_to_bbox(scene.amodal[k])],
                depth=int(scene.depth[k]),
                truncated=bool(scene.truncated[k]),
                occlude_rate=round(1.0 - modal_area / amodal_area, 6),
                shape_name=scene.shape_names[k]))
    image = dict(
        id=image_id,
        file_name=file_name,
        height=height,
        width=width,
        occlusion_edges=[[ann_ids[i], ann_ids[j]]
                         for i, j in scene.occlusion_edges()])
    return image, anns


def scene_to_cocoa(scene: Scene, image_id: int,
                   file_name: str) -> Tuple[dict, dict]:
    """Image entry and the per-image annotation in the COCOA format.

    METHOD 5.2: one annotation per image with ``regions`` (amodal polygon
    ``segmentation``, ``visible_mask``/``invisible_mask`` RLE when occluded,
    1-based depth rank ``order``, ``isStuff``, ``name``, ``area`` (amodal),
    ``occlude_rate``) and ``depth_constraint`` ``"i-j,..."`` (1-based region
    indices, region i occludes region j; the occlusion edges).

    Args:
        scene (Scene): A scene made with ``polygonize=True``.
        image_id (int): COCO image id.
        file_name (str): Image file name.

    Returns:
        tuple: ``(image_entry, annotation)``.
    """
    if scene.polygons is None:
        raise ValueError('COCOA output needs a scene made with '
                         'polygonize=True (amodal masks are polygons)')
    height, width = scene.image.shape[:2]
    regions = []
    for k in range(len(scene)):
        amodal_area = int(scene.amodal[k].sum())
        rate = 1.0 - int(scene.modal[k].sum()) / amodal_area
        region = dict(
            segmentation=scene.polygons[k],
            area=float(amodal_area),
            order=int(scene.depth[k]) + 1,
            isStuff=0,
            name=scene.class_names[k],
            occlude_rate=round(rate, 6))
        if rate > 0:
            region['visible_mask'] = encode_rle(scene.modal[k])
            region['invisible_mask'] = encode_rle(scene.amodal[k]
                                                  & ~scene.modal[k])
        regions.append(region)
    constraint = ','.join(f'{i + 1}-{j + 1}'
                          for i, j in scene.occlusion_edges())
    image = dict(id=image_id, file_name=file_name, height=height, width=width)
    ann = dict(image_id=image_id, regions=regions,
               depth_constraint=constraint, size=len(regions))
    return image, ann


def write_png(image_rgb: np.ndarray, path: str) -> None:
    """Write an RGB uint8 image as PNG atomically."""
    ok, buf = cv2.imencode('.png', image_rgb[:, :, ::-1])
    if not ok:
        raise OSError(f'{path}: PNG encoding failed')
    atomic_write_bytes(buf.tobytes(), path)


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random source of scene ``index`` under ``seed``.

    Every scene has its own stream, so scene ``k`` is identical whatever
    the number of scenes generated.
    """
    return np.random.default_rng([int(seed), int(index)])


def generate_scenes(shapes: Sequence[Shape],
                    categories: List[Dict[str, Any]],
                    out_dir: str,
                    num_scenes: int,
                    seed: int = 0,
                    fmt: str = 'amodal_coco',
                    textures: Optional[TextureBank] = None,
                    overlap_range: Union[str, Sequence[float]] = 'mixed',
                    overwrite: bool = False,
                    progress: bool = True,
                    info: Optional[Dict[str, Any]] = None,
                    **scene_kwargs: Any) -> str:
    """Generate a dataset of scenes: PNG images + one annotation file.

    Layout: ``out_dir/images/000000.png, ...`` and
    ``out_dir/annotations.json`` (the project's amodal COCO format or the
    COCOA format). Every file is written atomically and the annotation file
    last, so its presence marks a complete dataset. Deterministic under
    ``seed`` (see :func:`scene_rng`).

    Args:
        shapes (Sequence[Shape]): Silhouettes (:func:`load_shapes`).
        categories (list[dict]): COCO categories (:func:`load_shapes`).
        out_dir (str): Output folder.
        num_scenes (int): Number of images.
        seed (int): Random seed.
        fmt (str): ``'amodal_coco'`` or ``'cocoa'``.
        textures (TextureBank, optional): Photo textures.
        overlap_range (str | tuple): Occlusion level of
            :func:`make_scene`; ``'mixed'`` draws a level per scene.
        overwrite (bool): Replace an existing dataset in ``out_dir``.
        progress (bool): Show a progress bar.
        info (dict, optional): Extra entries for the file's ``info``.
        **scene_kwargs: Other arguments of :func:`make_scene`.

    Returns:
        str: Path of the annotation file.
    """
    check_choice('fmt', fmt, FORMATS)
    if num_scenes < 1:
        raise ValueError(f'num_scenes must be >= 1, got {num_scenes}')
    ann_path = osp.join(out_dir, 'annotations.json')
    if osp.exists(ann_path) and not overwrite:
        raise FileExistsError(
            f'{ann_path} exists; pass overwrite=True (--overwrite) to '
            'replace the dataset')
    img_dir = osp.join(out_dir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    images, annotations = [], []
    next_ann_id = 1
    for index in tqdm(range(num_scenes), disable=not progress,
                      desc='occlusion scenes'):
        rng = scene_rng(seed, index)
        scene = make_scene(shapes, rng, overlap_range=overlap_range,
                           textures=textures, polygonize=fmt == 'cocoa',
                           **scene_kwargs)
        file_name = f'{index:06d}.png'
        write_png(scene.image, osp.join(img_dir, file_name))
        image_id = index + 1
        if fmt == 'amodal_coco':
            image, anns = scene_to_amodal_coco(scene, image_id, file_name,
                                               next_ann_id)
            annotations.extend(anns)
            next_ann_id += len(anns)
        else:
            image, ann = scene_to_cocoa(scene, image_id, file_name)
            annotations.append(ann)
        images.append(image)
    meta = dict(
        description='mmdeocc synthetic occlusion scenes',
        format=fmt,
        seed=int(seed),
        num_scenes=int(num_scenes),
        overlap_range=overlap_range if isinstance(overlap_range, str) else
        [float(v) for v in overlap_range],
        textures=textures is not None)
    meta.update(info or {})
    payload = dict(info=meta, images=images, annotations=annotations)
    if fmt == 'amodal_coco':
        payload['categories'] = categories
    atomic_write_bytes(json.dumps(payload).encode('utf-8'), ann_path)
    return ann_path
