"""Scene re-composition (METHOD 3.5): redraw completed layers after edits.

Pure operations on :class:`~mmdeocc.structures.ContentLayers` (no model):
the editing tools, the training transform
(:class:`~mmdeocc.datasets.transforms.DeOcclusionRecompose`) and the core
all use them; :mod:`mmdeocc.deocclusion` re-exports them.

The layers of :class:`~mmdeocc.deocclusion.content.ContentLayers` are drawn
back to front in the recovered order (the cycle-safe
:func:`~mmdeocc.deocclusion.graph.drawing_order`: strongly connected
components as units) over the inpainted background. Edits:

* :meth:`SceneRecomposer.delete` - remove an object;
* :meth:`SceneRecomposer.move`, :meth:`~SceneRecomposer.scale`,
  :meth:`~SceneRecomposer.flip` - translate it by ``(dx, dy)`` pixels,
  resize or mirror it about the centre of its box (:class:`Placement`);
* :meth:`SceneRecomposer.bring_to_front`, :meth:`~SceneRecomposer.
  send_to_back`, :meth:`~SceneRecomposer.place_above`,
  :meth:`~SceneRecomposer.place_at` - change its depth;
* :meth:`SceneRecomposer.paste` - add a layer from elsewhere (another
  image's object, :class:`LayerCrop`) at a chosen depth.

:meth:`SceneRecomposer.compose` returns the picture and, for every pixel,
the object shown there (:class:`Composition`): the new visible (modal)
masks of the re-composed scene, exactly the composited layering (what
:class:`~mmdeocc.datasets.transforms.DeOcclusionRecompose` trains
instance segmenters on).

Drawing rule. An object that was not edited draws its visible pixels and,
of its completed (amodal) extent, only the pixels *revealed* by edits (the
former visible pixels of deleted, moved or re-stacked objects that no
unedited object shows). An edited object draws its whole layer (shifted)
at its place in the stacking. The canvas starts as the input image, with
the inpainted background on the revealed pixels of deleted and moved
objects (their modal masks dilated as for the background hole).

Why not simply paint every amodal layer back to front: the modal masks are
observations - where object j is visible, nothing unedited lies in front of
it. Painting full amodal layers lets over-completed amodal masks of
unrelated objects (no order between them, so their relative drawing order
is arbitrary) cover visible pixels of others, and replaces visible
background next to objects by inpainted background. With the rule above:

* without edits the output is the input image, bit for bit (with the
  default ``keep_visible=True`` of content completion);
* a visible pixel of an untouched object keeps its original value unless
  a moved or re-stacked object is now drawn in front of it.
"""
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch

from .content_layers import ContentLayers
from .geometry import mask_to_bbox
from .image_ops import dilate_square
from .order import OrderLike, drawing_order

__all__ = [
    'SceneRecomposer', 'RecomposeError', 'recompose', 'shift_array',
    'Placement', 'LayerCrop', 'Composition'
]


class RecomposeError(ValueError):
    """An invalid re-composition edit (unknown object, deleted object...)."""


