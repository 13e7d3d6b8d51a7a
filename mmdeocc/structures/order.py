"""The one order algebra: order matrices, edges, ground truth, graphs.

The order matrix convention used everywhere in mmdeocc: ``order[i, j] = +1``
means i occludes j, ``-1`` means i is occluded by j, ``0`` no relation; a
valid matrix is antisymmetric with a zero diagonal. This module holds

* conversions: order matrix <-> ``(occluder, occludee)`` edge lists
  (:func:`order_to_edges`, :func:`order_from_edges`), depth ranks -> order
  (:func:`order_from_depth`);
* ground truth from masks (METHOD 4.1): :func:`touch_matrix` (the reference
  touch test on numpy masks), :func:`gt_order_from_masks`,
  :func:`occlusion_edges` (nearer objects that visibly hide farther ones);
* graph helpers (METHOD 2.3): the graph has an edge ``i -> j`` ("i is
  occluded by j") wherever ``order[i, j] == -1``; the ancestors of i are the
  objects reachable from i along these edges (every object that occludes i
  directly or transitively). Cycles are legitimate: every helper terminates
  on them, and layering treats each strongly connected component as one
  unit.

All functions take ``(N, N)`` numpy arrays or torch tensors and return numpy
arrays (the graphs are small).
"""
from typing import Iterable, List, Sequence, Tuple, Union

import numpy as np
import torch

from mmdeocc.utils.validation import check_choice
from .masks import as_bool_mask_array, to_numpy
from .touch import touching_pairs

OrderLike = Union[np.ndarray, torch.Tensor]


Edge = Tuple[int, int]

TIE_RULES = ('reference', 'ignore')

__all__ = [
    'OrderLike',
    'Edge',
    'TIE_RULES',
    'as_order_matrix',
    'order_to_edges',
    'order_from_edges',
    'order_from_depth',
    'touch_matrix',
    'gt_order_from_masks',
    'occlusion_edges',
    'occluded_by',
    'reachability',
    'ancestor_matrix',
    'ancestors',
    'strongly_connected_components',
    'layers',
    'drawing_order',
]


def as_order_matrix(order: OrderLike, name: str = 'order',
                    check_values: bool = False) -> np.ndarray:
    """Validate an order matrix and return it as an int8 numpy array.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.
        name (str): Name used in error messages.
        check_values (bool): Also require every value in ``{-1, 0, +1}``.

    Returns:
        np.ndarray: ``(N, N)`` int8.

    Raises:
        ValueError: Not square, or (``check_values``) other values.
    """
    arr = to_numpy(order)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f'{name}: expected a square (N, N) matrix, got shape '
                         f'{arr.shape}')
    if check_values and arr.size and not np.isin(arr, (-1, 0, 1)).all():
        bad = np.unique(arr[~np.isin(arr, (-1, 0, 1))])[:5]
        raise ValueError(f'{name} must contain only -1, 0, +1; found {bad}')
    return arr.astype(np.int8, copy=False)


# ----------------------------------------------------------------------
# Order matrix <-> edges
# ----------------------------------------------------------------------
def order_to_edges(order: OrderLike) -> List[Edge]:
    """``(occluder, occludee)`` index pairs of an order matrix.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order, ``+1`` at ``[i, j]``
            when i occludes j.

    Returns:
        list[tuple[int, int]]: Edges in row-major order of the matrix.
    """
    arr = to_numpy(order)
    if arr.size == 0:
        return []
    return [(int(i), int(j)) for i, j in zip(*np.nonzero(arr > 0))]


