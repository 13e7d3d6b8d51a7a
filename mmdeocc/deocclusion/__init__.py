"""The inference core: batched ordering and amodal completion, geometric
baselines, content completion, the :class:`DeOccluder` and its one builder,
and the adapter that de-occludes MMDetection's ``DetDataSample`` outputs."""
from mmdeocc.models import load_pcnet_c
from mmdeocc.utils.deprecation import moved_attribute
from .amodal import completion_amodal, eraser_members
from .baselines import (area_order, convex_amodal, convex_hull_mask,
                        convex_hulls, convex_order, convexr_amodal, raw_amodal,
                        yaxis_order)
from .builder import (DEOCCLUDER_OPTIONS, build_deoccluder, check_options,
                      keyword_arguments)
from .content import ContentCompleter, ContentCompletionError
from .deoccluder import DeOccluder, DeOcclusionConfigError
from .det_content import (DetContentError, DetSampleContentCompleter,
                          build_det_sample_content_completer, content_options,
                          images_from_batch, read_rgb_image)
from .det_samples import (GIVEN_MASKS_GAP_TOLERANCE,
                          PREDICTED_MASKS_GAP_TOLERANCE,
                          USER_AMODAL_UNION_VISIBLE, DetDeOcclusionConfigError,
                          DetectorWithoutMasksError, DetSampleDeOccluder,
                          DetSampleError, build_det_sample_deoccluder,
                          check_detector_predicts_masks,
                          detector_predicts_masks, select_instances)
from .methods import (AMODAL_METHODS, NAMED_METHODS, NETWORK_METHODS,
                      ORDER_METHODS, method_pair, ordering_needed)
from .ordering import completion_orders, order_from_growth
from .recompose import (Composition, LayerCrop, Placement, RecomposeError,
                        SceneRecomposer, recompose, shift_array)
from .scene import DeOcclusionInputError, Scene

__all__ = [
    'completion_amodal', 'eraser_members', 'area_order', 'convex_amodal',
    'convex_hull_mask', 'convex_hulls', 'convex_order', 'convexr_amodal',
    'raw_amodal', 'yaxis_order', 'AMODAL_METHODS', 'ORDER_METHODS',
    'DeOcclusionConfigError', 'DeOccluder', 'build_deoccluder',
    'completion_orders', 'order_from_growth',
    'DeOcclusionInputError', 'Scene',
    'ContentCompleter', 'ContentCompletionError', 'load_pcnet_c',
    'RecomposeError', 'SceneRecomposer', 'recompose',
    'shift_array', 'Composition', 'LayerCrop', 'Placement',
    'DEOCCLUDER_OPTIONS', 'check_options',
    'keyword_arguments', 'NAMED_METHODS', 'NETWORK_METHODS', 'method_pair',
    'ordering_needed', 'DetContentError', 'DetSampleContentCompleter',
    'build_det_sample_content_completer', 'content_options',
    'images_from_batch', 'read_rgb_image', 'GIVEN_MASKS_GAP_TOLERANCE',
    'PREDICTED_MASKS_GAP_TOLERANCE', 'USER_AMODAL_UNION_VISIBLE',
    'DetDeOcclusionConfigError',
    'DetectorWithoutMasksError', 'DetSampleDeOccluder', 'DetSampleError',
    'build_det_sample_deoccluder', 'check_detector_predicts_masks',
    'detector_predicts_masks', 'select_instances'
]

# Moved to mmdeocc.structures (importable from here for one more release).
_MOVED = {
    name: 'mmdeocc.structures'
    for name in ('PackedMasks', 'ancestor_matrix', 'ancestors',
                 'drawing_order', 'layers', 'strongly_connected_components',
                 'touch_radii', 'touching_pairs', 'ContentLayers',
                 'crop_union', 'dilate_square', 'paste_patches')
}


def __getattr__(name: str):
    return moved_attribute(__name__, name, _MOVED)
