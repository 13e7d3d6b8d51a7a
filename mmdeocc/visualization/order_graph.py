"""A picture of the occlusion graph, drawn with OpenCV (no graphviz).

Nodes are the objects (a disc in the object's colour with its id, the name
below); an arrow goes from every occluder to every object it occludes
(``order[i, j] = +1``). Nodes are arranged in rows by depth layer
(:func:`mmdeocc.structures.order.layers`, cycle-safe): the front-most
layer at the top, so arrows mostly point down. Arrows between nodes of the
same layer (members of an occlusion cycle) and arrows that skip layers are
drawn as arcs.
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np

from mmdeocc.structures.order import layers as graph_layers
from mmdeocc.structures.order import order_to_edges as order_edges
from .deocclusion_drawing import DrawingInputError, _colours

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_BACKGROUND = (255, 255, 255)
_INK = (40, 40, 40)


def graph_layout(order: np.ndarray, spacing: int = 90, row_gap: int = 100,
                 margin: int = 60) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Node centres: one row per depth layer, front-most at the top.

    Args:
        order (np.ndarray): ``(N, N)`` order matrix.
        spacing (int): Horizontal distance between nodes of a row.
        row_gap (int): Vertical distance between rows.
        margin (int): Border around the graph.

    Returns:
        tuple: ``(N, 2)`` int (x, y) centres and the canvas ``(H, W)``.
    """
    layer = graph_layers(order) if len(order) else np.zeros(0, np.int64)
    num_rows = int(layer.max()) + 1 if layer.size else 1
    rows = [np.flatnonzero(layer == r) for r in range(num_rows)]
    widest = max([len(r) for r in rows] + [1])
    width = max(2 * margin + (widest - 1) * spacing, 240)
    height = max(2 * margin + (num_rows - 1) * row_gap, 160) + 30
    centres = np.zeros((len(layer), 2), dtype=np.int64)
    for r, members in enumerate(rows):
        row_width = (len(members) - 1) * spacing
        x0 = (width - row_width) // 2
        for k, obj in enumerate(members):
            centres[obj] = (x0 + k * spacing, margin + 30 + r * row_gap)
    return centres, (int(height), int(width))


def _bezier(start: np.ndarray, end: np.ndarray, bulge: float,
            num: int = 40) -> np.ndarray:
    """Points of a quadratic arc whose control point lies ``bulge`` pixels
    off the chord's midpoint (to the chord's left for ``bulge > 0``)."""
    delta = end - start
    normal = np.array([delta[1], -delta[0]]) / float(np.hypot(*delta))
    control = (start + end) / 2 + normal * bulge
    ts = np.linspace(0.0, 1.0, num)[:, None]
    return (1 - ts)**2 * start + 2 * (1 - ts) * ts * control + ts**2 * end


def _best_bulge(start: np.ndarray, end: np.ndarray, others: np.ndarray,
                radius: int) -> float:
    """The arc bulge that keeps farthest from the other nodes."""
    length = float(np.hypot(*(end - start)))
    best, best_clearance = 0.0, -1.0
    for scale in (0.3, 0.5, 0.8):
        for sign in (1.0, -1.0):
            bulge = sign * max(25.0, scale * length)
            if not len(others):
                return bulge
            curve = _bezier(start, end, bulge)
            clearance = float(
                np.hypot(*(curve[:, None, :] - others[None]).transpose(
                    2, 0, 1)).min())
            if clearance > radius + 8:
                return bulge
            if clearance > best_clearance:
                best, best_clearance = bulge, clearance
    return best


def _arrow(canvas: np.ndarray, start: np.ndarray, end: np.ndarray,
           radius: int, bulge: float, colour, thickness: int) -> None:
    """An arrow between two node discs, straight (``bulge == 0``) or
    arced."""
    start = start.astype(np.float64)
    end = end.astype(np.float64)
    delta = end - start
    length = float(np.hypot(*delta))
    if length < 1e-6:
        return
    if bulge:
        curve = _bezier(start, end, bulge)
        # Keep the part of the arc outside both discs.
        outside = (np.hypot(*(curve - start).T) >= radius) & (
            np.hypot(*(curve - end).T) >= radius + 2)
        curve = curve[outside]
    else:
        unit = delta / length
        curve = np.stack([start + unit * radius, end - unit * (radius + 2)])
    if len(curve) < 2:
        return
    points = np.round(curve).astype(np.int32)
    cv2.polylines(canvas, [points], False, colour, thickness, cv2.LINE_AA)
    # Arrow head: a filled triangle along the last ~head_size pixels.
    head_size = 4.0 + 3.0 * thickness
    tip = curve[-1]
    back = np.hypot(*(curve - tip).T)
    before = curve[back >= head_size]
    base = before[-1] if len(before) else curve[0]
    direction = tip - base
    norm = float(np.hypot(*direction))
    if norm < 1e-6:
        return
    direction /= norm
    side = np.array([-direction[1], direction[0]])
    triangle = np.stack([
        tip, tip - direction * head_size + side * head_size * 0.5,
        tip - direction * head_size - side * head_size * 0.5
    ])
    cv2.fillPoly(canvas, [np.round(triangle).astype(np.int32)], colour,
                 cv2.LINE_AA)


