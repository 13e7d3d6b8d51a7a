"""Instance dataset with ground-truth amodal supervision (PCNet-Sup).

:class:`SupervisedAmodalInstanceDataset` is :class:`PCNetInstanceDataset`
(same usable instances, same per-sample random generators, same mask cache)
whose target instance dicts also carry the target's ground-truth amodal mask,
the union of the modal masks of its ground-truth ancestors and the union of
the modal masks of its *non-occluders* (objects touching it that are not
among its ancestors, mostly objects behind it) - everything
:class:`~mmdeocc.datasets.transforms.SupervisedAmodalSample` needs. Only
datasets with amodal ground truth work (KINS, COCOA, the mmdeocc amodal
format, e.g. the generated occlusion scenes).

Ground-truth ancestors of object i = every object occluding i directly or
transitively (:func:`mmdeocc.deocclusion.ancestor_matrix`) in the
ground-truth order, taken from

* ``order_source='masks'`` (default): the order derived from the masks as in
  the evaluation protocol (METHOD 4.1, touching pairs, ``i`` occludes ``j``
  when ``modal_i`` covers more of ``amodal_j`` than the reverse; see
  :func:`mmdeocc.evaluation.functional.gt_order_from_masks`), available for
  every amodal dataset;
* ``order_source='annotation'``: the record's annotated ``gt_order`` (COCOA
  ``depth_constraint``, KINS 2020 clusters, the scenes' ``occlusion_edges``).

Non-occluders of object i = the objects whose modal masks touch i's (the
touch test of METHOD 2.1, the only pairs an ordering relates) and that are
not ancestors of i. The transform adds them to some erasers (the PCNet-Sup
counterpart of PCNet-M's case 2, "eraser behind"): at test time the eraser
is built from a *predicted* order, and a wrongly ordered neighbour then
joins it; a model that only ever saw true occluders as erasers grows into
it.

The ancestors are computed once per image when the annotations are loaded
(every mask of an image is decoded once); the per-target amodal mask,
ancestors' union and non-occluders' union are kept as compressed RLEs of
their tight boxes and decoded on demand into the dataset's mask cache.
"""
import logging
import time
from typing import Any, Dict, List, Tuple

import numpy as np
import pycocotools.mask as mask_utils
from mmdet.registry import DATASETS
from mmengine.logging import print_log

from mmdeocc.structures import decode_rle
from mmdeocc.structures.order import (TIE_RULES, ancestor_matrix,
                                      gt_order_from_masks, touch_matrix)
from mmdeocc.utils.validation import check_choice
from .pcnet_instance_dataset import PCNetInstanceDataset

ORDER_SOURCES = ('masks', 'annotation')
TightRLE = Tuple[Tuple[int, int], bytes, Tuple[int, int]]


def _tight_rle(mask: np.ndarray) -> TightRLE:
    """``((x, y), counts, (h, w))``: RLE of a mask's tight-box crop.

    An empty mask gives a 1 x 1 empty crop at ``(0, 0)``.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        crop = np.zeros((1, 1), dtype=np.uint8)
        offset = (0, 0)
    else:
        cols = np.flatnonzero(mask.any(axis=0))
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        crop = mask[y0:y1, x0:x1].astype(np.uint8)
        offset = (int(x0), int(y0))
    rle = mask_utils.encode(np.asfortranarray(crop))
    return offset, rle['counts'], (int(crop.shape[0]), int(crop.shape[1]))


def _decode_tight(rle: TightRLE) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Inverse of :func:`_tight_rle`: ``(mask, offset)``."""
    offset, counts, size = rle
    mask = mask_utils.decode(dict(size=list(size), counts=counts))
    return np.ascontiguousarray(mask, dtype=bool), offset


