"""Datasets: annotation readers (KINS, COCOA, COCO, mmdeocc amodal),
image-level datasets, the PCNet instance dataset and its transforms."""
from .amodal_datasets import (AmodalCocoDataset, AmodalImageDataset,
                              COCOAmodalDataset, CocoModalDataset,
                              KINSAmodalDataset)
from .annotation_utils import AnnotationFormatError, InvalidAnnotationError
from .amodal_coco import amodal_view, amodal_view_path, load_amodal_coco
from .coco import load_coco_modal
from .cocoa import load_cocoa
from .formats import READERS, load_annotations
from .kins import detect_kins_release, load_kins
from . import synthesis  # noqa: F401  (synthetic occlusion scenes)
from .mask_cache import TightMaskCache
from .pcnet_instance_dataset import PCNetInstanceDataset
from .samplers import InfiniteRoundSampler
from .supervised_amodal_dataset import SupervisedAmodalInstanceDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'load_kins', 'load_cocoa', 'load_coco_modal', 'load_amodal_coco',
    'amodal_view', 'amodal_view_path',
    'load_annotations', 'READERS', 'detect_kins_release',
    'AnnotationFormatError', 'InvalidAnnotationError', 'AmodalImageDataset',
    'KINSAmodalDataset', 'COCOAmodalDataset', 'CocoModalDataset',
    'AmodalCocoDataset', 'PCNetInstanceDataset', 'InfiniteRoundSampler',
    'TightMaskCache', 'SurrogateOcclusion', 'PackPCNetInputs',
    'SupervisedAmodalInstanceDataset', 'SupervisedAmodalSample'
]