def shift_array(array: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate an image-like array by ``(dx, dy)`` with zero fill.

    ``out[y, x] = array[y - dy, x - dx]`` where defined; pixels moved out
    of the image are dropped.

    Args:
        array (np.ndarray): ``(H, W, ...)`` array.
        dx (int): Shift to the right.
        dy (int): Shift down.

    Returns:
        np.ndarray: The shifted array (same shape and dtype).
    """
    h, w = array.shape[:2]
    out = np.zeros_like(array)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        array[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


@dataclass
class Placement:
    """Where an object's layer is drawn, relative to where it was.

    The layer's crop (the box of its alpha) is flipped left-right about the
    box centre (``flip``), resized about the box centre (``scale``,
    nearest neighbour for the alpha, bilinear for the colour), then
    translated by ``(dx, dy)`` pixels. The identity placement draws the
    layer where it was.

    Attributes:
        dx (int): Shift to the right.
        dy (int): Shift down.
        scale (float): Size factor (> 0).
        flip (bool): Mirror left-right.
    """
    dx: int = 0
    dy: int = 0
    scale: float = 1.0
    flip: bool = False

    @property
    def is_identity(self) -> bool:
        """True when the layer is drawn where it was."""
        return (self.dx, self.dy, self.scale, self.flip) == (0, 0, 1.0, False)


@dataclass
class LayerCrop:
    """An object's layer cut to the box of its alpha.

    Attributes:
        x (int): Left of the box in its image.
        y (int): Top of the box in its image.
        alpha (np.ndarray): ``(h, w)`` bool.
        rgb (np.ndarray): ``(h, w, 3)`` uint8.
    """
    x: int
    y: int
    alpha: np.ndarray
    rgb: np.ndarray

    @classmethod
    def from_full(cls, alpha: np.ndarray, rgb: np.ndarray) -> 'LayerCrop':
        """Cut a full-frame layer to the box of its alpha (empty alpha: an
        empty crop at the origin)."""
        x0, y0, w, h = (int(v) for v in mask_to_bbox(alpha))
        if w == 0:
            return cls(0, 0, np.zeros((0, 0), bool),
                       np.zeros((0, 0, 3), np.uint8))
        return cls(x0, y0, alpha[y0:y0 + h, x0:x0 + w],
                   rgb[y0:y0 + h, x0:x0 + w])

    def placed(self, placement: Placement) -> 'LayerCrop':
        """The crop after ``placement`` (not clipped to any image)."""
        import cv2
        alpha, rgb = self.alpha, self.rgb
        x, y = self.x, self.y
        if placement.flip:
            alpha, rgb = alpha[:, ::-1], rgb[:, ::-1]
        if placement.scale != 1.0 and alpha.size:
            h, w = alpha.shape
            new_h = max(1, int(round(h * placement.scale)))
            new_w = max(1, int(round(w * placement.scale)))
            alpha = cv2.resize(
                alpha.astype(np.uint8), (new_w, new_h),
                interpolation=cv2.INTER_NEAREST).astype(bool)
            rgb = cv2.resize(np.ascontiguousarray(rgb), (new_w, new_h),
                             interpolation=cv2.INTER_LINEAR)
            x = int(np.floor(x + (w - new_w) / 2 + 0.5))
            y = int(np.floor(y + (h - new_h) / 2 + 0.5))
        return LayerCrop(x + int(placement.dx), y + int(placement.dy),
                         alpha, rgb)

    def clipped(self, height: int,
                width: int) -> Tuple[Tuple[slice, slice], np.ndarray,
                                     np.ndarray]:
        """The part of the crop inside a ``height x width`` image.

        Returns:
            tuple: ``(rows, cols)`` slices of the image, and the alpha and
            colour there (empty when the crop lies outside).
        """
        h, w = self.alpha.shape[:2]
        ya, yb = max(self.y, 0), min(self.y + h, height)
        xa, xb = max(self.x, 0), min(self.x + w, width)
        yb, xb = max(ya, yb), max(xa, xb)
        local = (slice(ya - self.y, yb - self.y),
                 slice(xa - self.x, xb - self.x))
        return ((slice(ya, yb), slice(xa, xb)), self.alpha[local],
                self.rgb[local])


@dataclass
class Composition:
    """A rendered re-composition.

    Attributes:
        image (np.ndarray): ``(H, W, 3)`` uint8 RGB picture.
        owner (np.ndarray): ``(H, W)`` int32: the object whose pixel is
            shown (original objects ``0..N-1``, pasted layers ``N..``), -1
            for background.
        num_layers (int): Original plus pasted objects.
        drawn_areas (np.ndarray): ``(num_layers,)`` int64: pixels each
            object's drawing covered in the image (before objects drawn
            later covered some of them; 0 for deleted ones).
    """
    image: np.ndarray
    owner: np.ndarray
    num_layers: int
    drawn_areas: np.ndarray

    def visible_masks(self) -> np.ndarray:
        """``(num_layers, H, W)`` bool: the new visible (modal) masks, one
        per original and pasted object (deleted ones are empty)."""
        ids = np.arange(self.num_layers, dtype=np.int32)
        return self.owner[None] == ids[:, None, None]


class SceneRecomposer:
    """Edit a de-occluded scene and render it.

    Example::

        layers = ContentCompleter(pcnet_c)(image_rgb, result.modal_masks,
                                           result.amodal_masks)
        picture = (SceneRecomposer(layers, result.order)
                   .delete(3).move(1, 40, 0).bring_to_front(1).render())

    Objects are ``0..N-1`` (the layers); :meth:`paste` adds layers from
    elsewhere (indices ``N, N+1, ...``). :meth:`compose` also returns which
    object shows at every pixel, i.e. the new visible masks.

    Args:
        layers (ContentLayers): Completed layers of the image.
        order (np.ndarray | Tensor): ``(N, N)`` order matrix
            (``order[i, j] = +1``: i occludes j).
    """

    def __init__(self, layers: ContentLayers, order: OrderLike) -> None:
        if not isinstance(layers, ContentLayers):
            raise RecomposeError(f'layers: expected ContentLayers, got '
                                 f'{type(layers).__name__}')
        if isinstance(order, torch.Tensor):
            order = order.detach().cpu().numpy()
        order = np.asarray(order)
        n = layers.num_objects
        if order.shape != (n, n):
            raise RecomposeError(
                f'order: expected shape ({n}, {n}) for {n} layers, got '
                f'{order.shape}')
        self.layers = layers
        self.order = order.astype(np.int8)
        self.stacking: List[int] = drawing_order(self.order).tolist()
        self.placements: Dict[int, Placement] = {}
        self.deleted: Set[int] = set()
        self.restacked: Set[int] = set()
        self.pasted: List[LayerCrop] = []

    @property
    def num_layers(self) -> int:
        """Original plus pasted objects."""
        return self.layers.num_objects + len(self.pasted)

    # ------------------------------------------------------------------
    # edits
    # ------------------------------------------------------------------
    def _check(self, index: int, what: str) -> int:
        n = self.num_layers
        if isinstance(index, bool) or int(index) != index or \
                not 0 <= index < n:
            raise RecomposeError(
                f'{what}: object {index!r} does not exist (valid: 0..{n - 1})')
        index = int(index)
        if index in self.deleted:
            raise RecomposeError(f'{what}: object {index} was deleted')
        return index

    def _placement(self, index: int) -> Placement:
        return self.placements.setdefault(index, Placement())

    def delete(self, index: int) -> 'SceneRecomposer':
        """Remove an object (its region shows what lies behind it)."""
        self.deleted.add(self._check(index, 'delete'))
        return self

    def move(self, index: int, dx: int, dy: int) -> 'SceneRecomposer':
        """Translate an object by ``(dx, dy)`` pixels (accumulates)."""
        index = self._check(index, 'move')
        if int(dx) != dx or int(dy) != dy:
            raise RecomposeError(
                f'move: offsets must be integers, got ({dx}, {dy})')
        placement = self._placement(index)
        placement.dx += int(dx)
        placement.dy += int(dy)
        return self

    def scale(self, index: int, factor: float) -> 'SceneRecomposer':
        """Resize an object about the centre of its box (multiplies)."""
        index = self._check(index, 'scale')
        if not np.isfinite(factor) or factor <= 0:
            raise RecomposeError(f'scale: factor must be > 0, got {factor!r}')
        self._placement(index).scale *= float(factor)
        return self

    def flip(self, index: int) -> 'SceneRecomposer':
        """Mirror an object left-right about the centre of its box
        (toggles)."""
        placement = self._placement(self._check(index, 'flip'))
        placement.flip = not placement.flip
        return self

    def bring_to_front(self, index: int) -> 'SceneRecomposer':
        """Draw an object in front of every other."""
        return self.place_at(index, len(self.stacking) - 1, 'bring_to_front')

    def send_to_back(self, index: int) -> 'SceneRecomposer':
        """Draw an object behind every other (over the background)."""
        return self.place_at(index, 0, 'send_to_back')

    def place_at(self, index: int, depth: int,
                 what: str = 'place_at') -> 'SceneRecomposer':
        """Move an object to position ``depth`` of the drawing order
        (0 = drawn first, at the back)."""
        index = self._check(index, what)
        self.stacking.remove(index)
        depth = min(max(int(depth), 0), len(self.stacking))
        self.stacking.insert(depth, index)
        self.restacked.add(index)
        return self

    def place_above(self, index: int, other: int) -> 'SceneRecomposer':
        """Draw ``index`` just in front of ``other``."""
        index = self._check(index, 'place_above')
        other = self._check(other, 'place_above')
        if index == other:
            raise RecomposeError('place_above: an object cannot be placed '
                                 'above itself')
        self.stacking.remove(index)
        self.stacking.insert(self.stacking.index(other) + 1, index)
        self.restacked.add(index)
        return self

    def paste(self,
              layer: LayerCrop,
              depth: Optional[int] = None) -> int:
        """Add an object from elsewhere (e.g. another image's layer).

        Args:
            layer (LayerCrop): Its crop, positioned in this image's
                coordinates (parts outside the image are not drawn).
            depth (int, optional): Position in the drawing order (see
                :meth:`place_at`); default in front of everything.

        Returns:
            int: The new object's index.
        """
        alpha = np.asarray(layer.alpha)
        rgb = np.asarray(layer.rgb)
        if alpha.ndim != 2 or rgb.shape != alpha.shape + (3, ) or \
                rgb.dtype != np.uint8:
            raise RecomposeError(
                f'paste: expected a (h, w) alpha and a (h, w, 3) uint8 '
                f'colour, got {alpha.shape} and {rgb.shape} {rgb.dtype}')
        index = self.num_layers
        self.pasted.append(
            LayerCrop(int(layer.x), int(layer.y), alpha.astype(bool), rgb))
        depth = len(self.stacking) if depth is None else \
            min(max(int(depth), 0), len(self.stacking))
        self.stacking.insert(depth, index)
        return index

    # ------------------------------------------------------------------
    # rendering
    # ------------------------------------------------------------------
    @property
    def offsets(self) -> Dict[int, Tuple[int, int]]:
        """``index -> (dx, dy)`` of the moved objects."""
        return {i: (p.dx, p.dy) for i, p in self.placements.items()}

    @property
    def moved(self) -> Set[int]:
        """Original objects drawn elsewhere (shifted, resized or flipped)."""
        n = self.layers.num_objects
        return {
            i
            for i, p in self.placements.items() if i < n and not p.is_identity
        }

    @property
    def edited(self) -> Set[int]:
        """Deleted, moved or re-stacked original objects."""
        n = self.layers.num_objects
        return {i for i in self.deleted | self.moved | self.restacked if i < n}

    def _union(self, indices: Iterable[int]) -> np.ndarray:
        modal = self.layers.modal_masks
        indices = sorted(indices)
        if not indices:
            return np.zeros(modal.shape[1:], dtype=bool)
        return modal[indices].any(0)

    def revealed(self) -> Tuple[np.ndarray, np.ndarray]:
        """Pixels uncovered by the edits.

        Returns:
            tuple[np.ndarray, np.ndarray]: ``(H, W)`` bool ``objects``
            (former visible pixels of edited objects not visible in an
            unedited one: unedited objects may draw their completion there)
            and ``background`` (the same for deleted and moved objects,
            dilated like the background hole: the canvas shows the
            inpainted background there).
        """
        n = self.layers.num_objects
        edited = self.edited
        kept = self._union(i for i in range(n) if i not in edited)
        objects = self._union(edited) & ~kept
        gone = self._union((self.deleted | self.moved) & set(range(n)))
        if self.layers.background_dilation > 1 and gone.any():
            gone = dilate_square(
                torch.from_numpy(gone)[None],
                self.layers.background_dilation)[0].numpy()
        background = gone & self.layers.background_hole & ~kept
        return objects, background

    def _drawn_crop(self, index: int) -> LayerCrop:
        """The crop of an object as an edit draws it (placement applied,
        not clipped to the image).

        Args:
            index (int): An original or pasted object.

        Returns:
            LayerCrop: Its whole layer at its new place.
        """
        n = self.layers.num_objects
        if index >= n:
            crop = self.pasted[index - n]
        else:
            crop = LayerCrop.from_full(self.layers.alpha[index],
                                       self.layers.rgb[index])
        placement = self.placements.get(index)
        return crop if placement is None else crop.placed(placement)

    def compose(self) -> Composition:
        """Draw the edited scene and record who shows where.

        Returns:
            Composition: The picture and the owner of every pixel.
        """
        layers = self.layers
        reveal, background = self.revealed()
        canvas = layers.image.copy()
        canvas[background] = layers.background[background]
        height, width = canvas.shape[:2]
        owner = np.full((height, width), -1, dtype=np.int32)
        drawn_areas = np.zeros(self.num_layers, np.int64)
        n = layers.num_objects
        edited = self.edited
        for index in self.stacking:
            if index in self.deleted:
                continue
            if index >= n or index in edited:
                window, alpha, rgb = self._drawn_crop(index).clipped(
                    height, width)
                canvas[window][alpha] = rgb[alpha]
                owner[window][alpha] = index
                drawn_areas[index] = alpha.sum()
            else:
                alpha = layers.modal_masks[index] | (
                    layers.alpha[index] & reveal)
                canvas[alpha] = layers.rgb[index][alpha]
                owner[alpha] = index
                drawn_areas[index] = alpha.sum()
        return Composition(canvas, owner, self.num_layers, drawn_areas)

    def render(self) -> np.ndarray:
        """Draw the edited scene.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8 RGB picture.
        """
        return self.compose().image


def recompose(layers: ContentLayers,
              order: OrderLike,
              delete: Sequence[int] = (),
              move: Sequence[Tuple[int, int, int]] = (),
              to_back: Sequence[int] = (),
              to_front: Sequence[int] = (),
              place_above: Sequence[Tuple[int, int]] = (),
              recomposer: Optional[SceneRecomposer] = None) -> np.ndarray:
    """Apply edits and render (see :class:`SceneRecomposer`).

    Edits are applied in this order: ``delete``, ``move``, ``to_back``,
    ``to_front``, ``place_above`` (each in the given sequence order).

    Args:
        layers (ContentLayers): Completed layers.
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.
        delete (Sequence[int]): Objects to remove.
        move (Sequence[tuple]): ``(index, dx, dy)`` translations.
        to_back (Sequence[int]): Objects sent behind all others.
        to_front (Sequence[int]): Objects brought in front of all others.
        place_above (Sequence[tuple]): ``(index, other)``: draw index just
            in front of other.
        recomposer (SceneRecomposer, optional): Apply the edits to this one
            instead of a new one.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 RGB.
    """
    scene = recomposer or SceneRecomposer(layers, order)
    for index in delete:
        scene.delete(index)
    for index, dx, dy in move:
        scene.move(index, dx, dy)
    for index in to_back:
        scene.send_to_back(index)
    for index in to_front:
        scene.bring_to_front(index)
    for index, other in place_above:
        scene.place_above(index, other)
    return scene.render()
