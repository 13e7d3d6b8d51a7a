"""The one order algebra: matrices <-> edges, depth, validation."""
import numpy as np
import pytest
import torch

from mmdeocc.structures import (as_order_matrix, order_from_depth,
                                order_from_edges, order_to_edges)


def test_edges_round_trip():
    edges = [(0, 2), (1, 0), (3, 1)]
    order, conflicts = order_from_edges(4, edges)
    assert conflicts == 0
    assert order.dtype == np.int8
    assert (order == -order.T).all()
    assert order_to_edges(order) == sorted(edges)
    assert order_to_edges(torch.from_numpy(order)) == sorted(edges)


def test_contradicting_edges_are_counted_and_dropped():
    order, conflicts = order_from_edges(3, [(0, 1), (1, 0), (1, 2)])
    assert conflicts == 1
    assert order[0, 1] == order[1, 0] == 0
    assert order[1, 2] == 1 and order[2, 1] == -1


@pytest.mark.parametrize('edge,message', [((1, 1), 'cannot occlude itself'),
                                          ((0, 5), 'out of range')])
def test_bad_edges_name_the_place(edge, message):
    with pytest.raises(ValueError, match=f'scene 7: .*{message}'):
        order_from_edges(3, [edge], where='scene 7')


def test_empty_order_has_no_edges():
    assert order_to_edges(np.zeros((0, 0), np.int8)) == []
    order, conflicts = order_from_edges(0, [])
    assert order.shape == (0, 0) and conflicts == 0


def test_order_from_depth_matches_edges():
    depth = [2, 0, 1]
    related = np.ones((3, 3), bool)
    order = order_from_depth(depth, related)
    assert order_to_edges(order) == [(1, 0), (1, 2), (2, 0)]


def test_as_order_matrix_checks_shape_and_values():
    with pytest.raises(ValueError, match='square'):
        as_order_matrix(np.zeros((2, 3)))
    with pytest.raises(ValueError, match='only -1, 0, \\+1'):
        as_order_matrix(np.full((2, 2), 2), check_values=True)
