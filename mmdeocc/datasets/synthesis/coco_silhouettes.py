"""Silhouettes cut from the modal masks of a COCO-style instances file.

Real object outlines (people, cars, animals ...) for occlusion scenes with
exact ground truth: the scene generator composites them like the MPEG-7
silhouettes, so a PCNet-M trained on some photos can be tested on the object
shapes of photos it has never seen (docs/results.md "Held-out COCO128
objects").

Only objects that look whole are kept by default: not cut by the image
border and not touching any other annotated instance (a modal mask with a
bite taken out by an occluder would otherwise become a "complete" shape).
"""
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List

import numpy as np

from ..coco import load_coco_modal
from .shapes import save_shape_png, tight_crop

_UNSAFE = re.compile(r'[^A-Za-z0-9_]+')


@dataclass
class SilhouetteExport:
    """What :func:`export_coco_silhouettes` wrote and skipped.

    Attributes:
        written (list[str]): Paths of the PNG files.
        skipped (dict[str, int]): Instances left out, by reason.
    """
    written: List[str] = field(default_factory=list)
    skipped: Dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        """Count one skipped instance."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def class_file_name(name: str) -> str:
    """A category name as the ``<class>`` part of a silhouette file name.

    Args:
        name (str): COCO category name (e.g. ``'traffic light'``).

    Returns:
        str: Letters, digits and underscores only (``'traffic_light'``).
    """
    return _UNSAFE.sub('_', name.strip()).strip('_') or 'object'


def _touches_border(mask: np.ndarray) -> bool:
    return bool(mask[0].any() or mask[-1].any() or mask[:, 0].any()
                or mask[:, -1].any())


def _grow(mask: np.ndarray) -> np.ndarray:
    """``mask`` dilated by one pixel with the 4-neighbourhood."""
    grown = mask.copy()
    grown[1:] |= mask[:-1]
    grown[:-1] |= mask[1:]
    grown[:, 1:] |= mask[:, :-1]
    grown[:, :-1] |= mask[:, 1:]
    return grown


def export_coco_silhouettes(ann_file: str,
                            out_dir: str,
                            min_side: int = 32,
                            isolated_only: bool = True,
                            keep_truncated: bool = False
                            ) -> SilhouetteExport:
    """Write each usable instance mask as ``<class>-<ann_id>.png``.

    Args:
        ann_file (str): COCO instances JSON (modal masks).
        out_dir (str): Folder for the PNGs (created).
        min_side (int): Skip objects whose tight box is smaller than this
            on its shorter side.
        isolated_only (bool): Skip objects whose mask touches (4-connected,
            1-pixel tolerance) another instance of the same image.
        keep_truncated (bool): Keep objects touching the image border.

    Returns:
        SilhouetteExport: Files written and counts of skipped instances.

    Raises:
        FileNotFoundError: ``ann_file`` is missing.
        AnnotationFormatError: ``ann_file`` is not a COCO instances file.
    """
    from mmdeocc.structures.masks import decode_rle
    records, categories = load_coco_modal(ann_file)
    names = {c['id']: class_file_name(c['name']) for c in categories}
    os.makedirs(out_dir, exist_ok=True)
    result = SilhouetteExport()
    for record in records:
        masks = [decode_rle(inst['modal_mask']).astype(bool)
                 for inst in record['instances']]
        for k, inst in enumerate(record['instances']):
            mask = masks[k]
            if not mask.any():
                result.skip('empty')
                continue
            if not keep_truncated and _touches_border(mask):
                result.skip('cut by the image border')
                continue
            shape = tight_crop(mask)
            if min(shape.shape) < min_side:
                result.skip(f'shorter side < {min_side} px')
                continue
            if isolated_only and len(masks) > 1:
                grown = _grow(mask)
                if any((grown & other).any()
                       for j, other in enumerate(masks) if j != k):
                    result.skip('touches another instance')
                    continue
            path = osp.join(
                out_dir, f'{names[inst["category_id"]]}-{inst["ann_id"]}.png')
            save_shape_png(shape, path)
            result.written.append(path)
    return result
