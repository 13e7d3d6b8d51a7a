"""Pictures of re-composed training samples: the original sample and its
re-composition by :class:`~mmdeocc.datasets.transforms.DeOcclusionRecompose`,
each with its instance masks and boxes."""
from typing import List, Sequence

import cv2
import numpy as np

from .content_drawing import caption_panel
from .deocclusion_drawing import object_colours, overlay_visible
from .deocclusion_visualizer import side_by_side

__all__ = ['draw_instances', 'render_recompose_grid']


def draw_instances(image: np.ndarray, masks: np.ndarray,
                   boxes: np.ndarray, scale: int = 1) -> np.ndarray:
    """Masks blended in colour, their outlines and boxes.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR.
        masks (np.ndarray): ``(N, H, W)`` bool.
        boxes (np.ndarray): ``(N, 4)`` ``x1, y1, x2, y2``.
        scale (int): Nearest-neighbour enlargement of the picture.

    Returns:
        np.ndarray: ``(H * scale, W * scale, 3)`` uint8 BGR.
    """
    masks = np.asarray(masks, bool)
    colours = object_colours(len(masks))
    out = overlay_visible(image, masks, colours) if len(masks) else \
        image.copy()
    if scale > 1:
        out = cv2.resize(out, None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
    for k, mask in enumerate(masks):
        colour = tuple(int(c) for c in colours[k])
        big = cv2.resize(mask.astype(np.uint8), None, fx=scale, fy=scale,
                         interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, colour, 1)
        x1, y1, x2, y2 = (int(round(v * scale)) for v in boxes[k])
        cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), colour, 1)
    return out


def render_recompose_grid(samples: Sequence[dict],
                          scale: int = 2) -> np.ndarray:
    """One row per sample: original, original with instances, re-composed,
    re-composed with its new instances.

    Args:
        samples (Sequence[dict]): Each with ``img``, ``masks``, ``boxes``
            (the original) and ``new_img``, ``new_masks``, ``new_boxes``;
            images BGR uint8, optional ``caption``.
        scale (int): Enlargement of small images.

    Returns:
        np.ndarray: The grid, BGR uint8.
    """
    rows: List[np.ndarray] = []
    for sample in samples:
        def big(img: np.ndarray) -> np.ndarray:
            return cv2.resize(img, None, fx=scale, fy=scale,
                              interpolation=cv2.INTER_NEAREST)
        caption = sample.get('caption', '')
        panels = [
            caption_panel(big(sample['img']), f'original {caption}'),
            caption_panel(
                draw_instances(sample['img'], sample['masks'],
                               sample['boxes'], scale),
                f'{len(sample["masks"])} instances'),
            caption_panel(big(sample['new_img']), 're-composed'),
            caption_panel(
                draw_instances(sample['new_img'], sample['new_masks'],
                               sample['new_boxes'], scale),
                f'{len(sample["new_masks"])} new instances'),
        ]
        row = side_by_side(panels)
        rows.append(
            cv2.copyMakeBorder(row, 0, 6, 0, 0, cv2.BORDER_CONSTANT,
                               value=(255, 255, 255)))
    width = max(r.shape[1] for r in rows)
    rows = [
        cv2.copyMakeBorder(r, 0, 0, 0, width - r.shape[1],
                           cv2.BORDER_CONSTANT, value=(255, 255, 255))
        for r in rows
    ]
    return np.concatenate(rows, axis=0)
