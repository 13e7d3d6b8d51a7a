"""Reader of plain (modal) COCO instances files.

:func:`load_coco_modal` reads any COCO instances file (COCO, LVIS-style,
your own) as modal-only canonical records (``amodal_mask=None``);
``iscrowd=1`` annotations are not instances (counted and logged).

The per-instance-file machinery (:func:`load_instances_file`,
:func:`parse_modal_mask`, :func:`coco_instance`) is shared with the reader
of the project's amodal COCO format, :mod:`mmdeocc.datasets.amodal_coco`,
which adds the amodal fields. Both reject KINS and COCOA files with an error
naming the field that gives them away (a KINS older-release file is
COCO-like but its ``segmentation`` is amodal).

``load_amodal_coco`` moved to :mod:`mmdeocc.datasets.amodal_coco`; it is
importable from here for one more release.
"""
from typing import Any, Callable, Dict, List, Optional, Tuple

from mmdeocc.structures import (SegmentationError, empty_rle,
                                segmentation_to_rle)
from mmdeocc.utils.deprecation import moved_attribute
from .annotation_utils import (RLE, AnnotationFormatError, SkipLog,
                               box_has_area, category_labels, index_images,
                               iter_instance_annotations, load_json,
                               log_empty_images, make_instance, make_record,
                               require_keys, rle_area)

__all__ = [
    'load_coco_modal', 'load_instances_file', 'parse_modal_mask',
    'coco_instance'
]

#: ``parse(ann, label, height, width, where, skips)`` -> canonical instance,
#: or None when the annotation is skipped as invalid.
AnnotationParser = Callable[[Dict[str, Any], int, int, int, str, SkipLog],
                            Optional[Dict[str, Any]]]
#: ``image_order(img, instances, where)`` -> the image's ``gt_order``.
ImageOrder = Callable[[Dict[str, Any], List[Dict[str, Any]], str], Any]

_KINS_FIELDS = ('inmodal_seg', 'a_segm', 'i_segm')
_REQUIRED = ('id', 'image_id', 'category_id', 'segmentation', 'bbox')

_MOVED = {'load_amodal_coco': 'mmdeocc.datasets.amodal_coco'}


def __getattr__(name: str) -> Any:
    return moved_attribute(__name__, name, _MOVED)


def _check_instances_format(data: Dict[str, Any], path: str,
                            reader: str) -> None:
    """Refuse COCOA / KINS files and files without the COCO lists."""
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


def load_instances_file(path: str,
                        img_prefix: str,
                        on_invalid: str,
                        reader: str,
                        parse: AnnotationParser,
                        image_order: Optional[ImageOrder] = None
                        ) -> Tuple[List[Dict[str, Any]], List[Dict]]:
    """Read a per-instance COCO-style file into canonical records.

    Args:
        path (str): The JSON file.
        img_prefix (str): Directory joined before each ``file_name``.
        on_invalid (str): ``'skip'`` or ``'raise'`` for invalid annotations.
        reader (str): Name of the public reader (for error messages).
        parse (callable): Canonical instance of one annotation (see
            :data:`AnnotationParser`).
        image_order (callable, optional): ``gt_order`` of an image from its
            raw dict and kept instances (None: every ``gt_order`` is None).

    Returns:
        tuple[list[dict], list[dict]]: Canonical records (order of
        ``images``, images without instances included) and ``categories``.
    """
    data = load_json(path)
    _check_instances_format(data, path, reader)
    images = index_images(data, path)
    categories = data['categories']
    cat2label = category_labels(categories, path)
    skips = SkipLog(path, on_invalid)

    per_image: Dict[Any, List[Dict[str, Any]]] = {i: [] for i in images}
    for ann, where, label, h, w in iter_instance_annotations(
            data, path, images, cat2label, _REQUIRED, skips, unique_ids=True):
        inst = parse(ann, label, h, w, where, skips)
        if inst is not None:
            per_image[ann['image_id']].append(inst)

    records = []
    for img_id, img in images.items():
        instances = per_image[img_id]
        gt_order = None
        if image_order is not None:
            gt_order = image_order(img, instances,
                                   f'{path}: image id {img_id}')
        records.append(make_record(img, instances, gt_order, img_prefix))
    skips.report()
    log_empty_images(path, records)
    return records, categories


def parse_modal_mask(ann: Dict[str, Any], height: int, width: int,
                     where: str, skips: SkipLog,
                     allow_empty: bool) -> Optional[RLE]:
    """The modal mask of an annotation (``segmentation``), validated.

    Args:
        ann (dict): The annotation.
        height (int): Image height.
        width (int): Image width.
        where (str): Location for messages.
        skips (SkipLog): Collects invalid annotations.
        allow_empty (bool): Keep empty masks (fully occluded instances of
            an amodal file; ``[]`` / None then mean an empty mask).

    Returns:
        dict | None: The RLE, or None when the annotation is skipped.
    """
    segm = ann['segmentation']
    if allow_empty and segm in ([], None):
        modal_rle = empty_rle(height, width)
    else:
        try:
            modal_rle = segmentation_to_rle(segm, height, width,
                                            f'{where}, field "segmentation"')
        except SegmentationError as err:
            skips.invalid('malformed segmentation', str(err))
            return None
    modal_area = rle_area(modal_rle)
    if modal_area == 0 and not allow_empty:
        skips.invalid('empty mask',
                      f'{where}, field "segmentation": empty mask')
        return None
    if modal_area > 0 and not box_has_area(ann['bbox']):
        skips.invalid('zero-area box',
                      f'{where}, field "bbox": zero-area box {ann["bbox"]}')
        return None
    return modal_rle


def coco_instance(ann: Dict[str, Any],
                  label: int,
                  modal_rle: RLE,
                  amodal_rle: Optional[RLE] = None) -> Dict[str, Any]:
    """Canonical instance of a COCO annotation from its parsed masks.

    Args:
        ann (dict): The annotation (``id``, ``category_id``; optional
            ``depth`` and ``is_stuff`` / ``isStuff``).
        label (int): 0-based label.
        modal_rle (dict): Modal mask.
        amodal_rle (dict, optional): Amodal mask.

    Returns:
        dict: The canonical instance.
    """
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


def _parse_modal_annotation(ann: Dict[str, Any], label: int, height: int,
                            width: int, where: str,
                            skips: SkipLog) -> Optional[Dict[str, Any]]:
    """Canonical modal-only instance of one annotation (None = skipped)."""
    modal_rle = parse_modal_mask(ann, height, width, where, skips,
                                 allow_empty=False)
    return None if modal_rle is None else coco_instance(ann, label, modal_rle)


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
    return load_instances_file(path, img_prefix, on_invalid,
                               'load_coco_modal', _parse_modal_annotation)
