"""Helpers shared by the annotation readers (KINS, COCOA, COCO, amodal COCO).

Every reader returns ``(records, categories)`` where ``records`` is a list of
canonical image records (``docs/design.md``)::

    dict(img_id, img_path, file_name, height, width,
         instances=[dict(ann_id, category_id, bbox_label, modal_mask,
                         modal_bbox, amodal_mask, amodal_bbox, is_stuff,
                         ignore_flag, recoverable), ...],
         gt_order=None or N x N list of lists of int)

Extra instance key (beyond the design contract): ``recoverable`` (bool) is
False when the modal (visible) mask is empty, i.e. a fully occluded object
that cannot be recovered from modal masks (its ``modal_bbox`` is all zeros).

Masks are stored as compressed COCO RLE dicts with ``str`` counts. Boxes are
the *tight pixel extent* of the decoded mask (``pycocotools.mask.toBbox``,
identical to :func:`mmdeocc.structures.mask_to_bbox`), not the annotated box,
so training and inference crop with the same boxes.

Images without instances are kept (records with ``instances=[]``; their
number is logged); image-level datasets drop them with
``filter_cfg=dict(filter_empty_gt=True)``.

Invalid annotations (polygons with fewer than 3 points, undecodable
segmentations, empty masks, zero-area annotated boxes) are either skipped and
counted (``on_invalid='skip'``, the default; one warning per file lists the
counts and the first offenders) or raise :class:`InvalidAnnotationError`
(``on_invalid='raise'``). Structural problems (wrong file format, missing
fields, unknown category ids, unknown image ids) always raise.
"""
import json
import logging
import os.path as osp
from collections import Counter
from typing import (Any, Dict, Iterable, Iterator, List, Optional, Sequence,
                    Tuple)

import numpy as np
from mmengine.logging import print_log

from mmdeocc.structures.masks import (RLE, rle_area, rle_bbox,
                                      rle_intersection_area, rle_to_json)
from mmdeocc.structures.order import order_from_edges as _order_from_edges
from mmdeocc.utils.validation import check_choice

Record = Dict[str, Any]

ON_INVALID_CHOICES = ('skip', 'raise')


class AnnotationFormatError(ValueError):
    """The file is not in the expected format (missing or unexpected fields,
    unknown category or image ids)."""


class InvalidAnnotationError(ValueError):
    """One annotation has an invalid value (malformed polygon, empty mask,
    zero-area box) and ``on_invalid='raise'`` was requested."""


