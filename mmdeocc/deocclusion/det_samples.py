"""De-occlusion of MMDetection predictions: the one path every entry uses.

:class:`DetSampleDeOccluder` takes the :class:`~mmdet.structures.
DetDataSample` objects a detector returns and adds, in place:

- ``pred_instances.amodal_masks``: amodal masks in the same container and
  format as ``pred_instances.masks`` (a bool tensor ``(N, H, W)`` for
  MMDetection's mask heads; numpy arrays and ``BitmapMasks`` stay numpy /
  ``BitmapMasks``);
- ``pred_instances.deoccluded``: ``(N,)`` bool tensor, True for the
  instances that went through de-occlusion;
- ``pred_occlusion_order``: the ``(N, N)`` int8 order matrix on the data
  sample itself (not inside ``InstanceData``, which would slice it along
  both axes as if it were per-instance), ``order[i, j] = +1`` when ``i``
  occludes ``j`` (``docs/design.md``).

Instances with a score below ``score_thr`` (and those beyond the
``max_instances`` best scores) are left untouched: their amodal mask is
their modal mask, their rows and columns of the order matrix are 0 and
``deoccluded`` is False. The selected instances of all samples of a batch
go through one :meth:`mmdeocc.deocclusion.DeOccluder.run_many` call, so the
network batches pairs across images.

The :class:`~mmdeocc.engine.DeOcclusionHook` (test/val loops), the
:class:`~mmdeocc.engine.DeOcclusionDetector` model wrapper
(``inference_detector``, ``DetInferencer``) and
:class:`~mmdeocc.apis.DeOcclusionInferencer` (``tools/infer.py``) all call
:class:`DetSampleDeOccluder`; none has its own copy of the logic.

Category ids: PCNet-M models trained with ``use_category`` multiply their
input by the *dataset* category id (METHOD 1.2), while MMDetection predicts
0-based ``labels``. ``label_to_category`` maps one to the other: a sequence
(``label_to_category[label]``, e.g. a COCO dataset's ``cat_ids``) or a dict
``{label: category_id}``. It defaults to None: no category ids are passed,
which is right for class-agnostic PCNet-M models (``use_category=False``,
every published COCOA model) and an error at build time for models that
need them.

Gap tolerance: masks predicted by a detector usually leave a gap of a few
pixels between an occluder and its occludee, and the reference touch test
(METHOD 2.1) then never orders the pair. For predicted masks the default
``gap_tolerance`` is therefore :data:`PREDICTED_MASKS_GAP_TOLERANCE` (a
tolerance relative to object size, see :mod:`mmdeocc.deocclusion.pairs`);
masks given by annotations keep the reference test (0).
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn

from mmdeocc.datasets.image_index import annotated_masks
from mmdeocc.structures.masks import as_bool_mask_tensor
from .builder import DEOCCLUDER_OPTIONS, build_deoccluder, check_options
from .deoccluder import DeOccluder

#: Default touch-test tolerance for masks predicted by a detector: a gap of
#: up to 5% of ``sqrt(w * h)`` of the object's box counts as touching (e.g.
#: 2 px for a 40 x 40 object, 5 px for 100 x 100). Mask heads predict on a
#: fixed grid per box (28 x 28 for Mask R-CNN, i.e. cells of 3.6% of the box
#: side), so their boundary error scales with the object; 5% tolerates
#: about one grid cell of error on each mask.
PREDICTED_MASKS_GAP_TOLERANCE = 0.05
#: Touch-test tolerance for masks given by annotations (the reference).
GIVEN_MASKS_GAP_TOLERANCE = 0
#: For users (hook, wrapper, inferencer) an amodal mask contains the
#: object's visible mask: completion can leave a few visible pixels out (the
#: reference does; the evaluation configs keep that, ``docs/results.md``).
USER_AMODAL_UNION_VISIBLE = True

LabelToCategory = Union[None, Sequence[int], Mapping[int, int]]

__all__ = [
    'PREDICTED_MASKS_GAP_TOLERANCE', 'GIVEN_MASKS_GAP_TOLERANCE',
    'USER_AMODAL_UNION_VISIBLE',
    'LabelToCategory', 'DetDeOcclusionConfigError',
    'DetectorWithoutMasksError', 'DetSampleError', 'detector_predicts_masks',
    'check_detector_predicts_masks', 'label_category_table',
    'labels_to_categories', 'select_instances', 'DetSampleDeOccluder',
    'deoccluder_options', 'build_det_sample_deoccluder',
    'annotated_det_sample'
]


class DetDeOcclusionConfigError(ValueError):
    """The de-occlusion settings of a hook, wrapper or inferencer are
    invalid."""


class DetectorWithoutMasksError(ValueError):
    """The detector does not predict instance masks (a box-only model)."""


class DetSampleError(ValueError):
    """A data sample's predictions cannot be de-occluded."""


