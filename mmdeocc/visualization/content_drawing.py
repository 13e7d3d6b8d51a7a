"""Pictures of content completion: the inpainted background and each
completed object on its own.

:func:`render_content_layers` lays out, on a white canvas (BGR):

- top row: the input image and the inpainted background (every object
  removed), side by side with captions;
- below: one tile per object whose completed pixels are at least
  ``min_fill_fraction`` of its layer (objects whose invisible part is a
  sliver along their border are left out): its RGBA layer
  (amodal ∪ visible, cut out of the image with the invisible part filled by
  PCNet-C) over a grey checkerboard, cropped to the layer's box plus a
  margin and scaled to a common tile height, the completed pixels outlined
  in the object's colour, captioned ``id:name``.

The layers are given in RGB (as :class:`~mmdeocc.deocclusion.
ContentLayers` holds them); the picture is BGR like the other pictures of
this package.
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .deocclusion_drawing import (DrawingInputError, object_colours,
                                  object_texts)

#: Gap between panels and around the canvas (pixels).
GAP = 8
#: Caption band height (pixels).
CAPTION = 22


def checkerboard(height: int, width: int, cell: int = 8) -> np.ndarray:
    """A light grey checkerboard, the usual picture of transparency.

    Args:
        height (int): Height.
        width (int): Width.
        cell (int): Square side.

    Returns:
        np.ndarray: ``(height, width, 3)`` uint8.
    """
    yy, xx = np.mgrid[:height, :width]
    light = ((yy // cell + xx // cell) % 2).astype(bool)
    out = np.full((height, width, 3), 204, np.uint8)
    out[light] = 236
    return out


def caption_panel(panel: np.ndarray, text: str) -> np.ndarray:
    """Panel with a caption band above it."""
    band = np.full((CAPTION, panel.shape[1], 3), 255, np.uint8)
    cv2.putText(band, text, (4, CAPTION - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (40, 40, 40), 1, cv2.LINE_AA)
    return np.concatenate([band, panel], axis=0)


def _box(mask: np.ndarray, margin: int) -> Tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of a non-empty mask plus a margin, clipped."""
    ys, xs = np.nonzero(mask)
    height, width = mask.shape
    return (max(0, ys.min() - margin), min(height, ys.max() + 1 + margin),
            max(0, xs.min() - margin), min(width, xs.max() + 1 + margin))


def object_tile(rgb: np.ndarray, alpha: np.ndarray, fill: np.ndarray,
                colour: np.ndarray, height: int) -> np.ndarray:
    """One completed object on a checkerboard, BGR, ``height`` rows.

    Args:
        rgb (np.ndarray): ``(H, W, 3)`` uint8 RGB layer colours.
        alpha (np.ndarray): ``(H, W)`` bool layer mask (non-empty).
        fill (np.ndarray): ``(H, W)`` bool completed pixels.
        colour (np.ndarray): ``(3,)`` uint8 BGR outline colour.
        height (int): Tile height.

    Returns:
        np.ndarray: ``(height, w, 3)`` uint8 BGR tile.
    """
    y0, y1, x0, x1 = _box(alpha, margin=4)
    crop_alpha = alpha[y0:y1, x0:x1]
    tile = checkerboard(y1 - y0, x1 - x0)
    tile[crop_alpha] = rgb[y0:y1, x0:x1][crop_alpha][:, ::-1]
    scale = height / float(y1 - y0)
    width = max(1, int(round((x1 - x0) * scale)))
    tile = cv2.resize(tile, (width, height), interpolation=cv2.INTER_AREA
                      if scale < 1 else cv2.INTER_NEAREST)
    region = cv2.resize((fill[y0:y1, x0:x1] & crop_alpha).astype(np.uint8),
                        (width, height), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(tile, contours, -1, tuple(int(c) for c in colour), 2,
                     cv2.LINE_AA)
    return tile


def _rows(tiles: List[np.ndarray], width: int) -> List[np.ndarray]:
    """Pack tiles left to right into rows no wider than ``width``."""
    rows, current, used = [], [], 0
    for tile in tiles:
        tile = tile[:, :width]
        if current and used + GAP + tile.shape[1] > width:
            rows.append(current)
            current, used = [], 0
        used += (GAP if current else 0) + tile.shape[1]
        current.append(tile)
    if current:
        rows.append(current)
    out = []
    for row in rows:
        height = max(t.shape[0] for t in row)
        canvas = np.full((height, width, 3), 255, np.uint8)
        x = 0
        for tile in row:
            canvas[:tile.shape[0], x:x + tile.shape[1]] = tile
            x += tile.shape[1] + GAP
        out.append(canvas)
    return out


def render_content_layers(layers,
                          names: Optional[Sequence[Optional[str]]] = None,
                          colours: Optional[np.ndarray] = None,
                          ids: Optional[Sequence[int]] = None,
                          max_objects: int = 24,
                          min_fill_fraction: float = 0.01) -> np.ndarray:
    """The content-completion picture of one image (module docstring).

    Args:
        layers (ContentLayers): Output of
            :class:`~mmdeocc.deocclusion.ContentCompleter`.
        names (Sequence[str], optional): Per-layer names.
        colours (np.ndarray, optional): ``(N, 3)`` BGR colours; default
            :func:`~mmdeocc.visualization.object_colours`.
        ids (Sequence[int], optional): Per-layer ids for the captions;
            default ``layers.instance_indices`` or ``0 .. N - 1``.
        max_objects (int): Draw at most this many object tiles (those with
            the most completed pixels).
        min_fill_fraction (float): Draw an object only when its completed
            pixels are at least this fraction of its layer (and > 0).

    Returns:
        np.ndarray: ``(H', W', 3)`` uint8 BGR picture.
    """
    num = layers.num_objects
    if colours is None:
        colours = object_colours(num)
    colours = np.asarray(colours, np.uint8).reshape(-1, 3)
    if len(colours) != num:
        raise DrawingInputError(f'{len(colours)} colours for {num} layers')
    if ids is None and layers.instance_indices is not None:
        ids = [int(i) for i in layers.instance_indices]
    texts = object_texts(num, names, ids)
    image = np.ascontiguousarray(layers.image[..., ::-1])
    background = np.ascontiguousarray(layers.background[..., ::-1])
    top = np.concatenate([
        caption_panel(image, 'input'),
        np.full((image.shape[0] + CAPTION, GAP, 3), 255, np.uint8),
        caption_panel(background, 'background, objects removed')
    ], axis=1)
    width = top.shape[1]
    filled = (layers.fill_masks & layers.alpha).sum((1, 2))
    area = layers.alpha.sum((1, 2))
    chosen = [
        k for k in np.argsort(-filled, kind='stable')
        if filled[k] > 0 and filled[k] >= min_fill_fraction * area[k]
    ][:max_objects]
    tile_height = int(np.clip(image.shape[0] // 2, 64, 200))
    tiles = [
        caption_panel(
            object_tile(layers.rgb[k], layers.alpha[k], layers.fill_masks[k],
                        colours[k], tile_height), texts[k])
        for k in sorted(chosen)
    ]
    parts = [top]
    if tiles:
        for row in _rows(tiles, width):
            parts.append(np.full((GAP, width, 3), 255, np.uint8))
            parts.append(row)
    body = np.concatenate(parts, axis=0)
    return cv2.copyMakeBorder(body, GAP, GAP, GAP, GAP, cv2.BORDER_CONSTANT,
                              value=(255, 255, 255))
