"""Scene re-composition as data augmentation for instance segmentation.

:class:`DeOcclusionRecompose` edits a training sample with the objects'
de-occluded layers (amodal mask, completed RGBA content, order; built once
by ``tools/build_recompose_cache.py``, :mod:`mmdeocc.apis.recompose_cache`)
and :class:`~mmdeocc.deocclusion.SceneRecomposer`: objects are moved,
resized, mirrored, re-layered, removed (what lies behind shows through:
completed objects and the inpainted background), or pasted from other
images of the cache. Every visible (modal) mask, box and label is
recomputed from the new layering, so the masks are exactly the composited
picture.

Place it right after ``LoadImageFromFile`` and ``LoadAnnotations(with_mask=
True)``, before any resize or flip (the cache is at the images' original
size)::

    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='DeOcclusionRecompose', cache_dir='data/recompose_cache',
             prob=0.5),
        dict(type='Resize', ...), dict(type='RandomFlip', ...),
        dict(type='PackDetInputs'),
    ]

``layers='visible'`` is the baseline without de-occlusion (InstaBoost-style,
ICCV 2019): the same edits on the *visible* masks only, no order (edited
objects are drawn in front), the holes filled by OpenCV's Telea inpainting;
it needs no cache.

Instances: each non-ignored ground-truth instance is matched to a cached
object by mask IoU (``match_iou``); ignored (crowd) instances pass through
unchanged. An instance whose mask did not change keeps its annotation
exactly. One that changed is dropped when its new visible area is below
``min_visible_area`` pixels or below ``min_visible_fraction`` of its
reference area (its visible area before the edit; for moved, resized,
mirrored or pasted objects the area of the layer as drawn).

Randomness comes from ``numpy.random`` (seeded per worker by mmengine), so
a fixed seed gives the same sample. A missing or unreadable cache entry, an
image that differs from the cached one, or instances that do not match the
cache leave the sample unmodified, with a warning that counts them by
reason (logged at the 1st, 2nd, 4th, 8th ... occurrence).
"""
import collections
import logging
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.registry import TRANSFORMS
from mmdet.structures.mask import BitmapMasks
from mmengine.logging import print_log

from mmdeocc.structures import ContentLayers
from mmdeocc.structures.geometry import mask_to_bbox
from mmdeocc.structures.image_ops import dilate_square, inpaint_telea
from mmdeocc.structures.recompose import (Composition, LayerCrop, Placement,
                                          SceneRecomposer)
from mmdeocc.structures.recompose_cache import (INDEX_FILE,
                                                RecomposeCacheError,
                                                RecomposeEntry)
from mmdeocc.utils.image_io import read_rgb_image
from mmdeocc.utils.validation import check_choice

__all__ = ['DeOcclusionRecompose', 'RecomposeTransformError']


class RecomposeTransformError(ValueError):
    """Invalid options of :class:`DeOcclusionRecompose` or a pipeline that
    does not give it what it needs."""


def _probability(name: str, value: float) -> float:
    if not 0.0 <= float(value) <= 1.0:
        raise RecomposeTransformError(
            f'{name} must be a probability in [0, 1], got {value!r}')
    return float(value)


def _mask_array(masks: Any, height: int, width: int) -> np.ndarray:
    """``(N, H, W)`` bool array of mmdet masks (bitmap or polygon)."""
    if masks is None:
        raise RecomposeTransformError(
            'DeOcclusionRecompose needs gt_masks: put it after '
            'LoadAnnotations(with_bbox=True, with_mask=True)')
    if hasattr(masks, 'to_ndarray'):
        array = masks.to_ndarray()
    else:
        array = np.asarray(masks)
    if len(array) == 0:
        return np.zeros((0, height, width), bool)
    if array.shape[1:] != (height, width):
        raise RecomposeTransformError(
            f'gt_masks are {array.shape[1:]}, the image is {(height, width)}: '
            'put DeOcclusionRecompose before Resize / crops')
    return array.astype(bool)


def _match_instances(gt: np.ndarray, cached: np.ndarray,
                     min_iou: float) -> Optional[List[int]]:
    """Cached object of every ground-truth mask (greedy by IoU), None when
    one of them has no partner with IoU >= ``min_iou``."""
    if len(gt) == 0:
        return []
    if len(cached) == 0:
        return None
    a = gt.reshape(len(gt), -1).astype(np.float32)
    b = cached.reshape(len(cached), -1).astype(np.float32)
    inter = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None] - inter
    iou = inter / np.maximum(union, 1.0)
    match = [-1] * len(gt)
    for flat in np.argsort(-iou, axis=None, kind='stable'):
        i, j = divmod(int(flat), len(cached))
        if iou[i, j] < min_iou:
            break
        if match[i] < 0 and j not in match:
            match[i] = j
    return None if min(match) < 0 else match


