"""Reader for COCOA, the COCO amodal annotations (METHOD 5.2).

``COCO_amodal_{train,val,test}2014.json`` has COCO ``images`` and
``annotations`` with **one entry per image** (``image_id``, ``regions``,
``depth_constraint``, ``size``). Entries are joined to images by
``image_id``, never by list position.

Per region: ``segmentation`` = amodal polygon (a flat list), ``visible_mask``
and ``invisible_mask`` = RLE (present only when the region is occluded),
``order`` (1-based depth rank, smaller = nearer), ``isStuff``, ``name``.
The modal mask is ``visible_mask`` if present, else the amodal polygon.

Conventions of this reader:

* ``category_id`` is the constant 1 for every region (METHOD 1.2; COCOA
  regions carry free-text names only, kept in the instance key ``name``);
  ``categories`` is the file's own list if it has one, else
  ``[{'id': 1, 'name': 'object'}]``.
* ``ann_id = image_id * 1000 + region_index`` (regions have no ids), so an
  id names its region.
* Fully occluded regions (``visible_mask`` present but empty) are kept with
  ``recoverable=False`` and a zero ``modal_bbox``: they cannot be recovered
  from modal masks (the reference cropped them with the GT amodal box,
  which leaks ground truth; we don't).
* ``gt_order``: from ``depth_constraint`` (``"a-b,c-d"``, 1-based region
  indices, ``a`` occludes ``b``) when the key is present (an empty string
  means no relations); otherwise from the per-region ``order`` ranks for
  pairs whose amodal masks intersect; otherwise None. Constraints naming a
  skipped region are dropped; contradicting pairs are left at 0 (counted in
  the log).
"""
import logging
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from mmengine.logging import print_log

from mmdeocc.structures import SegmentationError, segmentation_to_rle
from .annotation_utils import (AnnotationFormatError, SkipLog,
                               category_labels, index_images, load_json,
                               log_empty_images, make_instance, make_record,
                               order_from_edges, order_from_ranks,
                               require_keys, rle_area)

COCOA_CATEGORY_ID = 1
COCOA_CATEGORIES = [dict(id=COCOA_CATEGORY_ID, name='object',
                         supercategory='object')]
MAX_REGIONS_PER_IMAGE = 1000


def _check_cocoa_format(data: Dict[str, Any], path: str) -> None:
    require_keys(data, ('images', 'annotations'), path)
    anns = data['annotations']
    if not isinstance(anns, list):
        raise AnnotationFormatError(f'{path}: "annotations" must be a list')
    if anns and isinstance(anns[0], dict) and 'regions' not in anns[0]:
        first = anns[0]
        hint = ''
        if 'inmodal_seg' in first or 'a_segm' in first:
            hint = ' (this is a KINS file, use load_kins)'
        elif 'segmentation' in first:
            hint = (' (this is a per-instance COCO file, use load_coco_modal '
                    'or load_amodal_coco)')
        raise AnnotationFormatError(
            f'{path}: annotation entry for image_id '
            f'{first.get("image_id", "?")}: missing field "regions"{hint}; '
            'a COCOA file has one entry per image with a "regions" list')


def parse_depth_constraint(text: Any, num_regions: int,
                           where: str) -> List[Tuple[int, int]]:
    """Parse a COCOA ``depth_constraint`` string into 0-based index pairs.

    Args:
        text (str): e.g. ``"1-2,1-3"`` (1-based; ``1-2``: region 1 occludes
            region 2). Empty string = no constraints.
        num_regions (int): Number of regions of the image.
        where (str): Location for error messages.

    Returns:
        list[tuple[int, int]]: ``(occluder, occludee)`` 0-based pairs.

    Raises:
        AnnotationFormatError: Malformed text or out-of-range indices.
    """
    if not isinstance(text, str):
        raise AnnotationFormatError(
            f'{where}, field "depth_constraint": expected a string like '
            f'"1-2,3-4", got {type(text).__name__}')
    pairs = []
    for token in text.split(','):
        token = token.strip()
        if not token:
            continue
        parts = token.split('-')
        try:
            front, back = (int(p) for p in parts)
        except ValueError:
            raise AnnotationFormatError(
                f'{where}, field "depth_constraint": malformed pair '
                f'{token!r} in {text!r}') from None
        for idx in (front, back):
            if not 1 <= idx <= num_regions:
                raise AnnotationFormatError(
                    f'{where}, field "depth_constraint": region index {idx} '
                    f'out of range 1..{num_regions} in {text!r}')
        pairs.append((front - 1, back - 1))
    return pairs


