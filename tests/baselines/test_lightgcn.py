"""LightGCN's symmetric normalisation, checked against hand-computed values."""

from __future__ import annotations

import numpy as np

from reasonrec.baselines.lightgcn import normalized_adjacency


def test_one_user_two_items_3x3() -> None:
    # Nodes: u0, i0, i1; edges u0-i0, u0-i1. deg(u0)=2, deg(i0)=deg(i1)=1 → weight 1/sqrt(2*1).
    adj = normalized_adjacency(1, 2, np.array([0, 0]), np.array([0, 1])).to_dense().numpy()
    w = 1 / np.sqrt(2)
    expected = np.array([[0, w, w], [w, 0, 0], [w, 0, 0]])
    np.testing.assert_allclose(adj, expected, rtol=1e-6)


def test_two_users_one_item_with_a_duplicate_edge_and_an_isolated_item() -> None:
    # Nodes: u0, u1, i0, i1 (isolated). u0-i0 listed twice (counts once), u1-i0. deg(i0)=2, deg(u*)=1.
    adj = normalized_adjacency(2, 2, np.array([0, 0, 1]), np.array([0, 0, 0])).to_dense().numpy()
    w = 1 / np.sqrt(2)
    expected = np.zeros((4, 4))
    expected[0, 2] = expected[2, 0] = w
    expected[1, 2] = expected[2, 1] = w
    np.testing.assert_allclose(adj, expected, rtol=1e-6)
    np.testing.assert_allclose(adj, adj.T)
