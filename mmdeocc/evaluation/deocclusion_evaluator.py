"""The de-occlusion benchmark: every method on the same images, one table.

This is the evaluation loop behind ``tools/test.py`` (the paper's protocol,
METHOD section 4): ground-truth *modal* masks go in, every requested method
orders the objects and completes their amodal masks, and the results are
scored against the ground truth in the layout of the paper's Tables 1
(ordering) and 2 (amodal completion).

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

Python use::

    from mmdeocc.evaluation import evaluate_from_config, format_markdown
    results = evaluate_from_config(
        'configs/eval/deocc_scenes_unseen.py',
        'work_dirs/pcnet_m_shapes_cpu/iter_2000.pth',
        methods=['ours', 'ours_nog', 'raw'])
    print(format_markdown(results))
"""
import json
import logging
import math
import os.path as osp
import time
from collections import OrderedDict
from typing import (Any, Dict, Iterable, List, Mapping, Optional, Sequence,
                    Union)

import numpy as np
import torch
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.utils import ProgressBar
from torch import nn

from mmdeocc.deocclusion import (NETWORK_METHODS, ORDER_METHODS, DeOccluder,
                                 DeOcclusionConfigError, build_deoccluder,
                                 method_pair, ordering_needed)
from mmdeocc.deocclusion.methods import NETWORK_AMODAL_METHODS
from mmdeocc.utils.io import atomic_write_text
from mmdeocc.utils.validation import check_choice
from .functional import amodal_iou_stats, order_accuracy
from .metrics import (AmodalMaskMetric, GroundTruth, OcclusionOrderMetric,
                      SampleFieldError)
from .metrics.occlusion_order_metric import GT_SOURCES

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


