"""The project's amodal COCO format ("mmdeocc amodal"): reading and writing.

The format (``docs/design.md``) is a COCO instances file whose
``segmentation`` / ``bbox`` / ``area`` are modal, plus per annotation
``amodal_segmentation`` (RLE or polygons), ``amodal_bbox``, ``amodal_area``
(optional ``depth``, 0 = nearest, and ``is_stuff``; crowd annotations need
no amodal fields), and per image ``occlusion_edges`` =
``[[occluder_ann_id, occludee_ann_id], ...]`` giving ``gt_order`` (images
without the key get ``gt_order=None``). An annotation whose modal mask is
empty but amodal mask is not is a fully occluded instance
(``recoverable=False``). Pseudo-amodal label files record how they were
made in ``info['pseudo_amodal']`` (:func:`label_provenance`).

Its *amodal view* (:func:`amodal_view`, file :func:`amodal_view_path`) is
the same file with ``segmentation`` / ``bbox`` / ``area`` = the amodal ones
(the modal ones move to ``modal_segmentation`` / ``modal_bbox`` /
``modal_area``), so any MMDetection instance segmenter trains on it
unchanged.

This module holds

* reading: :func:`load_amodal_coco` (canonical records, through the shared
  per-instance-file reader of :mod:`mmdeocc.datasets.coco`);
* writing: :func:`image_labels` (one image's order and amodal masks as
  ``occlusion_edges`` and amodal fields) and :func:`build_label_files`
  (the whole file from an input file, its records and those labels);
* the amodal view: :func:`amodal_view`, :func:`amodal_view_path`.

Order matrices and ``occlusion_edges`` are converted with the one order
algebra, :mod:`mmdeocc.structures.order`.
"""
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from mmdeocc.structures import SegmentationError, segmentation_to_rle
from mmdeocc.structures.masks import rle_to_json
from mmdeocc.structures.order import OrderLike, order_to_edges
from .annotation_utils import (RLE, AnnotationFormatError, SkipLog,
                               box_has_area, order_from_edges, require_keys,
                               rle_area, rle_bbox)
from .coco import coco_instance, load_instances_file, parse_modal_mask

__all__ = [
    'AMODAL_VIEW_SUFFIX', 'GT_ANNOTATION_KEYS', 'LABEL_GENERATOR',
    'load_amodal_coco', 'order_from_occlusion_edges',
    'occlusion_edges_from_order', 'amodal_fields', 'image_labels',
    'build_label_files', 'label_provenance', 'amodal_view',
    'amodal_view_path'
]

#: Suffix of the amodal view file.
AMODAL_VIEW_SUFFIX = '_amodal_view'
#: Ground-truth fields of an amodal COCO input annotation that generated
#: labels replace or make meaningless (removed from copied annotations).
GT_ANNOTATION_KEYS = ('amodal_segmentation', 'amodal_bbox', 'amodal_area',
                      'depth', 'occlude_rate')
#: ``info['pseudo_amodal']['generator']`` of label files.
LABEL_GENERATOR = 'mmdeocc tools/generate_amodal_labels.py'
#: The amodal and modal fields of an annotation (swapped by the view).
_AMODAL_KEYS = ('amodal_segmentation', 'amodal_bbox', 'amodal_area')
_MODAL_KEYS = ('segmentation', 'bbox', 'area')
_FULLY_OCCLUDED = 'fully occluded (empty modal mask)'
_INVALID = 'invalid (rejected by the reader)'


# ----------------------------------------------------------------------
# Order matrix <-> occlusion_edges
# ----------------------------------------------------------------------
def order_from_occlusion_edges(edges: Any, instances: List[Dict[str, Any]],
                               where: str) -> Any:
    """Order matrix of an image's ``occlusion_edges``.

    Args:
        edges (Any): The field's value, ``[[occluder_ann_id,
            occludee_ann_id], ...]``.
        instances (list[dict]): The image's kept canonical instances (rows
            of the matrix).
        where (str): Location for error messages.

    Returns:
        np.ndarray: ``(N, N)`` int8 order matrix.

    Raises:
        AnnotationFormatError: Not a list of pairs, an edge names an
            annotation that is not a kept instance, or contradicting edges.
    """
    if not isinstance(edges, list):
        raise AnnotationFormatError(
            f'{where}: expected a list of [occluder_ann_id, occludee_ann_id]')
    index = {inst['ann_id']: k for k, inst in enumerate(instances)}
    pairs = []
    for edge in edges:
        if not (isinstance(edge, (list, tuple)) and len(edge) == 2):
            raise AnnotationFormatError(
                f'{where}: malformed edge {edge!r}; expected '
                '[occluder_ann_id, occludee_ann_id]')
        front, back = edge
        if front not in index or back not in index:
            missing = front if front not in index else back
            raise AnnotationFormatError(
                f'{where}: edge {edge!r} names annotation id {missing}, '
                'which is not a kept instance of this image')
        pairs.append((index[front], index[back]))
    order, conflicts = order_from_edges(len(instances), pairs, where)
    if conflicts:
        raise AnnotationFormatError(
            f'{where}: contradicting edges (both directions of a pair)')
    return order


