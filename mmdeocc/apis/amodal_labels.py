"""Convert a modal dataset into pseudo-amodal annotations (paper, Table 4).

For every image of a modal instance dataset (COCO, KINS, COCOA or the
project's amodal COCO format) the inference core
(:class:`mmdeocc.deocclusion.DeOccluder`) recovers the occlusion order and
the amodal mask of every instance. Two files are written:

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

Instances and what is passed through:

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

Scale and robustness: images, sorted by id, are cut into chunks of
``chunk_size`` images; chunk ``k`` is processed by rank
``k % world_size`` (mmengine's distributed utilities, launched with
torchrun), its images de-occluded in one batched
:meth:`~mmdeocc.deocclusion.DeOccluder.run_many` call. Each finished chunk
is written atomically (temporary file + ``os.replace``) to
``OUT + '.parts/chunk-NNNNNN.json'``; its presence records that the chunk is
done, so a run killed at any moment resumes where it stopped. Rank 0 merges
the parts in image-id order and writes both files atomically, then removes
the parts (``keep_parts`` keeps them). The output depends only on the input
file, the method, the de-occluder's options and weights, and the chunk
size (not on the number of processes, nor on interruptions). These are
stored as a fingerprint in ``OUT + '.parts/manifest.json'`` and in the
output's ``info``; resuming with different settings is refused
(:class:`LabelPartsMismatchError`) unless ``restart=True``. The device
and the network batch size are not part of the fingerprint (the inference
core's crops are exact, so batching does not change the result; results on
CPU and GPU can differ in the last float bits, which can move a threshold
decision).

With ``evaluate=True`` (``--eval``) and an input with ground-truth amodal
masks, the amodal IoU of the generated labels against them (METHOD 4.3, via
:func:`mmdeocc.evaluation.functional.amodal_iou_stats`) and the ordering
accuracy against the mask-derived order (METHOD 4.1 / 4.2) are logged and
returned in the summary.
"""
import hashlib
import json
import logging
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass, field
from typing import (Any, Callable, Dict, Iterable, List, Mapping, Optional,
                    Sequence, Tuple)

import numpy as np
import pycocotools.mask as mask_utils
import torch
from mmengine.dist import barrier, broadcast_object_list, get_dist_info
from mmengine.logging import print_log
from tqdm import tqdm

from mmdeocc.datasets.annotation_utils import (AnnotationFormatError,
                                               load_json, rle_area, rle_bbox)
from mmdeocc.datasets.formats import READERS, load_annotations
from mmdeocc.deocclusion.methods import NAMED_METHODS, NETWORK_METHODS
from mmdeocc.evaluation.functional import (amodal_iou_stats, order_accuracy,
                                           summarize_amodal_stats)
from mmdeocc.structures.masks import encode_rles, rle_bytes
from mmdeocc.structures.order import gt_order_from_masks
from mmdeocc.structures.order import order_to_edges as index_edges
from mmdeocc.utils.io import atomic_write_json as write_json_atomically

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
#: Suffix of the amodal view file.
AMODAL_VIEW_SUFFIX = '_amodal_view'
#: Version of the parts layout and of the fingerprint recipe.
PARTS_FORMAT_VERSION = 1
#: Ground-truth fields of an amodal COCO input annotation that generated
#: labels replace or make meaningless (removed from copied annotations).
GT_ANNOTATION_KEYS = ('amodal_segmentation', 'amodal_bbox', 'amodal_area',
                      'depth', 'occlude_rate')
_MANIFEST = 'manifest.json'
_CHUNK_NAME = 'chunk-{:06d}.json'
_TMP_PREFIX = '.tmp-'
_TRASH_SUFFIX = '.trash'

ChunkHook = Callable[[int], None]


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
# Paths and small helpers
# ----------------------------------------------------------------------
def amodal_view_path(out_file: str) -> str:
    """Path of the amodal view of ``out_file`` (``x.json`` ->
    ``x_amodal_view.json``)."""
    root, ext = osp.splitext(out_file)
    return root + AMODAL_VIEW_SUFFIX + (ext or '.json')


def parts_dir(out_file: str) -> str:
    """Work folder of the per-chunk parts of ``out_file``."""
    return out_file + '.parts'


