"""Occlusion-graph helpers (METHOD 2.3): ancestors, cycles, layers.

The order matrix convention: ``order[i, j] = +1`` means i occludes j,
``-1`` means i is occluded by j. The graph has an edge ``i -> j`` ("i is
occluded by j") wherever ``order[i, j] == -1``; the ancestors of i are the
objects reachable from i along these edges (every object that occludes i
directly or transitively). Cycles are legitimate: every helper terminates on
them, and layering treats each strongly connected component as one unit.

All functions take an ``(N, N)`` numpy array or torch tensor and return numpy
arrays (the graphs are small).
"""
from typing import List, Union

import numpy as np
import torch

OrderLike = Union[np.ndarray, torch.Tensor]


def _as_order(order: OrderLike) -> np.ndarray:
    """Validate an order matrix and return it as an int8 numpy array."""
    if isinstance(order, torch.Tensor):
        order = order.detach().cpu().numpy()
    order = np.asarray(order)
    if order.ndim != 2 or order.shape[0] != order.shape[1]:
        raise ValueError(f'order: expected a square (N, N) matrix, got shape '
                         f'{order.shape}')
    return order.astype(np.int8, copy=False)


def occluded_by(order: OrderLike) -> np.ndarray:
    """Direct edges: ``edges[i, j]`` = i is occluded by j.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.

    Returns:
        np.ndarray: ``(N, N)`` bool.
    """
    return _as_order(order) == -1


def reachability(edges: np.ndarray) -> np.ndarray:
    """Transitive closure of a directed graph (paths of length >= 1).

    Repeated boolean squaring; at most ``ceil(log2 N) + 1`` rounds.

    Args:
        edges (np.ndarray): ``(N, N)`` bool adjacency.

    Returns:
        np.ndarray: ``(N, N)`` bool, ``reach[i, j]`` = a path i -> j exists.
    """
    reach = edges.astype(bool).copy()
    while True:
        as_float = reach.astype(np.float32)
        grown = reach | ((as_float @ as_float) > 0)
        if np.array_equal(grown, reach):
            return reach
        reach = grown


def ancestor_matrix(order: OrderLike) -> np.ndarray:
    """All ancestors of every object.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.

    Returns:
        np.ndarray: ``(N, N)`` bool, ``anc[i, a]`` = a occludes i directly
        or transitively; the diagonal is False (an object on a cycle is not
        its own ancestor).
    """
    anc = reachability(occluded_by(order))
    np.fill_diagonal(anc, False)
    return anc


def ancestors(order: OrderLike, index: int) -> List[int]:
    """Ancestors of one object (breadth-first; terminates on cycles).

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.
        index (int): The object.

    Returns:
        list[int]: Sorted indices of every object that occludes ``index``
        directly or transitively, excluding ``index`` itself.
    """
    edges = occluded_by(order)
    n = edges.shape[0]
    if not 0 <= index < n:
        raise IndexError(f'index {index} out of range for {n} objects')
    seen = np.zeros(n, dtype=bool)
    frontier = [index]
    while frontier:
        nxt = np.flatnonzero(edges[frontier].any(0) & ~seen)
        seen[nxt] = True
        frontier = nxt.tolist()
    seen[index] = False
    return np.flatnonzero(seen).tolist()


def strongly_connected_components(order: OrderLike) -> np.ndarray:
    """Strongly connected components of the occlusion graph.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.

    Returns:
        np.ndarray: ``(N,)`` int64 component label per object; labels are
        ``0..C-1`` numbered by the smallest member index.
    """
    edges = occluded_by(order)
    n = edges.shape[0]
    reach = reachability(edges)
    mutual = (reach & reach.T) | np.eye(n, dtype=bool)
    first = mutual.argmax(1)  # smallest member of each object's component
    _, labels = np.unique(first, return_inverse=True)
    return labels.astype(np.int64).reshape(n)


def layers(order: OrderLike) -> np.ndarray:
    """Depth layer of every object, cycle-safe.

    Each strongly connected component is a unit; a component's layer is 0
    if nothing outside it occludes it, else 1 + the largest layer of the
    components that occlude it (longest path in the condensation DAG).
    Members of a cycle share a layer.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.

    Returns:
        np.ndarray: ``(N,)`` int64, 0 = front-most.
    """
    edges = occluded_by(order)
    n = edges.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    labels = strongly_connected_components(order)
    c = labels.max() + 1
    # comp_edges[a, b]: some member of a is occluded by some member of b.
    comp_edges = np.zeros((c, c), dtype=bool)
    src, dst = np.nonzero(edges)
    comp_edges[labels[src], labels[dst]] = True
    np.fill_diagonal(comp_edges, False)
    depth = np.zeros(c, dtype=np.int64)
    for _ in range(c):
        cand = np.where(comp_edges, depth[None, :] + 1, 0).max(1)
        new = np.maximum(depth, cand)
        if np.array_equal(new, depth):
            break
        depth = new
    return depth[labels]


def drawing_order(order: OrderLike) -> np.ndarray:
    """Back-to-front drawing order (never raises on cycles).

    Objects are drawn by decreasing layer (:func:`layers`). Inside a layer,
    and in particular inside a cycle, objects with a lower score
    ``#occludes - #occluded`` (over all their relations) are drawn first;
    remaining ties keep the index order.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.

    Returns:
        np.ndarray: ``(N,)`` int64 permutation; draw ``result[0]`` first.
    """
    mat = _as_order(order).astype(np.int64)
    n = mat.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    layer = layers(mat)
    score = mat.sum(1)  # occludes - occluded
    return np.lexsort((np.arange(n), score, -layer)).astype(np.int64)
