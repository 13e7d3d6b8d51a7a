"""High-level APIs: de-occlusion (and content completion) of MMDetection
predictions and the ``DeOcclusionInferencer`` (images in; order, amodal
masks, content layers, pictures and JSON out)."""
from mmdeocc.utils.deprecation import moved_attribute
from .amodal_labels import *  # noqa: F401,F403  (pseudo-amodal labels)
from .image_inputs import (IMAGE_EXTENSIONS, ImageSkipped,
                           UnreadableImageError, list_images, read_image)
from .inference_outputs import sample_to_record
from .inferencer import (DeOcclusionInferencer, ImageResult,
                         wrap_detector_config)

__all__ = [
    'IMAGE_EXTENSIONS', 'DeOcclusionInferencer',
    'ImageResult', 'ImageSkipped', 'UnreadableImageError', 'list_images',
    'read_image', 'sample_to_record', 'wrap_detector_config'
]

# The DetDataSample adapter moved to mmdeocc.deocclusion (importable from
# here for one more release).
_MOVED = {
    name: 'mmdeocc.deocclusion'
    for name in (
        'GIVEN_MASKS_GAP_TOLERANCE', 'PREDICTED_MASKS_GAP_TOLERANCE',
        'DetDeOcclusionConfigError', 'DetectorWithoutMasksError',
        'DetSampleDeOccluder', 'DetSampleError',
        'build_det_sample_deoccluder', 'check_detector_predicts_masks',
        'detector_predicts_masks', 'select_instances', 'DetContentError',
        'DetSampleContentCompleter', 'build_det_sample_content_completer',
        'content_options', 'images_from_batch', 'read_rgb_image')
}


def __getattr__(name: str):
    return moved_attribute(__name__, name, _MOVED)
