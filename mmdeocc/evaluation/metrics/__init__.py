"""De-occlusion metrics registered in mmdet's ``METRICS`` registry."""
from .amodal_mask_metric import AmodalMaskMetric
from .dump_deocclusion_results import DumpDeOcclusionResults
from .occlusion_order_metric import OcclusionOrderMetric
from .sample_fields import GroundTruth, SampleFieldError

__all__ = [
    'AmodalMaskMetric', 'DumpDeOcclusionResults', 'OcclusionOrderMetric',
    'GroundTruth', 'SampleFieldError'
]