def _describe(sample: Any, index: int) -> str:
    """A short name of a data sample for error messages."""
    path = sample.get('img_path', None) if hasattr(sample, 'get') else None
    img_id = sample.get('img_id', None) if hasattr(sample, 'get') else None
    parts = [f'data sample {index}']
    if img_id is not None:
        parts.append(f'img_id={img_id}')
    if path:
        parts.append(f'({path})')
    return ' '.join(parts)


def detector_predicts_masks(model: nn.Module) -> Optional[bool]:
    """Whether an MMDetection model predicts instance masks, if it can tell.

    Args:
        model (nn.Module): A detector (already built).

    Returns:
        bool | None: True / False when the architecture tells (two-stage
        detectors with or without a mask RoI head; single-stage instance
        segmentors with a ``mask_head``; MaskFormer-style models by their
        ``instance_on`` test setting; dense heads with or without a mask
        branch), None when it cannot be told before the first prediction.
    """
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is not None:
        return bool(getattr(roi_head, 'with_mask', False))
    if getattr(model, 'mask_head', None) is not None:
        return True
    fusion = getattr(model, 'panoptic_fusion_head', None)
    if fusion is not None:
        test_cfg = getattr(fusion, 'test_cfg', None) or {}
        return bool(test_cfg.get('instance_on', False))
    head = getattr(model, 'bbox_head', None)
    if head is not None:
        # Dense instance heads (e.g. RTMDet-Ins, BoxInst) define mask
        # prediction methods of their own; box-only heads define none.
        names = [
            name for klass in type(head).__mro__
            if klass.__module__.startswith('mmdet') for name in vars(klass)
        ]
        return any('mask' in name.lower() for name in names)
    return None


def check_detector_predicts_masks(model: nn.Module, where: str) -> None:
    """Raise :class:`DetectorWithoutMasksError` for box-only detectors.

    Args:
        model (nn.Module): The detector.
        where (str): Who asks (used in the message).
    """
    if detector_predicts_masks(model) is False:
        raise DetectorWithoutMasksError(
            f'{where}: the detector {type(model).__name__} does not predict '
            'instance masks, but de-occlusion needs modal masks: use an '
            'instance segmentation model (e.g. Mask R-CNN) or give the '
            'masks from annotations (tools/infer.py --masks-from)')


def label_category_table(label_to_category: LabelToCategory
                         ) -> Optional[Dict[int, int]]:
    """Normalise a label -> dataset category id map.

    Args:
        label_to_category: None, a sequence (index = label) or a dict
            ``{label: category_id}``.

    Returns:
        dict | None: ``{label: category_id}`` of ints.
    """
    if label_to_category is None:
        return None
    if isinstance(label_to_category, Mapping):
        items = list(label_to_category.items())
    elif isinstance(label_to_category, (str, bytes)) or not isinstance(
            label_to_category, Sequence):
        raise DetDeOcclusionConfigError(
            'label_to_category must be None, a sequence of category ids '
            '(index = label) or a dict {label: category_id}, got '
            f'{label_to_category!r}')
    else:
        items = list(enumerate(label_to_category))
    table = {}
    for label, cat in items:
        try:
            table[int(label)] = int(cat)
        except (TypeError, ValueError):
            raise DetDeOcclusionConfigError(
                'label_to_category: labels and category ids must be '
                f'integers, got {label!r}: {cat!r}') from None
    return table


def labels_to_categories(table: Mapping[int, int], labels: Optional[Tensor],
                         where: str) -> Tensor:
    """Dataset category ids of predicted labels.

    Args:
        table (Mapping[int, int]): Label -> category id
            (:func:`label_category_table`).
        labels (Tensor, optional): ``(K,)`` mmdet labels.
        where (str): Sample description for errors.

    Returns:
        Tensor: ``(K,)`` int64 category ids.

    Raises:
        DetSampleError: Labels missing or without an entry in ``table``.
    """
    if labels is None:
        raise DetSampleError(
            f'{where}: pred_instances.labels is missing but '
            'label_to_category is set')
    out = []
    for label in torch.as_tensor(labels).reshape(-1).tolist():
        if int(label) not in table:
            raise DetSampleError(
                f'{where}: predicted label {int(label)} has no entry in '
                f'label_to_category (known labels: {sorted(table)[:20]})')
        out.append(table[int(label)])
    return torch.tensor(out, dtype=torch.int64)


