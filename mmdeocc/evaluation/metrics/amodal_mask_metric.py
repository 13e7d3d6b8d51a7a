"""Amodal mask IoU (METHOD 4.3): the paper's pooled mIoU and variants."""
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmdeocc.evaluation.functional import (amodal_iou_stats,
                                           gather_matched_masks,
                                           summarize_amodal_stats)
from mmdeocc.utils.validation import check_choice
from .sample_fields import (MATCH_MODES, GroundTruth, match_predictions,
                            pred_masks)

_STAT_KEYS = ('inter', 'union', 'occluded', 'inv_inter', 'inv_union',
              'empty_modal')


@METRICS.register_module()
class AmodalMaskMetric(BaseMetric):
    """IoU of predicted amodal masks with the ground truth, at image size.

    Reported (percent), over all evaluated ground-truth objects of the split
    (occluded or not, stuff included):

    - ``miou``: pooled IoU = sum of intersections / sum of unions - what
      the paper calls mIoU (the paper protocol);
    - ``miou_inst``: mean of per-instance IoUs;
    - ``miou_occ`` / ``miou_occ_inst``: the same over occluded objects
      (ground-truth amodal != modal);
    - ``miou_inv`` / ``miou_inv_inst``: IoU of the invisible region only,
      ``pred \\ modal`` vs ``gt \\ modal``, over occluded objects;

    and the counts ``num_objects``, ``num_occluded``, ``num_unrecoverable``
    (ground-truth objects with an empty modal mask) and
    ``num_unmatched_gt``. See :mod:`.sample_fields` for the data-sample keys.

    Fully hidden objects (empty ground-truth modal mask, e.g. in COCOA)
    cannot be recovered from modal masks: by default they are excluded and
    counted in ``num_unrecoverable`` (the reference instead cropped them
    with the ground-truth amodal box, leaking ground truth). Set
    ``skip_empty_modal=False`` to score them like any other object.

    Args:
        match (str): ``'index'`` (predictions made on the ground-truth modal
            masks; the paper protocol) or ``'iou'`` (detector outputs:
            greedy IoU matching of ``pred_instances.masks`` to the
            ground-truth modal masks; an unmatched ground-truth object gets
            an empty prediction (IoU 0), false positives are ignored).
        iou_thr (float): IoU threshold of ``match='iou'``.
        skip_empty_modal (bool): Exclude fully hidden ground-truth objects.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
        prefix (str, optional): Metric name prefix; default ``'deocc'``.
    """

    default_prefix: Optional[str] = 'deocc'

    def __init__(self,
                 match: str = 'index',
                 iou_thr: float = 0.5,
                 skip_empty_modal: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        check_choice('match', match, MATCH_MODES)
        self.match = match
        self.iou_thr = iou_thr
        self.skip_empty_modal = skip_empty_modal

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Accumulate per-instance intersections and unions of a batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence): Data samples with predictions and
                ground truth (dicts or ``DetDataSample``).
        """
        for sample in data_samples:
            gt = GroundTruth(sample, need_amodal=True)
            gt_to_pred = match_predictions(sample, gt, self.match,
                                           self.iou_thr)
            pred = gather_matched_masks(
                pred_masks(sample, 'amodal_masks', tuple(gt.shape)),
                gt_to_pred)
            stats = amodal_iou_stats(pred, gt.amodal, gt.modal)
            stats['unmatched'] = gt_to_pred < 0
            self.results.append(stats)

    def compute_metrics(self, results: List[Dict[str, np.ndarray]]) -> Dict:
        """Pool the per-instance statistics of all images.

        Args:
            results (list[dict]): Outputs of :meth:`process`.

        Returns:
            dict: The metrics listed in the class docstring.
        """
        cat = {
            k: np.concatenate([r[k] for r in results]) if results else
            np.zeros(0)
            for k in _STAT_KEYS + ('unmatched', )
        }
        empty = cat['empty_modal'].astype(bool)
        keep = ~empty if self.skip_empty_modal else np.ones_like(empty)
        metrics = summarize_amodal_stats({k: cat[k][keep] for k in _STAT_KEYS})
        metrics['num_unrecoverable'] = int(empty.sum())
        metrics['num_unmatched_gt'] = int(cat['unmatched'][keep].sum())
        if metrics['num_objects'] == 0:
            MMLogger.get_current_instance().warning(
                f'AmodalMaskMetric: no object to evaluate in {len(results)} '
                'images; IoUs are NaN')
        return metrics