def order_from_edges(num: int, edges: Iterable[Edge],
                     where: str = 'edges') -> Tuple[np.ndarray, int]:
    """Antisymmetric order matrix from ``(occluder, occludee)`` index pairs.

    Contradicting edges (both ``(i, j)`` and ``(j, i)``) leave the pair at 0
    and are counted; repeated edges are harmless.

    Args:
        num (int): Number of objects.
        edges (Iterable[tuple[int, int]]): 0-based index pairs.
        where (str): Location for error messages.

    Returns:
        tuple[np.ndarray, int]: ``(N, N)`` int8 matrix with ``+1`` at
        ``[occluder, occludee]`` and the number of contradicting pairs.

    Raises:
        ValueError: An index is out of range or an object occludes itself.
    """
    order = np.zeros((num, num), dtype=np.int8)
    conflicts = 0
    for front, back in edges:
        if not (0 <= front < num and 0 <= back < num):
            raise ValueError(f'{where}: edge ({front}, {back}) is out of '
                             f'range for {num} objects')
        if front == back:
            raise ValueError(
                f'{where}: an object cannot occlude itself ({front})')
        if order[front, back] == -1:
            order[front, back] = order[back, front] = 0
            conflicts += 1
            continue
        order[front, back] = 1
        order[back, front] = -1
    return order, conflicts


def order_from_depth(depth: Sequence[int], related: OrderLike) -> np.ndarray:
    """Order matrix from depth ranks for a set of related pairs.

    Args:
        depth (Sequence[int]): ``(N,)`` depth ranks, smaller = nearer.
        related (np.ndarray | torch.Tensor): ``(N, N)`` bool, which pairs
            carry a relation (e.g. touching pairs, or annotated edges).

    Returns:
        np.ndarray: ``(N, N)`` int8, ``+1`` where i is nearer than j.
    """
    d = np.asarray(to_numpy(depth)).astype(np.int64)
    rel = to_numpy(related).astype(bool)
    order = np.sign(d[None, :] - d[:, None]).astype(np.int8)
    order[~rel] = 0
    np.fill_diagonal(order, 0)
    return order


# ----------------------------------------------------------------------
# Ground truth from masks
# ----------------------------------------------------------------------
def touch_matrix(masks: OrderLike) -> np.ndarray:
    """Which pairs of masks touch (METHOD 2.1, the reference test).

    Mask ``i`` touches mask ``j`` when ``i`` dilated once with a 3x3 cross
    overlaps ``j`` (symmetric; overlapping masks touch; empty masks touch
    nothing). A numpy adapter of the single implementation
    :func:`mmdeocc.structures.touch.touching_pairs` with
    ``gap_tolerance=0``.

    Args:
        masks (np.ndarray | torch.Tensor): ``(N, H, W)`` modal masks.

    Returns:
        np.ndarray: ``(N, N)`` bool, symmetric, ``False`` on the diagonal.
    """
    m = torch.from_numpy(np.ascontiguousarray(as_bool_mask_array(masks)))
    return touching_pairs(m, gap_tolerance=0).cpu().numpy()


def _extents(masks: np.ndarray) -> np.ndarray:
    """Half-open pixel extents ``[y0, y1, x0, x1]`` per mask (empty: 0)."""
    n = masks.shape[0]
    out = np.zeros((n, 4), dtype=np.int64)
    rows = masks.any(axis=2)
    cols = masks.any(axis=1)
    for k in range(n):
        ys = np.flatnonzero(rows[k])
        if ys.size == 0:
            continue
        xs = np.flatnonzero(cols[k])
        out[k] = (ys[0], ys[-1] + 1, xs[0], xs[-1] + 1)
    return out


def _overlap_count(a: np.ndarray, b: np.ndarray, ext_a: np.ndarray,
                   ext_b: np.ndarray) -> int:
    """``|a & b|`` evaluated on the intersection of the two extents."""
    y0, y1 = max(ext_a[0], ext_b[0]), min(ext_a[1], ext_b[1])
    x0, x1 = max(ext_a[2], ext_b[2]), min(ext_a[3], ext_b[3])
    if y0 >= y1 or x0 >= x1:
        return 0
    box = slice(y0, y1), slice(x0, x1)
    return int(np.count_nonzero(a[box] & b[box]))