def load_json(path: str) -> Dict[str, Any]:
    """Read a JSON annotation file with clear errors.

    Args:
        path (str): Path of the file.

    Returns:
        dict: The parsed top-level object.

    Raises:
        FileNotFoundError: If the file does not exist.
        AnnotationFormatError: If it is not valid JSON or not a JSON object.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation file not found: {path}')
    try:
        with open(path, 'r') as f:
            data = json.load(f)
    except json.JSONDecodeError as err:
        raise AnnotationFormatError(f'{path}: not valid JSON ({err})') from err
    if not isinstance(data, dict):
        raise AnnotationFormatError(
            f'{path}: expected a JSON object at the top level, got '
            f'{type(data).__name__}')
    return data


def require_keys(obj: Dict[str, Any], keys: Iterable[str], where: str) -> None:
    """Raise :class:`AnnotationFormatError` naming the first missing key.

    Args:
        obj (dict): The JSON object to check.
        keys (Iterable[str]): Required keys.
        where (str): Location for the message (file, entry id).
    """
    if not isinstance(obj, dict):
        raise AnnotationFormatError(
            f'{where}: expected a JSON object, got {type(obj).__name__}')
    for key in keys:
        if key not in obj:
            raise AnnotationFormatError(
                f'{where}: missing field "{key}" (fields present: '
                f'{sorted(obj)})')


def check_on_invalid(on_invalid: str) -> None:
    """Validate the ``on_invalid`` argument of a reader."""
    check_choice('on_invalid', on_invalid, ON_INVALID_CHOICES)


def index_images(data: Dict[str, Any], path: str) -> Dict[int, Dict]:
    """Map image id to image entry, validating the required image fields.

    LVIS-style entries without ``file_name`` get it from ``coco_url``
    (``'train2017/000000391895.jpg'``).

    Args:
        data (dict): Parsed annotation file with an ``images`` list.
        path (str): File path for messages.

    Returns:
        dict: ``{image_id: image entry}`` in file order.
    """
    images = {}
    if not isinstance(data['images'], list):
        raise AnnotationFormatError(f'{path}: "images" must be a list')
    for k, img in enumerate(data['images']):
        if isinstance(img, dict) and 'file_name' not in img and \
                'coco_url' in img:
            # LVIS v1 images have no file_name (same rule as mmdet's LVIS)
            img = dict(img, file_name=img['coco_url'].replace(
                'http://images.cocodataset.org/', ''))
        require_keys(img, ('id', 'file_name', 'height', 'width'),
                     f'{path}: images[{k}]')
        if img['id'] in images:
            raise AnnotationFormatError(
                f'{path}: images[{k}]: duplicate image id {img["id"]}')
        if int(img['height']) <= 0 or int(img['width']) <= 0:
            raise AnnotationFormatError(
                f'{path}: image id {img["id"]}: non-positive size '
                f'{img["height"]}x{img["width"]}')
        images[img['id']] = img
    return images


def category_labels(categories: Sequence[Dict[str, Any]],
                    path: str) -> Dict[int, int]:
    """Map dataset category ids to 0-based labels (ids sorted ascending).

    This is the label order of MMDetection's ``CocoDataset``.

    Args:
        categories (Sequence[dict]): The file's ``categories`` list.
        path (str): File path for messages.

    Returns:
        dict: ``{category_id: bbox_label}``.
    """
    ids = []
    for k, cat in enumerate(categories):
        require_keys(cat, ('id', ), f'{path}: categories[{k}]')
        ids.append(int(cat['id']))
    if len(set(ids)) != len(ids):
        raise AnnotationFormatError(f'{path}: duplicate category ids {ids}')
    return {cid: label for label, cid in enumerate(sorted(ids))}


def resolve_category(cat2label: Dict[int, int], category_id: Any,
                     where: str) -> int:
    """Return the 0-based label of ``category_id`` or raise naming it."""
    try:
        return cat2label[int(category_id)]
    except (KeyError, TypeError, ValueError):
        raise AnnotationFormatError(
            f'{where}: field "category_id" = {category_id!r} is not in the '
            f'file\'s categories (known ids: {sorted(cat2label)})') from None


def box_has_area(box: Any) -> bool:
    """Whether an annotated ``xywh`` box has positive width and height."""
    try:
        return len(box) == 4 and float(box[2]) > 0 and float(box[3]) > 0
    except (TypeError, ValueError):
        return False


class SkipLog:
    """Collects skipped annotations of one file and reports them once.

    Args:
        path (str): The annotation file.
        on_invalid (str): ``'skip'`` (count and log) or ``'raise'``.
        max_examples (int): Number of offenders quoted in the log.
    """

    def __init__(self, path: str, on_invalid: str = 'skip',
                 max_examples: int = 5) -> None:
        check_on_invalid(on_invalid)
        self.path = path
        self.on_invalid = on_invalid
        self.max_examples = max_examples
        self.counts: Counter = Counter()
        self.examples: List[str] = []
        self.notes: Counter = Counter()

    def invalid(self, reason: str, message: str) -> None:
        """Record (or raise for) an invalid annotation.

        Args:
            reason (str): Short category used for counting.
            message (str): Full message naming file, annotation and field.
        """
        if self.on_invalid == 'raise':
            raise InvalidAnnotationError(message)
        self.counts[reason] += 1
        if len(self.examples) < self.max_examples:
            self.examples.append(message)

    def note(self, what: str, count: int = 1) -> None:
        """Count a documented, expected event (e.g. crowd annotations)."""
        self.notes[what] += count

    @property
    def num_skipped(self) -> int:
        """Total number of skipped invalid annotations."""
        return sum(self.counts.values())

    def report(self) -> None:
        """Log the counts through mmengine's current logger."""
        if self.notes:
            notes = ', '.join(f'{v} {k}'
                              for k, v in sorted(self.notes.items()))
            print_log(f'{self.path}: {notes}', logger='current',
                      level=logging.INFO)
        if self.counts:
            counts = ', '.join(f'{v} x {k}'
                               for k, v in sorted(self.counts.items()))
            examples = '\n  '.join(self.examples)
            print_log(
                f'{self.path}: skipped {self.num_skipped} invalid '
                f'annotation(s) ({counts}). First ones:\n  {examples}',
                logger='current',
                level=logging.WARNING)


