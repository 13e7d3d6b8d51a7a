"""Scene re-composition (METHOD 3.5): redraw completed layers after edits.

The layers of :class:`~mmdeocc.deocclusion.content.ContentLayers` are drawn
back to front in the recovered order (the cycle-safe
:func:`~mmdeocc.deocclusion.graph.drawing_order`: strongly connected
components as units) over the inpainted background. Edits:

* :meth:`SceneRecomposer.delete` - remove an object;
* :meth:`SceneRecomposer.move` - translate it by ``(dx, dy)`` pixels;
* :meth:`SceneRecomposer.bring_to_front`, :meth:`~SceneRecomposer.
  send_to_back`, :meth:`~SceneRecomposer.place_above` - change its depth.

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
from typing import Iterable, List, Optional, Sequence, Set, Tuple

import numpy as np
import torch

from mmdeocc.structures.image_ops import dilate_square
from mmdeocc.structures.order import OrderLike, drawing_order
from .content import ContentLayers

__all__ = ['SceneRecomposer', 'RecomposeError', 'recompose', 'shift_array']


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


class SceneRecomposer:
    """Edit a de-occluded scene and render it.

    Example::

        layers = ContentCompleter(pcnet_c)(image_rgb, result.modal_masks,
                                           result.amodal_masks)
        picture = (SceneRecomposer(layers, result.order)
                   .delete(3).move(1, 40, 0).bring_to_front(1).render())

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
        self.offsets = {}
        self.deleted: Set[int] = set()
        self.restacked: Set[int] = set()

    # ------------------------------------------------------------------
    # edits
    # ------------------------------------------------------------------
    def _check(self, index: int, what: str) -> int:
        n = self.layers.num_objects
        if isinstance(index, bool) or int(index) != index or \
                not 0 <= index < n:
            raise RecomposeError(
                f'{what}: object {index!r} does not exist (valid: 0..{n - 1})')
        index = int(index)
        if index in self.deleted:
            raise RecomposeError(f'{what}: object {index} was deleted')
        return index

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
        old = self.offsets.get(index, (0, 0))
        self.offsets[index] = (old[0] + int(dx), old[1] + int(dy))
        return self

    def bring_to_front(self, index: int) -> 'SceneRecomposer':
        """Draw an object in front of every other."""
        index = self._check(index, 'bring_to_front')
        self.stacking.remove(index)
        self.stacking.append(index)
        self.restacked.add(index)
        return self

    def send_to_back(self, index: int) -> 'SceneRecomposer':
        """Draw an object behind every other (over the background)."""
        index = self._check(index, 'send_to_back')
        self.stacking.remove(index)
        self.stacking.insert(0, index)
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

    # ------------------------------------------------------------------
    # rendering
    # ------------------------------------------------------------------
    @property
    def moved(self) -> Set[int]:
        """Objects with a non-zero offset."""
        return {i for i, off in self.offsets.items() if off != (0, 0)}

    @property
    def edited(self) -> Set[int]:
        """Deleted, moved or re-stacked objects."""
        return self.deleted | self.moved | self.restacked

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
        gone = self._union(self.deleted | self.moved)
        if self.layers.background_dilation > 1 and gone.any():
            gone = dilate_square(
                torch.from_numpy(gone)[None],
                self.layers.background_dilation)[0].numpy()
        background = gone & self.layers.background_hole & ~kept
        return objects, background

    def render(self) -> np.ndarray:
        """Draw the edited scene.

        Returns:
            np.ndarray: ``(H, W, 3)`` uint8 RGB picture.
        """
        layers = self.layers
        reveal, background = self.revealed()
        canvas = layers.image.copy()
        canvas[background] = layers.background[background]
        edited = self.edited
        for index in self.stacking:
            if index in self.deleted:
                continue
            if index in edited:
                dx, dy = self.offsets.get(index, (0, 0))
                alpha = shift_array(layers.alpha[index], dx, dy)
                rgb = shift_array(layers.rgb[index], dx, dy)
            else:
                alpha = layers.modal_masks[index] | (
                    layers.alpha[index] & reveal)
                rgb = layers.rgb[index]
            canvas[alpha] = rgb[alpha]
        return canvas


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
