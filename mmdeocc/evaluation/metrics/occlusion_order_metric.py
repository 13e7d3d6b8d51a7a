"""Pairwise occlusion-order accuracy (METHOD 4.2)."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmdeocc.evaluation.functional import (gather_matched_order,
                                           order_accuracy,
                                           pooled_order_accuracy)
from mmdeocc.structures.order import (TIE_RULES, gt_order_from_masks,
                                      touch_matrix)
from mmdeocc.utils.validation import check_choice
from .sample_fields import (MATCH_MODES, GroundTruth, match_predictions,
                            num_pred_instances, pred_order)

GT_SOURCES = ('masks', 'annotation')


@METRICS.register_module()
class OcclusionOrderMetric(BaseMetric):
    """Occlusion-order accuracy over pairs, pooled over the whole split.

    The ground-truth order comes either from the masks (``gt_source=
    'masks'``, METHOD 4.1, the paper protocol for COCOA and KINS: only
    touching pairs, :func:`~mmdeocc.evaluation.functional.
    gt_order_from_masks`) or from the dataset's annotated order
    (``'annotation'``, e.g. COCOA ``depth_constraint``, KINS 2020 clusters;
    a stricter variant the reference does not use).

    Reported (percent): ``acc_occluded`` - accuracy over pairs with a
    ground-truth relation (the paper's number) - and ``acc_all`` - accuracy
    over all pairs of ground-truth instances, plus the numbers of
    (unordered) pairs behind each. Counts are pooled over images (micro
    average). See :mod:`.sample_fields` for the data-sample keys.

    With detector outputs (``match='iou'``) those numbers mix detection and
    ordering: a pair with an undetected object counts as wrong. The same
    accuracies over the pairs whose two objects were both matched to a
    de-occluded detection are reported as ``acc_occluded_matched`` /
    ``acc_all_matched`` (with ``num_occluded_pairs_matched``): the ordering
    quality on what the detector found.

    Args:
        gt_source (str): ``'masks'`` or ``'annotation'``.
        tie_rule (str): Tie rule of the mask-derived order: ``'reference'``
            (the lower index occludes) or ``'ignore'`` (ties get no
            relation).
        annotation_touching_only (bool): With ``gt_source='annotation'``,
            keep only annotated relations between touching modal masks
            (pairs the method can order at all). Default False: every
            annotated pair counts.
        match (str): ``'index'`` (predictions made on the ground-truth modal
            masks; the paper protocol) or ``'iou'`` (detector outputs,
            greedy IoU matching of predicted to ground-truth modal masks;
            relations involving unmatched ground truth count as predicted
            0, false positives are ignored).
        iou_thr (float): IoU threshold of ``match='iou'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix; default ``'deocc'``.
    """

    default_prefix: Optional[str] = 'deocc'

    def __init__(self,
                 gt_source: str = 'masks',
                 tie_rule: str = 'reference',
                 annotation_touching_only: bool = False,
                 match: str = 'index',
                 iou_thr: float = 0.5,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        check_choice('gt_source', gt_source, GT_SOURCES)
        check_choice('tie_rule', tie_rule, TIE_RULES)
        check_choice('match', match, MATCH_MODES)
        self.gt_source = gt_source
        self.tie_rule = tie_rule
        self.annotation_touching_only = annotation_touching_only
        self.match = match
        self.iou_thr = iou_thr

    def ground_truth_order(self, gt: GroundTruth) -> np.ndarray:
        """The ground-truth order matrix of one image.

        Args:
            gt (GroundTruth): Parsed ground truth.

        Returns:
            np.ndarray: ``(G, G)`` int8 order.
        """
        if self.gt_source == 'masks':
            return gt_order_from_masks(gt.modal, gt.amodal, self.tie_rule)
        order = gt.annotated_order.copy()
        if self.annotation_touching_only:
            order[~touch_matrix(gt.modal)] = 0
        return order

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Accumulate pair counts of a batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence): Data samples with predictions and
                ground truth (dicts or ``DetDataSample``).
        """
        for sample in data_samples:
            gt = GroundTruth(
                sample,
                need_amodal=self.gt_source == 'masks',
                need_annotated_order=self.gt_source == 'annotation')
            gt_to_pred = match_predictions(sample, gt, self.match,
                                           self.iou_thr)
            num_pred = num_pred_instances(sample)
            pred = gather_matched_order(pred_order(sample, num_pred),
                                        gt_to_pred)
            gt_order = self.ground_truth_order(gt)
            counts = order_accuracy(pred, gt_order)
            counts['unmatched_gt'] = int(np.count_nonzero(gt_to_pred < 0))
            if self.match == 'iou':
                found = np.flatnonzero(gt_to_pred >= 0)
                counts['matched'] = order_accuracy(
                    pred[np.ix_(found, found)],
                    gt_order[np.ix_(found, found)])
            self.results.append(counts)

    def compute_metrics(self, results: List[Dict[str, int]]) -> Dict:
        """Pool the counts of all images.

        Args:
            results (list[dict]): Outputs of :meth:`process`.

        Returns:
            dict: ``acc_occluded``, ``acc_all`` (percent, NaN when there is
            no pair), ``num_occluded_pairs``, ``num_pairs`` (unordered) and
            ``num_unmatched_gt``.
        """
        pooled = pooled_order_accuracy(results)
        if pooled['num_occluded_pairs'] == 0:
            MMLogger.get_current_instance().warning(
                'OcclusionOrderMetric: no ground-truth occluded pair in '
                f'{len(results)} images; acc_occluded is NaN')
        return dict(
            acc_occluded=pooled['acc_occluded'],
            acc_all=pooled['acc_all'],
            num_occluded_pairs=pooled['num_occluded_pairs'],
            num_pairs=pooled['num_pairs'],
            num_unmatched_gt=sum(r['unmatched_gt'] for r in results),
            **self._matched_metrics(results))

    @staticmethod
    def _matched_metrics(results: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Accuracies over pairs of matched ground truth (``'iou'``)."""
        if not all('matched' in r for r in results):
            return {}
        pooled = pooled_order_accuracy(r['matched'] for r in results)
        return dict(
            acc_occluded_matched=pooled['acc_occluded'],
            acc_all_matched=pooled['acc_all'],
            num_occluded_pairs_matched=pooled['num_occluded_pairs'])