def _mask_tensor(masks: Any, where: str) -> Tensor:
    """Predicted masks as an ``(N, H, W)`` bool tensor (no copy for bool
    tensors)."""
    return as_bool_mask_tensor(
        masks, f'{where}: pred_instances.masks', DetSampleError,
        float_hint=' (the detector must binarise its masks, e.g. '
        'mask_thr_binary in its test_cfg)')


def _like(template: Any, masks: Tensor) -> Any:
    """``masks`` in the container type of ``template``."""
    if isinstance(template, Tensor):
        return masks.to(template.device)
    if isinstance(template, np.ndarray):
        return masks.cpu().numpy()
    if hasattr(template, 'to_ndarray'):
        from mmdet.structures.mask import BitmapMasks
        array = masks.cpu().numpy().astype(np.uint8)
        return BitmapMasks(array, array.shape[1], array.shape[2])
    return masks


def select_instances(scores: Optional[Tensor], num: int, score_thr: float,
                     max_instances: Optional[int]) -> Tensor:
    """Indices of the instances to de-occlude, in their original order.

    Args:
        scores (Tensor, optional): ``(N,)`` scores; None selects all.
        num (int): ``N``.
        score_thr (float): Keep scores ``>= score_thr``.
        max_instances (int, optional): Keep at most this many (the best
            scores; ties keep the lower index).

    Returns:
        Tensor: Sorted int64 indices (CPU).
    """
    if scores is None:
        keep = torch.arange(num)
    else:
        scores = torch.as_tensor(scores).detach().float().cpu().reshape(-1)
        keep = torch.nonzero(scores >= score_thr).reshape(-1)
        if max_instances is not None and keep.numel() > max_instances:
            order = torch.sort(-scores[keep], stable=True).indices
            keep = keep[order[:max_instances]]
    if max_instances is not None and keep.numel() > max_instances:
        keep = keep[:max_instances]
    return torch.sort(keep).values