def gt_order_from_masks(modal: OrderLike,
                        amodal: OrderLike,
                        tie_rule: str = 'reference') -> np.ndarray:
    """Ground-truth occlusion order derived from masks (METHOD 4.1).

    For every touching pair ``i < j`` (:func:`touch_matrix` on the modal
    masks) let ``a = |modal_i & amodal_j|`` (visible pixels of i lying on
    j: i covers j) and ``b = |modal_j & amodal_i|``. Both zero: no relation.
    Otherwise ``gt[i, j] = +1`` if ``a >= b`` else ``-1``, and
    ``gt[j, i] = -gt[i, j]``.

    Ties (``a == b > 0``, mutual occlusion of equal extent): the reference
    evaluates each unordered pair once with ``i < j`` and writes the
    antisymmetric counterpart, so a tie means "the lower index occludes the
    higher one" - an arbitrary, index-dependent answer. Both rules keep the
    matrix antisymmetric:

    - ``'reference'`` (default, paper protocol): the tie goes to the lower
      index (``gt[i, j] = +1`` for ``i < j``).
    - ``'ignore'``: a tie gets no relation (0), so the pair is excluded from
      the occluded-pair accuracy (recommended for strict comparisons; the
      difference only shows when ties exist).

    Args:
        modal (np.ndarray | torch.Tensor): ``(N, H, W)`` GT modal masks.
        amodal (np.ndarray | torch.Tensor): ``(N, H, W)`` GT amodal masks.
        tie_rule (str): ``'reference'`` or ``'ignore'``.

    Returns:
        np.ndarray: ``(N, N)`` int8 antisymmetric order matrix.
    """
    check_choice('tie_rule', tie_rule, TIE_RULES)
    modal = as_bool_mask_array(modal, 'modal')
    amodal = as_bool_mask_array(amodal, 'amodal')
    if modal.shape != amodal.shape:
        raise ValueError(f'modal masks {modal.shape} and amodal masks '
                         f'{amodal.shape} must have the same shape')
    n = modal.shape[0]
    gt = np.zeros((n, n), dtype=np.int8)
    touch = touch_matrix(modal)
    ext_m, ext_a = _extents(modal), _extents(amodal)
    for i, j in zip(*np.nonzero(np.triu(touch, 1))):
        a = _overlap_count(modal[i], amodal[j], ext_m[i], ext_a[j])
        b = _overlap_count(modal[j], amodal[i], ext_m[j], ext_a[i])
        if a == 0 and b == 0:
            continue
        if a == b and tie_rule == 'ignore':
            continue
        value = 1 if a >= b else -1
        gt[i, j] = value
        gt[j, i] = -value
    return gt


def occlusion_edges(modal: np.ndarray, amodal: np.ndarray,
                    depth: Sequence[int]) -> List[Edge]:
    """Touching pairs where the nearer object visibly hides the other.

    The ground truth of composed scenes, whose depth is known exactly.

    Args:
        modal (np.ndarray): ``(N, H, W)`` bool visible masks.
        amodal (np.ndarray): ``(N, H, W)`` bool amodal masks.
        depth (Sequence[int]): ``(N,)`` ranks, smaller = nearer.

    Returns:
        list[tuple[int, int]]: Sorted ``(i, j)`` with ``depth[i] <
        depth[j]``, touching modal masks and ``modal_i & amodal_j`` non-empty.
    """
    touch = touch_matrix(modal)
    edges = []
    for i, j in zip(*np.nonzero(touch)):
        if depth[i] < depth[j] and np.any(modal[i] & amodal[j]):
            edges.append((int(i), int(j)))
    return sorted(edges)


# ----------------------------------------------------------------------
# The occlusion graph
# ----------------------------------------------------------------------


def occluded_by(order: OrderLike) -> np.ndarray:
    """Direct edges: ``edges[i, j]`` = i is occluded by j.

    Args:
        order (np.ndarray | Tensor): ``(N, N)`` order matrix.

    Returns:
        np.ndarray: ``(N, N)`` bool.
    """
    return as_order_matrix(order) == -1


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
    mat = as_order_matrix(order).astype(np.int64)
    n = mat.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    layer = layers(mat)
    score = mat.sum(1)  # occludes - occluded
    return np.lexsort((np.arange(n), score, -layer)).astype(np.int64)
