"""Data structures and the relations between them: masks and their RLE
codecs, packed bitmasks, crop geometry, image operations (mask and RGB crops,
paste-back, normalising), the touch test, the one order algebra (order
matrices, edges, ground truth, graph layers) and the de-occlusion result.
The bottom floor: nothing here imports models, datasets or the core.
"""
from .content_layers import ContentLayers
from .geometry import (integer_crop_boxes, mask_to_bbox, masks_to_bboxes,
                       square_crop_boxes)
from .image_ops import (crop_resize_image, crop_union, denormalize_rgb,
                        dilate_square, normalize_rgb, paste_patches,
                        paste_resize_image)
from .masks import (RLE, SegmentationError, as_bool_mask_array,
                    as_bool_mask_tensor, decode_rle, empty_rle, encode_rle,
                    encode_rles, rle_area, rle_bbox, rle_bytes,
                    rle_intersection_area, rle_to_json, segmentation_to_mask,
                    segmentation_to_rle, to_numpy)
from .order import (TIE_RULES, OrderLike, ancestor_matrix, ancestors,
                    as_order_matrix, drawing_order, gt_order_from_masks,
                    layers, occluded_by, occlusion_edges, order_from_depth,
                    order_from_edges, order_to_edges, reachability,
                    strongly_connected_components, touch_matrix)
from .packed_masks import PackedMasks
from .result import DeOcclusionResult, ResultFormatError
from .touch import touch_radii, touching_pairs

__all__ = [
    'integer_crop_boxes', 'mask_to_bbox', 'masks_to_bboxes',
    'square_crop_boxes', 'RLE', 'SegmentationError', 'as_bool_mask_array',
    'as_bool_mask_tensor', 'decode_rle', 'empty_rle', 'encode_rle',
    'encode_rles', 'rle_area', 'rle_bbox', 'rle_bytes',
    'rle_intersection_area', 'rle_to_json', 'segmentation_to_mask',
    'segmentation_to_rle', 'to_numpy', 'TIE_RULES', 'OrderLike',
    'ancestor_matrix', 'ancestors', 'as_order_matrix', 'drawing_order',
    'gt_order_from_masks', 'layers', 'occluded_by', 'occlusion_edges',
    'order_from_depth', 'order_from_edges', 'order_to_edges', 'reachability',
    'strongly_connected_components', 'touch_matrix', 'PackedMasks',
    'DeOcclusionResult', 'ResultFormatError', 'touch_radii', 'touching_pairs',
    'ContentLayers', 'crop_resize_image', 'crop_union', 'denormalize_rgb',
    'dilate_square', 'normalize_rgb', 'paste_patches', 'paste_resize_image'
]