def _finite_or_none(value: Any) -> Any:
    """NaN/inf -> None (strict JSON), recursively; numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
        gt = self._ground_truth(record)
        num = len(gt)
        self.num_images += 1
        self.num_objects += num
        cats = self._category_ids(record)
        modal = gt.modal
        gt_order = None
        if self._needs_gt_order:
            if self.gt_order == 'annotation' and gt.annotated_order is None:
                # fewer than two objects: no relation to annotate
                gt_order = np.zeros((num, num), dtype=np.int8)
            else:
                gt_order = self._order_metric.ground_truth_order(gt)
        orders: Dict[str, Any] = {}
        for name in self._orders_needed:
            if num == 0:
                orders[name] = np.zeros((0, 0), np.int8)
            else:
                orders[name] = self._timed(f'order/{name}',
                                           self._order_deocc[name], 'order',
                                           modal, cats)
        if gt_order is not None:
            orders['gt'] = gt_order
        for name in self.order_rows:
            counts = order_accuracy(orders[name], gt_order)
            counts['unmatched_gt'] = 0
            self._order_results[name].append(counts)
        for row in self.amodal_rows:
            dep = self.sup_order if row == 'sup' else ordering_needed(row)
            order = orders[dep] if dep is not None else np.zeros(
                (num, num), np.int8)
            if num == 0:
                pred = np.zeros_like(modal)
            else:
                pred = self._timed(f'amodal/{row}', self._amodal_deocc[row],
                                   'amodal', modal, order, cats)
            stats = amodal_iou_stats(pred, gt.amodal, modal)
            stats['unmatched'] = np.zeros(num, dtype=bool)
            self._amodal_results[row].append(stats)

    def evaluate(self,
                 data: Any,
                 max_images: Optional[int] = None,
                 progress: bool = True) -> Dict[str, Any]:
        """Process a whole dataset and return :meth:`compute`.

        Args:
            data: A dataset with ``get_data_info(i)`` (e.g.
                ``AmodalCocoDataset``) or a sequence of canonical records.
            max_images (int, optional): Evaluate only the first images.
            progress (bool): Show a progress bar over images.

        Returns:
            dict: See :meth:`compute`.
        """
        total = len(data)
        if max_images is not None:
            if max_images < 1:
                raise DeOcclusionEvalError(
                    f'max_images must be >= 1, got {max_images}')
            total = min(total, int(max_images))
        getter = getattr(data, 'get_data_info', None)
        bar = ProgressBar(total) if progress and total else None
        start = time.perf_counter()
        for index in range(total):
            record = getter(index) if getter is not None else data[index]
            self.process(record)
            if bar is not None:
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
# Output
# ----------------------------------------------------------------------
def _fmt(value: Any, digits: int = 2) -> str:
    """A percentage cell (``-`` when undefined)."""
    if value is None or (isinstance(value, float) and not math.isfinite(
            value)):
        return '-'
    return f'{value:.{digits}f}'


def format_markdown(results: Mapping[str, Any]) -> str:
    """The two tables of :meth:`DeOcclusionEvaluator.compute` in Markdown.

    Args:
        results (Mapping): Output of :meth:`DeOcclusionEvaluator.compute`
            (or its JSON form).

    Returns:
        str: Markdown text (also readable as plain text).
    """
    data = results.get('dataset', {})
    settings = results.get('settings', {})
    name = data.get('name') or 'dataset'
    lines = [
        f'## De-occlusion evaluation on {name}', '',
        f'{data.get("num_images", 0)} images, {data.get("num_objects", 0)} '
        'objects; ground-truth modal masks in (paper protocol).', ''
    ]
    order = results.get('order') or {}
    if order:
        first = next(iter(order.values()))
        gt = settings.get('gt_order', 'masks')
        lines += [
            '### Occlusion ordering (Table 1): pairwise accuracy (%)', '',
            f'Ground-truth order from {gt}; '
            f'{first.get("num_occluded_pairs", 0)} occluded pairs of '
            f'{first.get("num_pairs", 0)} pairs.', '',
            '| Method | Occluded pairs | All pairs |',
            '|:--|--:|--:|'
        ]
        for row in order.values():
            lines.append(f'| {row["name"]} | {_fmt(row["acc_occluded"])} | '
                         f'{_fmt(row["acc_all"])} |')
        lines.append('')
    amodal = results.get('amodal') or {}
    if amodal:
        first = next(iter(amodal.values()))
        lines += [
            '### Amodal completion (Table 2): IoU with ground truth (%)', '',
            f'{first.get("num_objects", 0)} objects '
            f'({first.get("num_occluded", 0)} occluded; '
            f'{first.get("num_unrecoverable", 0)} fully hidden objects not '
            'scored). mIoU = pooled IoU (the paper\'s metric); inst. = mean '
            'per-instance IoU; occluded = occluded objects only; invisible '
            '= the invisible region of occluded objects.', '',
            '| Method | mIoU | mIoU inst. | mIoU occluded | mIoU invisible |',
            '|:--|--:|--:|--:|--:|'
        ]
        for row in amodal.values():
            lines.append(
                f'| {row["name"]} | {_fmt(row["miou"])} | '
                f'{_fmt(row["miou_inst"])} | {_fmt(row["miou_occ"])} | '
                f'{_fmt(row["miou_inv"])} |')
        lines.append('')
    return '\n'.join(lines)


def save_results(results: Mapping[str, Any],
                 json_path: Optional[str] = None,
                 md_path: Optional[str] = None) -> None:
    """Write the results as JSON (NaN -> null) and/or Markdown, atomically.

    Args:
        results (Mapping): Output of :meth:`DeOcclusionEvaluator.compute`.
        json_path (str, optional): JSON destination.
        md_path (str, optional): Markdown destination.
    """
    if json_path:
        atomic_write_text(
            json.dumps(_finite_or_none(dict(results)), indent=2,
                       allow_nan=False) + '\n', json_path)
    if md_path:
        atomic_write_text(format_markdown(results), md_path)


# ----------------------------------------------------------------------
# From a config
# ----------------------------------------------------------------------
def resolve_device(device: Optional[Union[str, torch.device]]
                   ) -> torch.device:
    """``'auto'``/None -> CUDA when available, else CPU."""
    if device is None or str(device) == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def _load_model(checkpoint: str, model_cfg: Optional[Mapping[str, Any]],
                device: torch.device, what: str) -> nn.Module:
    """Load a PCNet-M (or PCNet-Sup) checkpoint weights-only."""
    from mmdeocc.models import load_pcnet_m
    if not osp.isfile(osp.expanduser(str(checkpoint))):
        raise FileNotFoundError(f'{what} checkpoint {checkpoint} does not '
                                'exist')
    return load_pcnet_m(
        checkpoint,
        device=device,
        model_cfg=dict(model_cfg) if model_cfg is not None else None)


def build_eval_dataset(cfg: Config) -> Any:
    """Build ``test_dataloader.dataset`` of a config (fully loaded).

    Args:
        cfg (Config): The evaluation config.

    Returns:
        BaseDataset: The dataset (its ``get_data_info(i)`` are canonical
        records).
    """
    from mmdet.registry import DATASETS
    loader = cfg.get('test_dataloader')
    dataset_cfg = loader.get('dataset') if loader else None
    if not dataset_cfg:
        raise DeOcclusionEvalError(
            'the config has no test_dataloader.dataset (e.g. '
            "dict(type='AmodalCocoDataset', ann_file=...))")
    dataset_cfg = dict(dataset_cfg)
    dataset_cfg.setdefault('test_mode', True)
    dataset_cfg.setdefault('pipeline', [])
    ann_file = dataset_cfg.get('ann_file', '')
    full = osp.join(dataset_cfg.get('data_root', '') or '', ann_file or '')
    if ann_file and not osp.isfile(full):
        raise FileNotFoundError(
            f'test_dataloader.dataset.ann_file {full} does not exist')
    dataset = DATASETS.build(dataset_cfg)
    dataset.full_init()
    return dataset


def evaluate_from_config(cfg: Union[str, Config],
                         checkpoint: Optional[str] = None,
                         methods: Union[str, Sequence[str], None] = None,
                         sup_checkpoint: Optional[str] = None,
                         gt_order: Optional[str] = None,
                         sup_order: Optional[str] = None,
                         batch_size: Optional[int] = None,
                         fast: Optional[bool] = None,
                         device: Optional[Union[str, torch.device]] = 'auto',
                         max_images: Optional[int] = None,
                         progress: bool = True) -> Dict[str, Any]:
    """Run the benchmark described by an evaluation config.

    Config keys: ``test_dataloader.dataset`` (an image-level dataset with
    canonical records, e.g. ``AmodalCocoDataset``, ``KINSAmodalDataset``,
    ``COCOAmodalDataset``), ``deoccluder`` (DeOccluder options), optional
    ``model`` / ``sup_model`` (model configs used instead of the configs
    stored in the checkpoints) and optional ``deocc_eval`` (defaults of
    ``methods``, ``gt_order``, ``tie_rule``, ``annotation_touching_only``,
    ``skip_empty_modal``, ``sup_order``, and ``name`` shown in the table
    header). Arguments given here override the config.

    Args:
        cfg (str | Config): Config path or object.
        checkpoint (str, optional): PCNet-M checkpoint (None or ``'none'``
            when only baselines are evaluated).
        methods (str | Sequence[str], optional): Methods to evaluate.
        sup_checkpoint (str, optional): PCNet-Sup checkpoint; adds the
            ``'sup'`` row.
        gt_order (str, optional): ``'masks'`` or ``'annotation'``.
        sup_order (str, optional): Ordering used by PCNet-Sup.
        batch_size (int, optional): Crops per network call.
        fast (bool, optional): DeOccluder fast mode.
        device (str | torch.device, optional): ``'auto'`` (CUDA if
            available), ``'cpu'``, ``'cuda:0'``, ...
        max_images (int, optional): Evaluate only the first images.
        progress (bool): Progress bar.

    Returns:
        dict: :meth:`DeOcclusionEvaluator.compute` plus ``checkpoint``,
        ``sup_checkpoint`` and ``config`` entries.
    """
    if isinstance(cfg, str):
        if not osp.isfile(cfg):
            raise FileNotFoundError(f'config file {cfg} does not exist')
        cfg_path = cfg
        cfg = Config.fromfile(cfg)
    else:
        cfg_path = getattr(cfg, 'filename', None)
    eval_cfg = dict(cfg.get('deocc_eval', None) or {})
    unknown = sorted(
        set(eval_cfg) - {
            'methods', 'gt_order', 'tie_rule', 'annotation_touching_only',
            'skip_empty_modal', 'sup_order', 'name'
        })
    if unknown:
        raise DeOcclusionEvalError(f'unknown deocc_eval keys {unknown}')
    if methods is None:
        methods = eval_cfg.get('methods')
    methods = parse_methods(methods)
    if checkpoint is not None and str(checkpoint).lower() == 'none':
        checkpoint = None
    if sup_checkpoint is not None and 'sup' not in methods:
        methods.append('sup')
    needs_model = any(m in NETWORK_METHODS for m in methods) or (
        'sup' in methods
        and (sup_order or eval_cfg.get('sup_order', 'ours')) == 'ours')
    if needs_model and checkpoint is None:
        net = [m for m in methods if m in NETWORK_METHODS] or ['sup']
        raise DeOcclusionEvalError(
            f'methods {", ".join(net)} need a PCNet-M checkpoint; got '
            "'none' (evaluate only baselines, or pass a checkpoint)")
    if checkpoint is not None and not osp.isfile(
            osp.expanduser(str(checkpoint))):
        raise FileNotFoundError(
            f'PCNet-M checkpoint {checkpoint} does not exist')
    if checkpoint is not None and not needs_model:
        print_log(
            f'no requested method uses the PCNet-M checkpoint {checkpoint}',
            logger='current', level=logging.WARNING)
    dev = resolve_device(device)
    options = dict(cfg.get('deoccluder', None) or {})
    options['device'] = dev
    if batch_size is not None:
        options['batch_size'] = int(batch_size)
    if fast is not None:
        options['fast'] = bool(fast)

    dataset = build_eval_dataset(cfg)
    model = sup_model = None
    if checkpoint is not None and needs_model:
        model = _load_model(checkpoint, cfg.get('model', None), dev,
                            'PCNet-M')
    if 'sup' in methods:
        if sup_checkpoint is None:
            raise DeOcclusionEvalError(
                "method 'sup' needs a PCNet-Sup checkpoint (--sup-checkpoint)")
        sup_model = _load_model(sup_checkpoint, cfg.get('sup_model', None),
                                dev, 'PCNet-Sup')
    ds_cfg = cfg.test_dataloader.dataset
    name = eval_cfg.get('name') or osp.basename(
        str(ds_cfg.get('ann_file', '') or type(dataset).__name__))
    evaluator = DeOcclusionEvaluator(
        methods=methods,
        model=model,
        sup_model=sup_model,
        deoccluder_cfg=options,
        gt_order=gt_order or eval_cfg.get('gt_order', 'masks'),
        tie_rule=eval_cfg.get('tie_rule', 'reference'),
        annotation_touching_only=eval_cfg.get('annotation_touching_only',
                                              False),
        skip_empty_modal=eval_cfg.get('skip_empty_modal', True),
        sup_order=sup_order or eval_cfg.get('sup_order', 'ours'),
        dataset_name=f'{type(dataset).__name__} ({name})')
    results = evaluator.evaluate(dataset, max_images, progress)
    results['config'] = cfg_path
    results['checkpoint'] = checkpoint
    results['sup_checkpoint'] = sup_checkpoint
    return results