def occlusion_edges_from_order(order: OrderLike,
                               ann_ids: Sequence[int]) -> List[List[int]]:
    """``occlusion_edges`` of an order matrix.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order, ``+1`` at ``[i, j]``
            = i occludes j.
        ann_ids (Sequence[int]): Annotation id of each row.

    Returns:
        list[list[int]]: ``[[occluder_ann_id, occludee_ann_id], ...]`` in
        row-major order of the matrix.
    """
    return [[int(ann_ids[i]), int(ann_ids[j])]
            for i, j in order_to_edges(order)]


# ----------------------------------------------------------------------
# Reading
# ----------------------------------------------------------------------
def _parse_amodal_mask(ann: Dict[str, Any], height: int, width: int,
                       where: str, skips: SkipLog) -> Optional[RLE]:
    """The amodal mask of an annotation, validated (None = skipped)."""
    if 'amodal_segmentation' not in ann:
        raise AnnotationFormatError(
            f'{where}: missing field "amodal_segmentation": not an '
            'mmdeocc amodal file (plain COCO files are read by '
            'load_coco_modal)')
    require_keys(ann, ('amodal_bbox', ), where)
    try:
        amodal_rle = segmentation_to_rle(
            ann['amodal_segmentation'], height, width,
            f'{where}, field "amodal_segmentation"')
    except SegmentationError as err:
        skips.invalid('malformed amodal segmentation', str(err))
        return None
    if rle_area(amodal_rle) == 0:
        skips.invalid('empty amodal mask',
                      f'{where}, field "amodal_segmentation": empty mask')
        return None
    if not box_has_area(ann['amodal_bbox']):
        skips.invalid(
            'zero-area amodal box', f'{where}, field "amodal_bbox": '
            f'zero-area box {ann["amodal_bbox"]}')
        return None
    return amodal_rle


def _parse_amodal_annotation(ann: Dict[str, Any], label: int, height: int,
                             width: int, where: str,
                             skips: SkipLog) -> Optional[Dict[str, Any]]:
    """Canonical instance (modal + amodal) of one annotation."""
    amodal_rle = _parse_amodal_mask(ann, height, width, where, skips)
    if amodal_rle is None:
        return None
    modal_rle = parse_modal_mask(ann, height, width, where, skips,
                                 allow_empty=True)
    if modal_rle is None:
        return None
    return coco_instance(ann, label, modal_rle, amodal_rle)


def _image_order(img: Dict[str, Any], instances: List[Dict[str, Any]],
                 where: str) -> Any:
    """``gt_order`` of an image (None without ``occlusion_edges``)."""
    if 'occlusion_edges' not in img:
        return None
    return order_from_occlusion_edges(img['occlusion_edges'], instances,
                                      f'{where}, field "occlusion_edges"')