@DATASETS.register_module()
class SupervisedAmodalInstanceDataset(PCNetInstanceDataset):
    """PCNet instances with their ground-truth amodal mask and occluders.

    Target instance dicts (``results['target_inst']``) get six keys on top
    of :class:`PCNetInstanceDataset`'s: ``amodal_mask`` (bool tight-box
    crop of the ground-truth amodal mask), ``amodal_offset`` (its ``(x, y)``
    image position), ``occluder_mask`` / ``occluder_offset`` (the union of
    the modal masks of the target's ground-truth ancestors, a 1 x 1 empty
    mask when nothing occludes it) and ``nonoccluder_mask`` /
    ``nonoccluder_offset`` (the union of the modal masks of the touching
    objects that are not ancestors; module docstring). Erasers drawn by the
    base class are plain instances (the supervised transform does not use
    them).

    Config example (``configs/pcnet_sup_shapes_cpu.py``)::

        dataset=dict(
            type='SupervisedAmodalInstanceDataset',
            ann_file='data/scenes/train/annotations.json',
            data_format='amodal_coco',
            order_source='masks',
            pipeline=[dict(type='SupervisedAmodalSample', size=128,
                           nonoccluder_prob=0.2),
                      dict(type='PackPCNetInputs')])

    Args:
        order_source (str): ``'masks'`` or ``'annotation'`` (module
            docstring).
        tie_rule (str): Tie rule of the mask-derived order
            (``'reference'`` or ``'ignore'``).
        *args, **kwargs: :class:`PCNetInstanceDataset` arguments.

    Raises:
        ValueError: An image has instances without an amodal mask, or
            ``order_source='annotation'`` and an image with several
            instances has no annotated order.
    """

    def __init__(self,
                 *args: Any,
                 order_source: str = 'masks',
                 tie_rule: str = 'reference',
                 **kwargs: Any) -> None:
        check_choice('order_source', order_source, ORDER_SOURCES)
        check_choice('tie_rule', tie_rule, TIE_RULES)
        self.order_source = order_source
        self.tie_rule = tie_rule
        self._supervision: Dict[Tuple[Any, Any], Tuple[TightRLE, TightRLE,
                                                       TightRLE]] = {}
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------ loading
    def _source_name(self) -> str:
        return self.ann_file or type(self._source_dataset).__name__

    def _image_order(self, record: Dict[str, Any], kept: List[int],
                     modal: np.ndarray, amodal: np.ndarray) -> np.ndarray:
        """Ground-truth order of the kept instances of one image."""
        if self.order_source == 'masks':
            return gt_order_from_masks(modal, amodal, self.tie_rule)
        full = record.get('gt_order')
        num = len(record['instances'])
        if full is None:
            if len(kept) < 2:
                return np.zeros((len(kept), len(kept)), np.int8)
            raise ValueError(
                f'{self._source_name()}: image id {record["img_id"]} has no '
                'annotated order (gt_order is None); use '
                "order_source='masks'")
        full = np.asarray(full, dtype=np.int8)
        if full.shape != (num, num):
            raise ValueError(
                f'{self._source_name()}: image id {record["img_id"]}: '
                f'gt_order has shape {full.shape}, expected ({num}, {num})')
        return full[np.ix_(kept, kept)]

    def _image_supervision(self, record: Dict[str, Any]) -> None:
        """Amodal masks, ancestors' and non-occluders' unions of one
        image's instances."""
        instances = record['instances']
        kept = [
            k for k, inst in enumerate(instances)
            if not int(inst.get('ignore_flag', 0) or 0)
        ]
        if not kept:
            return
        missing = [
            instances[k]['ann_id'] for k in kept
            if instances[k].get('amodal_mask') is None
        ]
        if missing:
            raise ValueError(
                f'{self._source_name()}: image id {record["img_id"]}: '
                f'instances (ann_id) {missing[:10]} have no amodal_mask; '
                'PCNet-Sup needs ground-truth amodal masks (KINS, COCOA or '
                'the mmdeocc amodal format)')
        modal = np.stack(
            [decode_rle(instances[k]['modal_mask']) for k in kept]).astype(
                bool)
        amodal = np.stack(
            [decode_rle(instances[k]['amodal_mask']) for k in kept]).astype(
                bool)
        order = self._image_order(record, kept, modal, amodal)
        ancestors = ancestor_matrix(order)
        nonoccluders = touch_matrix(modal) & ~ancestors
        np.fill_diagonal(nonoccluders, False)
        empty = np.zeros(modal.shape[1:], dtype=bool)
        for row, k in enumerate(kept):
            unions = [
                modal[members].any(axis=0) if members.any() else empty
                for members in (ancestors[row], nonoccluders[row])
            ]
            key = (record['img_id'], instances[k]['ann_id'])
            self._supervision[key] = (_tight_rle(amodal[row]),
                                      _tight_rle(unions[0]),
                                      _tight_rle(unions[1]))

    def _load_records(self) -> List[Dict[str, Any]]:
        """Read the records and compute the supervision of every instance."""
        records = super()._load_records()
        start = time.perf_counter()
        self._supervision = {}
        for record in records:
            self._image_supervision(record)
        print_log(
            f'SupervisedAmodalInstanceDataset: ground-truth ancestors '
            f'(order from {self.order_source}) of {len(self._supervision)} '
            f'instances in {time.perf_counter() - start:.1f} s',
            logger='current',
            level=logging.INFO)
        return records

    def load_data_list(self) -> List[Dict[str, Any]]:
        """The base data list plus ``amodal_rle``, ``occluder_rle`` and
        ``nonoccluder_rle``.

        Returns:
            list[dict]: One entry per usable instance.
        """
        data_list = super().load_data_list()
        for entry in data_list:
            amodal, occluder, nonoccluder = self._supervision[(
                entry['img_id'], entry['ann_id'])]
            entry['amodal_rle'] = amodal
            entry['occluder_rle'] = occluder
            entry['nonoccluder_rle'] = nonoccluder
        self._supervision = {}
        return data_list

    # ------------------------------------------------------------ items
    def _cached_tight(self, kind: str, index: int,
                      rle: TightRLE) -> Tuple[np.ndarray, Tuple[int, int]]:
        """Decode (or fetch from the mask cache) a tight-box mask."""
        mask = self._cache.get((kind, index))
        if mask is None:
            mask, _ = _decode_tight(rle)
            self._cache.put((kind, index), mask)
        return mask, tuple(rle[0])

    def get_instance(self, index: int) -> Dict[str, Any]:
        """Target instance dict with its supervision (class docstring).

        Args:
            index (int): Index in ``[0, len(self))``.

        Returns:
            dict: The instance dict.
        """
        inst = super().get_instance(index)
        info = self.get_data_info(index)
        inst['amodal_mask'], inst['amodal_offset'] = self._cached_tight(
            'amodal', index, info['amodal_rle'])
        inst['occluder_mask'], inst['occluder_offset'] = self._cached_tight(
            'occluder', index, info['occluder_rle'])
        inst['nonoccluder_mask'], inst['nonoccluder_offset'] = \
            self._cached_tight('nonoccluder', index, info['nonoccluder_rle'])
        return inst

    def draw_eraser(self, rng: np.random.Generator) -> Dict[str, Any]:
        """A random plain instance (same draw as the base class)."""
        return super().get_instance(int(rng.integers(len(self))))

    def supervision(self, index: int) -> Dict[str, np.ndarray]:
        """The full-size supervision masks of instance ``index`` (for tools
        and tests).

        Args:
            index (int): Index in ``[0, len(self))``.

        Returns:
            dict: ``amodal``, ``occluders`` and ``nonoccluders``:
            ``(H, W)`` bool masks.
        """
        info = self.get_data_info(index)
        out = {}
        for name, key in (('amodal', 'amodal_rle'),
                          ('occluders', 'occluder_rle'),
                          ('nonoccluders', 'nonoccluder_rle')):
            mask, (x, y) = _decode_tight(info[key])
            full = np.zeros((info['height'], info['width']), dtype=bool)
            h, w = mask.shape
            full[y:y + h, x:x + w] = mask
            out[name] = full
        return out
