"""Readers for per-instance COCO files: plain modal COCO and mmdeocc amodal.

* :func:`load_coco_modal`: any COCO instances file (COCO, LVIS-style, your
  own). Modal masks only (``amodal_mask=None``); ``iscrowd=1`` annotations
  are not instances (counted and logged).
* :func:`load_amodal_coco`: the project's own amodal format
  (``docs/design.md``): a COCO instances file whose ``segmentation`` /
  ``bbox`` / ``area`` are modal, plus per annotation ``amodal_segmentation``
  (RLE or polygons), ``amodal_bbox``, ``amodal_area`` (optional ``depth``,
  0 = nearest, and ``is_stuff``; crowd annotations need no amodal fields),
  and per image ``occlusion_edges`` = ``[[occluder_ann_id,
  occludee_ann_id], ...]`` giving ``gt_order``
  (images without the key get ``gt_order=None``). An annotation whose modal
  mask is empty but amodal mask is not is kept as a fully occluded instance
  (``recoverable=False``).

Both reject KINS and COCOA files with an error naming the field that gives
them away (a KINS older-release file is COCO-like but its ``segmentation``
is amodal).
"""
from typing import Any, Dict, List, Tuple

from mmdeocc.structures import SegmentationError, segmentation_to_rle
from .annotation_utils import (AnnotationFormatError, SkipLog, box_has_area,
                               category_labels, empty_rle, index_images,
                               iter_instance_annotations, load_json,
                               log_empty_images, make_instance, make_record,
                               order_from_edges, require_keys, rle_area)

_KINS_FIELDS = ('inmodal_seg', 'a_segm', 'i_segm')


def _check_instances_format(data: Dict[str, Any], path: str,
                            reader: str) -> None:
    require_keys(data, ('images', 'annotations'), path)
    anns = data['annotations']
    if not isinstance(anns, list):
        raise AnnotationFormatError(f'{path}: "annotations" must be a list')
    for ann in anns[:1]:
        if not isinstance(ann, dict):
            raise AnnotationFormatError(
                f'{path}: annotations[0] is not a JSON object')
        where = f'{path}: annotation id {ann.get("id", "?")}'
        if 'regions' in ann:
            raise AnnotationFormatError(
                f'{where}: unexpected field "regions" (this is a COCOA file, '
                f'use load_cocoa instead of {reader})')
        for key in _KINS_FIELDS:
            if key in ann:
                raise AnnotationFormatError(
                    f'{where}: unexpected field "{key}" (this is a KINS '
                    f'file, use load_kins instead of {reader})')
    require_keys(data, ('categories', ), path)


def _load_instances_file(path: str, img_prefix: str, on_invalid: str,
                         amodal: bool
                         ) -> Tuple[List[Dict[str, Any]], List[Dict]]:
    reader = 'load_amodal_coco' if amodal else 'load_coco_modal'
    data = load_json(path)
    _check_instances_format(data, path, reader)
    images = index_images(data, path)
    categories = data['categories']
    cat2label = category_labels(categories, path)
    skips = SkipLog(path, on_invalid)

    required = ('id', 'image_id', 'category_id', 'segmentation', 'bbox')
    per_image: Dict[Any, List[Dict[str, Any]]] = {i: [] for i in images}
    for ann, where, label, h, w in iter_instance_annotations(
            data, path, images, cat2label, required, skips, unique_ids=True):
        if amodal:
            if 'amodal_segmentation' not in ann:
                raise AnnotationFormatError(
                    f'{where}: missing field "amodal_segmentation": not an '
                    'mmdeocc amodal file (plain COCO files are read by '
                    'load_coco_modal)')
            require_keys(ann, ('amodal_bbox', ), where)
        inst = _parse_annotation(ann, label, h, w, where, amodal, skips)
        if inst is not None:
            per_image[ann['image_id']].append(inst)

    records = []
    for img_id, img in images.items():
        instances = per_image[img_id]
        gt_order = None
        if amodal and 'occlusion_edges' in img:
            gt_order = _order_from_occlusion_edges(
                img['occlusion_edges'], instances, f'{path}: image id '
                f'{img_id}, field "occlusion_edges"')
        records.append(make_record(img, instances, gt_order, img_prefix))
    skips.report()
    log_empty_images(path, records)
    return records, categories


def _parse_annotation(ann: Dict[str, Any], label: int, height: int,
                      width: int, where: str, amodal: bool,
                      skips: SkipLog) -> Any:
    """Canonical instance of one COCO annotation (None = skipped)."""
    amodal_rle = None
    if amodal:
        try:
            amodal_rle = segmentation_to_rle(
                ann['amodal_segmentation'], height, width,
                f'{where}, field "amodal_segmentation"')
        except SegmentationError as err:
            skips.invalid('malformed amodal segmentation', str(err))
            return None
        if rle_area(amodal_rle) == 0:
            skips.invalid(
                'empty amodal mask',
                f'{where}, field "amodal_segmentation": empty mask')
            return None
        if not box_has_area(ann['amodal_bbox']):
            skips.invalid(
                'zero-area amodal box', f'{where}, field "amodal_bbox": '
                f'zero-area box {ann["amodal_bbox"]}')
            return None
    segm = ann['segmentation']
    if amodal and segm in ([], None):
        modal_rle = empty_rle(height, width)  # fully occluded
    else:
        try:
            modal_rle = segmentation_to_rle(segm, height, width,
                                            f'{where}, field "segmentation"')
        except SegmentationError as err:
            skips.invalid('malformed segmentation', str(err))
            return None
    modal_area = rle_area(modal_rle)
    if modal_area == 0 and not amodal:
        skips.invalid('empty mask',
                      f'{where}, field "segmentation": empty mask')
        return None
    if modal_area > 0 and not box_has_area(ann['bbox']):
        skips.invalid('zero-area box',
                      f'{where}, field "bbox": zero-area box {ann["bbox"]}')
        return None
    extra = {}
    if 'depth' in ann:
        extra['depth'] = ann['depth']
    return make_instance(
        ann['id'],
        ann['category_id'],
        label,
        modal_rle,
        amodal_rle,
        is_stuff=bool(ann.get('is_stuff', ann.get('isStuff', False))),
        **extra)


def _order_from_occlusion_edges(edges: Any, instances: List[Dict[str, Any]],
                                where: str) -> Any:
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


def load_coco_modal(path: str,
                    img_prefix: str = '',
                    on_invalid: str = 'skip'
                    ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Read any COCO instances file as modal-only canonical records.

    Args:
        path (str): COCO instances JSON.
        img_prefix (str): Directory joined before each ``file_name``.
        on_invalid (str): ``'skip'`` (log a count) or ``'raise'`` for invalid
            annotations (polygons with < 3 points, empty masks, zero-area
            boxes).

    Returns:
        tuple[list[dict], list[dict]]: Canonical records (order of
        ``images``, images without instances included) and ``categories``.

    Raises:
        FileNotFoundError: Missing file.
        AnnotationFormatError: Wrong format (COCOA/KINS), missing fields,
            unknown category/image ids, duplicate annotation ids.
        InvalidAnnotationError: Invalid annotation with
            ``on_invalid='raise'``.
    """
    return _load_instances_file(path, img_prefix, on_invalid, amodal=False)


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
    return _load_instances_file(path, img_prefix, on_invalid, amodal=True)
