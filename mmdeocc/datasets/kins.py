"""Reader for KINS (amodal KITTI), both public releases (METHOD 5.1).

* Older release (``instances_train.json`` / ``instances_val.json``): per
  annotation ``segmentation`` = amodal polygons, ``bbox`` = amodal box,
  ``inmodal_seg`` = modal mask (compressed RLE), ``inmodal_bbox`` = modal box.
* 2020 release (``update_train_2020.json`` / ``update_test_2020.json``):
  ``a_segm`` / ``a_bbox`` (amodal), ``i_segm`` / ``i_bbox`` (modal),
  ``oco_id`` (occlusion cluster id), ``ico_id`` (order inside the cluster).

The release is detected from the annotation fields.

Annotated order (``gt_order``): when every kept instance of an image carries
``oco_id`` and ``ico_id`` (the 2020 release; the older release is read the
same way if it has them), instances ``i`` and ``j`` get a relation iff they
share ``oco_id``, their ``ico_id`` differ and their amodal masks intersect.
Interpretation (METHOD gives no direction): ``ico_id`` is the depth rank
inside the cluster, **smaller = nearer**, so ``gt_order[i][j] = +1`` (i
occludes j) when ``ico_id_i < ico_id_j``. Pass ``ico_smaller_is_nearer=False``
for the opposite reading. Images whose instances lack these fields get
``gt_order=None``. (The paper protocol derives the GT order from masks,
METHOD 4.1; the annotated order is for stricter variants.)

Modal boxes (``modal_bbox``, the crop boxes of PCNet training): the file's
modal box (``inmodal_bbox`` / ``i_bbox``), as the reference crops KINS
instances, when it is present and has an area; otherwise the mask's tight
box. Boxes that differ from the tight box by more than one pixel are counted
and reported in one warning. ``modal_box_source='mask'`` always uses the
tight box.

Fully occluded instances (empty modal mask, non-empty amodal mask) are kept
with ``recoverable=False`` and a zero ``modal_bbox``; they are never given a
crop from the amodal box.
"""
import logging
from typing import Any, Dict, List, Optional, Tuple

from mmengine.logging import print_log

from mmdeocc.structures import (SegmentationError, empty_rle,
                                segmentation_to_rle)
from mmdeocc.utils.validation import check_choice
from .annotation_utils import (AnnotationFormatError, SkipLog, box_has_area,
                               category_labels, index_images,
                               iter_instance_annotations, load_json,
                               log_empty_images, make_instance, make_record,
                               order_from_ranks, require_keys, rle_area)

KINS_CLASSES = ('cyclist', 'pedestrian', 'car', 'tram', 'truck', 'van',
                'misc')

# (amodal segm, amodal box, modal segm, modal box) per release.
_FIELDS = {
    'kins2017': ('segmentation', 'bbox', 'inmodal_seg', 'inmodal_bbox'),
    'kins2020': ('a_segm', 'a_bbox', 'i_segm', 'i_bbox'),
}


def detect_kins_release(data: Dict[str, Any], path: str) -> str:
    """Tell the KINS release of a parsed file from its annotation fields.

    Args:
        data (dict): The parsed file.
        path (str): File path for messages.

    Returns:
        str: ``'kins2017'`` (older release) or ``'kins2020'``.

    Raises:
        AnnotationFormatError: If the file is not a KINS file.
    """
    require_keys(data, ('images', 'annotations'), path)
    anns = data['annotations']
    if not isinstance(anns, list):
        raise AnnotationFormatError(f'{path}: "annotations" must be a list')
    if not anns:
        raise AnnotationFormatError(
            f'{path}: no annotations; cannot tell the KINS release')
    first = anns[0]
    if not isinstance(first, dict):
        raise AnnotationFormatError(
            f'{path}: annotations[0] is not a JSON object')
    where = f'{path}: annotation id {first.get("id", "?")}'
    if 'regions' in first:
        raise AnnotationFormatError(
            f'{where}: unexpected field "regions" (this is a COCOA file, '
            'use load_cocoa); a KINS file needs "inmodal_seg" (older '
            'release) or "a_segm"/"i_segm" (2020 release)')
    if 'a_segm' in first or 'i_segm' in first:
        release = 'kins2020'
    elif 'inmodal_seg' in first:
        release = 'kins2017'
    else:
        release = ''
    if release:
        require_keys(data, ('categories', ), path)
        return release
    raise AnnotationFormatError(
        f'{where}: missing field "inmodal_seg" (older KINS release) or '
        f'"a_segm"/"i_segm" (KINS 2020 release); fields present: '
        f'{sorted(first)}. Plain COCO files are read by load_coco_modal.')


