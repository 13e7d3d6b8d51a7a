"""Annotation writers: a scene as amodal-COCO or COCOA entries, and PNGs.

Two annotation formats (:data:`FORMATS`): the project's amodal COCO format
(``'amodal_coco'``, one annotation per object, see ``docs/design.md``) and
the COCOA format (``'cocoa'``, one annotation per image with ``regions``,
METHOD 5.2).
"""
from typing import List, Tuple

import cv2
import numpy as np

from mmdeocc.structures import encode_rle, mask_to_bbox
from mmdeocc.utils.io import atomic_write_bytes
from .scene import SyntheticScene

__all__ = ['FORMATS', 'scene_to_amodal_coco', 'scene_to_cocoa', 'write_png']

#: Annotation formats of the generated datasets.
FORMATS = ('amodal_coco', 'cocoa')


def scene_to_amodal_coco(scene: SyntheticScene, image_id: int,
                         file_name: str,
                         first_ann_id: int) -> Tuple[dict, List[dict]]:
    """Image entry and annotations in the project's amodal COCO format.

    Args:
        scene (SyntheticScene): The scene.
        image_id (int): COCO image id.
        file_name (str): Image file name relative to the image folder.
        first_ann_id (int): Id of the first annotation.

    Returns:
        tuple: ``(image_entry, annotations)``; see ``docs/design.md``. Extra
        per-annotation keys: ``depth`` (0 = nearest), ``truncated``,
        ``occlude_rate`` (hidden fraction of the in-image amodal area),
        ``shape_name``. The image entry lists the ``occlusion_edges`` as
        ``[occluder_ann_id, occludee_ann_id]`` pairs.
    """
    height, width = scene.image.shape[:2]
    ann_ids = [first_ann_id + k for k in range(len(scene))]
    anns = []
    for k in range(len(scene)):
        modal_area = int(scene.modal[k].sum())
        amodal_area = int(scene.amodal[k].sum())
        anns.append(
            dict(
                id=ann_ids[k],
                image_id=image_id,
                category_id=int(scene.category_ids[k]),
                segmentation=encode_rle(scene.modal[k]),
                area=float(modal_area),
                bbox=[float(v) for v in mask_to_bbox(scene.modal[k])],
                iscrowd=0,
                amodal_segmentation=encode_rle(scene.amodal[k]),
                amodal_area=float(amodal_area),
                amodal_bbox=[float(v) for v in mask_to_bbox(scene.amodal[k])],
                depth=int(scene.depth[k]),
                truncated=bool(scene.truncated[k]),
                occlude_rate=round(1.0 - modal_area / amodal_area, 6),
                shape_name=scene.shape_names[k]))
    image = dict(
        id=image_id,
        file_name=file_name,
        height=height,
        width=width,
        occlusion_edges=[[ann_ids[i], ann_ids[j]]
                         for i, j in scene.occlusion_edges()])
    return image, anns


def scene_to_cocoa(scene: SyntheticScene, image_id: int,
                   file_name: str) -> Tuple[dict, dict]:
    """Image entry and the per-image annotation in the COCOA format.

    METHOD 5.2: one annotation per image with ``regions`` (amodal polygon
    ``segmentation``, ``visible_mask``/``invisible_mask`` RLE when occluded,
    1-based depth rank ``order``, ``isStuff``, ``name``, ``area`` (amodal),
    ``occlude_rate``) and ``depth_constraint`` ``"i-j,..."`` (1-based region
    indices, region i occludes region j; the occlusion edges).

    Args:
        scene (SyntheticScene): A scene made with ``polygonize=True``.
        image_id (int): COCO image id.
        file_name (str): Image file name.

    Returns:
        tuple: ``(image_entry, annotation)``.

    Raises:
        ValueError: The scene has no polygons.
    """
    if scene.polygons is None:
        raise ValueError('COCOA output needs a scene made with '
                         'polygonize=True (amodal masks are polygons)')
    height, width = scene.image.shape[:2]
    regions = []
    for k in range(len(scene)):
        amodal_area = int(scene.amodal[k].sum())
        rate = 1.0 - int(scene.modal[k].sum()) / amodal_area
        region = dict(
            segmentation=scene.polygons[k],
            area=float(amodal_area),
            order=int(scene.depth[k]) + 1,
            isStuff=0,
            name=scene.class_names[k],
            occlude_rate=round(rate, 6))
        if rate > 0:
            region['visible_mask'] = encode_rle(scene.modal[k])
            region['invisible_mask'] = encode_rle(scene.amodal[k]
                                                  & ~scene.modal[k])
        regions.append(region)
    constraint = ','.join(f'{i + 1}-{j + 1}'
                          for i, j in scene.occlusion_edges())
    image = dict(id=image_id, file_name=file_name, height=height, width=width)
    ann = dict(image_id=image_id, regions=regions,
               depth_constraint=constraint, size=len(regions))
    return image, ann


def write_png(image_rgb: np.ndarray, path: str) -> None:
    """Write an RGB uint8 image as PNG atomically.

    Args:
        image_rgb (np.ndarray): ``(H, W, 3)`` uint8 RGB.
        path (str): Destination ``.png`` (its folder is created).

    Raises:
        OSError: PNG encoding failed.
    """
    ok, buf = cv2.imencode('.png', image_rgb[:, :, ::-1])
    if not ok:
        raise OSError(f'{path}: PNG encoding failed')
    atomic_write_bytes(buf.tobytes(), path)
