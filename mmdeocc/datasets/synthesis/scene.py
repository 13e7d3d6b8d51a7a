"""Scene composition: one synthetic occlusion scene with exact ground truth.

Silhouettes are scaled, rotated, flipped and placed near each other
(:mod:`.placement`), given a random depth order and painted back to front
(:mod:`.painting`). Because the scene is composed, everything is known
exactly:

- ``amodal[k]``: the whole object, **clipped to the image** (an object that
  crosses the border is *truncated*, flagged in ``truncated``; the part
  outside the image is not part of any mask);
- ``modal[k] = amodal[k]`` minus the amodal masks of all nearer objects
  (exact by construction; the image shows object ``k``'s colour exactly on
  ``modal[k]``);
- ``depth[k]``: rank, 0 = nearest, unique;
- occlusion edges ``(i, j)``: pairs whose modal masks touch (METHOD 2.1)
  and where ``i`` visibly hides pixels of ``j`` (``modal_i & amodal_j``
  non-empty, ``depth_i < depth_j``); see
  :func:`mmdeocc.structures.order.occlusion_edges`. These are exactly the
  ``+1`` entries of the mask-derived ground truth of METHOD 4.1
  (:func:`mmdeocc.structures.gt_order_from_masks`); ``depth`` gives the
  full order, including hidden relations between objects whose visible
  parts do not touch.

Hidden objects: objects whose visible area is below ``min_visible_pixels``
(fully hidden ones included) are removed from the scene *before* it is
painted, and the masks are recomputed, so the image and the annotations
stay exact; the images never contain unannotated objects.

Object indices are a random permutation independent of depth and placement,
so index-based tie rules cannot leak the answer.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from mmdeocc.structures.order import occlusion_edges, order_from_edges
from .painting import paint_scene
from .placement import place_objects, resolve_overlap_range
from .shapes import Shape
from .textures import TextureBank

__all__ = [
    'SceneGenerationError', 'SyntheticScene', 'compose_modal', 'make_scene',
    'scene_rng'
]


class SceneGenerationError(RuntimeError):
    """No valid scene could be made with the requested settings."""


@dataclass
class SyntheticScene:
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
        """The occlusion edges of the scene (module docstring).

        Returns:
            list[tuple[int, int]]: ``(occluder, occludee)`` index pairs.
        """
        return occlusion_edges(self.modal, self.amodal, self.depth)

    def order_matrix(self) -> np.ndarray:
        """The order matrix of the occlusion edges.

        Returns:
            np.ndarray: ``(N, N)`` int8, ``+1`` where ``i`` occludes ``j``,
            ``-1`` for the reverse, ``0`` otherwise.
        """
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


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The random source of scene ``index`` under ``seed``.

    Every scene has its own stream, so scene ``k`` is identical whatever
    the number of scenes generated.

    Args:
        seed (int): Dataset seed.
        index (int): Scene index.

    Returns:
        np.random.Generator: A fresh generator.
    """
    return np.random.default_rng([int(seed), int(index)])


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
               max_retries: int = 20) -> SyntheticScene:
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
            :data:`~.placement.OCCLUSION_LEVELS` name, ``'mixed'`` (a random
            level) or ``(lo, hi)``.
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
        SyntheticScene: The composed scene.

    Raises:
        ValueError: Invalid ``num_objects``, ``overlap_range`` or no shape.
        SceneGenerationError: No scene with enough objects in
            ``max_retries`` draws.
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
    lo, hi = resolve_overlap_range(overlap_range, rng)
    for _ in range(max_retries):
        num = int(rng.integers(nmin, nmax + 1))
        placed = place_objects(shapes, rng, height, width, num, area_range,
                               lo, hi, rotate, flip, allow_truncation,
                               two_object, min_in_image, polygonize,
                               max_attempts)
        amodal = np.stack([p.mask for p in placed]) if placed else \
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
        image = paint_scene(modal_out, rng, textures)
        objects = [placed[k] for k in perm]
        return SyntheticScene(
            image=image,
            modal=modal_out,
            amodal=amodal_out,
            depth=sub_depth,
            category_ids=np.array([o.shape.category_id for o in objects],
                                  dtype=np.int64),
            class_names=[o.shape.class_name for o in objects],
            shape_names=[o.shape.name for o in objects],
            truncated=np.array([o.truncated for o in objects], dtype=bool),
            polygons=[o.polygon for o in objects] if polygonize else None)
    raise SceneGenerationError(
        f'could not place {nmin} objects in {max_retries} tries (image '
        f'{width}x{height}, area_range={area_range}, overlap=({lo}, {hi})); '
        'use a larger image, smaller objects or a wider overlap range')