def draw_order_graph(order: np.ndarray,
                     names: Optional[Sequence[Optional[str]]] = None,
                     colours: Optional[np.ndarray] = None,
                     title: Optional[str] = 'occluder -> occludee',
                     node_radius: int = 20,
                     ids: Optional[Sequence[int]] = None) -> np.ndarray:
    """Draw the occlusion graph of one image.

    Args:
        order (np.ndarray): ``(N, N)`` order matrix.
        names (Sequence[str], optional): Per-object names, written under the
            nodes.
        colours (np.ndarray, optional): ``(N, 3)`` BGR node colours (use the
            same as the de-occlusion picture).
        title (str, optional): Text at the top left.
        node_radius (int): Disc radius in pixels.
        ids (Sequence[int], optional): Node ids; default ``0 .. N - 1``.

    Returns:
        np.ndarray: ``(H, W, 3)`` uint8 BGR picture; its size grows with
        the number of objects per layer and of layers.
    """
    order = np.asarray(order)
    if order.ndim != 2 or order.shape[0] != order.shape[1]:
        raise DrawingInputError(
            f'order must be a square matrix, got shape {order.shape}')
    num = order.shape[0]
    colours = _colours(colours, num)
    centres, (height, width) = graph_layout(order)
    canvas = np.full((height, width, 3), _BACKGROUND, dtype=np.uint8)
    if title:
        cv2.putText(canvas, title, (10, 22), _FONT, 0.5, _INK, 1,
                    cv2.LINE_AA)
    if num == 0:
        cv2.putText(canvas, 'no objects', (width // 2 - 45, height // 2),
                    _FONT, 0.6, _INK, 1, cv2.LINE_AA)
        return canvas
    layer = graph_layers(order)
    for i, j in order_edges(order):
        # Arcs for edges inside a layer (cycles) and for edges skipping
        # layers, which would otherwise run through the nodes in between.
        bulge = 0.0
        if abs(int(layer[i]) - int(layer[j])) != 1:
            others = np.delete(centres, [i, j], axis=0).astype(np.float64)
            bulge = _best_bulge(centres[i].astype(np.float64),
                                centres[j].astype(np.float64), others,
                                node_radius)
        _arrow(canvas, centres[i], centres[j], node_radius, bulge,
               colour=_INK, thickness=2)
    for k in range(num):
        centre = tuple(int(v) for v in centres[k])
        colour = tuple(int(c) for c in colours[k])
        cv2.circle(canvas, centre, node_radius, colour, -1, cv2.LINE_AA)
        cv2.circle(canvas, centre, node_radius, _INK, 2, cv2.LINE_AA)
        text = str(int(ids[k])) if ids is not None else str(k)
        (tw, th), _ = cv2.getTextSize(text, _FONT, 0.55, 2)
        cv2.putText(canvas, text, (centre[0] - tw // 2, centre[1] + th // 2),
                    _FONT, 0.55, _INK, 2, cv2.LINE_AA)
        name = names[k] if names is not None and k < len(names) else None
        if name:
            name = str(name)[:14]
            (nw, nh), base = cv2.getTextSize(name, _FONT, 0.4, 1)
            x0 = centre[0] - nw // 2
            y0 = centre[1] + node_radius + nh + 5
            cv2.rectangle(canvas, (x0 - 2, y0 - nh - 2),
                          (x0 + nw + 2, y0 + base), _BACKGROUND, -1)
            cv2.putText(canvas, name, (x0, y0), _FONT, 0.4, _INK, 1,
                        cv2.LINE_AA)
    return canvas
