"""Label a modal dataset with pseudo-amodal annotations (paper, Table 4).

For every image of a modal instance dataset (COCO, KINS, COCOA or the
project's amodal COCO format) the inference core
(:class:`mmdeocc.deocclusion.DeOccluder`) recovers the occlusion order and
the amodal mask of every instance. Two files are written
(:mod:`mmdeocc.datasets.amodal_coco`):

* ``OUT`` in the project's amodal COCO format (``docs/design.md``): every
  instance keeps its modal ``segmentation`` / ``bbox`` / ``area`` and gains
  ``amodal_segmentation`` (compressed RLE), ``amodal_bbox`` and
  ``amodal_area``; every image gains ``occlusion_edges`` =
  ``[[occluder_ann_id, occludee_ann_id], ...]``;
* the *amodal view* (:func:`amodal_view_path`, ``OUT`` with the suffix
  ``_amodal_view.json``) in which ``segmentation`` / ``bbox`` / ``area`` are
  the amodal ones (the modal ones move to ``modal_segmentation`` /
  ``modal_bbox`` / ``modal_area``), so any MMDetection instance segmenter
  trains on it unchanged.

Label methods (:data:`LABEL_METHODS`): ``'ours'`` (PCNet-M ordering +
ordering-grounded amodal completion), ``'ours_nog'`` (the NOG ablation),
``'raw'`` (amodal = modal), ``'convex'`` (convex hull), ``'convexr'``
(Convex^R: hull restricted to the modal mask and its ancestors under the
convex ordering) - the geometric ones use the convex ordering for the edges
- and ``'gt'``, which copies the *annotated* amodal masks and order of a file
that has them (KINS, COCOA, amodal COCO; ``occlusion_edges`` from the
annotated order, else derived from the masks as in METHOD 4.1). ``'gt'``
makes the ground-truth amodal view that amodal mask AP is evaluated on.

Instances and what is passed through (:func:`build_label_files`):

* crowd annotations (``iscrowd=1``, not instances) are copied unchanged;
* for ``coco`` / ``amodal_coco`` input the original annotation dicts are
  kept (all their fields) and the amodal fields are added (an amodal COCO
  input's ``amodal_*``, ``depth`` and ``occlude_rate`` - ground truth - are
  replaced or removed); KINS and COCOA annotations are rewritten as COCO
  annotations (``segmentation`` = the modal mask as RLE);
* annotations the readers reject as invalid (malformed polygons, empty
  masks, zero-area boxes) and, except for ``'gt'``, fully occluded
  instances (empty modal mask: nothing to complete from) are left out and
  counted in the log and in :class:`LabelGenerationSummary`;
* images without instances are kept with ``occlusion_edges = []``.

Scale and robustness (:mod:`mmdeocc.utils.jobs`): images, sorted by id, are
cut into chunks of ``chunk_size`` images; chunk ``k`` is processed by rank
``k % world_size`` (launched with torchrun), its images de-occluded in one
batched :meth:`~mmdeocc.deocclusion.DeOccluder.run_many` call
(:func:`label_chunk`). Each finished chunk is written atomically to
``OUT + '.parts/chunk-NNNNNN.json'``, so a run killed at any moment resumes
where it stopped. Rank 0 merges the parts in image-id order and writes both
files atomically, then removes the parts (``keep_parts`` keeps them). The
output depends only on the input file, the method, the de-occluder's
options and weights (:func:`deoccluder_settings`), and the chunk size (not
on the number of processes, nor on interruptions). These are stored as a
fingerprint (:func:`label_fingerprint`) in ``OUT + '.parts/manifest.json'``
and in the output's ``info``; resuming with different settings is refused
(:class:`LabelPartsMismatchError`) unless ``restart=True``. The device and
the network batch size are not part of the fingerprint (the inference
core's crops are exact, so batching does not change the result; results on
CPU and GPU can differ in the last float bits, which can move a threshold
decision).

With ``evaluate=True`` (``--eval``) and an input with ground-truth amodal
masks, the amodal IoU of the generated labels against them (METHOD 4.3, via
:func:`mmdeocc.evaluation.functional.amodal_iou_stats`) and the ordering
accuracy against the mask-derived order (METHOD 4.1 / 4.2, via
:func:`mmdeocc.evaluation.functional.order_accuracy`) are logged and
returned in the summary.
"""
import logging
import os.path as osp
from dataclasses import dataclass, field
from functools import partial
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Tuple)

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmengine.logging import print_log