def load_amodal_coco(path: str,
                     img_prefix: str = '',
                     on_invalid: str = 'skip'
                     ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Read an mmdeocc amodal COCO file into canonical records.

    Args:
        path (str): The JSON file (format in the module docstring).
        img_prefix (str): Directory joined before each ``file_name``.
        on_invalid (str): ``'skip'`` or ``'raise'`` for invalid annotations.

    Returns:
        tuple[list[dict], list[dict]]: Canonical records and ``categories``.

    Raises:
        FileNotFoundError: Missing file.
        AnnotationFormatError: Wrong format, missing ``amodal_segmentation``
            / ``amodal_bbox``, unknown ids, malformed ``occlusion_edges``.
        InvalidAnnotationError: Invalid annotation with
            ``on_invalid='raise'``.
    """
    return load_instances_file(path, img_prefix, on_invalid,
                               'load_amodal_coco', _parse_amodal_annotation,
                               _image_order)


# ----------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------
def amodal_fields(ann_id: int, rle: RLE) -> Dict[str, Any]:
    """The amodal fields of one annotation of a label file.

    Args:
        ann_id (int): Annotation id.
        rle (dict): Amodal mask, compressed RLE with ``str`` counts.

    Returns:
        dict: ``id``, ``amodal_segmentation`` (``rle``), ``amodal_bbox``
        (tight box of the mask) and ``amodal_area``.
    """
    return dict(id=int(ann_id), amodal_segmentation=rle,
                amodal_bbox=rle_bbox(rle), amodal_area=float(rle_area(rle)))


def image_labels(image_id: int, ann_ids: Sequence[int], order: OrderLike,
                 amodal_rles: Sequence[RLE]) -> Dict[str, Any]:
    """The labels of one image, as :func:`build_label_files` takes them.

    Args:
        image_id (int): Image id.
        ann_ids (Sequence[int]): Annotation id of each labelled instance.
        order (np.ndarray | Tensor): ``(N, N)`` order of those instances.
        amodal_rles (Sequence[dict]): Their amodal masks (RLE).

    Returns:
        dict: ``image_id``, ``occlusion_edges`` and ``annotations``
        (:func:`amodal_fields` per instance, in the order of ``ann_ids``).
    """
    return dict(
        image_id=int(image_id),
        occlusion_edges=occlusion_edges_from_order(order, ann_ids),
        annotations=[
            amodal_fields(ann_id, rle)
            for ann_id, rle in zip(ann_ids, amodal_rles)
        ])


def _modal_annotation(rec: Mapping[str, Any],
                      inst: Mapping[str, Any]) -> Dict[str, Any]:
    """A COCO annotation (modal fields) from a canonical instance."""
    rle = inst['modal_mask']
    ann = dict(
        id=int(inst['ann_id']),
        image_id=int(rec['img_id']),
        category_id=int(inst['category_id']),
        segmentation=rle_to_json(rle),
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
        ``(position, ann)`` list of crowd annotations (both empty for
        COCOA, whose annotations are per image).
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


def _labelled_annotation(rec: Mapping[str, Any], inst: Mapping[str, Any],
                         k: int, amodal: Mapping[str, Any],
                         by_id: Mapping[int, Tuple[int, Dict]],
                         data_format: str) -> Tuple[int, Dict[str, Any]]:
    """``(file position, annotation)`` of one labelled instance.

    COCO / amodal COCO inputs keep their annotation dicts (without
    :data:`GT_ANNOTATION_KEYS`); KINS / COCOA instances are rewritten as
    COCO annotations. The amodal fields are added.
    """
    ann_id = int(inst['ann_id'])
    if data_format in ('coco', 'amodal_coco'):
        pos, raw = by_id[ann_id]
        ann = {
            key: value
            for key, value in raw.items() if key not in GT_ANNOTATION_KEYS
        }
    else:
        pos = by_id[ann_id][0] if ann_id in by_id else k
        ann = _modal_annotation(rec, inst)
    ann.update(
        amodal_segmentation=amodal['amodal_segmentation'],
        amodal_bbox=[float(v) for v in amodal['amodal_bbox']],
        amodal_area=float(amodal['amodal_area']))
    return pos, ann


def _image_annotations(rec: Mapping[str, Any], label: Mapping[str, Any],
                       by_id: Mapping[int, Tuple[int, Dict]],
                       crowd: Sequence[Tuple[int, Dict]],
                       data_format: str) -> Tuple[List[Dict], int]:
    """The annotations of one image in file order, and how many of its
    instances have no label (left out)."""
    amodal_by_id = {a['id']: a for a in label['annotations']}
    entries, left_out = [], 0
    for k, inst in enumerate(rec['instances']):
        amodal = amodal_by_id.get(int(inst['ann_id']))
        if amodal is None:
            left_out += 1
            continue
        entries.append(
            _labelled_annotation(rec, inst, k, amodal, by_id, data_format))
    entries.extend(crowd)
    entries.sort(key=lambda e: e[0])
    return [dict(ann) for _, ann in entries], left_out


def _num_raw_instances(data: Mapping[str, Any], data_format: str,
                       num_crowd: int) -> int:
    """Instance annotations of the input file, valid or not."""
    if data_format == 'cocoa':
        return sum(len(a.get('regions', [])) for a in data['annotations'])
    return len(data.get('annotations', [])) - num_crowd


def _label_info(data: Mapping[str, Any], method: str, data_format: str,
                fingerprint: str) -> Dict[str, Any]:
    """The input's ``info`` plus ``pseudo_amodal`` (how labels were made)."""
    info = dict(data.get('info') or {})
    info['pseudo_amodal'] = dict(
        method=method, source_format=data_format, fingerprint=fingerprint,
        generator=LABEL_GENERATOR)
    return info


def build_label_files(data: Mapping[str, Any],
                      records: Sequence[Mapping[str, Any]],
                      categories: Sequence[Mapping[str, Any]],
                      labels: Mapping[int, Mapping[str, Any]],
                      data_format: str,
                      method: str,
                      fingerprint: str) -> Tuple[Dict, Dict[str, int]]:
    """Assemble an amodal COCO label file from the input and the labels.

    Crowd annotations are copied unchanged; instances without a label
    (fully occluded ones, except for ``method='gt'``) and annotations the
    reader rejected are left out and counted.

    Args:
        data (Mapping): The raw input file.
        records (Sequence[dict]): Its canonical records.
        categories (Sequence[dict]): Its categories (reader output).
        labels (Mapping[int, dict]): Image id -> :func:`image_labels` of
            the image.
        data_format (str): Reader name.
        method (str): Label method (stored in ``info['pseudo_amodal']``).
        fingerprint (str): Settings fingerprint (stored there too).

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

    images, annotations = [], []
    left_out = num_instances = 0
    for img_id in sorted(images_raw):
        rec, label = rec_by_id[img_id], labels[img_id]
        image = dict(images_raw[img_id])
        image['occlusion_edges'] = [list(e) for e in label['occlusion_edges']]
        images.append(image)
        anns, missing = _image_annotations(rec, label, by_id,
                                           crowd_by_image.get(img_id, []),
                                           data_format)
        annotations.extend(anns)
        left_out += missing
        num_instances += len(rec['instances'])

    skipped: Dict[str, int] = {}
    if left_out:
        skipped[_FULLY_OCCLUDED] = left_out
    invalid = _num_raw_instances(data, data_format, len(crowd)) - num_instances
    if invalid:
        skipped[_INVALID] = invalid

    out: Dict[str, Any] = dict(
        info=_label_info(data, method, data_format, fingerprint))
    for key, value in data.items():
        if key not in ('info', 'images', 'annotations', 'categories'):
            out[key] = value
    out['images'] = images
    out['annotations'] = annotations
    out['categories'] = [dict(c) for c in categories]
    return out, skipped


def label_provenance(data: Any) -> Dict[str, Any]:
    """``info['pseudo_amodal']`` of a label file's content.

    Args:
        data (Any): Parsed file content (anything: a non-label file gives
            an empty dict).

    Returns:
        dict: ``method``, ``source_format``, ``fingerprint`` and
        ``generator`` as written by :func:`build_label_files`, or ``{}``.
    """
    info = data.get('info') if isinstance(data, dict) else None
    meta = info.get('pseudo_amodal') if isinstance(info, dict) else None
    return meta if isinstance(meta, dict) else {}


# ----------------------------------------------------------------------
# The amodal view
# ----------------------------------------------------------------------
def amodal_view_path(out_file: str) -> str:
    """Path of the amodal view of ``out_file`` (``x.json`` ->
    ``x_amodal_view.json``)."""
    root, ext = osp.splitext(out_file)
    return root + AMODAL_VIEW_SUFFIX + (ext or '.json')


def _amodal_view_annotation(ann: Mapping[str, Any],
                            k: int) -> Mapping[str, Any]:
    """One annotation of the amodal view (unchanged without amodal mask)."""
    if 'amodal_segmentation' not in ann:
        return ann
    missing = [key for key in ('amodal_bbox', 'amodal_area')
               if key not in ann]
    if missing:
        raise AnnotationFormatError(
            f'annotation id {ann.get("id", f"#{k}")}: has '
            f'"amodal_segmentation" but no "{missing[0]}"')
    view = {
        key: value
        for key, value in ann.items()
        if key not in _MODAL_KEYS + _AMODAL_KEYS
    }
    view.update(
        segmentation=ann['amodal_segmentation'],
        bbox=ann['amodal_bbox'],
        area=ann['amodal_area'],
        modal_segmentation=ann.get('segmentation'),
        modal_bbox=ann.get('bbox'),
        modal_area=ann.get('area'))
    return view


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

    Raises:
        AnnotationFormatError: An annotation has ``amodal_segmentation`` but
            no ``amodal_bbox`` / ``amodal_area``.
    """
    out = dict(data)
    info = dict(data.get('info') or {})
    info['view'] = 'amodal'
    out['info'] = info
    out['annotations'] = [
        _amodal_view_annotation(ann, k)
        for k, ann in enumerate(data.get('annotations', []))
    ]
    return out
