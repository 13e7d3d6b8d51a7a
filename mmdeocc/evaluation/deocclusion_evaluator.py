"""The de-occlusion benchmark loop: every method on the same images.

This module's one job is the evaluation loop behind
``tools/analysis_tools/eval_deocclusion.py`` (the paper's protocol, METHOD
section 4): ground-truth *modal* masks go in,
every requested method orders the objects and completes their amodal
masks, and the results are scored against the ground truth in the layout
of the paper's Tables 1 (ordering) and 2 (amodal completion). Writing the
tables and files is :mod:`mmdeocc.evaluation.report`; building the
dataset, models and evaluator from a config and running it is
:mod:`mmdeocc.evaluation.from_config`.

Methods (``--methods``) and the rows they produce:

==============  ===================================  ========================
name            ordering row (Table 1)               amodal row (Table 2)
==============  ===================================  ========================
``area``        Area (smaller on top, COCOA)         -
``area_large``  Area, larger on top (KINS)           -
``yaxis``       Y-axis (lower centroid on top)       -
``convex``      Convex (hull growth, dual rule)      Convex (hull)
``raw``         -                                    Raw (amodal = modal)
``convexr``     -                                    Convex^R (convex order)
``ours_nog``    -                                    NOG (PCNet-M, ours order)
``ours``        Ours (PCNet-M dual completion)       OG (PCNet-M, ours order)
``sup``         -                                    Supervised (PCNet-Sup)
==============  ===================================  ========================

Network passes are shared: the PCNet-M ordering is computed once per image
and used by OG, NOG (and by the supervised row with ``sup_order='ours'``);
the convex ordering is computed once and used by its row and by Convex^R.
Every method goes through :class:`mmdeocc.deocclusion.DeOccluder` (the one
inference core), with the same options (thresholds, crop rule, batch size).

PCNet-Sup (``'sup'``, METHOD 2.5): a PCNet-M network trained with
ground-truth amodal masks (``configs/pcnet_sup_shapes_cpu.py``). At test
time it runs in the OG pipeline: the eraser of object i is the union of the
modal masks of i's ancestors under the ordering ``sup_order`` (default
``'ours'``, the evaluated PCNet-M ordering; ``'gt'`` uses the ground-truth
order, an oracle; any ordering method name works too).

Metrics are pooled over the split by the registered metrics' own
``compute_metrics`` (:class:`~mmdeocc.evaluation.metrics.
OcclusionOrderMetric`, :class:`~mmdeocc.evaluation.metrics.
AmodalMaskMetric`): ordering accuracy on occluded pairs (the paper's
number) and on all pairs; amodal pooled IoU (the paper's "mIoU") plus the
mean per-instance IoU and the IoUs restricted to occluded objects and to
the invisible region. Fully hidden ground-truth objects (empty modal mask)
are excluded from the amodal scores by default and counted
(``num_unrecoverable``).

Python use (``records``: canonical image records, or a dataset with
``get_data_info``)::

    from mmdeocc.evaluation import DeOcclusionEvaluator, format_markdown
    evaluator = DeOcclusionEvaluator(
        methods='area,yaxis,convex,raw,convexr')
    results = evaluator.evaluate(records)
    print(format_markdown(results))
"""
import logging
import time
from collections import OrderedDict
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Union)

import numpy as np
import torch
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch import nn

from mmdeocc.deocclusion import (NETWORK_METHODS, ORDER_METHODS, DeOccluder,
                                 DeOcclusionConfigError, build_deoccluder,
                                 method_pair, ordering_needed)
from mmdeocc.deocclusion.methods import NETWORK_AMODAL_METHODS
from mmdeocc.utils.deprecation import moved_attribute
from mmdeocc.utils.validation import check_choice
from .functional import amodal_iou_stats, order_accuracy
from .metrics import (AmodalMaskMetric, GroundTruth, OcclusionOrderMetric,
                      SampleFieldError)
from .metrics.occlusion_order_metric import GT_SOURCES
# moved to .report; imported back so the old import path keeps working
from .report import format_markdown, save_results  # noqa: F401

__all__ = [
    'AMODAL_ROWS', 'DEFAULT_METHODS', 'EVAL_METHODS', 'ORDER_ROWS',
    'SUP_ORDERS', 'DeOcclusionEvalError', 'DeOcclusionEvaluator',
    'parse_methods'
]