def load_cocoa(path: str,
               img_prefix: str = '',
               on_invalid: str = 'skip'
               ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Read a COCOA file into canonical records.

    Args:
        path (str): ``COCO_amodal_{train,val,test}2014.json``.
        img_prefix (str): Directory joined before each ``file_name``.
        on_invalid (str): ``'skip'`` (log a count) or ``'raise'`` for invalid
            regions (malformed polygons/RLE, empty amodal masks).

    Returns:
        tuple[list[dict], list[dict]]: Canonical records in the order of
        ``images`` (images without an annotation entry have no instances)
        and the categories (see module docstring).

    Raises:
        FileNotFoundError: Missing file.
        AnnotationFormatError: Not a COCOA file, missing fields, duplicate
            or unknown ``image_id``, malformed ``depth_constraint``.
        InvalidAnnotationError: Invalid region with ``on_invalid='raise'``.
    """
    data = load_json(path)
    _check_cocoa_format(data, path)
    images = index_images(data, path)
    categories = data.get('categories') or COCOA_CATEGORIES
    cat2label = category_labels(categories, path)
    if COCOA_CATEGORY_ID not in cat2label:
        raise AnnotationFormatError(
            f'{path}: field "categories" has no id {COCOA_CATEGORY_ID}, '
            'the constant COCOA category')
    label = cat2label[COCOA_CATEGORY_ID]
    skips = SkipLog(path, on_invalid)

    entries: Dict[Any, Dict[str, Any]] = {}
    for k, ann in enumerate(data['annotations']):
        where = f'{path}: annotations[{k}]'
        require_keys(ann, ('image_id', 'regions'), where)
        img_id = ann['image_id']
        if img_id not in images:
            raise AnnotationFormatError(
                f'{where}: field "image_id" = {img_id!r} is not in "images"')
        if img_id in entries:
            raise AnnotationFormatError(
                f'{where}: a second annotation entry for image_id {img_id}; '
                'COCOA has one entry (with all regions) per image')
        if not isinstance(ann['regions'], list):
            raise AnnotationFormatError(
                f'{where}: field "regions" must be a list')
        if len(ann['regions']) >= MAX_REGIONS_PER_IMAGE:
            raise AnnotationFormatError(
                f'{where}: {len(ann["regions"])} regions; at most '
                f'{MAX_REGIONS_PER_IMAGE - 1} are supported')
        entries[img_id] = ann

    num_conflicts = 0
    records = []
    for img_id, img in images.items():
        ann = entries.get(img_id)
        if ann is None:
            records.append(make_record(img, [], None, img_prefix))
            continue
        h, w = int(img['height']), int(img['width'])
        where_img = f'{path}: image_id {img_id}'
        instances, amodals, ranks, kept = [], [], [], {}
        for r, region in enumerate(ann['regions']):
            where = f'{where_img}, region {r}'
            parsed = _parse_region(region, h, w, where, skips)
            if parsed is None:
                continue
            amodal_rle, modal_rle = parsed
            kept[r] = len(instances)
            instances.append(
                make_instance(
                    int(img_id) * MAX_REGIONS_PER_IMAGE + r,
                    COCOA_CATEGORY_ID,
                    label,
                    modal_rle,
                    amodal_rle,
                    is_stuff=bool(region.get('isStuff', 0)),
                    name=region.get('name')))
            amodals.append(amodal_rle)
            ranks.append(region.get('order'))
        gt_order: Optional[np.ndarray] = None
        if 'depth_constraint' in ann:
            pairs = parse_depth_constraint(ann['depth_constraint'],
                                           len(ann['regions']), where_img)
            pairs = [(kept[a], kept[b]) for a, b in pairs
                     if a in kept and b in kept]
            gt_order, conflicts = order_from_edges(len(instances), pairs,
                                                   where_img)
            num_conflicts += conflicts
        elif instances and all(rank is not None for rank in ranks):
            gt_order = order_from_ranks(ranks, amodals)
        records.append(make_record(img, instances, gt_order, img_prefix))
    skips.report()
    if num_conflicts:
        print_log(
            f'{path}: {num_conflicts} contradicting depth_constraint pair(s) '
            'left without relation', logger='current', level=logging.WARNING)
    log_empty_images(path, records)
    return records, categories


def _parse_region(region: Dict[str, Any], height: int, width: int,
                  where: str, skips: SkipLog) -> Optional[Tuple[Dict, Dict]]:
    """Amodal and modal RLEs of one region (None = skipped as invalid)."""
    require_keys(region, ('segmentation', ), where)
    try:
        amodal_rle = segmentation_to_rle(region['segmentation'], height,
                                         width, f'{where}, field '
                                         '"segmentation"')
    except SegmentationError as err:
        skips.invalid('malformed amodal polygon', str(err))
        return None
    if rle_area(amodal_rle) == 0:
        skips.invalid('empty amodal mask',
                      f'{where}, field "segmentation": empty mask')
        return None
    if region.get('visible_mask') is None:
        return amodal_rle, amodal_rle
    try:
        modal_rle = segmentation_to_rle(region['visible_mask'], height, width,
                                        f'{where}, field "visible_mask"')
    except SegmentationError as err:
        skips.invalid('malformed visible_mask', str(err))
        return None
    return amodal_rle, modal_rle
