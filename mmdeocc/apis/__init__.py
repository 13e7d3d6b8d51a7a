"""High-level APIs: de-occlusion (and content completion) of MMDetection
predictions and the ``DeOcclusionInferencer`` (images in; order, amodal
masks, content layers, pictures and JSON out)."""
from .det_deocclusion import (GIVEN_MASKS_GAP_TOLERANCE,
                              PREDICTED_MASKS_GAP_TOLERANCE,
                              DetDeOcclusionConfigError,
                              DetectorWithoutMasksError, DetSampleDeOccluder,
                              DetSampleError, build_det_sample_deoccluder,
                              check_detector_predicts_masks,
                              detector_predicts_masks, select_instances)
from .det_content import (DetContentError, DetSampleContentCompleter,
                          build_det_sample_content_completer,
                          content_options, images_from_batch, read_rgb_image)
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
    'select_instances', 'DetContentError', 'DetSampleContentCompleter',
    'build_det_sample_content_completer', 'content_options',
    'images_from_batch', 'read_rgb_image', 'IMAGE_EXTENSIONS', 'DeOcclusionInferencer',
    'ImageResult', 'ImageSkipped', 'UnreadableImageError', 'list_images',
    'read_image', 'sample_to_record', 'wrap_detector_config'
]