from mmdeocc.datasets.amodal_coco import (amodal_view, amodal_view_path,
                                          build_label_files, image_labels,
                                          label_provenance)
from mmdeocc.datasets.annotation_utils import AnnotationFormatError, load_json
from mmdeocc.datasets.formats import READERS, load_annotations
from mmdeocc.deocclusion.methods import NAMED_METHODS, NETWORK_METHODS
from mmdeocc.evaluation.functional import (amodal_iou_stats, order_accuracy,
                                           pooled_order_accuracy,
                                           summarize_amodal_stats)
from mmdeocc.structures.masks import encode_rles, rle_bytes, rle_to_json
from mmdeocc.structures.order import gt_order_from_masks
from mmdeocc.utils.checkpoint import state_dict_sha256
from mmdeocc.utils.deprecation import moved_attribute
from mmdeocc.utils.jobs import (ChunkHook, JobError, JobSettingsMismatchError,
                                ShardedJob, file_sha256, job_fingerprint,
                                parts_dir, read_json_or_none, run_sharded_job,
                                write_job_json)

__all__ = [
    'LABEL_METHODS', 'NETWORK_METHODS', 'AmodalLabelError',
    'LabelPartsMismatchError', 'LabelGenerationSummary', 'amodal_view',
    'amodal_view_path', 'parts_dir', 'build_label_files', 'label_chunk',
    'label_fingerprint', 'deoccluder_settings', 'generate_amodal_labels'
]

#: Label methods -> ``(order_method, amodal_method)`` of the DeOccluder
#: (``'gt'`` copies the annotated amodal masks and order: no DeOccluder).
LABEL_METHODS: Dict[str, Optional[Tuple[str, str]]] = dict(
    NAMED_METHODS, gt=None)
#: DeOccluder options that change its results (the fingerprint's).
_RESULT_OPTIONS = ('order_method', 'amodal_method', 'order_th', 'amodal_th',
                   'enlarge_box', 'min_side_ratio', 'gap_tolerance',
                   'eraser_dilation', 'amodal_union_visible',
                   'amodal_restrict_to_eraser', 'fast', 'input_size')
#: Result-changing options added later, with their defaults: recorded only
#: when they differ, so the fingerprints of earlier jobs stay valid.
_LATER_RESULT_OPTIONS = dict(flip_tta=False, order_tie_margin=None,
                             hull_convention='reference')
#: Per-instance arrays of :func:`amodal_iou_stats` (the bool ones last).
_IOU_KEYS = ('inter', 'union', 'occluded', 'inv_inter', 'inv_union',
             'empty_modal')
_BOOL_IOU_KEYS = ('occluded', 'empty_modal')
#: How users discard existing work / what they keep to resume (messages).
_RESTART_HINT = '--restart (restart=True)'
_RESUME_HINT = ('Use the same config, checkpoint, method, input file and '
                '--chunk-size to resume')

# Moved to mmdeocc.datasets.amodal_coco / mmdeocc.utils.jobs (importable
# from here for one more release).
_MOVED = {
    'AMODAL_VIEW_SUFFIX': 'mmdeocc.datasets.amodal_coco',
    'GT_ANNOTATION_KEYS': 'mmdeocc.datasets.amodal_coco',
    'order_to_edges':
    'mmdeocc.datasets.amodal_coco:occlusion_edges_from_order',
    'PARTS_FORMAT_VERSION': 'mmdeocc.utils.jobs',
    'chunk_path': 'mmdeocc.utils.jobs',
    'atomic_write_json': 'mmdeocc.utils.jobs:write_job_json',
}


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name, _MOVED)


class AmodalLabelError(ValueError):
    """The inputs or options of pseudo-amodal label generation are invalid."""


class LabelPartsMismatchError(AmodalLabelError):
    """Existing parts or an existing output were made with other settings."""


