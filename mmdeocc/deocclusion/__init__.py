"""The inference core: touch test, batched ordering and amodal completion,
graph helpers, geometric baselines and the :class:`DeOccluder`."""
from mmdeocc.utils.deprecation import moved_attribute
from .amodal import completion_amodal, eraser_members
from .baselines import (area_order, convex_amodal, convex_hull_mask,
                        convex_hulls, convex_order, convexr_amodal, raw_amodal,
                        yaxis_order)
from .content import (ContentCompleter, ContentCompletionError, ContentLayers,
                      load_pcnet_c)
from .crops import crop_union, dilate_square, paste_patches
from .deoccluder import (AMODAL_METHODS, ORDER_METHODS, DeOcclusionConfigError,
                         DeOccluder, build_deoccluder)
from .ordering import completion_orders, order_from_growth
from .recompose import (RecomposeError, SceneRecomposer, recompose,
                        shift_array)
from .scene import DeOcclusionInputError, Scene

__all__ = [
    'completion_amodal', 'eraser_members', 'area_order', 'convex_amodal',
    'convex_hull_mask', 'convex_hulls', 'convex_order', 'convexr_amodal',
    'raw_amodal', 'yaxis_order', 'crop_union', 'dilate_square',
    'paste_patches', 'AMODAL_METHODS', 'ORDER_METHODS',
    'DeOcclusionConfigError', 'DeOccluder', 'build_deoccluder',
    'completion_orders', 'order_from_growth',
    'DeOcclusionInputError', 'Scene',
    'ContentCompleter', 'ContentCompletionError', 'ContentLayers',
    'load_pcnet_c', 'RecomposeError', 'SceneRecomposer', 'recompose',
    'shift_array'
]

# Moved to mmdeocc.structures (importable from here for one more release).
_MOVED = {
    name: 'mmdeocc.structures'
    for name in ('PackedMasks', 'ancestor_matrix', 'ancestors',
                 'drawing_order', 'layers', 'strongly_connected_components',
                 'touch_radii', 'touching_pairs')
}


def __getattr__(name: str):
    return moved_attribute(__name__, name, _MOVED)
