"""Pictures of de-occlusion results: amodal masks, invisible parts, the
occlusion graph and completed content, and the MMDetection visualizer that
draws them (``DeOcclusionVisualizer``), and re-composed training samples."""
from .content_drawing import checkerboard, object_tile, render_content_layers
from .deocclusion_drawing import (DrawingInputError, draw_object_ids,
                                  invisible_parts, object_colours,
                                  object_texts, overlay_invisible,
                                  overlay_visible, render_deocclusion)
from .deocclusion_visualizer import (PICTURE_MIN_SIDE, DeOcclusionVisualizer,
                                     deocclusion_pictures, shown_instances,
                                     side_by_side)
from .order_graph import draw_order_graph, graph_layout, order_edges
from .recompose_drawing import draw_instances, render_recompose_grid

__all__ = [
    'DrawingInputError', 'draw_object_ids', 'invisible_parts',
    'object_colours', 'object_texts', 'overlay_invisible', 'overlay_visible',
    'render_deocclusion', 'draw_order_graph', 'graph_layout', 'order_edges',
    'checkerboard', 'object_tile', 'render_content_layers',
    'PICTURE_MIN_SIDE', 'DeOcclusionVisualizer', 'deocclusion_pictures',
    'shown_instances', 'side_by_side', 'draw_instances',
    'render_recompose_grid'
]