class DetSampleDeOccluder:
    """Add amodal masks and an occlusion order to detector predictions.

    See the module docstring for the fields written and the meaning of the
    options. Data samples are modified in place and returned.

    Args:
        deoccluder (DeOccluder): The inference core.
        score_thr (float): Instances with a lower score are not de-occluded.
        max_instances (int, optional): De-occlude at most this many
            instances per image (the best scores); None = no limit. The
            cost of ordering grows with the number of touching pairs.
        label_to_category (sequence | dict, optional): mmdet label ->
            dataset category id, passed to PCNet-M (needed by models with
            ``use_category``).
    """

    def __init__(self,
                 deoccluder: DeOccluder,
                 score_thr: float = 0.3,
                 max_instances: Optional[int] = 100,
                 label_to_category: LabelToCategory = None) -> None:
        if not isinstance(deoccluder, DeOccluder):
            raise DetDeOcclusionConfigError(
                'deoccluder must be a DeOccluder, got '
                f'{type(deoccluder).__name__}')
        if not 0.0 <= float(score_thr) <= 1.0:
            raise DetDeOcclusionConfigError(
                f'score_thr must be in [0, 1], got {score_thr!r}')
        if max_instances is not None and (int(max_instances) != max_instances
                                          or max_instances < 1):
            raise DetDeOcclusionConfigError(
                'max_instances must be None or an integer >= 1, got '
                f'{max_instances!r}')
        self.deoccluder = deoccluder
        self.score_thr = float(score_thr)
        self.max_instances = (None if max_instances is None else
                              int(max_instances))
        self.label_to_category = label_category_table(label_to_category)
        model = deoccluder.model
        if self.label_to_category is None and bool(
                getattr(model, 'use_category', False)):
            raise DetDeOcclusionConfigError(
                'the PCNet-M model encodes category ids (use_category=True) '
                'but no label_to_category map is set: give the dataset '
                'category id of every detector label, e.g. '
                'label_to_category=[1, 2, 4, 5, 6, 7, 8] for KINS (the '
                "hook also accepts label_to_category='dataset')")

    def category_ids(self, labels: Optional[Tensor],
                     where: str) -> Optional[Tensor]:
        """Dataset category ids of predicted labels (None without a map).

        Args:
            labels (Tensor, optional): ``(K,)`` mmdet labels.
            where (str): Sample description for errors.

        Returns:
            Tensor | None: ``(K,)`` int64 category ids.
        """
        if self.label_to_category is None:
            return None
        return labels_to_categories(self.label_to_category, labels, where)

    def __call__(self, data_samples: Sequence[Any]) -> Sequence[Any]:
        """De-occlude the predictions of a batch of data samples.

        Args:
            data_samples (Sequence[DetDataSample]): Samples with
                ``pred_instances.masks`` (and usually ``scores``,
                ``labels``).

        Returns:
            Sequence[DetDataSample]: The same samples, with the new fields.

        Raises:
            DetectorWithoutMasksError: A sample has no predicted masks.
            DetSampleError: Malformed predictions.
        """
        prepared: List[Tuple[Any, Any, Tensor, Tensor]] = []
        items = []
        for index, sample in enumerate(data_samples):
            where = _describe(sample, index)
            pred = sample.get('pred_instances', None) if hasattr(
                sample, 'get') else None
            if pred is None:
                raise DetSampleError(
                    f'{where}: no pred_instances (expected the output of a '
                    'detector\'s predict / test_step)')
            raw = pred.get('masks', None)
            if raw is None:
                raise DetectorWithoutMasksError(
                    f'{where}: pred_instances has no "masks": the detector '
                    'must predict instance masks to be de-occluded (box-only '
                    'detectors are not supported)')
            masks = _mask_tensor(raw, where)
            num = int(masks.shape[0])
            scores = pred.get('scores', None)
            if scores is not None and len(scores) != num:
                raise DetSampleError(
                    f'{where}: {len(scores)} scores for {num} masks')
            keep = select_instances(scores, num, self.score_thr,
                                    self.max_instances)
            labels = pred.get('labels', None)
            cats = self.category_ids(
                None if labels is None else
                torch.as_tensor(labels).reshape(-1).cpu()[keep], where)
            prepared.append((sample, raw, masks, keep))
            if keep.numel():
                sel = masks[keep.to(masks.device)]
                items.append((sel, cats) if cats is not None else sel)
        results = iter(self.deoccluder.run_many(items) if items else [])
        for sample, raw, masks, keep in prepared:
            num = int(masks.shape[0])
            amodal = masks.clone()
            order = torch.zeros((num, num), dtype=torch.int8,
                                device=masks.device)
            flags = torch.zeros(num, dtype=torch.bool, device=masks.device)
            if keep.numel():
                result = next(results)
                idx = keep.to(masks.device)
                amodal[idx] = result.amodal_masks.to(masks.device)
                order[idx[:, None], idx[None, :]] = result.order.to(
                    masks.device, torch.int8)
                flags[idx] = True
            pred = sample.pred_instances
            pred.amodal_masks = _like(raw, amodal)
            pred.deoccluded = flags
            sample.pred_occlusion_order = order
        return data_samples


def _resolve_gap_tolerance(gap_tolerance: Optional[Union[int, float]],
                           cfg: Dict[str, Any],
                           predicted_masks: bool) -> Union[int, float]:
    """The touch tolerance: explicit > deoccluder config > default."""
    default = (PREDICTED_MASKS_GAP_TOLERANCE
               if predicted_masks else GIVEN_MASKS_GAP_TOLERANCE)
    in_cfg = cfg.get('gap_tolerance', None)
    if gap_tolerance is not None and in_cfg is not None and \
            gap_tolerance != in_cfg:
        raise DetDeOcclusionConfigError(
            f'gap_tolerance={gap_tolerance!r} conflicts with '
            f'deoccluder.gap_tolerance={in_cfg!r}; set it once')
    if gap_tolerance is not None:
        return gap_tolerance
    return in_cfg if in_cfg is not None else default


def deoccluder_options(deoccluder: Optional[Mapping[str, Any]] = None,
                       gap_tolerance: Optional[Union[int, float]] = None,
                       predicted_masks: bool = True) -> Dict[str, Any]:
    """:class:`DeOccluder` keyword arguments from user settings.

    Args:
        deoccluder (Mapping, optional): :class:`DeOccluder` options (no
            ``model`` / ``checkpoint``).
        gap_tolerance (int | float, optional): Touch tolerance; None uses
            ``deoccluder['gap_tolerance']`` or the default for predicted /
            given masks.
        predicted_masks (bool): Whether the masks come from a detector.

    Returns:
        dict: Keyword arguments of :class:`DeOccluder` (without ``model``).
    """
    cfg = dict(deoccluder or {})
    cfg.pop('type', None)
    check_options(
        cfg, DEOCCLUDER_OPTIONS, 'deoccluder options',
        DetDeOcclusionConfigError,
        reserved=dict.fromkeys(
            ('model', 'checkpoint', 'cfg_options'),
            'give the PCNet-M checkpoint as pcnet_m=<path>'))
    cfg['gap_tolerance'] = _resolve_gap_tolerance(gap_tolerance, cfg,
                                                  predicted_masks)
    cfg.setdefault('amodal_union_visible', USER_AMODAL_UNION_VISIBLE)
    return cfg