def load_kins(path: str,
              img_prefix: str = '',
              on_invalid: str = 'skip',
              ico_smaller_is_nearer: bool = True,
              modal_box_source: str = 'file'
              ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """Read a KINS annotation file (either release) into canonical records.

    Args:
        path (str): ``instances_{train,val}.json`` or
            ``update_{train,test}_2020.json``.
        img_prefix (str): Directory joined before each ``file_name`` to
            form ``img_path`` (e.g. ``'data/kins/training/image_2'``).
        on_invalid (str): ``'skip'`` (log a count) or ``'raise'`` for invalid
            annotations (malformed polygons, empty masks, zero-area boxes).
        ico_smaller_is_nearer (bool): Direction of ``ico_id`` (see module
            docstring).
        modal_box_source (str): ``'file'`` (the annotated modal box when it
            has an area, as the reference) or ``'mask'`` (the tight box).

    Returns:
        tuple[list[dict], list[dict]]: Canonical records (one per image, in
        file order of ``images``, images without instances included) and
        the file's ``categories``.

    Raises:
        FileNotFoundError: Missing file.
        AnnotationFormatError: Not a KINS file, missing fields, unknown
            category or image ids.
        InvalidAnnotationError: Invalid annotation with
            ``on_invalid='raise'``.
    """
    check_choice('modal_box_source', modal_box_source, ('file', 'mask'))
    data = load_json(path)
    release = detect_kins_release(data, path)
    a_segm_key, a_box_key, i_segm_key, i_box_key = _FIELDS[release]
    images = index_images(data, path)
    categories = data['categories']
    cat2label = category_labels(categories, path)
    skips = SkipLog(path, on_invalid)

    box_check = _BoxCheck(path, i_box_key)
    per_image: Dict[Any, List[Tuple[Dict, Dict, Any, Any]]] = {
        img_id: []
        for img_id in images
    }
    required = ('id', 'image_id', 'category_id', a_segm_key, a_box_key,
                i_segm_key, i_box_key)
    for ann, where, label, h, w in iter_instance_annotations(
            data, path, images, cat2label, required, skips):
        parsed = _parse_masks(ann, release, h, w, where, skips)
        if parsed is None:
            continue
        amodal_rle, modal_rle = parsed
        inst = make_instance(ann['id'], ann['category_id'], label, modal_rle,
                             amodal_rle)
        if modal_box_source == 'file' and inst['recoverable']:
            inst['modal_bbox'] = box_check(ann, inst['modal_bbox'])
        per_image[ann['image_id']].append(
            (inst, amodal_rle, ann.get('oco_id'), ann.get('ico_id')))

    records = []
    for img_id, img in images.items():
        entries = per_image[img_id]
        instances = [e[0] for e in entries]
        gt_order = None
        if entries and all(e[2] is not None and e[3] is not None
                           for e in entries):
            ranks = [e[3] if ico_smaller_is_nearer else -e[3]
                     for e in entries]
            gt_order = order_from_ranks(ranks, [e[1] for e in entries],
                                        groups=[e[2] for e in entries])
        records.append(make_record(img, instances, gt_order, img_prefix))
    skips.report()
    box_check.report()
    log_empty_images(path, records)
    return records, categories


class _BoxCheck:
    """Takes the file's modal box and counts those far from the tight box."""

    def __init__(self, path: str, key: str, max_examples: int = 3) -> None:
        self.path, self.key, self.max_examples = path, key, max_examples
        self.used = self.far = 0
        self.examples: List[str] = []

    def __call__(self, ann: Dict[str, Any], tight: List[float]
                 ) -> List[float]:
        """The file's box if it has an area, else ``tight``."""
        box = ann.get(self.key)
        if not box_has_area(box):
            return tight
        box = [float(v) for v in box]
        self.used += 1
        if max(abs(a - b) for a, b in zip(box, tight)) > 1.0:
            self.far += 1
            if len(self.examples) < self.max_examples:
                self.examples.append(
                    f'annotation id {ann.get("id", "?")}: "{self.key}" '
                    f'{box} vs mask box {tight}')
        return box

    def report(self) -> None:
        """Warn once when boxes disagreed with their masks."""
        if self.far:
            print_log(
                f'{self.path}: {self.far} of {self.used} "{self.key}" boxes '
                'differ from their mask\'s tight box by more than 1 px; the '
                'file\'s boxes are used for crops (as the reference; '
                "modal_box_source='mask' uses the tight box). First ones: "
                + '; '.join(self.examples),
                logger='current',
                level=logging.WARNING)


def _parse_masks(ann: Dict[str, Any], release: str, height: int, width: int,
                 where: str, skips: SkipLog) -> Optional[Tuple[Dict, Dict]]:
    """Decode the amodal and modal RLEs of one annotation (None = skipped)."""
    a_segm_key, a_box_key, i_segm_key, i_box_key = _FIELDS[release]
    try:
        amodal_rle = segmentation_to_rle(ann[a_segm_key], height, width,
                                         f'{where}, field "{a_segm_key}"')
    except SegmentationError as err:
        skips.invalid('malformed amodal segmentation', str(err))
        return None
    if rle_area(amodal_rle) == 0:
        skips.invalid('empty amodal mask',
                      f'{where}, field "{a_segm_key}": empty mask')
        return None
    if not box_has_area(ann[a_box_key]):
        skips.invalid(
            'zero-area amodal box',
            f'{where}, field "{a_box_key}": zero-area box {ann[a_box_key]}')
        return None
    modal_segm = ann[i_segm_key]
    if modal_segm in ([], None):
        # A fully occluded object written without a modal segmentation.
        return amodal_rle, empty_rle(height, width)
    try:
        modal_rle = segmentation_to_rle(modal_segm, height, width,
                                        f'{where}, field "{i_segm_key}"')
    except SegmentationError as err:
        skips.invalid('malformed modal segmentation', str(err))
        return None
    if rle_area(modal_rle) > 0 and not box_has_area(ann[i_box_key]):
        skips.invalid(
            'zero-area modal box',
            f'{where}, field "{i_box_key}": zero-area box {ann[i_box_key]}')
        return None
    return amodal_rle, modal_rle
