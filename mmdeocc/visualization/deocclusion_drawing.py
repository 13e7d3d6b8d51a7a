"""Pictures of de-occlusion results: visible masks, invisible parts, ids.

Images are ``(H, W, 3)`` uint8 in OpenCV's BGR channel order, as read by
``mmcv.imread`` / ``cv2.imread`` and written by ``cv2.imwrite``; colours
are BGR triples. Every function returns a new image.

The rendering (:func:`render_deocclusion`):

1. visible (modal) masks are blended with the object's colour
   (:func:`overlay_visible`);
2. invisible parts (amodal minus modal) are hatched in the object's colour
   - solid diagonal stripes over a translucent fill - and outlined where
   they border the outside of the amodal mask (:func:`overlay_invisible`).
   This step changes exactly the pixels of ``amodal & ~modal`` (as long as
   the blend differs from the underlying pixel, i.e. the colour is not the
   pixel's own colour);
3. object ids (and optional names) are written inside each visible mask
   (:func:`draw_object_ids`).
"""
import colorsys
from typing import List, Optional, Sequence

import cv2
import numpy as np

from mmdeocc.structures.order import drawing_order


class DrawingInputError(ValueError):
    """Arrays given to a drawing function have inconsistent shapes."""


def object_colours(num: int) -> np.ndarray:
    """Distinct, saturated colours (golden-ratio hue steps).

    Args:
        num (int): Number of colours.

    Returns:
        np.ndarray: ``(num, 3)`` uint8 BGR colours; colour ``k`` is the
        same whatever ``num`` is.
    """
    out = np.zeros((num, 3), dtype=np.uint8)
    for k in range(num):
        hue = (0.07 + 0.618033988749895 * k) % 1.0
        sat = 0.85 if k % 2 == 0 else 0.65
        r, g, b = colorsys.hsv_to_rgb(hue, sat, 0.95)
        out[k] = (int(round(b * 255)), int(round(g * 255)),
                  int(round(r * 255)))
    return out


def _check(image: np.ndarray, masks: Sequence[np.ndarray],
           names: Sequence[str]) -> int:
    """Validate image and mask shapes; return the number of objects."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or \
            image.shape[2] != 3 or image.dtype != np.uint8:
        raise DrawingInputError(
            'image must be an (H, W, 3) uint8 array, got '
            f'{getattr(image, "shape", None)} '
            f'{getattr(image, "dtype", type(image).__name__)}')
    num = None
    for mask, name in zip(masks, names):
        if mask.ndim != 3 or mask.shape[1:] != image.shape[:2]:
            raise DrawingInputError(
                f'{name} must be (N, {image.shape[0]}, {image.shape[1]}), '
                f'got {mask.shape}')
        if num is not None and mask.shape[0] != num:
            raise DrawingInputError(
                f'{name} has {mask.shape[0]} masks, expected {num}')
        num = mask.shape[0]
    return int(num or 0)


def _colours(colours: Optional[np.ndarray], num: int) -> np.ndarray:
    """Default or validated ``(num, 3)`` colours."""
    if colours is None:
        return object_colours(num)
    colours = np.asarray(colours, dtype=np.uint8).reshape(-1, 3)
    if colours.shape[0] < num:
        raise DrawingInputError(
            f'{colours.shape[0]} colours for {num} objects')
    return colours


def _blend(image: np.ndarray, region: np.ndarray, colour: np.ndarray,
           alpha: float) -> None:
    """In place: ``image[region] = (1 - alpha) * image + alpha * colour``."""
    pixels = image[region].astype(np.float32)
    image[region] = np.clip(
        np.round((1.0 - alpha) * pixels + alpha * colour.astype(np.float32)),
        0, 255).astype(np.uint8)


def overlay_visible(image: np.ndarray,
                    modal: np.ndarray,
                    colours: Optional[np.ndarray] = None,
                    alpha: float = 0.45,
                    order: Optional[np.ndarray] = None) -> np.ndarray:
    """Blend every visible mask with its object's colour.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR image.
        modal (np.ndarray): ``(N, H, W)`` bool visible masks.
        colours (np.ndarray, optional): ``(N, 3)`` BGR colours.
        alpha (float): Opacity of the colour.
        order (np.ndarray, optional): ``(N, N)`` order; overlapping masks
            are painted back to front. Default: index order.

    Returns:
        np.ndarray: The new image.
    """
    num = _check(image, [modal], ['modal'])
    colours = _colours(colours, num)
    out = image.copy()
    sequence = drawing_order(order) if order is not None else range(num)
    for k in sequence:
        _blend(out, modal[k].astype(bool), colours[k], alpha)
    return out


def invisible_parts(modal: np.ndarray, amodal: np.ndarray) -> np.ndarray:
    """``amodal & ~modal`` per object.

    Args:
        modal (np.ndarray): ``(N, H, W)`` bool.
        amodal (np.ndarray): ``(N, H, W)`` bool.

    Returns:
        np.ndarray: ``(N, H, W)`` bool.
    """
    return amodal.astype(bool) & ~modal.astype(bool)


def _inner_boundary(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (or the image)."""
    padded = np.pad(mask, 1, constant_values=False)
    interior = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2]
                & padded[1:-1, 2:])
    return mask & ~interior


