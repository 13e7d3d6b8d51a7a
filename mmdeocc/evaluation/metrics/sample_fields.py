"""Reading predictions and ground truth out of data samples.

The de-occlusion metrics accept :class:`mmdet.structures.DetDataSample`
objects or the plain dicts that mmengine's evaluator passes
(``data_sample.to_dict()``). The fields read are:

Predictions
    - ``pred_instances.amodal_masks``: ``(N, H, W)`` bool tensor/array or a
      list of ``N`` COCO RLE dicts, at the original image size.
    - ``pred_instances.masks``: predicted *modal* masks (same formats); only
      needed for IoU matching of detector outputs.
    - ``pred_instances.scores``: optional, the matching visit order.
    - ``pred_occlusion_order``: ``(N, N)`` order matrix (tensor/array/list).

Ground truth, at the original image size (``ori_shape``), read from the
first of these that is present:

    1. ``instances``: the canonical instance records of ``docs/design.md``
       (``modal_mask`` - or mmdet's ``mask`` - and ``amodal_mask`` as RLE or
       polygons). Records with ``ignore_flag == 1`` are dropped, which gives
       the same list and order as mmdet's ``gt_instances``. To keep them on
       the data sample add ``'instances'`` to ``PackDetInputs.meta_keys``.
    2. ``gt_instances.masks`` (modal) and ``gt_instances.amodal_masks``
       (``BitmapMasks``/``PolygonMasks``, ``(N, H, W)`` tensor/array or RLE
       list). These must not have been resized by the pipeline.

    Annotated order (stricter variant): ``gt_occlusion_order`` ``(N, N)``,
    or the canonical record's ``gt_order`` (restricted to the kept records).
"""
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import torch

from mmdeocc.evaluation.functional import match_instances
from mmdeocc.structures import (as_bool_mask_array, segmentation_to_mask,
                                to_numpy)


class SampleFieldError(ValueError):
    """A data sample lacks a field a metric needs, or it is malformed."""


def get_field(container: Any, key: str, default: Any = None) -> Any:
    """``container[key]`` for dicts and mmengine data elements alike."""
    if container is None:
        return default
    if isinstance(container, dict):
        return container.get(key, default)
    getter = getattr(container, 'get', None)
    if getter is not None:
        return getter(key, default)
    return getattr(container, key, default)


def describe(sample: Any) -> str:
    """A short name of a data sample for error messages."""
    img_id = get_field(sample, 'img_id')
    img_path = get_field(sample, 'img_path')
    if img_path is not None:
        return f'data sample img_id={img_id} ({img_path})'
    return f'data sample img_id={img_id}'


def image_shape(sample: Any) -> Optional[Tuple[int, int]]:
    """``(H, W)`` from ``ori_shape`` (or ``height``/``width``), if known."""
    shape = get_field(sample, 'ori_shape')
    if shape is not None:
        return int(shape[0]), int(shape[1])
    h, w = get_field(sample, 'height'), get_field(sample, 'width')
    if h is not None and w is not None:
        return int(h), int(w)
    return None


def to_mask_array(value: Any, shape: Optional[Tuple[int, int]],
                  where: str) -> np.ndarray:
    """Convert any supported mask container to a ``(N, H, W)`` bool array.

    Args:
        value: ``BitmapMasks``/``PolygonMasks`` (anything with
            ``to_ndarray``), a tensor/array ``(N, H, W)``, or a sequence of
            per-instance masks (RLE dicts, polygon lists or 2-D arrays).
        shape (tuple, optional): ``(H, W)`` of the image; needed for
            polygons and for empty sequences.
        where (str): Field description used in error messages.

    Returns:
        np.ndarray: ``(N, H, W)`` bool.
    """
    if value is None:
        raise SampleFieldError(f'{where} is missing')
    if hasattr(value, 'to_ndarray') or isinstance(value,
                                                  (torch.Tensor, np.ndarray)):
        return as_bool_mask_array(value, where, SampleFieldError)
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)):
        raise SampleFieldError(
            f'{where}: unsupported mask container {type(value).__name__}')
    masks: List[np.ndarray] = []
    for k, item in enumerate(value):
        item_where = f'{where}[{k}]'
        if isinstance(item, (torch.Tensor, np.ndarray)):
            mask = to_numpy(item)
        elif isinstance(item, dict) and 'size' in item:
            h, w = (int(s) for s in item['size'])
            mask = segmentation_to_mask(item, h, w, where=item_where)
        else:
            if shape is None:
                raise SampleFieldError(
                    f'{item_where}: polygons need the image size '
                    '(ori_shape) on the data sample')
            mask = segmentation_to_mask(item, shape[0], shape[1],
                                        where=item_where)
        if mask.ndim != 2:
            raise SampleFieldError(
                f'{item_where}: expected a 2-D mask, got shape {mask.shape}')
        masks.append(mask.astype(bool, copy=False))
    if not masks:
        if shape is None:
            raise SampleFieldError(
                f'{where}: empty mask list and no ori_shape to size it')
        return np.zeros((0, ) + tuple(shape), dtype=bool)
    sizes = {m.shape for m in masks}
    if len(sizes) != 1:
        raise SampleFieldError(f'{where}: masks of different sizes {sizes}')
    return np.stack(masks)


