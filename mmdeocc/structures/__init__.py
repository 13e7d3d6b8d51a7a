"""Data structures: crop geometry and the de-occlusion result."""
from .geometry import (integer_crop_boxes, mask_to_bbox, masks_to_bboxes,
                       square_crop_boxes)
from .masks import (SegmentationError, decode_rle, encode_rle, encode_rles,
                    segmentation_to_mask, segmentation_to_rle)
from .result import DeOcclusionResult, ResultFormatError

__all__ = [
    'integer_crop_boxes', 'mask_to_bbox', 'masks_to_bboxes',
    'square_crop_boxes', 'SegmentationError', 'decode_rle', 'encode_rle',
    'encode_rles', 'segmentation_to_mask', 'segmentation_to_rle',
    'DeOcclusionResult',
    'ResultFormatError'
]