def iter_instance_annotations(
        data: Dict[str, Any],
        path: str,
        images: Dict[Any, Dict[str, Any]],
        cat2label: Dict[int, int],
        required: Iterable[str],
        skips: 'SkipLog',
        unique_ids: bool = False
) -> Iterator[Tuple[Dict[str, Any], str, int, int, int]]:
    """Validate a COCO-style ``annotations`` list; yield its instances.

    For every entry: the required fields are present, ``image_id`` is an
    image of the file and ``category_id`` a known category (else
    :class:`AnnotationFormatError` naming the file and annotation);
    ``iscrowd=1`` entries are counted in ``skips`` and not yielded.

    Args:
        data (dict): The parsed file.
        path (str): File path, for messages.
        images (dict): ``index_images`` output.
        cat2label (dict): ``category_labels`` output.
        required (Iterable[str]): Fields every annotation must have.
        skips (SkipLog): Where crowd annotations are counted.
        unique_ids (bool): Also refuse a repeated annotation ``id``.

    Yields:
        tuple: ``(ann, where, label, height, width)``: the annotation, its
        description for messages, its contiguous label and its image size.
    """
    seen_ids = set()
    for k, ann in enumerate(data['annotations']):
        where = f'{path}: annotation id {ann.get("id", f"#{k}")}' \
            if isinstance(ann, dict) else f'{path}: annotations[{k}]'
        require_keys(ann, required, where)
        if unique_ids:
            if ann['id'] in seen_ids:
                raise AnnotationFormatError(
                    f'{where}: duplicate annotation id {ann["id"]}')
            seen_ids.add(ann['id'])
        if ann['image_id'] not in images:
            raise AnnotationFormatError(
                f'{where}: field "image_id" = {ann["image_id"]!r} is not in '
                '"images"')
        label = resolve_category(cat2label, ann['category_id'], where)
        if ann.get('iscrowd', 0):
            skips.note('crowd annotations (iscrowd=1, not instances)')
            continue
        img = images[ann['image_id']]
        yield ann, where, label, int(img['height']), int(img['width'])


def make_instance(ann_id: int,
                  category_id: int,
                  bbox_label: int,
                  modal_rle: RLE,
                  amodal_rle: Optional[RLE] = None,
                  is_stuff: bool = False,
                  ignore_flag: int = 0,
                  **extra: Any) -> Dict[str, Any]:
    """Build one canonical instance dict from RLEs (boxes from the masks).

    Args:
        ann_id (int): Annotation id (unique within the file).
        category_id (int): The dataset's own category id.
        bbox_label (int): 0-based label.
        modal_rle (dict): Modal (visible) mask RLE; may be empty.
        amodal_rle (dict, optional): Amodal mask RLE or None.
        is_stuff (bool): COCOA stuff region.
        ignore_flag (int): 1 to ignore in training/evaluation.
        **extra: Additional keys copied into the dict.

    Returns:
        dict: The canonical instance.
    """
    modal_area = rle_area(modal_rle)
    inst = dict(
        ann_id=int(ann_id),
        category_id=int(category_id),
        bbox_label=int(bbox_label),
        modal_mask=rle_to_json(modal_rle),
        modal_bbox=rle_bbox(modal_rle) if modal_area else [0.0] * 4,
        amodal_mask=None if amodal_rle is None else rle_to_json(amodal_rle),
        amodal_bbox=None if amodal_rle is None else rle_bbox(amodal_rle),
        is_stuff=bool(is_stuff),
        ignore_flag=int(ignore_flag),
        recoverable=modal_area > 0)
    inst.update(extra)
    return inst


