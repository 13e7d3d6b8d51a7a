"""The inference core: touch test, batched ordering and amodal completion,
graph helpers, geometric baselines and the :class:`DeOccluder`."""
from .amodal import completion_amodal, eraser_members
from .baselines import (area_order, convex_amodal, convex_hull_mask,
                        convex_hulls, convex_order, convexr_amodal, raw_amodal,
                        yaxis_order)
from .bitmasks import PackedMasks
from .content import (ContentCompleter, ContentCompletionError, ContentLayers,
                      load_pcnet_c)
from .crops import crop_union, dilate_square, paste_patches
from .deoccluder import (AMODAL_METHODS, ORDER_METHODS, DeOcclusionConfigError,
                         DeOccluder, build_deoccluder)
from .graph import (ancestor_matrix, ancestors, drawing_order, layers,
                    strongly_connected_components)
from .ordering import completion_orders, order_from_growth
from .pairs import touch_radii, touching_pairs
from .recompose import (RecomposeError, SceneRecomposer, recompose,
                        shift_array)
from .scene import DeOcclusionInputError, Scene

__all__ = [
    'completion_amodal', 'eraser_members', 'area_order', 'convex_amodal',
    'convex_hull_mask', 'convex_hulls', 'convex_order', 'convexr_amodal',
    'raw_amodal', 'yaxis_order', 'PackedMasks', 'crop_union', 'dilate_square',
    'paste_patches', 'AMODAL_METHODS', 'ORDER_METHODS',
    'DeOcclusionConfigError', 'DeOccluder', 'build_deoccluder',
    'ancestor_matrix', 'ancestors', 'drawing_order', 'layers',
    'strongly_connected_components', 'completion_orders', 'order_from_growth',
    'touch_radii', 'touching_pairs', 'DeOcclusionInputError', 'Scene',
    'ContentCompleter', 'ContentCompletionError', 'ContentLayers',
    'load_pcnet_c', 'RecomposeError', 'SceneRecomposer', 'recompose',
    'shift_array'
]