def _xyxy_box(mask: np.ndarray) -> List[float]:
    """``[x1, y1, x2, y2]`` of a non-empty mask (pixel edges)."""
    x, y, w, h = mask_to_bbox(mask).tolist()
    return [x, y, x + w, y + h]


@TRANSFORMS.register_module()
class DeOcclusionRecompose(BaseTransform):
    """Re-compose a training sample from its de-occluded layers.

    Required keys: ``img`` (uint8, ``channel_order``), ``img_id`` (with
    ``layers='amodal'``), ``gt_masks``, ``gt_bboxes``, ``gt_bboxes_labels``,
    ``gt_ignore_flags``. Modified keys: ``img``, ``gt_masks`` (as
    ``BitmapMasks``), ``gt_bboxes``, ``gt_bboxes_labels``,
    ``gt_ignore_flags``; added: ``recompose_edits`` (what was done).

    Args:
        cache_dir (str, optional): Folder made by
            ``tools/build_recompose_cache.py`` (``index.json``); required
            with ``layers='amodal'``.
        layers (str): ``'amodal'`` (de-occluded layers from the cache) or
            ``'visible'`` (baseline: visible masks only, see module doc).
        prob (float): Probability to edit a sample at all.
        move_prob (float): Per object: translate it by up to ``max_shift``
            of the image size in x and y.
        max_shift (float): Largest shift, fraction of the image side.
        scale_prob (float): Per object: resize it by a factor drawn
            uniformly from ``scale_range``.
        scale_range (tuple[float, float]): Resize factors.
        flip_prob (float): Per object: mirror it left-right.
        depth_prob (float): Per object: draw it at a random depth.
        remove_prob (float): Per object: remove it (at least one object of
            the image is kept).
        paste_prob (float): Per sample: paste objects of another cached
            image (``layers='amodal'`` only).
        max_paste (int): Largest number of pasted objects.
        min_visible_fraction (float): Drop changed instances whose visible
            area fell below this fraction of their reference area.
        min_visible_area (int): Drop changed instances smaller than this
            (pixels).
        classes (Sequence[str], optional): The dataset's classes (its
            ``metainfo['classes']``), to label pasted objects as mmdet's
            ``CocoDataset`` does (categories in file order, filtered by
            name); default all categories of the cache.
        match_iou (float): Smallest IoU between a ground-truth mask and its
            cached object.
        check_image (bool): Refuse (fall back on) images whose checksum
            differs from the cached one.
        img_prefix (str, optional): Folder of the cached images (to read
            paste donors); default the paths stored in the index.
        channel_order (str): ``'bgr'`` (mmdet's ``LoadImageFromFile``) or
            ``'rgb'``.
        background_dilation (int): ``layers='visible'``: square kernel
            dilating the visible masks for the inpainting hole.
    """

    def __init__(self,
                 cache_dir: Optional[str] = None,
                 layers: str = 'amodal',
                 prob: float = 0.5,
                 move_prob: float = 0.5,
                 max_shift: float = 0.25,
                 scale_prob: float = 0.3,
                 scale_range: Tuple[float, float] = (0.8, 1.25),
                 flip_prob: float = 0.3,
                 depth_prob: float = 0.3,
                 remove_prob: float = 0.1,
                 paste_prob: float = 0.3,
                 max_paste: int = 2,
                 min_visible_fraction: float = 0.2,
                 min_visible_area: int = 16,
                 classes: Optional[Sequence[str]] = None,
                 match_iou: float = 0.9,
                 check_image: bool = True,
                 img_prefix: Optional[str] = None,
                 channel_order: str = 'bgr',
                 background_dilation: int = 5) -> None:
        check_choice('layers', layers, ['amodal', 'visible'],
                     RecomposeTransformError)
        check_choice('channel_order', channel_order, ['bgr', 'rgb'],
                     RecomposeTransformError)
        self.layers = layers
        self.prob = _probability('prob', prob)
        self.move_prob = _probability('move_prob', move_prob)
        self.scale_prob = _probability('scale_prob', scale_prob)
        self.flip_prob = _probability('flip_prob', flip_prob)
        self.depth_prob = _probability('depth_prob', depth_prob)
        self.remove_prob = _probability('remove_prob', remove_prob)
        self.paste_prob = _probability('paste_prob', paste_prob)
        self.min_visible_fraction = _probability('min_visible_fraction',
                                                 min_visible_fraction)
        self.match_iou = _probability('match_iou', match_iou)
        if not 0 <= float(max_shift) <= 1:
            raise RecomposeTransformError(
                f'max_shift must be in [0, 1], got {max_shift!r}')
        low, high = (float(v) for v in scale_range)
        if not 0 < low <= high:
            raise RecomposeTransformError(
                f'scale_range must be (low, high) with 0 < low <= high, got '
                f'{scale_range!r}')
        for name, value in (('max_paste', max_paste),
                            ('min_visible_area', min_visible_area),
                            ('background_dilation', background_dilation)):
            if int(value) != value or value < 0:
                raise RecomposeTransformError(
                    f'{name} must be an integer >= 0, got {value!r}')
        if layers == 'visible' and self.paste_prob > 0:
            raise RecomposeTransformError(
                "paste_prob > 0 needs layers='amodal' (pasting takes "
                "de-occluded objects from the cache); set paste_prob=0")
        self.max_shift = float(max_shift)
        self.scale_range = (low, high)
        self.max_paste = int(max_paste)
        self.min_visible_area = int(min_visible_area)
        self.check_image = bool(check_image)
        self.img_prefix = img_prefix
        self.channel_order = channel_order
        self.background_dilation = int(background_dilation)
        self.cache_dir = cache_dir
        self.fallbacks: Dict[str, int] = collections.Counter()
        self.num_samples = 0
        self._images: Dict[int, Dict[str, Any]] = {}
        self._ids: List[int] = []
        self._cat2label: Dict[int, int] = {}
        if layers == 'amodal':
            if cache_dir is None:
                raise RecomposeTransformError(
                    "layers='amodal' needs cache_dir (make it with "
                    'tools/build_recompose_cache.py)')
            self._load_index(cache_dir, classes)

    # ------------------------------------------------------------------
    # the cache
    # ------------------------------------------------------------------
    def _load_index(self, cache_dir: str,
                    classes: Optional[Sequence[str]]) -> None:
        from mmdeocc.datasets.annotation_utils import load_json
        path = osp.join(cache_dir, INDEX_FILE)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{path}: no re-composition cache index (make it with '
                'tools/build_recompose_cache.py)')
        index = load_json(path)
        if not isinstance(index, dict) or not isinstance(
                index.get('images'), list):
            raise RecomposeTransformError(
                f'{path}: not a re-composition cache index (no "images" '
                'list)')
        self._images = {int(r['img_id']): r for r in index['images']}
        self._ids = sorted(self._images)
        names = None if classes is None else set(classes)
        kept = [c for c in index.get('categories', [])
                if names is None or c['name'] in names]
        self._cat2label = {int(c['id']): k for k, c in enumerate(kept)}

    def _fallback(self, results: dict, reason: str) -> dict:
        """Count and report a sample left unmodified."""
        self.fallbacks[reason] += 1
        count = self.fallbacks[reason]
        if count & (count - 1) == 0:
            summary = ', '.join(f'{k}: {v}'
                                for k, v in sorted(self.fallbacks.items()))
            print_log(
                f'DeOcclusionRecompose: sample {results.get("img_path")} '
                f'left unmodified ({reason}); so far {summary} of '
                f'{self.num_samples} samples', logger='current',
                level=logging.WARNING)
        return results

    def _entry(self, img_id: int) -> RecomposeEntry:
        """The cache entry of an indexed image."""
        record = self._images[int(img_id)]
        return RecomposeEntry.load(osp.join(self.cache_dir, record['entry']))

    def _to_rgb(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(
            image[..., ::-1] if self.channel_order == 'bgr' else image)

    # ------------------------------------------------------------------
    # layers of the sample
    # ------------------------------------------------------------------
    def _visible_layers(self, image: np.ndarray,
                        masks: np.ndarray) -> ContentLayers:
        """Baseline layers: visible masks, Telea-inpainted background."""
        hole = masks.any(0)
        if self.background_dilation > 1 and hole.any():
            hole = dilate_square(
                torch.from_numpy(hole)[None],
                self.background_dilation)[0].numpy()
        background = inpaint_telea(image, hole)
        n = len(masks)
        return ContentLayers(
            image=image, background=background, background_hole=hole,
            rgb=np.broadcast_to(image, (n, ) + image.shape).copy(),
            fill_masks=np.zeros_like(masks), alpha=masks.copy(),
            modal_masks=masks.copy(), amodal_masks=masks.copy(),
            background_dilation=self.background_dilation)

    # ------------------------------------------------------------------
    # edits
    # ------------------------------------------------------------------
    def _random_placement(self, height: int, width: int) -> Placement:
        placement = Placement()
        if np.random.rand() < self.move_prob:
            placement.dx = int(
                np.round(np.random.uniform(-1, 1) * self.max_shift * width))
            placement.dy = int(
                np.round(np.random.uniform(-1, 1) * self.max_shift * height))
        if np.random.rand() < self.scale_prob:
            placement.scale = float(np.random.uniform(*self.scale_range))
        if np.random.rand() < self.flip_prob:
            placement.flip = True
        return placement

    def _edit_objects(self, scene: SceneRecomposer, objects: Sequence[int],
                      height: int, width: int) -> Dict[str, list]:
        """Sample and apply the per-object edits."""
        edits: Dict[str, list] = {}
        for index in objects:
            removed = np.random.rand() < self.remove_prob
            placement = self._random_placement(height, width)
            restack = np.random.rand() < self.depth_prob
            depth = np.random.randint(0, max(len(scene.stacking), 1))
            alive = len(objects) - len(edits.get('removed', []))
            if removed and alive > 1:
                scene.delete(index)
                edits.setdefault('removed', []).append(int(index))
                continue
            if not placement.is_identity:
                scene.placements[index] = placement
                edits.setdefault('placed', []).append([
                    int(index), placement.dx, placement.dy,
                    round(placement.scale, 4), placement.flip
                ])
            if self.layers == 'visible' and not placement.is_identity:
                scene.bring_to_front(index)  # no order: in front
            elif restack:
                scene.place_at(index, depth)
                edits.setdefault('restacked', []).append(
                    [int(index), int(depth)])
        return edits

    def _paste(self, scene: SceneRecomposer, img_id: int, height: int,
               width: int) -> List[Tuple[int, int]]:
        """Paste objects of another cached image; returns ``(index,
        label)`` of the pasted layers."""
        donors = [i for i in self._ids if i != int(img_id)]
        if not donors or self.max_paste == 0:
            return []
        donor = donors[np.random.randint(len(donors))]
        record = self._images[donor]
        try:
            entry = self._entry(donor)
            path = record.get('img_path') or record['file_name']
            if self.img_prefix is not None:
                path = osp.join(self.img_prefix, record['file_name'])
            image = read_rgb_image(path, f'paste donor {donor}',
                                   RecomposeCacheError)
            layers = entry.to_layers(image, self.check_image)
        except RecomposeCacheError as err:
            self.fallbacks[f'paste donor unusable ({type(err).__name__})'] += 1
            return []
        candidates = [
            k for k, c in enumerate(entry.category_ids)
            if c in self._cat2label and layers.alpha[k].any()
        ]
        if not candidates:
            return []
        count = np.random.randint(1, min(self.max_paste, len(candidates)) + 1)
        chosen = np.random.choice(candidates, size=count, replace=False)
        pasted = []
        for k in chosen.tolist():
            crop = LayerCrop.from_full(layers.alpha[k], layers.rgb[k])
            scale = float(np.random.uniform(*self.scale_range))
            crop = crop.placed(
                Placement(scale=scale, flip=bool(np.random.rand() < 0.5)))
            h, w = crop.alpha.shape
            crop.x = int(np.random.randint(-(w // 2), max(width - w // 2, 1)))
            crop.y = int(np.random.randint(-(h // 2), max(height - h // 2,
                                                          1)))
            depth = np.random.randint(0, len(scene.stacking) + 1)
            index = scene.paste(crop, depth)
            pasted.append((index, self._cat2label[entry.category_ids[k]]))
        return pasted

    # ------------------------------------------------------------------
    # the transform
    # ------------------------------------------------------------------
    def transform(self, results: dict) -> dict:
        """Re-compose one sample (see the class docstring)."""
        self.num_samples += 1
        if np.random.rand() >= self.prob:
            return results
        img = results.get('img')
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or \
                img.ndim != 3 or img.shape[2] != 3:
            raise RecomposeTransformError(
                'DeOcclusionRecompose needs a (H, W, 3) uint8 img (put it '
                'right after LoadImageFromFile / LoadAnnotations)')
        height, width = img.shape[:2]
        gt = _mask_array(results.get('gt_masks'), height, width)
        ignore = np.asarray(
            results.get('gt_ignore_flags', np.zeros(len(gt), bool)), bool)
        instances = np.flatnonzero(~ignore)
        image = self._to_rgb(img)
        if self.layers == 'amodal':
            img_id = results.get('img_id')
            if img_id is None or int(img_id) not in self._images:
                return self._fallback(results, 'no cache entry')
            try:
                entry = self._entry(img_id)
            except RecomposeCacheError:
                return self._fallback(results, 'unreadable cache entry')
            try:
                layers = entry.to_layers(image, self.check_image)
            except RecomposeCacheError:
                return self._fallback(results,
                                      'image differs from the cached one')
            match = _match_instances(gt[instances], layers.modal_masks,
                                     self.match_iou)
            if match is None:
                return self._fallback(results,
                                      'instances do not match the cache')
            order = entry.order
        else:
            layers = self._visible_layers(image, gt[instances])
            match = list(range(len(instances)))
            order = np.zeros((len(instances), ) * 2, np.int8)
        scene = SceneRecomposer(layers, order)
        edits = self._edit_objects(scene, match, height, width)
        pasted = []
        if self.layers == 'amodal' and np.random.rand() < self.paste_prob:
            pasted = self._paste(scene, results['img_id'], height, width)
            if pasted:
                edits['pasted'] = [list(p) for p in pasted]
        if not edits:
            return results
        composition = scene.compose()
        self._update(results, composition, gt, ignore, instances, match,
                     layers, scene.moved, pasted)
        results['recompose_edits'] = dict(edits)
        return results

    @staticmethod
    def _reference_area(composition: Composition, layers: ContentLayers,
                        moved: Set[int], index: int) -> int:
        """Area an object is compared with before it is dropped: its visible
        area before the edit, or for moved and pasted objects the area of
        its layer as drawn."""
        if index < layers.num_objects and index not in moved:
            return int(layers.modal_masks[index].sum())
        return int(composition.drawn_areas[index])

    def _update(self, results: dict, composition: Composition,
                gt: np.ndarray, ignore: np.ndarray, instances: np.ndarray,
                match: Sequence[int], layers: ContentLayers, moved: Set[int],
                pasted: Sequence[Tuple[int, int]]) -> None:
        """Write the re-composed image and the new instances."""
        picture = composition.image
        visible = composition.visible_masks()
        height, width = picture.shape[:2]
        boxes = results['gt_bboxes']
        old_boxes = boxes.numpy() if hasattr(boxes, 'numpy') else \
            np.asarray(boxes)
        old_boxes = np.asarray(old_boxes, np.float32).reshape(-1, 4)
        labels = np.asarray(results['gt_bboxes_labels'], np.int64)
        layer_of = dict(zip(instances.tolist(), match))
        new_masks, new_boxes, new_labels, new_ignore = [], [], [], []

        def keep(mask: np.ndarray, index: int) -> bool:
            area = int(mask.sum())
            reference = self._reference_area(composition, layers, moved,
                                             index)
            return area >= max(self.min_visible_area, 1) and \
                area >= self.min_visible_fraction * reference

        for i in range(len(gt)):
            if i not in layer_of:  # ignored (crowd): unchanged
                mask, box = gt[i], old_boxes[i]
            else:
                mask = visible[layer_of[i]]
                if np.array_equal(mask, gt[i]):
                    box = old_boxes[i]
                elif keep(mask, layer_of[i]):
                    box = _xyxy_box(mask)
                else:
                    continue
            new_masks.append(mask)
            new_boxes.append(box)
            new_labels.append(labels[i])
            new_ignore.append(bool(ignore[i]))
        for index, label in pasted:
            mask = visible[index]
            if keep(mask, index):
                new_masks.append(mask)
                new_boxes.append(_xyxy_box(mask))
                new_labels.append(label)
                new_ignore.append(False)
        masks = np.stack(new_masks).astype(np.uint8) if new_masks else \
            np.zeros((0, height, width), np.uint8)
        box_array = np.asarray(new_boxes, np.float32).reshape(-1, 4)
        results['img'] = np.ascontiguousarray(
            picture[..., ::-1] if self.channel_order == 'bgr' else picture)
        results['gt_masks'] = BitmapMasks(masks, height, width)
        results['gt_bboxes'] = type(boxes)(box_array) if hasattr(
            boxes, 'tensor') else box_array
        results['gt_bboxes_labels'] = np.asarray(new_labels, np.int64)
        results['gt_ignore_flags'] = np.asarray(new_ignore, bool)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(layers={self.layers!r}, '
                f'cache_dir={self.cache_dir!r}, prob={self.prob}, '
                f'move_prob={self.move_prob}, scale_prob={self.scale_prob}, '
                f'flip_prob={self.flip_prob}, depth_prob={self.depth_prob}, '
                f'remove_prob={self.remove_prob}, '
                f'paste_prob={self.paste_prob})')