@dataclass
class LabelGenerationSummary:
    """What :func:`generate_amodal_labels` did.

    Attributes:
        out_file (str): The amodal COCO file.
        view_file (str): The amodal view file.
        fingerprint (str): Hex digest of the settings (see module doc).
        num_images (int): Images in the output.
        num_instances (int): Instances given amodal labels.
        num_chunks (int): Chunks of the whole dataset.
        chunks_reused (int): Chunks found done (on any rank) at the start.
        chunks_processed (int): Chunks processed by this rank in this call.
        images_processed (int): Images de-occluded by this rank in this call.
        seconds (float): Time this rank spent processing chunks.
        skipped (dict): Counts of left-out annotations by reason (rank 0).
        amodal_iou (dict, optional): :func:`summarize_amodal_stats` of the
            labels against the input's ground-truth amodal masks (rank 0).
        order_accuracy (dict, optional): Pooled ordering accuracies (%) of
            the edges against the mask-derived ground truth (rank 0).
        already_complete (bool): The output existed with the same
            fingerprint; nothing was done.
    """
    out_file: str
    view_file: str
    fingerprint: str
    num_images: int = 0
    num_instances: int = 0
    num_chunks: int = 0
    chunks_reused: int = 0
    chunks_processed: int = 0
    images_processed: int = 0
    seconds: float = 0.0
    skipped: Dict[str, int] = field(default_factory=dict)
    amodal_iou: Optional[Dict[str, float]] = None
    order_accuracy: Optional[Dict[str, float]] = None
    already_complete: bool = False

    @property
    def images_per_s(self) -> float:
        """Images de-occluded per second by this rank (0 if none)."""
        return self.images_processed / self.seconds if self.seconds else 0.0


# ----------------------------------------------------------------------
# Fingerprint
# ----------------------------------------------------------------------
def model_settings(model: torch.nn.Module) -> Dict[str, Any]:
    """Type, hyper-parameters and weights hash of a PCNet-M."""
    category_map = getattr(model, 'category_map', None)
    return dict(
        type=type(model).__name__,
        width=getattr(model, 'width', None),
        use_category=getattr(model, 'use_category', None),
        category_map=None if category_map is None else sorted(
            [int(k), float(v)] for k, v in dict(category_map).items()),
        in_size=getattr(model, 'in_size', None),
        weights_sha256=state_dict_sha256(model))


def deoccluder_settings(deoccluder: Any) -> Dict[str, Any]:
    """The options of a DeOccluder that change its results, plus a hash of
    its network weights (JSON-ready, for the fingerprint).

    Args:
        deoccluder (DeOccluder): The de-occluder.

    Returns:
        dict: Options (``batch_size`` and ``device`` excluded) and, when it
        has a model, ``model`` = its type, hyper-parameters and
        ``weights_sha256``.
    """
    settings: Dict[str, Any] = {
        k: getattr(deoccluder, k)
        for k in _RESULT_OPTIONS
    }
    for key, default in _LATER_RESULT_OPTIONS.items():
        value = getattr(deoccluder, key, default)
        if value != default:
            settings[key] = value
    fast_dtype = getattr(deoccluder, 'fast_dtype', None)
    settings['fast_dtype'] = None if fast_dtype is None else str(fast_dtype)
    model = getattr(deoccluder, 'model', None)
    settings['model'] = None if model is None else model_settings(model)
    return settings