def overlay_invisible(image: np.ndarray,
                      modal: np.ndarray,
                      amodal: np.ndarray,
                      colours: Optional[np.ndarray] = None,
                      alpha: float = 0.3,
                      stripe: int = 4,
                      outline: bool = True,
                      order: Optional[np.ndarray] = None) -> np.ndarray:
    """Hatch the invisible part (amodal minus modal) of every object.

    Pixels of ``amodal & ~modal`` get the object's colour on diagonal
    stripes ``stripe`` pixels wide and a translucent fill (``alpha``)
    between them; the part of the amodal outline that runs through the
    invisible region is drawn solid. No other pixel changes.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR image.
        modal (np.ndarray): ``(N, H, W)`` bool visible masks.
        amodal (np.ndarray): ``(N, H, W)`` bool amodal masks.
        colours (np.ndarray, optional): ``(N, 3)`` BGR colours.
        alpha (float): Opacity of the fill between the stripes.
        stripe (int): Width of the stripes and of the gaps, in pixels.
        outline (bool): Draw the amodal outline inside the invisible part.
        order (np.ndarray, optional): ``(N, N)`` order; invisible parts are
            painted back to front. Default: index order.

    Returns:
        np.ndarray: The new image.
    """
    num = _check(image, [modal, amodal], ['modal', 'amodal'])
    colours = _colours(colours, num)
    stripe = max(1, int(stripe))
    height, width = image.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    on_stripe = ((xx + yy) // stripe) % 2 == 0
    hidden = invisible_parts(modal, amodal)
    out = image.copy()
    sequence = drawing_order(order) if order is not None else range(num)
    for k in sequence:
        region = hidden[k]
        if not region.any():
            continue
        solid = region & on_stripe
        if outline:
            solid |= region & _inner_boundary(amodal[k].astype(bool))
        _blend(out, region & ~solid, colours[k], alpha)
        out[solid] = colours[k]
    return out


def _anchor(mask: np.ndarray) -> Optional[tuple]:
    """The pixel of a mask farthest from its border (x, y), if any."""
    if not mask.any():
        return None
    padded = np.pad(mask.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, 3)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(x), int(y)


def draw_object_ids(image: np.ndarray,
                    masks: np.ndarray,
                    texts: Sequence[str],
                    colours: Optional[np.ndarray] = None,
                    font_scale: Optional[float] = None) -> np.ndarray:
    """Write a text (object id, name) inside every mask.

    The text is centred on the mask pixel farthest from the mask border;
    objects with an empty mask get no text.

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR image.
        masks (np.ndarray): ``(N, H, W)`` bool masks (usually the visible
            ones).
        texts (Sequence[str]): ``N`` texts.
        colours (np.ndarray, optional): ``(N, 3)`` BGR text colours.
        font_scale (float, optional): Default: from the image size.

    Returns:
        np.ndarray: The new image.
    """
    num = _check(image, [masks], ['masks'])
    if len(texts) != num:
        raise DrawingInputError(f'{len(texts)} texts for {num} masks')
    colours = _colours(colours, num)
    if font_scale is None:
        font_scale = float(np.clip(min(image.shape[:2]) / 600.0, 0.3, 1.0))
    thickness = 1 if font_scale < 0.6 else 2
    out = image.copy()
    font = cv2.FONT_HERSHEY_SIMPLEX
    for k in range(num):
        anchor = _anchor(masks[k].astype(bool))
        if anchor is None or not texts[k]:
            continue
        (tw, th), _ = cv2.getTextSize(texts[k], font, font_scale, thickness)
        x = int(np.clip(anchor[0] - tw // 2, 0, max(0, out.shape[1] - tw)))
        y = int(np.clip(anchor[1] + th // 2, th, out.shape[0] - 1))
        cv2.putText(out, texts[k], (x, y), font, font_scale, (0, 0, 0),
                    thickness + 2, cv2.LINE_AA)
        colour = tuple(int(c) for c in colours[k])
        cv2.putText(out, texts[k], (x, y), font, font_scale, colour,
                    thickness, cv2.LINE_AA)
    return out


def object_texts(num: int,
                 names: Optional[Sequence[Optional[str]]] = None,
                 ids: Optional[Sequence[int]] = None) -> List[str]:
    """``'<id>'`` or ``'<id>:<name>'`` per object.

    Args:
        num (int): Number of objects.
        names (Sequence[str], optional): Per-object names (None entries are
            left out).
        ids (Sequence[int], optional): Per-object ids; default
            ``0 .. num - 1``.

    Returns:
        list[str]: Texts.
    """
    texts = []
    for k in range(num):
        name = names[k] if names is not None and k < len(names) else None
        obj_id = int(ids[k]) if ids is not None else k
        texts.append(f'{obj_id}:{name}' if name else str(obj_id))
    return texts


def enlargement(shape: Sequence[int], min_side: int) -> int:
    """Integer factor bringing the shorter side of ``shape`` to ``min_side``.

    Args:
        shape (Sequence[int]): ``(H, W)``.
        min_side (int): Wanted shorter side (0: no enlargement).

    Returns:
        int: ``ceil(min_side / min(H, W))``, at least 1.
    """
    short = min(int(shape[0]), int(shape[1]))
    if min_side <= 0 or short <= 0 or short >= min_side:
        return 1
    return -(-int(min_side) // short)


def render_deocclusion(image: np.ndarray,
                       modal: np.ndarray,
                       amodal: np.ndarray,
                       order: Optional[np.ndarray] = None,
                       names: Optional[Sequence[Optional[str]]] = None,
                       colours: Optional[np.ndarray] = None,
                       ids: Optional[Sequence[int]] = None,
                       show_visible: bool = True,
                       show_invisible: bool = True,
                       show_ids: bool = True,
                       visible_alpha: float = 0.45,
                       invisible_alpha: float = 0.3,
                       stripe: int = 4,
                       min_side: int = 0) -> np.ndarray:
    """The de-occlusion picture of one image (see the module docstring).

    Args:
        image (np.ndarray): ``(H, W, 3)`` uint8 BGR image.
        modal (np.ndarray): ``(N, H, W)`` bool visible masks.
        amodal (np.ndarray): ``(N, H, W)`` bool amodal masks.
        order (np.ndarray, optional): ``(N, N)`` order (drawing order).
        names (Sequence[str], optional): Per-object names for the labels.
        colours (np.ndarray, optional): ``(N, 3)`` BGR colours; default
            :func:`object_colours`.
        ids (Sequence[int], optional): Object ids written in the labels;
            default ``0 .. N - 1`` (give the original indices when drawing
            a subset of the objects).
        show_visible (bool): Blend the visible masks.
        show_invisible (bool): Hatch the invisible parts.
        show_ids (bool): Write ``id:name`` in each visible mask.
        visible_alpha (float): Opacity of the visible masks.
        invisible_alpha (float): Opacity of the invisible fill.
        stripe (int): Hatching stripe width.
        min_side (int): Draw images whose shorter side is below this
            enlarged by the smallest integer factor that reaches it (nearest
            neighbour, so pixels stay sharp and labels readable); 0 draws at
            the original size.

    Returns:
        np.ndarray: ``(H * f, W * f, 3)`` uint8 BGR picture, ``f`` = 1
        unless ``min_side`` enlarged it.
    """
    modal = np.asarray(modal).astype(bool)
    amodal = np.asarray(amodal).astype(bool)
    num = _check(image, [modal, amodal], ['modal', 'amodal'])
    factor = enlargement(image.shape[:2], min_side)
    if factor > 1:
        image = image.repeat(factor, axis=0).repeat(factor, axis=1)
        modal = modal.repeat(factor, axis=1).repeat(factor, axis=2)
        amodal = amodal.repeat(factor, axis=1).repeat(factor, axis=2)
        stripe *= factor
    colours = _colours(colours, num)
    out = image.copy()
    if show_visible:
        out = overlay_visible(out, modal, colours, visible_alpha, order)
    if show_invisible:
        out = overlay_invisible(out, modal, amodal, colours, invisible_alpha,
                                stripe, True, order)
    if show_ids:
        out = draw_object_ids(out, modal, object_texts(num, names, ids),
                              colours)
    return out