def make_record(img: Dict[str, Any], instances: List[Dict[str, Any]],
                gt_order: Optional[np.ndarray],
                img_prefix: str = '') -> Record:
    """Build one canonical image record.

    Args:
        img (dict): The COCO image entry.
        instances (list[dict]): Canonical instances.
        gt_order (np.ndarray, optional): ``(N, N)`` annotated order.
        img_prefix (str): Directory joined before ``file_name``.

    Returns:
        dict: The canonical record.
    """
    file_name = img['file_name']
    return dict(
        img_id=int(img['id']),
        img_path=osp.join(img_prefix, file_name) if img_prefix else file_name,
        file_name=file_name,
        height=int(img['height']),
        width=int(img['width']),
        instances=instances,
        gt_order=None if gt_order is None else
        np.asarray(gt_order, dtype=np.int8).tolist())


def order_from_edges(num: int, edges: Iterable[Tuple[int, int]],
                     where: str) -> Tuple[np.ndarray, int]:
    """:func:`mmdeocc.structures.order.order_from_edges` for annotation files.

    Args:
        num (int): Number of instances.
        edges (Iterable[tuple[int, int]]): 0-based index pairs.
        where (str): Location for error messages.

    Returns:
        tuple[np.ndarray, int]: ``(N, N)`` int8 order matrix and the number
        of contradicting pairs (left at 0).

    Raises:
        AnnotationFormatError: An object occludes itself or an index is out
            of range.
    """
    try:
        return _order_from_edges(num, edges, where)
    except ValueError as err:
        raise AnnotationFormatError(str(err)) from None


def order_from_ranks(ranks: Sequence[float], amodal_rles: Sequence[RLE],
                     groups: Optional[Sequence[Any]] = None) -> np.ndarray:
    """Order matrix from depth ranks (smaller rank = nearer).

    A pair gets a relation only if its amodal masks intersect (objects that
    do not overlap cannot occlude each other), both ranks differ, and (when
    ``groups`` is given) both belong to the same group (occlusion cluster).

    Args:
        ranks (Sequence[float]): Depth rank per instance.
        amodal_rles (Sequence[dict]): Amodal RLE per instance.
        groups (Sequence, optional): Cluster id per instance.

    Returns:
        np.ndarray: ``(N, N)`` int8 order matrix.
    """
    num = len(ranks)
    order = np.zeros((num, num), dtype=np.int8)
    for i in range(num):
        for j in range(i + 1, num):
            if groups is not None and groups[i] != groups[j]:
                continue
            if ranks[i] == ranks[j]:
                continue
            if rle_intersection_area(amodal_rles[i], amodal_rles[j]) == 0:
                continue
            sign = 1 if ranks[i] < ranks[j] else -1
            order[i, j] = sign
            order[j, i] = -sign
    return order


def log_empty_images(path: str, records: List[Record]) -> None:
    """Log how many images have no instances (they are kept)."""
    num_empty = sum(1 for r in records if not r['instances'])
    if num_empty:
        print_log(
            f'{path}: {num_empty} of {len(records)} image(s) have no valid '
            'instances (kept; image-level datasets drop them with '
            'filter_cfg=dict(filter_empty_gt=True))',
            logger='current',
            level=logging.INFO)