#: Ordering rows in the row order of the paper's Table 1.
ORDER_ROWS: 'OrderedDict[str, str]' = OrderedDict([
    ('area', 'Area'),
    ('area_large', 'Area (larger on top)'),
    ('yaxis', 'Y-axis'),
    ('convex', 'Convex'),
    ('ours', 'Ours (PCNet-M)'),
])
#: Amodal rows in the row order of the paper's Table 2.
AMODAL_ROWS: 'OrderedDict[str, str]' = OrderedDict([
    ('sup', 'Supervised (PCNet-Sup)'),
    ('raw', 'Raw'),
    ('convex', 'Convex'),
    ('convexr', 'Convex^R'),
    ('ours_nog', 'NOG (ours)'),
    ('ours', 'OG (ours)'),
])
#: Every method name accepted by ``methods``.
EVAL_METHODS = ('ours', 'ours_nog', 'area', 'area_large', 'yaxis', 'convex',
                'raw', 'convexr', 'sup')
#: Default method list (everything but the supervised row).
DEFAULT_METHODS = ('ours', 'ours_nog', 'area', 'yaxis', 'convex', 'raw',
                   'convexr')
#: Orderings the supervised row can use.
SUP_ORDERS = tuple(ORDER_METHODS) + ('gt', )


class DeOcclusionEvalError(ValueError):
    """The evaluation cannot run as asked (methods, data, checkpoints)."""


def parse_methods(methods: Union[str, Iterable[str], None]) -> List[str]:
    """Validate a method list (comma-separated string or sequence).

    Args:
        methods (str | Iterable[str] | None): E.g. ``'ours,raw,convexr'``.
            ``None`` gives :data:`DEFAULT_METHODS`. ``'supervised'`` is an
            alias of ``'sup'``.

    Returns:
        list[str]: Unique method names in the given order.

    Raises:
        DeOcclusionEvalError: Unknown or no method.
    """
    if methods is None:
        return list(DEFAULT_METHODS)
    if isinstance(methods, str):
        methods = methods.split(',')
    names: List[str] = []
    for name in methods:
        name = str(name).strip().lower()
        if not name:
            continue
        if name == 'supervised':
            name = 'sup'
        if name not in EVAL_METHODS:
            raise DeOcclusionEvalError(
                f'unknown method {name!r}; choose from '
                f'{", ".join(EVAL_METHODS)}')
        if name not in names:
            names.append(name)
    if not names:
        raise DeOcclusionEvalError(
            f'no method given; choose from {", ".join(EVAL_METHODS)}')
    return names


