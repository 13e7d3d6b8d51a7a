"""Graph helpers: ancestors, SCCs, layers, drawing order (METHOD 2.3)."""
import numpy as np
import pytest
import torch

from mmdeocc.structures import (ancestor_matrix, ancestors, drawing_order,
                                layers, strongly_connected_components)


def _order(n, edges):
    """Order matrix from (occluder, occludee) edges."""
    order = np.zeros((n, n), dtype=np.int8)
    for top, bottom in edges:
        order[top, bottom], order[bottom, top] = 1, -1
    return order


def test_chain_ancestors_layers_and_drawing_order():
    # 0 occludes 1, 1 occludes 2, 3 unrelated.
    order = _order(4, [(0, 1), (1, 2)])
    assert ancestors(order, 2) == [0, 1]
    assert ancestors(order, 1) == [0]
    assert ancestors(order, 0) == [] and ancestors(order, 3) == []
    anc = ancestor_matrix(order)
    assert anc.tolist() == [[False] * 4, [True, False, False, False],
                            [True, True, False, False], [False] * 4]
    assert layers(order).tolist() == [0, 1, 2, 0]
    # Back to front: 2 (layer 2), 1 (layer 1), then in layer 0 the
    # unrelated 3 (score 0) before 0 (occludes one object, score +1).
    assert drawing_order(order).tolist() == [2, 1, 3, 0]


def test_three_object_cycle():
    # 0 occludes 1, 1 occludes 2, 2 occludes 0; 3 is occluded by 0.
    order = _order(4, [(0, 1), (1, 2), (2, 0), (0, 3)])
    expected = np.array([[0, 1, -1, 1], [-1, 0, 1, 0], [1, -1, 0, 0],
                         [-1, 0, 0, 0]])
    np.testing.assert_array_equal(order, expected)
    for i in range(3):
        assert ancestors(order, i) == sorted({0, 1, 2} - {i})
    assert ancestors(order, 3) == [0, 1, 2]
    assert not ancestor_matrix(order).diagonal().any()
    labels = strongly_connected_components(order)
    assert labels.tolist() == [0, 0, 0, 1]
    assert layers(order).tolist() == [0, 0, 0, 1]
    draw = drawing_order(torch.from_numpy(order))
    assert sorted(draw.tolist()) == [0, 1, 2, 3]
    assert draw[0] == 3  # the object behind the cycle goes first
    # Inside the cycle, 0 occludes two objects (1 and 3) and is occluded
    # once: it is drawn last.
    assert draw.tolist() == [3, 1, 2, 0]


def test_stacked_cycles_and_merged_cycle():
    # Cycle A = {0, 1, 2} occludes cycle B = {3, 4, 5} through 2 -> 3.
    edges = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (2, 3)]
    order = _order(6, edges)
    assert strongly_connected_components(order).tolist() == [0, 0, 0, 1, 1, 1]
    assert layers(order).tolist() == [0, 0, 0, 1, 1, 1]
    draw = drawing_order(order).tolist()
    assert set(draw[:3]) == {3, 4, 5} and set(draw[3:]) == {0, 1, 2}
    assert ancestors(order, 4) == [0, 1, 2, 3, 5]
    # 4 occluding 2 closes a cycle through both: one component.
    order[4, 2], order[2, 4] = 1, -1
    assert len(set(strongly_connected_components(order).tolist())) == 1
    assert layers(order).tolist() == [0] * 6
    assert sorted(drawing_order(order).tolist()) == list(range(6))


def test_empty_and_single():
    empty = np.zeros((0, 0), dtype=np.int8)
    assert ancestor_matrix(empty).shape == (0, 0)
    assert layers(empty).shape == (0, )
    assert drawing_order(empty).shape == (0, )
    single = np.zeros((1, 1), dtype=np.int8)
    assert ancestors(single, 0) == []
    assert drawing_order(single).tolist() == [0]


def test_bad_inputs():
    with pytest.raises(ValueError, match='square'):
        layers(np.zeros((2, 3)))
    with pytest.raises(IndexError):
        ancestors(np.zeros((2, 2)), 5)


def test_long_random_graphs_terminate_and_are_consistent():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(1, 40))
        upper = np.triu(
            rng.choice([-1, 0, 1], size=(n, n), p=[0.1, 0.8, 0.1]), 1)
        order = (upper - upper.T).astype(np.int8)
        anc = ancestor_matrix(order)
        for i in range(n):
            assert np.flatnonzero(anc[i]).tolist() == ancestors(order, i)
        layer = layers(order)
        labels = strongly_connected_components(order)
        # An occluder outside the occludee's component is in a lower layer.
        for i, j in zip(*np.nonzero(order == -1)):
            if labels[i] != labels[j]:
                assert layer[j] < layer[i]
            else:
                assert layer[j] == layer[i]
        draw = drawing_order(order)
        assert sorted(draw.tolist()) == list(range(n))
