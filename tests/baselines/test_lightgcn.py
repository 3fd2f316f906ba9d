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


def test_symmetric_spmm_matches_dense_product_and_gradient() -> None:
    """The fast propagation op (CSR forward, adj @ grad backward) equals autograd through a dense product."""
    import torch

    from reasonrec.baselines.lightgcn import symmetric_spmm

    rng = np.random.default_rng(0)
    adj = normalized_adjacency(5, 7, rng.integers(0, 5, 20), rng.integers(0, 7, 20))
    x = torch.randn(12, 4, dtype=torch.float32, requires_grad=True)
    weights = torch.randn(12, 4)
    (symmetric_spmm(adj.to_sparse_csr(), x) * weights).sum().backward()
    fast_grad = x.grad.clone()
    x.grad = None
    dense = adj.to_dense()
    (dense @ x * weights).sum().backward()
    np.testing.assert_allclose(fast_grad.numpy(), x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(symmetric_spmm(adj.to_sparse_csr(), x).detach().numpy(),
                               (dense @ x).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_negatives_are_never_positives_and_are_seeded() -> None:
    from reasonrec.baselines.lightgcn import LightGCN

    model = LightGCN()
    n_items = 6
    model.positives = [{0, 1, 2}, {5}, set(range(n_items))]  # user 2 has no possible negative
    pairs = np.array([(u, i) for u, items in enumerate(model.positives) for i in sorted(items)])
    model._positive_keys = np.unique(pairs[:, 0] * n_items + pairs[:, 1])
    model._saturated = np.array([len(p) >= n_items for p in model.positives])
    users = np.array([0, 1] * 500 + [2])
    negs = model._sample_negatives(users, n_items, np.random.default_rng(3))
    assert all(int(j) not in model.positives[u] for u, j in zip(users[:-1], negs[:-1], strict=True))
    assert set(negs[users == 0].tolist()) == {3, 4, 5}
    again = model._sample_negatives(users, n_items, np.random.default_rng(3))
    assert np.array_equal(negs, again)
