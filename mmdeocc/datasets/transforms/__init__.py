"""Transforms: surrogate occlusion (PCNet training samples), packing, and
scene re-composition for instance-segmentation training."""
from .crop import (crop_resize_nearest, foreground_box, integer_window,
                   shifted_overlap, translate)
from .formatting import PackPCNetInputs
from .pcnet_c_inputs import LoadPCNetCImageCrop, PackPCNetCInputs
from .recompose import DeOcclusionRecompose, RecomposeTransformError
from .supervised_amodal import SupervisedAmodalSample
from .surrogate_occlusion import SurrogateOcclusion

__all__ = [
    'SurrogateOcclusion', 'SupervisedAmodalSample', 'PackPCNetInputs',
    'LoadPCNetCImageCrop', 'PackPCNetCInputs',
    'crop_resize_nearest', 'integer_window', 'translate', 'shifted_overlap',
    'foreground_box', 'DeOcclusionRecompose', 'RecomposeTransformError'
]