def _check_shape(masks: np.ndarray, shape: Optional[Tuple[int, int]],
                 where: str) -> None:
    """Raise if the masks are not at the original image size."""
    if shape is not None and masks.shape[1:] != tuple(shape):
        raise SampleFieldError(
            f'{where}: masks are {masks.shape[1:]} but the original image '
            f'(ori_shape) is {tuple(shape)}; evaluation runs at the original '
            'resolution (keep the raw `instances` on the data sample or do '
            'not resize the ground truth)')


class GroundTruth:
    """Ground truth of one image, parsed from a data sample.

    Args:
        sample: A data sample (dict or ``DetDataSample``).
        need_amodal (bool): Raise if amodal masks are not available.
        need_annotated_order (bool): Raise if no annotated order exists.

    Attributes:
        modal (np.ndarray): ``(G, H, W)`` bool modal masks.
        amodal (np.ndarray | None): ``(G, H, W)`` bool amodal masks.
        annotated_order (np.ndarray | None): ``(G, G)`` annotated order.
    """

    def __init__(self,
                 sample: Any,
                 need_amodal: bool = True,
                 need_annotated_order: bool = False) -> None:
        name = describe(sample)
        shape = image_shape(sample)
        self.amodal: Optional[np.ndarray] = None
        self.annotated_order: Optional[np.ndarray] = None
        order = get_field(sample, 'gt_occlusion_order')
        instances = get_field(sample, 'instances')
        if instances is not None:
            keep = [
                k for k, inst in enumerate(instances)
                if not int(get_field(inst, 'ignore_flag', 0) or 0)
            ]
            modal_list, amodal_list = [], []
            for k in keep:
                inst = instances[k]
                modal = get_field(inst, 'modal_mask', get_field(inst, 'mask'))
                if modal is None:
                    raise SampleFieldError(
                        f'{name}: instances[{k}] has no "modal_mask" (or '
                        '"mask")')
                modal_list.append(modal)
                amodal_list.append(get_field(inst, 'amodal_mask'))
            self.modal = to_mask_array(modal_list, shape,
                                       f'{name}: instances[].modal_mask')
            missing = [k for k, a in zip(keep, amodal_list) if a is None]
            if not missing:
                self.amodal = to_mask_array(
                    amodal_list, shape, f'{name}: instances[].amodal_mask')
            elif need_amodal:
                raise SampleFieldError(
                    f'{name}: instances {missing[:10]} have no "amodal_mask"; '
                    'the amodal metric needs amodal ground truth')
            if order is None and get_field(sample, 'gt_order') is not None:
                full = np.asarray(get_field(sample, 'gt_order'))
                if full.shape != (len(instances), len(instances)):
                    raise SampleFieldError(
                        f'{name}: gt_order has shape {full.shape} but there '
                        f'are {len(instances)} instances')
                order = full[np.ix_(keep, keep)]
        else:
            gt = get_field(sample, 'gt_instances')
            if gt is None:
                raise SampleFieldError(
                    f'{name}: no ground truth: expected "instances" (raw '
                    'records) or "gt_instances" on the data sample')
            self.modal = to_mask_array(
                get_field(gt, 'masks'), shape, f'{name}: gt_instances.masks')
            amodal = get_field(gt, 'amodal_masks')
            if amodal is not None:
                self.amodal = to_mask_array(
                    amodal, shape, f'{name}: gt_instances.amodal_masks')
            elif need_amodal:
                raise SampleFieldError(
                    f'{name}: gt_instances.amodal_masks is missing; the '
                    'amodal metric needs amodal ground truth')
        _check_shape(self.modal, shape, f'{name}: ground-truth modal masks')
        if self.amodal is not None and self.amodal.shape != self.modal.shape:
            raise SampleFieldError(
                f'{name}: ground-truth amodal masks {self.amodal.shape} and '
                f'modal masks {self.modal.shape} differ in shape')
        if order is not None:
            if isinstance(order, torch.Tensor):
                order = order.detach().cpu().numpy()
            order = np.asarray(order)
            num = self.modal.shape[0]
            if order.shape != (num, num):
                raise SampleFieldError(
                    f'{name}: gt_occlusion_order has shape {order.shape}, '
                    f'expected ({num}, {num})')
            self.annotated_order = order.astype(np.int8)
        elif need_annotated_order:
            raise SampleFieldError(
                f'{name}: gt_source="annotation" needs "gt_occlusion_order" '
                '(or the record\'s "gt_order") on the data sample')
        self.name = name
        self.shape = self.modal.shape[1:]

    def __len__(self) -> int:
        return int(self.modal.shape[0])


