"""High-level APIs: de-occlusion of MMDetection predictions and the
``DeOcclusionInferencer`` (images in; order, amodal masks, pictures and
JSON out)."""
from .det_deocclusion import (GIVEN_MASKS_GAP_TOLERANCE,
                              PREDICTED_MASKS_GAP_TOLERANCE,
                              DetDeOcclusionConfigError,
                              DetectorWithoutMasksError, DetSampleDeOccluder,
                              DetSampleError, build_det_sample_deoccluder,
                              check_detector_predicts_masks,
                              detector_predicts_masks, select_instances)
from .inferencer import (IMAGE_EXTENSIONS, DeOcclusionInferencer,
                         ImageResult, ImageSkipped, UnreadableImageError,
                         list_images, read_image, sample_to_record,
                         wrap_detector_config)
from .amodal_labels import *  # noqa: F401,F403  (pseudo-amodal labels)

__all__ = [
    'GIVEN_MASKS_GAP_TOLERANCE', 'PREDICTED_MASKS_GAP_TOLERANCE',
    'DetDeOcclusionConfigError', 'DetectorWithoutMasksError',
    'DetSampleDeOccluder', 'DetSampleError', 'build_det_sample_deoccluder',
    'check_detector_predicts_masks', 'detector_predicts_masks',
    'select_instances', 'IMAGE_EXTENSIONS', 'DeOcclusionInferencer',
    'ImageResult', 'ImageSkipped', 'UnreadableImageError', 'list_images',
    'read_image', 'sample_to_record', 'wrap_detector_config'
]