class DeOcclusionEvaluator:
    """Evaluate several ordering / amodal methods on the same images.

    Feed images one by one with :meth:`process` (or all at once with
    :meth:`evaluate`), then read the pooled results with :meth:`compute`.

    Args:
        methods (str | Sequence[str], optional): Method names (module
            docstring); default :data:`DEFAULT_METHODS`.
        model (nn.Module, optional): PCNet-M, needed by ``'ours'`` and
            ``'ours_nog'``.
        sup_model (nn.Module, optional): PCNet-Sup, needed by ``'sup'``.
        deoccluder_cfg (Mapping, optional): Options shared by every
            :class:`~mmdeocc.deocclusion.DeOccluder` (``order_th``,
            ``amodal_th``, ``enlarge_box``, ``min_side_ratio``,
            ``gap_tolerance``, ``eraser_dilation``, ``batch_size``,
            ``fast``, ``device``, ...). ``model``, ``checkpoint``,
            ``order_method`` and ``amodal_method`` are set per method and
            must not be given.
        gt_order (str): Ground-truth order for the ordering rows:
            ``'masks'`` (derived from modal and amodal masks, METHOD 4.1,
            the paper protocol) or ``'annotation'`` (the dataset's annotated
            order, a stricter variant).
        tie_rule (str): Tie rule of the mask-derived order (``'reference'``
            or ``'ignore'``; see :func:`~mmdeocc.evaluation.functional.
            gt_order_from_masks`).
        annotation_touching_only (bool): With ``gt_order='annotation'``,
            keep only annotated relations between touching modal masks.
        skip_empty_modal (bool): Exclude fully hidden ground-truth objects
            from the amodal scores (they cannot be recovered from modal
            masks); they are counted in ``num_unrecoverable``.
        sup_order (str): Ordering whose ancestors form PCNet-Sup's eraser:
            an ordering method name or ``'gt'`` (the ground-truth order of
            ``gt_order``).
        dataset_name (str): Name shown in the table header.
    """

    def __init__(self,
                 methods: Union[str, Sequence[str], None] = None,
                 model: Optional[nn.Module] = None,
                 sup_model: Optional[nn.Module] = None,
                 deoccluder_cfg: Optional[Mapping[str, Any]] = None,
                 gt_order: str = 'masks',
                 tie_rule: str = 'reference',
                 annotation_touching_only: bool = False,
                 skip_empty_modal: bool = True,
                 sup_order: str = 'ours',
                 dataset_name: str = '') -> None:
        self.methods = parse_methods(methods)
        check_choice('gt_order', gt_order, GT_SOURCES, DeOcclusionEvalError)
        check_choice('sup_order', sup_order, SUP_ORDERS, DeOcclusionEvalError)
        self.gt_order = gt_order
        self.sup_order = sup_order
        self.dataset_name = dataset_name
        self.order_rows = [m for m in ORDER_ROWS if m in self.methods]
        self.amodal_rows = [m for m in AMODAL_ROWS if m in self.methods]

        network = [m for m in self.methods if m in NETWORK_METHODS]
        if 'sup' in self.methods and sup_order == 'ours':
            network.append('sup (sup_order="ours")')
        if network and model is None:
            raise DeOcclusionEvalError(
                f'methods {", ".join(network)} need a PCNet-M model '
                '(checkpoint), got none')
        if 'sup' in self.methods and sup_model is None:
            raise DeOcclusionEvalError(
                "method 'sup' needs a PCNet-Sup model (--sup-checkpoint), "
                'got none')

        # which orderings must be computed per image
        needed = list(self.order_rows)
        for row in self.amodal_rows:
            dep = self.sup_order if row == 'sup' else ordering_needed(row)
            if dep is not None and dep != 'gt' and dep not in needed:
                needed.append(dep)
        self._orders_needed = [m for m in ORDER_METHODS if m in needed]
        self._needs_gt_order = bool(self.order_rows) or (
            'sup' in self.amodal_rows and sup_order == 'gt')
        self._needs_amodal = bool(self.amodal_rows) or (
            self._needs_gt_order and gt_order == 'masks')

        options = dict(deoccluder_cfg or {})
        options.pop('type', None)
        reserved = sorted({'model', 'checkpoint', 'cfg_options',
                           'order_method', 'amodal_method'} & set(options))
        if reserved:
            raise DeOcclusionEvalError(
                f'deoccluder options {reserved} are set by the evaluator per '
                'method; remove them from the config')
        self.deoccluder_cfg = options

        def make(order_method: str, amodal_method: str,
                 net: Optional[nn.Module]) -> DeOccluder:
            try:
                return build_deoccluder(
                    dict(options, model=net, order_method=order_method,
                         amodal_method=amodal_method))
            except DeOcclusionConfigError as err:
                raise DeOcclusionEvalError(
                    f'invalid deoccluder options: {err}') from None

        uses_model = 'ours' in self._orders_needed or any(
            r in ('ours', 'ours_nog') for r in self.amodal_rows)
        # one DeOccluder per ordering and per amodal row (they share the
        # network weights; the orderings feed the amodal rows)
        self._order_deocc: Dict[str, DeOccluder] = {}
        for name in self._orders_needed:
            self._order_deocc[name] = make(
                name, 'ours' if name == 'ours' else 'raw',
                model if name == 'ours' else None)
        self._amodal_deocc: Dict[str, DeOccluder] = {}
        for row in self.amodal_rows:
            if row == 'sup':
                self._amodal_deocc[row] = make('ours', 'ours', sup_model)
            elif row == 'ours' and 'ours' in self._order_deocc:
                self._amodal_deocc[row] = self._order_deocc['ours']
            else:
                amodal_method = method_pair(row)[1]
                net = (model if amodal_method in NETWORK_AMODAL_METHODS else
                       None)
                self._amodal_deocc[row] = make(
                    'ours' if net is not None else 'area', amodal_method,
                    net)
        if not uses_model and model is not None:
            print_log(
                'DeOcclusionEvaluator: a PCNet-M model was given but no '
                'requested method uses it', logger='current',
                level=logging.WARNING)

        self._order_metric = OcclusionOrderMetric(
            gt_source=gt_order,
            tie_rule=tie_rule,
            annotation_touching_only=annotation_touching_only)
        self._amodal_metric = AmodalMaskMetric(
            skip_empty_modal=skip_empty_modal)
        self.settings = dict(
            methods=list(self.methods),
            gt_order=gt_order,
            tie_rule=tie_rule,
            annotation_touching_only=bool(annotation_touching_only),
            skip_empty_modal=bool(skip_empty_modal),
            sup_order=sup_order,
            deoccluder={
                k: (str(v) if isinstance(v, (torch.device, torch.dtype))
                    else v)
                for k, v in options.items()
            })
        self.reset()

    # ------------------------------------------------------------------
    def reset(self) -> None:
        """Forget every processed image."""
        self._order_results: Dict[str, List[Dict[str, int]]] = {
            m: [] for m in self.order_rows
        }
        self._amodal_results: Dict[str, List[Dict[str, np.ndarray]]] = {
            m: [] for m in self.amodal_rows
        }
        self._timing: Dict[str, float] = {}
        self.num_images = 0
        self.num_objects = 0

    def _timed(self, key: str, deocc: DeOccluder, func: str, *args: Any):
        """Run ``deocc.<func>(*args)`` and add its time to ``key``."""
        out = getattr(deocc, func)(*args)
        self._timing[key] = self._timing.get(key, 0.0) + float(
            deocc.stats.get('total_s', 0.0))
        return out

    def _ground_truth(self, record: Mapping[str, Any]) -> GroundTruth:
        """Parse one image's ground truth (clear errors on missing data)."""
        need_annotation = (self._needs_gt_order
                           and self.gt_order == 'annotation'
                           and len(self._category_ids(record)) > 1)
        try:
            return GroundTruth(
                record,
                need_amodal=self._needs_amodal,
                need_annotated_order=need_annotation)
        except SampleFieldError as err:
            needs = []
            if self.amodal_rows:
                needs.append(f'amodal methods {", ".join(self.amodal_rows)} '
                             'need ground-truth amodal masks')
            if self._needs_gt_order:
                needs.append(f'gt_order={self.gt_order!r} needs '
                             + ('amodal masks' if self.gt_order == 'masks'
                                else 'an annotated order'))
            raise DeOcclusionEvalError(
                f'{self.dataset_name or "dataset"}: {err}. '
                + '; '.join(needs) + '. Evaluate orderings only with '
                '--gt-order annotation on modal-only datasets that carry '
                'an annotated order.') from None

    @staticmethod
    def _category_ids(record: Mapping[str, Any]) -> List[int]:
        """Category ids of the kept (not ignored) instances, in order."""
        return [
            int(inst.get('category_id', 1))
            for inst in record.get('instances', [])
            if not int(inst.get('ignore_flag', 0) or 0)
        ]

    def process(self, record: Mapping[str, Any]) -> None:
        """Evaluate every method on one image.

        Args:
            record (Mapping): A canonical image record (``docs/design.md``:
                ``instances`` with ``modal_mask`` / ``amodal_mask`` RLE,
                ``height``, ``width``, ``gt_order``, ``img_id``), e.g. an
                item of an ``AmodalImageDataset``'s ``get_data_info``.
                Instances with ``ignore_flag=1`` are left out.
        """
        self.process_many([record])

    def process_many(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Evaluate every method on several images at once.

        Each method makes one :class:`~mmdeocc.deocclusion.DeOccluder` call
        for all of them (network crops batched across images, up to the
        de-occluder's ``batch_size`` per network call); the results are
        those of :meth:`process` image by image.

        Args:
            records (Sequence[Mapping]): Canonical image records (see
                :meth:`process`).
        """
        gts = [self._ground_truth(record) for record in records]
        cats = [self._category_ids(record) for record in records]
        self.num_images += len(gts)
        self.num_objects += sum(len(gt) for gt in gts)
        # images without objects take no part in the de-occluder calls
        busy = [k for k, gt in enumerate(gts) if len(gt)]
        items = [(gts[k].modal, cats[k]) for k in busy]
        gt_orders = [self._gt_order(gt) for gt in gts]
        orders: Dict[str, List[Any]] = {}
        for name in self._orders_needed:
            computed = iter(
                self._timed(f'order/{name}', self._order_deocc[name],
                            'order_many', items) if items else [])
            orders[name] = [
                next(computed) if len(gt) else np.zeros((0, 0), np.int8)
                for gt in gts
            ]
        orders['gt'] = gt_orders
        for name in self.order_rows:
            for pred, gt_order in zip(orders[name], gt_orders):
                counts = order_accuracy(pred, gt_order)
                counts['unmatched_gt'] = 0
                self._order_results[name].append(counts)
        for row in self.amodal_rows:
            dep = self.sup_order if row == 'sup' else ordering_needed(row)
            row_orders = [
                orders[dep][k] if dep is not None else np.zeros(
                    (len(gts[k]), len(gts[k])), np.int8) for k in busy
            ]
            computed = iter(
                self._timed(f'amodal/{row}', self._amodal_deocc[row],
                            'amodal_many', items, row_orders)
                if items else [])
            for gt in gts:
                pred = next(computed) if len(gt) else np.zeros_like(gt.modal)
                stats = amodal_iou_stats(pred, gt.amodal, gt.modal)
                stats['unmatched'] = np.zeros(len(gt), dtype=bool)
                self._amodal_results[row].append(stats)

    def _gt_order(self, gt: GroundTruth) -> Optional[np.ndarray]:
        """The ground-truth order of one image (None when not needed)."""
        if not self._needs_gt_order:
            return None
        if self.gt_order == 'annotation' and gt.annotated_order is None:
            # fewer than two objects: no relation to annotate
            return np.zeros((len(gt), len(gt)), dtype=np.int8)
        return self._order_metric.ground_truth_order(gt)

    def evaluate(self,
                 data: Any,
                 max_images: Optional[int] = None,
                 progress: bool = True,
                 images_per_batch: int = 8) -> Dict[str, Any]:
        """Process a whole dataset and return :meth:`compute`.

        Args:
            data: A dataset with ``get_data_info(i)`` (e.g.
                ``AmodalCocoDataset``) or a sequence of canonical records.
            max_images (int, optional): Evaluate only the first images.
            progress (bool): Show a progress bar over images.
            images_per_batch (int): Images per :meth:`process_many` call
                (network crops are batched across them; memory grows with
                it). The results do not depend on it.

        Returns:
            dict: See :meth:`compute`.
        """
        total = len(data)
        if max_images is not None:
            if max_images < 1:
                raise DeOcclusionEvalError(
                    f'max_images must be >= 1, got {max_images}')
            total = min(total, int(max_images))
        if int(images_per_batch) != images_per_batch or images_per_batch < 1:
            raise DeOcclusionEvalError(
                f'images_per_batch must be an integer >= 1, got '
                f'{images_per_batch!r}')
        getter = getattr(data, 'get_data_info', None)
        bar = ProgressBar(total) if progress and total else None
        start = time.perf_counter()
        for first in range(0, total, int(images_per_batch)):
            indices = range(first, min(total, first + int(images_per_batch)))
            self.process_many([
                getter(index) if getter is not None else data[index]
                for index in indices
            ])
            if bar is not None:
                for _ in indices:
                    bar.update()
        if bar is not None:
            print()
        self._timing['total'] = time.perf_counter() - start
        return self.compute()

    def compute(self) -> Dict[str, Any]:
        """Pool the processed images into the two tables.

        Returns:
            dict: ``dataset`` (``name``, ``num_images``, ``num_objects``),
            ``settings``, ``order`` (row name -> ``name`` (display),
            ``acc_occluded``, ``acc_all`` (percent), ``num_occluded_pairs``,
            ``num_pairs``), ``amodal`` (row name -> ``name``, ``miou``
            (pooled, the paper's mIoU), ``miou_inst``, ``miou_occ``,
            ``miou_occ_inst``, ``miou_inv``, ``miou_inv_inst`` (percent),
            ``num_objects``, ``num_occluded``, ``num_unrecoverable``) and
            ``timing_s`` (seconds per method and in total). Rows follow the
            paper's tables; undefined values are NaN.
        """
        order = OrderedDict()
        for name in self.order_rows:
            metrics = self._order_metric.compute_metrics(
                self._order_results[name])
            metrics.pop('num_unmatched_gt', None)
            order[name] = dict(name=ORDER_ROWS[name], **metrics)
        amodal = OrderedDict()
        for name in self.amodal_rows:
            metrics = self._amodal_metric.compute_metrics(
                self._amodal_results[name])
            metrics.pop('num_unmatched_gt', None)
            amodal[name] = dict(name=AMODAL_ROWS[name], **metrics)
        return dict(
            dataset=dict(
                name=self.dataset_name,
                num_images=self.num_images,
                num_objects=self.num_objects),
            settings=dict(self.settings),
            order=order,
            amodal=amodal,
            timing_s={k: round(v, 4) for k, v in self._timing.items()})


# ----------------------------------------------------------------------
# Old import paths (one release)
# ----------------------------------------------------------------------
#: Names moved to :mod:`mmdeocc.evaluation.from_config`. That module imports
#: this one, so they cannot be imported back at module level (an import
#: cycle); they are resolved on first access, with a DeprecationWarning.
_MOVED = {
    'build_eval_dataset': 'mmdeocc.evaluation.from_config',
    'evaluate_from_config': 'mmdeocc.evaluation.from_config',
    'resolve_device': 'mmdeocc.evaluation.from_config:resolve_eval_device',
}


def __getattr__(name: str) -> Any:
    """Resolve a name moved to :mod:`mmdeocc.evaluation.from_config`.

    Args:
        name (str): The attribute asked for.

    Returns:
        Any: The moved object (after a DeprecationWarning).

    Raises:
        AttributeError: ``name`` is not a moved name.
    """
    return moved_attribute(__name__, name, _MOVED)