def build_det_sample_deoccluder(
        pcnet_m: Optional[str] = None,
        deoccluder: Optional[Mapping[str, Any]] = None,
        score_thr: float = 0.3,
        max_instances: Optional[int] = 100,
        gap_tolerance: Optional[Union[int, float]] = None,
        label_to_category: LabelToCategory = None,
        predicted_masks: bool = True,
        device: Optional[Union[str, torch.device]] = None,
        pcnet_m_cfg_options: Optional[Mapping[str, Any]] = None
) -> DetSampleDeOccluder:
    """Build a :class:`DetSampleDeOccluder` from user settings.

    Args:
        pcnet_m (str, optional): PCNet-M checkpoint (loaded weights-only
            with :func:`mmdeocc.models.load_pcnet_m`); may be None for
            order / amodal methods without a network (e.g. ``'area'`` /
            ``'convex'``).
        deoccluder (Mapping, optional): :class:`DeOccluder` options.
        score_thr (float): See :class:`DetSampleDeOccluder`.
        max_instances (int, optional): See :class:`DetSampleDeOccluder`.
        gap_tolerance (int | float, optional): Touch tolerance; default
            :data:`PREDICTED_MASKS_GAP_TOLERANCE` for predicted masks and 0
            (the reference) for given masks.
        label_to_category (sequence | dict, optional): Label -> category id.
        predicted_masks (bool): Masks come from a detector (True) or from
            annotations (False); only changes the default gap tolerance.
        device (str | torch.device, optional): Device of PCNet-M; default
            ``deoccluder['device']`` or CPU.
        pcnet_m_cfg_options (Mapping, optional): Overrides of the
            checkpoint's model config.

    Returns:
        DetSampleDeOccluder: Ready to call on data samples.
    """
    cfg = deoccluder_options(deoccluder, gap_tolerance, predicted_masks)
    if device is not None:
        cfg['device'] = str(device)
    if pcnet_m is not None:
        cfg['checkpoint'] = pcnet_m
        if pcnet_m_cfg_options:
            cfg['cfg_options'] = dict(pcnet_m_cfg_options)
    core = build_deoccluder(cfg)
    return DetSampleDeOccluder(
        core,
        score_thr=score_thr,
        max_instances=max_instances,
        label_to_category=label_to_category)


def annotated_det_sample(record: Mapping[str, Any],
                         img_path: Optional[str] = None) -> Any:
    """A ``DetDataSample`` whose "predictions" are an image's annotations.

    Lets annotated modal masks go through the same path as a detector's
    output (:class:`DetSampleDeOccluder`): ``pred_instances`` gets the kept
    (not ignored) instances' masks (decoded once, a bool tensor), their
    ``labels`` and their annotated modal boxes (``xyxy``, mmdet's format);
    the metainfo carries ``img_id``, the shapes and ``ann_ids``.

    Args:
        record (Mapping): A canonical image record (``docs/design.md``).
        img_path (str, optional): The image file.

    Returns:
        DetDataSample: The sample.
    """
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    masks, instances = annotated_masks(record)
    height, width = masks.shape[1:]
    pred = InstanceData()
    pred.masks = torch.from_numpy(masks)
    pred.labels = torch.tensor([int(i['bbox_label']) for i in instances],
                               dtype=torch.int64)
    boxes = torch.tensor([i['modal_bbox'] for i in instances],
                         dtype=torch.float32).reshape(-1, 4)
    boxes[:, 2:] += boxes[:, :2]  # xywh -> xyxy
    pred.bboxes = boxes
    sample = DetDataSample(
        metainfo=dict(
            img_path=img_path,
            img_id=record.get('img_id'),
            ori_shape=(height, width),
            img_shape=(height, width),
            ann_ids=[int(i['ann_id']) for i in instances]))
    sample.pred_instances = pred
    return sample