def chunk_path(work_dir: str, index: int) -> str:
    """Path of the part of chunk ``index``."""
    return osp.join(work_dir, _CHUNK_NAME.format(index))


def atomic_write_json(obj: Any, path: str) -> None:
    """Compact JSON through :func:`mmdeocc.utils.io.atomic_write_json`, with
    a temporary-file prefix :func:`_remove_leftover_tmp` can find.

    Args:
        obj (Any): JSON-serialisable object.
        path (str): Destination.
    """
    write_json_atomically(obj, path, prefix=_tmp_prefix(path))


def _tmp_prefix(path: str) -> str:
    """Prefix of the temporary files :func:`atomic_write_json` makes for
    ``path`` (so leftovers of a killed run can be found and removed)."""
    return f'.{osp.basename(path)}{_TMP_PREFIX}'


def _remove_leftover_tmp(path: str) -> None:
    """Remove temporary files a killed run left next to ``path``."""
    folder = osp.dirname(osp.abspath(path))
    if not osp.isdir(folder):
        return
    prefix = _tmp_prefix(path)
    for name in os.listdir(folder):
        if name.startswith(prefix):
            os.remove(osp.join(folder, name))


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def _state_dict_sha256(model: torch.nn.Module) -> str:
    """Hex SHA-256 of a model's state dict (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f'{name}|{t.dtype}|{tuple(t.shape)}|'.encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


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


def order_to_edges(order: Any, ann_ids: Sequence[int]) -> List[List[int]]:
    """``[[occluder_ann_id, occludee_ann_id], ...]`` of an order matrix.

    Args:
        order (array-like): ``(N, N)`` order, ``+1`` at ``[i, j]`` = i
            occludes j.
        ann_ids (Sequence[int]): Annotation id of each row.

    Returns:
        list[list[int]]: Edges in row-major order of the matrix.
    """
    return [[int(ann_ids[i]), int(ann_ids[j])]
            for i, j in index_edges(order)]


# ----------------------------------------------------------------------
# Fingerprint
# ----------------------------------------------------------------------
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
    keys = ('order_method', 'amodal_method', 'order_th', 'amodal_th',
            'enlarge_box', 'min_side_ratio', 'gap_tolerance',
            'eraser_dilation', 'amodal_union_visible',
            'amodal_restrict_to_eraser', 'fast', 'input_size')
    settings: Dict[str, Any] = {k: getattr(deoccluder, k) for k in keys}
    fast_dtype = getattr(deoccluder, 'fast_dtype', None)
    settings['fast_dtype'] = None if fast_dtype is None else str(fast_dtype)
    model = getattr(deoccluder, 'model', None)
    if model is None:
        settings['model'] = None
    else:
        category_map = getattr(model, 'category_map', None)
        settings['model'] = dict(
            type=type(model).__name__,
            width=getattr(model, 'width', None),
            use_category=getattr(model, 'use_category', None),
            category_map=None if category_map is None else sorted(
                [int(k), float(v)] for k, v in dict(category_map).items()),
            in_size=getattr(model, 'in_size', None),
            weights_sha256=_state_dict_sha256(model))
    return settings


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
        tuple[str, dict]: Hex digest and the JSON-ready inputs it hashes.
    """
    inputs = dict(
        parts_format=PARTS_FORMAT_VERSION,
        annotation_sha256=ann_sha256,
        data_format=data_format,
        method=method,
        chunk_size=int(chunk_size),
        deoccluder=None if settings is None else dict(settings))
    text = json.dumps(inputs, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest(), json.loads(text)


def _differences(old: Mapping[str, Any], new: Mapping[str, Any],
                 prefix: str = '') -> List[str]:
    """Dotted keys whose values differ between two nested dicts."""
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        name = f'{prefix}{key}'
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(_differences(a, b, name + '.'))
        elif a != b:
            out.append(f'{name}: {a!r} (existing) vs {b!r} (now)')
    return out


# ----------------------------------------------------------------------
# Labelling one chunk
# ----------------------------------------------------------------------
def _usable(instances: Sequence[Mapping[str, Any]],
            method: str) -> List[Mapping[str, Any]]:
    """Instances that get labels (fully occluded ones only with 'gt')."""
    if method == 'gt':
        return list(instances)
    return [i for i in instances if i.get('recoverable', True)]


def _gt_amodal_available(instances: Sequence[Mapping[str, Any]]) -> bool:
    return bool(instances) and all(
        i.get('amodal_mask') is not None for i in instances)


def _image_stats(modal: np.ndarray, gt_amodal: np.ndarray, pred: np.ndarray,
                 pred_order: np.ndarray) -> Dict[str, Any]:
    """Per-instance IoU arrays and order counts against ground truth."""
    stats = amodal_iou_stats(pred, gt_amodal, modal)
    out: Dict[str, Any] = {
        k: np.asarray(v).astype(int).tolist()
        for k, v in stats.items()
    }
    out['order'] = order_accuracy(pred_order,
                                  gt_order_from_masks(modal, gt_amodal))
    return out


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
        list[dict]: Per image: ``image_id``, ``occlusion_edges``,
        ``annotations`` (``id``, ``amodal_segmentation``, ``amodal_bbox``,
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

    items = [(modal, [int(i['category_id']) for i in insts])
             for _, insts, modal in prepared if insts]
    results = iter(deoccluder.run_many(items) if items else [])
    out = []
    for rec, insts, modal in prepared:
        ann_ids = [int(i['ann_id']) for i in insts]
        if not insts:
            out.append(dict(image_id=int(rec['img_id']), occlusion_edges=[],
                            annotations=[], stats=None))
            continue
        result = next(results)
        order = result.order.cpu().numpy().astype(np.int8)
        amodal = result.amodal_masks.cpu().numpy().astype(bool)
        rles = encode_rles(amodal)
        anns = []
        for ann_id, rle in zip(ann_ids, rles):
            anns.append(
                dict(id=ann_id, amodal_segmentation=rle,
                     amodal_bbox=rle_bbox(rle),
                     amodal_area=float(rle_area(rle))))
        stats = None
        if evaluate and _gt_amodal_available(insts):
            h, w = modal.shape[1:]
            gt = decode_instance_masks([i['amodal_mask'] for i in insts], h,
                                       w)
            stats = _image_stats(modal, gt, amodal, order)
        out.append(
            dict(image_id=int(rec['img_id']),
                 occlusion_edges=order_to_edges(order, ann_ids),
                 annotations=anns, stats=stats))
    return out


def _gt_labels(rec: Mapping[str, Any], insts: Sequence[Mapping[str, Any]],
               modal: np.ndarray) -> Dict[str, Any]:
    """Labels of one image copied from its annotated amodal masks/order."""
    ann_ids = [int(i['ann_id']) for i in insts]
    anns = []
    for inst in insts:
        rle = inst.get('amodal_mask')
        if rle is None:
            raise AmodalLabelError(
                f'image id {rec["img_id"]}, annotation id {inst["ann_id"]}: '
                "no annotated amodal mask; method 'gt' needs a file with "
                'amodal annotations (formats kins, cocoa, amodal_coco)')
        anns.append(
            dict(id=int(inst['ann_id']),
                 amodal_segmentation=dict(size=list(rle['size']),
                                          counts=rle['counts']),
                 amodal_bbox=rle_bbox(rle),
                 amodal_area=float(rle_area(rle))))
    if rec.get('gt_order') is not None:
        order = np.asarray(rec['gt_order'], dtype=np.int8)
    elif insts:
        h, w = modal.shape[1:]
        gt = decode_instance_masks([i['amodal_mask'] for i in insts], h, w)
        order = gt_order_from_masks(modal, gt)
    else:
        order = np.zeros((0, 0), np.int8)
    return dict(image_id=int(rec['img_id']),
                occlusion_edges=order_to_edges(order, ann_ids),
                annotations=anns, stats=None)


# ----------------------------------------------------------------------
# Building the output files
# ----------------------------------------------------------------------
def _canonical_annotation(rec: Mapping[str, Any],
                          inst: Mapping[str, Any]) -> Dict[str, Any]:
    """A COCO annotation (modal fields) from a canonical instance."""
    rle = inst['modal_mask']
    ann = dict(
        id=int(inst['ann_id']),
        image_id=int(rec['img_id']),
        category_id=int(inst['category_id']),
        segmentation=dict(size=list(rle['size']), counts=rle['counts']),
        area=float(rle_area(rle)),
        bbox=[float(v) for v in inst['modal_bbox']],
        iscrowd=0)
    if inst.get('is_stuff'):
        ann['is_stuff'] = True
    if inst.get('name') is not None:
        ann['name'] = inst['name']
    return ann


def _raw_annotations(data: Mapping[str, Any],
                     data_format: str) -> Tuple[Dict[int, Tuple[int, Dict]],
                                                List[Tuple[int, Dict]]]:
    """Index the raw annotations of a per-instance file.

    Returns:
        tuple: ``{ann_id: (position, ann)}`` of every annotation and the
        ``(position, ann)`` list of crowd annotations.
    """
    by_id: Dict[int, Tuple[int, Dict]] = {}
    crowd = []
    if data_format == 'cocoa':
        return by_id, crowd
    for pos, ann in enumerate(data.get('annotations', [])):
        if ann.get('iscrowd', 0):
            crowd.append((pos, ann))
        else:
            by_id.setdefault(int(ann['id']), (pos, ann))
    return by_id, crowd


def build_label_files(data: Mapping[str, Any],
                      records: Sequence[Mapping[str, Any]],
                      categories: Sequence[Mapping[str, Any]],
                      labels: Mapping[int, Mapping[str, Any]],
                      data_format: str,
                      method: str,
                      fingerprint: str) -> Tuple[Dict, Dict[str, int]]:
    """Assemble the amodal COCO file from the input and the labels.

    Args:
        data (Mapping): The raw input file.
        records (Sequence[dict]): Its canonical records.
        categories (Sequence[dict]): Its categories (reader output).
        labels (Mapping[int, dict]): Image id -> :func:`label_chunk` entry.
        data_format (str): Reader name.
        method (str): Label method.
        fingerprint (str): Settings fingerprint (stored in ``info``).

    Returns:
        tuple[dict, dict]: The file content (images and annotations sorted
        by image id, annotations of an image in file order) and the counts
        of left-out annotations by reason.
    """
    by_id, crowd = _raw_annotations(data, data_format)
    images_raw = {int(img['id']): img for img in data['images']}
    rec_by_id = {int(r['img_id']): r for r in records}
    crowd_by_image: Dict[int, List[Tuple[int, Dict]]] = {}
    for pos, ann in crowd:
        crowd_by_image.setdefault(int(ann['image_id']), []).append((pos, ann))

    skipped: Dict[str, int] = {}
    images, annotations = [], []
    num_raw_instances = 0
    for img_id in sorted(images_raw):
        rec = rec_by_id[img_id]
        label = labels[img_id]
        image = dict(images_raw[img_id])
        image['occlusion_edges'] = [list(e) for e in label['occlusion_edges']]
        images.append(image)
        amodal_by_id = {a['id']: a for a in label['annotations']}
        entries = []
        for k, inst in enumerate(rec['instances']):
            ann_id = int(inst['ann_id'])
            extra = amodal_by_id.get(ann_id)
            if extra is None:
                skipped['fully occluded (empty modal mask)'] = skipped.get(
                    'fully occluded (empty modal mask)', 0) + 1
                continue
            if data_format in ('coco', 'amodal_coco'):
                pos, raw = by_id[ann_id]
                ann = {
                    key: value
                    for key, value in raw.items()
                    if key not in GT_ANNOTATION_KEYS
                }
            else:
                pos = by_id[ann_id][0] if ann_id in by_id else k
                ann = _canonical_annotation(rec, inst)
            ann.update(
                amodal_segmentation=extra['amodal_segmentation'],
                amodal_bbox=[float(v) for v in extra['amodal_bbox']],
                amodal_area=float(extra['amodal_area']))
            entries.append((pos, ann))
        entries.extend(crowd_by_image.get(img_id, []))
        entries.sort(key=lambda e: e[0])
        annotations.extend(dict(ann) for _, ann in entries)
        num_raw_instances += len(rec['instances'])

    if data_format == 'cocoa':
        num_raw = sum(len(a.get('regions', [])) for a in data['annotations'])
    else:
        num_raw = len(data.get('annotations', [])) - len(crowd)
    invalid = num_raw - num_raw_instances
    if invalid:
        skipped['invalid (rejected by the reader)'] = invalid

    out: Dict[str, Any] = {}
    info = dict(data.get('info') or {})
    info['pseudo_amodal'] = dict(
        method=method, source_format=data_format, fingerprint=fingerprint,
        generator='mmdeocc tools/generate_amodal_labels.py')
    out['info'] = info
    for key, value in data.items():
        if key not in ('info', 'images', 'annotations', 'categories'):
            out[key] = value
    out['images'] = images
    out['annotations'] = annotations
    out['categories'] = [dict(c) for c in categories]
    return out, skipped


def amodal_view(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The amodal view of an amodal COCO file's content.

    Every annotation with ``amodal_segmentation`` gets ``segmentation`` /
    ``bbox`` / ``area`` = the amodal ones; its modal ones move to
    ``modal_segmentation`` / ``modal_bbox`` / ``modal_area`` and the
    ``amodal_*`` keys are removed. Other annotations (crowd regions) are
    unchanged; ``info['view'] = 'amodal'``.

    Args:
        data (Mapping): Content of an amodal COCO file.

    Returns:
        dict: The view (a new dict; ``data`` is not modified).
    """
    out = dict(data)
    info = dict(data.get('info') or {})
    info['view'] = 'amodal'
    out['info'] = info
    anns = []
    for k, ann in enumerate(data.get('annotations', [])):
        if 'amodal_segmentation' not in ann:
            anns.append(ann)
            continue
        missing = [key for key in ('amodal_bbox', 'amodal_area')
                   if key not in ann]
        if missing:
            raise AnnotationFormatError(
                f'annotation id {ann.get("id", f"#{k}")}: has '
                f'"amodal_segmentation" but no "{missing[0]}"')
        view = {
            key: value
            for key, value in ann.items()
            if key not in ('segmentation', 'bbox', 'area',
                           'amodal_segmentation', 'amodal_bbox',
                           'amodal_area')
        }
        view.update(
            segmentation=ann['amodal_segmentation'],
            bbox=ann['amodal_bbox'],
            area=ann['amodal_area'],
            modal_segmentation=ann.get('segmentation'),
            modal_bbox=ann.get('bbox'),
            modal_area=ann.get('area'))
        anns.append(view)
    out['annotations'] = anns
    return out


# ----------------------------------------------------------------------
# Parts (work folder)
# ----------------------------------------------------------------------
def _read_json_or_none(path: str) -> Optional[Any]:
    try:
        with open(path, 'r') as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_part(path: str, index: int, image_ids: Sequence[int],
              fingerprint: str) -> Optional[List[Dict[str, Any]]]:
    """Read a chunk's part if it is complete and belongs to this run.

    Args:
        path (str): Part file.
        index (int): Chunk index.
        image_ids (Sequence[int]): The chunk's image ids.
        fingerprint (str): Expected fingerprint.

    Returns:
        list[dict] | None: The chunk's labels, or None when the file is
        missing or unreadable (it is then redone, with a warning for an
        unreadable one).

    Raises:
        LabelPartsMismatchError: The part was written with other settings.
    """
    if not osp.isfile(path):
        return None
    part = _read_json_or_none(path)
    ok = (isinstance(part, dict) and part.get('chunk') == index
          and part.get('image_ids') == list(image_ids)
          and isinstance(part.get('labels'), list)
          and len(part['labels']) == len(image_ids))
    if ok and part.get('fingerprint') != fingerprint:
        raise LabelPartsMismatchError(
            f'{path}: written with settings fingerprint '
            f'{part.get("fingerprint")}, expected {fingerprint}; rerun with '
            'restart=True (--restart) to start over')
    if not ok:
        print_log(f'{path}: unreadable or inconsistent part; chunk {index} '
                  'will be processed again', logger='current',
                  level=logging.WARNING)
        return None
    return part['labels']


def _prepare_work_dir(out_file: str, fingerprint: str,
                      inputs: Mapping[str, Any], num_chunks: int,
                      restart: bool) -> str:
    """Rank 0: check/create the work folder; return 'complete' or 'run'."""
    work = parts_dir(out_file)
    view_file = amodal_view_path(out_file)
    trash = work + _TRASH_SUFFIX
    if osp.isdir(trash):
        shutil.rmtree(trash)
    if restart:
        for path in (out_file, view_file):
            if osp.exists(path):
                os.remove(path)
        if osp.isdir(work):
            shutil.rmtree(work)
    # temporary files of writes a killed run did not finish
    if osp.isdir(work):
        for name in os.listdir(work):
            if _TMP_PREFIX in name:
                os.remove(osp.join(work, name))
    for path in (out_file, view_file):
        _remove_leftover_tmp(path)
    manifest_path = osp.join(work, _MANIFEST)
    manifest = _read_json_or_none(manifest_path) if osp.isdir(work) else None
    if manifest is not None:
        if manifest.get('fingerprint') != fingerprint:
            diff = _differences(manifest.get('inputs', {}), dict(inputs))
            raise LabelPartsMismatchError(
                f'{work} holds parts made with other settings:\n  ' +
                '\n  '.join(diff or ['(unknown)']) +
                '\nUse the same config, checkpoint, method, input file and '
                '--chunk-size to resume, or pass --restart (restart=True) '
                'to discard them.')
        return 'run'
    if osp.isfile(out_file) and not osp.isdir(work):
        existing = _read_json_or_none(out_file)
        meta = ((existing or {}).get('info') or {}).get('pseudo_amodal', {}) \
            if isinstance(existing, dict) else {}
        if meta.get('fingerprint') == fingerprint:
            if not osp.isfile(view_file):
                atomic_write_json(amodal_view(existing), view_file)
            return 'complete'
        raise LabelPartsMismatchError(
            f'{out_file} exists and was not made with these settings '
            f'(fingerprint {meta.get("fingerprint")} vs {fingerprint}); '
            'pass --restart (restart=True) to overwrite it')
    os.makedirs(work, exist_ok=True)
    atomic_write_json(
        dict(fingerprint=fingerprint, inputs=dict(inputs),
             num_chunks=num_chunks), manifest_path)
    return 'run'


def _merge_stats(labels: Iterable[Mapping[str, Any]]
                 ) -> Tuple[Optional[Dict], Optional[Dict]]:
    """Pool the per-image statistics of the labels."""
    keys = ('inter', 'union', 'occluded', 'inv_inter', 'inv_union',
            'empty_modal')
    arrays: Dict[str, List[int]] = {k: [] for k in keys}
    order = dict(occluded_correct=0, occluded_total=0, all_correct=0,
                 all_total=0)
    seen = 0
    for label in labels:
        stats = label.get('stats')
        if not stats:
            continue
        seen += 1
        for k in keys:
            arrays[k].extend(stats[k])
        for k in order:
            order[k] += int(stats['order'][k])
    if not seen:
        return None, None
    summary = summarize_amodal_stats({
        k: np.asarray(v, dtype=bool if k in ('occluded', 'empty_modal') else
                      np.int64)
        for k, v in arrays.items()
    })

    def pct(num: int, den: int) -> float:
        return 100.0 * num / den if den else float('nan')

    acc = dict(
        occluded=pct(order['occluded_correct'], order['occluded_total']),
        all=pct(order['all_correct'], order['all_total']),
        num_occluded_pairs=order['occluded_total'] // 2)
    summary['num_images'] = acc['num_images'] = int(seen)
    return summary, acc


# ----------------------------------------------------------------------
# The driver
# ----------------------------------------------------------------------
def _broadcast(value: Any) -> Any:
    """Rank 0's ``value`` on every rank (identity when not distributed)."""
    holder = [value]
    broadcast_object_list(holder, src=0)
    return holder[0]


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

    rank, world_size = get_dist_info()
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
    records = sorted(records, key=lambda r: int(r['img_id']))
    chunks = [records[k:k + chunk_size]
              for k in range(0, len(records), chunk_size)]

    settings = None if method == 'gt' else deoccluder_settings(deoccluder)
    fingerprint, inputs = label_fingerprint(
        file_sha256(ann_file), data_format, method, chunk_size, settings)
    summary = LabelGenerationSummary(
        out_file=out_file, view_file=amodal_view_path(out_file),
        fingerprint=fingerprint, num_chunks=len(chunks))

    state = None
    if rank == 0:
        try:
            state = _prepare_work_dir(out_file, fingerprint, inputs,
                                      len(chunks), restart)
        except Exception as err:  # tell the other ranks, then raise
            _broadcast(f'error: {err}')
            raise
    state = _broadcast(state)
    if state.startswith('error'):
        raise AmodalLabelError(f'rank 0 failed to prepare the work folder '
                               f'({state})')
    if state == 'complete':
        summary.already_complete = True
        if rank == 0:
            print_log(f'{out_file} is complete (same settings); nothing to do',
                      logger='current')
        return summary
    barrier()

    work = parts_dir(out_file)
    ids = [[int(r['img_id']) for r in chunk] for chunk in chunks]
    todo, reused = [], 0
    for index in range(len(chunks)):
        done = osp.isfile(chunk_path(work, index))
        reused += int(done)
        if index % world_size == rank and (
                not done or load_part(chunk_path(work, index), index,
                                      ids[index], fingerprint) is None):
            todo.append(index)
    summary.chunks_reused = reused
    barrier()  # every rank has looked at the parts before any is written

    bar = tqdm(total=sum(len(chunks[k]) for k in todo),
               disable=not (progress and rank == 0), unit='img',
               desc=f'pseudo-amodal labels ({method}, rank 0/{world_size})')
    start = time.perf_counter()
    for index in todo:
        labels = label_chunk(chunks[index], method, deoccluder, evaluate)
        atomic_write_json(
            dict(chunk=index, fingerprint=fingerprint,
                 image_ids=ids[index], labels=labels),
            chunk_path(work, index))
        summary.chunks_processed += 1
        summary.images_processed += len(chunks[index])
        bar.update(len(chunks[index]))
        if chunk_hook is not None:
            chunk_hook(index)
    summary.seconds = time.perf_counter() - start
    bar.close()
    barrier()

    if rank == 0:
        _merge(ann_file, out_file, records, categories, chunks, ids,
               data_format, method, fingerprint, keep_parts, summary)
    barrier()
    return summary


def _merge(ann_file: str, out_file: str, records: Sequence[Mapping],
           categories: Sequence[Mapping], chunks: Sequence[Sequence],
           ids: Sequence[Sequence[int]], data_format: str, method: str,
           fingerprint: str, keep_parts: bool,
           summary: LabelGenerationSummary) -> None:
    """Rank 0: merge the parts, write both files atomically, clean up."""
    work = parts_dir(out_file)
    labels: Dict[int, Mapping[str, Any]] = {}
    missing = []
    for index in range(len(chunks)):
        part = load_part(chunk_path(work, index), index, ids[index],
                         fingerprint)
        if part is None:
            missing.append(index)
            continue
        for label in part:
            labels[int(label['image_id'])] = label
    if missing:
        raise AmodalLabelError(
            f'{work}: chunks {missing[:10]} are missing after processing '
            '(a rank failed?); rerun the same command to resume')
    data = load_json(ann_file)
    out, skipped = build_label_files(data, records, categories, labels,
                                     data_format, method, fingerprint)
    atomic_write_json(out, out_file)
    atomic_write_json(amodal_view(out), amodal_view_path(out_file))
    if not keep_parts:
        trash = work + _TRASH_SUFFIX
        os.replace(work, trash)
        shutil.rmtree(trash)

    summary.num_images = len(out['images'])
    summary.num_instances = sum(
        len(label['annotations']) for label in labels.values())
    summary.skipped = skipped
    summary.amodal_iou, summary.order_accuracy = _merge_stats(labels.values())
    print_log(
        f'wrote {out_file} and {amodal_view_path(out_file)}: '
        f'{summary.num_images} images, {summary.num_instances} labelled '
        f'instances (method {method})', logger='current')
    if skipped:
        print_log(
            'left out: ' + ', '.join(f'{v} {k}' for k, v in skipped.items()),
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