def pred_order(sample: Any, num: int) -> np.ndarray:
    """The predicted ``(N, N)`` order matrix of a data sample.

    Args:
        sample: A data sample.
        num (int): Expected number of predicted instances.

    Returns:
        np.ndarray: ``(num, num)`` order matrix.
    """
    order = get_field(sample, 'pred_occlusion_order')
    if order is None:
        raise SampleFieldError(
            f'{describe(sample)}: "pred_occlusion_order" is missing')
    if isinstance(order, torch.Tensor):
        order = order.detach().cpu().numpy()
    order = np.asarray(order)
    if num == 0 and order.size == 0:
        return np.zeros((0, 0), dtype=np.int8)
    if order.shape != (num, num):
        raise SampleFieldError(
            f'{describe(sample)}: pred_occlusion_order has shape '
            f'{order.shape}, expected ({num}, {num})')
    return order


def pred_instances(sample: Any) -> Any:
    """``pred_instances`` of a data sample (raises if absent)."""
    pred = get_field(sample, 'pred_instances')
    if pred is None:
        raise SampleFieldError(
            f'{describe(sample)}: "pred_instances" is missing')
    return pred


def num_pred_instances(sample: Any) -> int:
    """Number of predicted instances, from any per-instance field."""
    pred = pred_instances(sample)
    for key in ('amodal_masks', 'masks', 'scores', 'labels', 'bboxes'):
        value = get_field(pred, key)
        if value is not None:
            return len(value)
    order = get_field(sample, 'pred_occlusion_order')
    if order is not None:
        return len(order)
    raise SampleFieldError(
        f'{describe(sample)}: cannot tell the number of predicted instances')


def pred_masks(sample: Any, key: str,
               shape: Optional[Tuple[int, int]]) -> np.ndarray:
    """Predicted masks ``pred_instances.<key>`` as ``(N, H, W)`` bool."""
    pred = pred_instances(sample)
    where = f'{describe(sample)}: pred_instances.{key}'
    masks = to_mask_array(get_field(pred, key), shape, where)
    _check_shape(masks, shape, where)
    return masks


def pred_scores(sample: Any) -> Optional[np.ndarray]:
    """``pred_instances.scores`` as a numpy array, if present."""
    scores = get_field(pred_instances(sample), 'scores')
    if scores is None:
        return None
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    return np.asarray(scores)


MATCH_MODES = ('index', 'iou')


def match_predictions(sample: Any, gt: GroundTruth, match: str,
                      iou_thr: float) -> np.ndarray:
    """Map ground-truth instances to predicted instances.

    Args:
        sample: The data sample holding the predictions.
        gt (GroundTruth): Its parsed ground truth.
        match (str): ``'index'`` - predictions were made on the ground-truth
            modal masks (the paper protocol), prediction ``i`` is
            ground-truth instance ``i`` and the counts must agree; ``'iou'``
            - predictions come from a detector: greedy matching of
            ``pred_instances.masks`` to the ground-truth modal masks by
            decreasing ``pred_instances.scores`` at ``iou_thr``
            (:func:`mmdeocc.evaluation.functional.match_instances`);
            when ``pred_instances.deoccluded`` is present only the
            de-occluded detections are candidates.
        iou_thr (float): IoU threshold of the ``'iou'`` mode.

    Returns:
        np.ndarray: ``(G,)`` int64 prediction index per ground-truth
        instance, ``-1`` if unmatched.
    """
    num_pred = num_pred_instances(sample)
    if match == 'index':
        if num_pred != len(gt):
            raise SampleFieldError(
                f'{gt.name}: {num_pred} predicted instances but {len(gt)} '
                'ground-truth instances; match="index" assumes the '
                'predictions were made on the ground-truth modal masks (use '
                'match="iou" for detector outputs)')
        return np.arange(len(gt), dtype=np.int64)
    if match == 'iou':
        modal = pred_masks(sample, 'masks', tuple(gt.shape))
        scores = pred_scores(sample)
        flags = get_field(pred_instances(sample), 'deoccluded')
        if flags is None:
            return match_instances(modal, gt.modal, iou_thr, scores)
        # only de-occluded detections: the others (below the de-occlusion
        # score_thr, beyond max_instances) carry placeholder amodal masks
        # and no order
        kept = np.flatnonzero(to_numpy(flags).astype(bool))
        gt_to_kept = match_instances(
            modal[kept], gt.modal, iou_thr,
            None if scores is None else to_numpy(scores)[kept])
        gt_to_pred = np.full(len(gt_to_kept), -1, dtype=np.int64)
        matched = gt_to_kept >= 0
        gt_to_pred[matched] = kept[gt_to_kept[matched]]
        return gt_to_pred
    raise ValueError(f'match must be one of {MATCH_MODES}, got {match!r}')