def _label_settings(ann_sha256: str, data_format: str, method: str,
                    settings: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """What the labels depend on, besides the chunk size."""
    return dict(
        annotation_sha256=ann_sha256,
        data_format=data_format,
        method=method,
        deoccluder=None if settings is None else dict(settings))


def label_fingerprint(ann_sha256: str, data_format: str, method: str,
                      chunk_size: int,
                      settings: Optional[Mapping[str, Any]]
                      ) -> Tuple[str, Dict[str, Any]]:
    """Fingerprint of everything the generated labels depend on.

    Args:
        ann_sha256 (str): SHA-256 of the input annotation file.
        data_format (str): Reader name.
        method (str): Label method.
        chunk_size (int): Images per chunk (fixes the parts layout).
        settings (Mapping, optional): :func:`deoccluder_settings`
            (None for ``'gt'``).

    Returns:
        tuple[str, dict]: Hex digest and the JSON-ready inputs it hashes
        (:func:`mmdeocc.utils.jobs.job_fingerprint`).
    """
    return job_fingerprint(
        _label_settings(ann_sha256, data_format, method, settings),
        chunk_size)


# ----------------------------------------------------------------------
# Labelling one chunk
# ----------------------------------------------------------------------
def decode_instance_masks(rles: Sequence[Mapping[str, Any]], height: int,
                          width: int) -> np.ndarray:
    """Decode compressed RLEs into a ``(N, H, W)`` bool stack.

    Args:
        rles (Sequence[dict]): RLEs with ``str`` or ``bytes`` counts.
        height (int): Image height.
        width (int): Image width.

    Returns:
        np.ndarray: ``(N, height, width)`` bool.
    """
    if not rles:
        return np.zeros((0, height, width), dtype=bool)
    masks = mask_utils.decode([rle_bytes(r) for r in rles])
    return np.ascontiguousarray(masks.transpose(2, 0, 1)).astype(bool)


def _usable(instances: Sequence[Mapping[str, Any]],
            method: str) -> List[Mapping[str, Any]]:
    """Instances that get labels (fully occluded ones only with 'gt')."""
    if method == 'gt':
        return list(instances)
    return [i for i in instances if i.get('recoverable', True)]


def _gt_amodal(insts: Sequence[Mapping[str, Any]],
               modal: np.ndarray) -> np.ndarray:
    """The annotated amodal masks of the instances, decoded."""
    h, w = modal.shape[1:]
    return decode_instance_masks([i['amodal_mask'] for i in insts], h, w)


def _image_stats(modal: np.ndarray, gt_amodal: np.ndarray, pred: np.ndarray,
                 pred_order: np.ndarray) -> Dict[str, Any]:
    """Per-instance IoU arrays and order counts against ground truth
    (JSON-ready, stored in the parts)."""
    stats = amodal_iou_stats(pred, gt_amodal, modal)
    out: Dict[str, Any] = {
        k: np.asarray(v).astype(int).tolist()
        for k, v in stats.items()
    }
    out['order'] = order_accuracy(pred_order,
                                  gt_order_from_masks(modal, gt_amodal))
    return out


def _network_labels(prepared: Sequence[Tuple[Mapping, List, np.ndarray]],
                    deoccluder: Any, evaluate: bool) -> List[Dict[str, Any]]:
    """Labels of prepared images from one batched DeOccluder call."""
    items = [(modal, [int(i['category_id']) for i in insts])
             for _, insts, modal in prepared if insts]
    results = iter(deoccluder.run_many(items) if items else [])
    out = []
    for rec, insts, modal in prepared:
        ann_ids = [int(i['ann_id']) for i in insts]
        if not insts:
            label = image_labels(rec['img_id'], [], np.zeros((0, 0)), [])
            label['stats'] = None
            out.append(label)
            continue
        result = next(results)
        order = result.order.cpu().numpy().astype(np.int8)
        amodal = result.amodal_masks.cpu().numpy().astype(bool)
        label = image_labels(rec['img_id'], ann_ids, order,
                             encode_rles(amodal))
        label['stats'] = None
        if evaluate and all(i.get('amodal_mask') is not None for i in insts):
            label['stats'] = _image_stats(modal, _gt_amodal(insts, modal),
                                          amodal, order)
        out.append(label)
    return out


def _gt_labels(rec: Mapping[str, Any], insts: Sequence[Mapping[str, Any]],
               modal: np.ndarray) -> Dict[str, Any]:
    """Labels of one image copied from its annotated amodal masks/order."""
    for inst in insts:
        if inst.get('amodal_mask') is None:
            raise AmodalLabelError(
                f'image id {rec["img_id"]}, annotation id {inst["ann_id"]}: '
                "no annotated amodal mask; method 'gt' needs a file with "
                'amodal annotations (formats kins, cocoa, amodal_coco)')
    if rec.get('gt_order') is not None:
        order = np.asarray(rec['gt_order'], dtype=np.int8)
    elif insts:
        order = gt_order_from_masks(modal, _gt_amodal(insts, modal))
    else:
        order = np.zeros((0, 0), np.int8)
    label = image_labels(rec['img_id'], [int(i['ann_id']) for i in insts],
                         order, [rle_to_json(i['amodal_mask']) for i in insts])
    label['stats'] = None
    return label


def label_chunk(records: Sequence[Mapping[str, Any]],
                method: str,
                deoccluder: Any = None,
                evaluate: bool = False) -> List[Dict[str, Any]]:
    """Amodal labels of a chunk of images (one batched core call).

    Args:
        records (Sequence[dict]): Canonical image records.
        method (str): A key of :data:`LABEL_METHODS`.
        deoccluder (DeOccluder, optional): Needed unless ``method='gt'``.
        evaluate (bool): Compare with the records' ground-truth amodal
            masks (costs about as much as the geometric methods).

    Returns:
        list[dict]: Per image: :func:`mmdeocc.datasets.amodal_coco.
        image_labels` (``image_id``, ``occlusion_edges``, ``annotations``
        with ``id``, ``amodal_segmentation``, ``amodal_bbox``,
        ``amodal_area`` per labelled instance, in record order) and
        ``stats`` (IoU / order statistics against the input's ground truth,
        None unless ``evaluate`` and the input has amodal masks; always None
        for ``method='gt'``).
    """
    if method not in LABEL_METHODS:
        raise AmodalLabelError(
            f'unknown label method {method!r}; choose one of '
            f'{sorted(LABEL_METHODS)}')
    if method != 'gt' and deoccluder is None:
        raise AmodalLabelError(f'method {method!r} needs a DeOccluder')
    prepared = []
    for rec in records:
        insts = _usable(rec['instances'], method)
        h, w = int(rec['height']), int(rec['width'])
        modal = decode_instance_masks([i['modal_mask'] for i in insts], h, w)
        prepared.append((rec, insts, modal))
    if method == 'gt':
        return [_gt_labels(rec, insts, modal)
                for rec, insts, modal in prepared]
    return _network_labels(prepared, deoccluder, evaluate)


# ----------------------------------------------------------------------
# Statistics of the labels
# ----------------------------------------------------------------------
def _pooled_statistics(labels: Iterable[Mapping[str, Any]]
                       ) -> Tuple[Optional[Dict], Optional[Dict]]:
    """Pool the per-image statistics of the labels.

    Returns:
        tuple[dict, dict] | tuple[None, None]: :func:`summarize_amodal_stats`
        of all instances and the pooled (micro) order accuracies of
        :func:`order_accuracy`'s counts, each with ``num_images``; None
        when no image has statistics.
    """
    stats = [label['stats'] for label in labels if label.get('stats')]
    if not stats:
        return None, None
    iou = summarize_amodal_stats({
        k: np.asarray([v for s in stats for v in s[k]],
                      dtype=bool if k in _BOOL_IOU_KEYS else np.int64)
        for k in _IOU_KEYS
    })
    pooled = pooled_order_accuracy(s['order'] for s in stats)
    acc = dict(
        occluded=pooled['acc_occluded'],
        all=pooled['acc_all'],
        num_occluded_pairs=pooled['num_occluded_pairs'])
    iou['num_images'] = acc['num_images'] = len(stats)
    return iou, acc


# ----------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------
def _check_options(ann_file: str, out_file: str, deoccluder: Any,
                   method: str, data_format: str, chunk_size: int) -> None:
    """Refuse invalid options before anything is read or written."""
    if method not in LABEL_METHODS:
        raise AmodalLabelError(
            f'unknown label method {method!r}; choose one of '
            f'{sorted(LABEL_METHODS)}')
    if data_format not in READERS:
        raise AmodalLabelError(
            f'unknown format {data_format!r}; choose one of {sorted(READERS)}')
    if int(chunk_size) != chunk_size or chunk_size < 1:
        raise AmodalLabelError(
            f'chunk_size must be an integer >= 1, got {chunk_size!r}')
    if method != 'gt':
        if deoccluder is None:
            raise AmodalLabelError(f'method {method!r} needs a DeOccluder')
        expected = LABEL_METHODS[method]
        got = (deoccluder.order_method, deoccluder.amodal_method)
        if got != expected:
            raise AmodalLabelError(
                f'method {method!r} expects a DeOccluder with (order_method, '
                f'amodal_method) = {expected}, got {got}')
    if method == 'gt' and data_format == 'coco':
        raise AmodalLabelError(
            "method 'gt' copies annotated amodal masks; a plain COCO file has "
            'none (use formats kins, cocoa or amodal_coco)')
    if not out_file.endswith('.json'):
        raise AmodalLabelError(f'out_file must end with .json, got {out_file}')
    if osp.abspath(out_file) == osp.abspath(ann_file):
        raise AmodalLabelError(
            f'out_file {out_file} would overwrite the input annotation file')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')


def read_image_records(
        ann_file: str, data_format: str, img_prefix: str
) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Canonical records sorted by image id (annotation ids checked
    unique: edges name them) and categories of the input."""
    records, categories = load_annotations(ann_file, data_format, img_prefix)
    seen: Dict[int, int] = {}
    for rec in records:
        for inst in rec['instances']:
            if inst['ann_id'] in seen:
                raise AnnotationFormatError(
                    f'{ann_file}: annotation id {inst["ann_id"]} appears in '
                    f'images {seen[inst["ann_id"]]} and {rec["img_id"]}; '
                    'occlusion edges need unique annotation ids')
            seen[inst['ann_id']] = rec['img_id']
    return sorted(records, key=lambda r: int(r['img_id'])), categories


def _image_id(record: Mapping[str, Any]) -> int:
    """Id of an image record (stored in the parts)."""
    return int(record['img_id'])


def _write_label_files(results: List[Dict[str, Any]], fingerprint: str, *,
                       ann_file: str, out_file: str,
                       records: Sequence[Mapping[str, Any]],
                       categories: Sequence[Mapping[str, Any]],
                       data_format: str, method: str) -> Dict[str, Any]:
    """Rank 0: write ``out_file`` and its amodal view from all labels.

    Returns:
        dict: ``num_images`` and ``skipped`` (left-out annotations).
    """
    labels = {int(label['image_id']): label for label in results}
    out, skipped = build_label_files(load_json(ann_file), records, categories,
                                     labels, data_format, method, fingerprint)
    write_job_json(out, out_file)
    write_job_json(amodal_view(out), amodal_view_path(out_file))
    return dict(num_images=len(out['images']), skipped=skipped)


def _recorded_fingerprint(out_file: str) -> Optional[str]:
    """The fingerprint an existing label file was made with."""
    return label_provenance(read_json_or_none(out_file)).get('fingerprint')


def _restore_view(out_file: str) -> None:
    """Rebuild a finished label file's amodal view if it is missing."""
    view_file = amodal_view_path(out_file)
    if not osp.isfile(view_file):
        write_job_json(amodal_view(read_json_or_none(out_file)), view_file)


def _log_summary(summary: LabelGenerationSummary, method: str) -> None:
    """Rank 0: report the written files, left-out annotations and stats."""
    print_log(
        f'wrote {summary.out_file} and {summary.view_file}: '
        f'{summary.num_images} images, {summary.num_instances} labelled '
        f'instances (method {method})', logger='current')
    if summary.skipped:
        print_log(
            'left out: ' +
            ', '.join(f'{v} {k}' for k, v in summary.skipped.items()),
            logger='current', level=logging.WARNING)
    if summary.amodal_iou is not None:
        iou, acc = summary.amodal_iou, summary.order_accuracy
        print_log(
            f'against the input\'s amodal ground truth: amodal mIoU '
            f'{iou["miou"]:.2f} (occluded {iou["miou_occ"]:.2f}, invisible '
            f'{iou["miou_inv"]:.2f}; {iou["num_objects"]} objects of '
            f'{iou["num_images"]} images), order '
            f'accuracy {acc["occluded"]:.2f} on '
            f'{acc["num_occluded_pairs"]} occluded pairs',
            logger='current')


def generate_amodal_labels(ann_file: str,
                           out_file: str,
                           deoccluder: Any = None,
                           method: str = 'ours',
                           data_format: str = 'coco',
                           img_prefix: str = '',
                           chunk_size: int = 32,
                           restart: bool = False,
                           keep_parts: bool = False,
                           progress: bool = True,
                           evaluate: bool = False,
                           chunk_hook: Optional[ChunkHook] = None
                           ) -> LabelGenerationSummary:
    """Write pseudo-amodal labels of a modal dataset (see module doc).

    Call it on every rank of a distributed job (after ``init_dist``), or
    once in a single process.

    Args:
        ann_file (str): Input annotation file.
        out_file (str): Output amodal COCO file (``.json``); the amodal view
            goes to :func:`amodal_view_path` and the parts to
            :func:`parts_dir`.
        deoccluder (DeOccluder, optional): The inference core, configured
            for ``method`` (``order_method`` / ``amodal_method`` of
            :data:`LABEL_METHODS`); not needed for ``'gt'``.
        method (str): A key of :data:`LABEL_METHODS`.
        data_format (str): ``'coco'``, ``'kins'``, ``'cocoa'`` or
            ``'amodal_coco'``.
        img_prefix (str): Image folder (only recorded in the records; no
            image is read).
        chunk_size (int): Images per chunk (one batched core call and one
            part file each).
        restart (bool): Discard existing parts and outputs.
        keep_parts (bool): Keep the parts after the merge.
        progress (bool): Show a progress bar on rank 0.
        evaluate (bool): Measure the labels against the input's ground-truth
            amodal masks and mask-derived order (KINS, COCOA, amodal COCO
            input); off by default because it costs about as much as the
            geometric methods themselves. Not part of the fingerprint: after
            a resume the statistics cover the chunks processed with it on.
        chunk_hook (callable, optional): Called with the chunk index after
            each part is written (e.g. to report progress).

    Returns:
        LabelGenerationSummary: What was done.

    Raises:
        FileNotFoundError: Missing input file.
        AnnotationFormatError: Unreadable or malformed input.
        AmodalLabelError: Invalid options.
        LabelPartsMismatchError: Existing parts or output made with other
            settings (and ``restart`` is False).
    """
    _check_options(ann_file, out_file, deoccluder, method, data_format,
                   chunk_size)
    records, categories = read_image_records(ann_file, data_format, img_prefix)
    settings = None if method == 'gt' else deoccluder_settings(deoccluder)
    job = ShardedJob(
        items=records,
        process_chunk=partial(label_chunk, method=method,
                              deoccluder=deoccluder, evaluate=evaluate),
        item_id=_image_id,
        settings=_label_settings(file_sha256(ann_file), data_format, method,
                                 settings),
        chunk_size=chunk_size,
        out_files=(out_file, amodal_view_path(out_file)),
        write_outputs=partial(_write_label_files, ann_file=ann_file,
                              out_file=out_file, records=records,
                              categories=categories, data_format=data_format,
                              method=method),
        read_fingerprint=_recorded_fingerprint,
        restore_outputs=partial(_restore_view, out_file),
        work_dir=parts_dir(out_file),
        ids_key='image_ids',
        results_key='labels',
        restart_hint=_RESTART_HINT,
        resume_hint=_RESUME_HINT)
    try:
        report = run_sharded_job(
            job, restart=restart, keep_parts=keep_parts, progress=progress,
            desc=f'pseudo-amodal labels ({method})', unit='img',
            chunk_hook=chunk_hook)
    except JobSettingsMismatchError as err:
        raise LabelPartsMismatchError(str(err)) from err
    except JobError as err:
        raise AmodalLabelError(str(err)) from err

    summary = LabelGenerationSummary(
        out_file=out_file, view_file=amodal_view_path(out_file),
        fingerprint=report.fingerprint, num_chunks=report.num_chunks,
        chunks_reused=report.chunks_reused,
        chunks_processed=report.chunks_processed,
        images_processed=report.items_processed, seconds=report.seconds,
        already_complete=report.already_complete)
    if report.results is not None:
        summary.num_images = report.output['num_images']
        summary.skipped = report.output['skipped']
        summary.num_instances = sum(
            len(label['annotations']) for label in report.results)
        summary.amodal_iou, summary.order_accuracy = _pooled_statistics(
            report.results)
        _log_summary(summary, method)
    return summary
