"""LightGCN (He et al., SIGIR 2020) for top-k candidate generation — a compact PyTorch module.

cornac's LightGCN needs `dgl`, which does not install here, so this follows the paper directly:
- graph: the user-item bipartite adjacency A = [[0, R], [R^T, 0]] over all training interactions, normalised
  symmetrically, A_hat = D^-1/2 A D^-1/2 (isolated nodes keep zero rows);
- propagation: E^(l+1) = A_hat E^(l) with no feature transforms or non-linearities; the final embedding is the
  layer mean (alpha_l = 1 / (L + 1)) of E^(0..L);
- training: BPR loss on (user, positive, uniformly sampled negative) triples with L2 on the layer-0 embeddings
  of the batch, Adam.
Early stopping (optional) on Recall@`eval_k` of the validation targets, best state kept.
"""

from __future__ import annotations

import copy
import functools
from typing import ClassVar

import numpy as np
import polars as pl

from reasonrec.baselines.common import (
    BaselineConfig,
    TrainData,
    pairwise_predictions,
    positive_interactions,
    top_k_table,
    torch_determinism,
)
from reasonrec.baselines.factors import FactorModel


class LightGCNConfig(BaselineConfig):
    embedding_dim: int = 64
    n_layers: int = 3
    epochs: int = 60
    batch_size: int = 2048
    learning_rate: float = 1e-3
    reg_weight: float = 1e-4
    min_rating: float | None = None
    eval_every: int = 5
    eval_k: int = 20
    patience: int = 3
    threads: int = 1


def normalized_adjacency(n_users: int, n_items: int, user_idx: np.ndarray, item_idx: np.ndarray):
    """Sparse (n_users + n_items)^2 matrix D^-1/2 A D^-1/2 of the bipartite graph; duplicate edges count once."""
    import torch

    pairs = np.unique(np.stack([np.asarray(user_idx, np.int64), np.asarray(item_idx, np.int64)], axis=1), axis=0)
    u, i = pairs[:, 0], pairs[:, 1] + n_users
    n = n_users + n_items
    deg = np.bincount(np.concatenate([u, i]), minlength=n).astype(np.float64)
    inv_sqrt = np.zeros(n)
    inv_sqrt[deg > 0] = deg[deg > 0] ** -0.5
    rows = np.concatenate([u, i])
    cols = np.concatenate([i, u])
    vals = inv_sqrt[rows] * inv_sqrt[cols]
    return torch.sparse_coo_tensor(
        torch.from_numpy(np.stack([rows, cols])), torch.from_numpy(vals).float(), (n, n), check_invariants=True
    ).coalesce()


def symmetric_spmm(adj_csr, x):
    """adj @ x for a SYMMETRIC sparse CSR `adj`, differentiable in x with the backward pass adj @ grad.

    Why: the normalised adjacency is symmetric, so the gradient adj^T g equals adj g. Autograd's generic
    sparse backward instead transposes and re-coalesces the matrix on every step, which made a LightGCN step
    several times slower than the products themselves (ML-100K, one thread: ~170 ms → ~30 ms per step).
    """
    return _symmetric_spmm_function().apply(adj_csr, x)


@functools.cache
def _symmetric_spmm_function():
    import torch  # deferred: the baseline registry is imported without torch

    class SymmetricSpMM(torch.autograd.Function):
        @staticmethod
        def forward(ctx, adj_csr, x):  # type: ignore[override]
            ctx.adj = adj_csr
            return adj_csr @ x

        @staticmethod
        def backward(ctx, grad):  # type: ignore[override]
            return None, ctx.adj @ grad

    return SymmetricSpMM


class _LightGCNModule:
    """Embeddings + propagation; kept as a thin wrapper around an nn.Embedding so state is one tensor."""

    def __init__(self, n_nodes: int, dim: int, n_layers: int) -> None:
        import torch

        self.embedding = torch.nn.Embedding(n_nodes, dim)
        torch.nn.init.normal_(self.embedding.weight, std=0.1)
        self.n_layers = n_layers

    def propagate(self, adj_csr):
        """Layer mean of E^(0..L), E^(l+1) = A_hat E^(l); `adj_csr` is the normalised adjacency in CSR layout."""
        e = self.embedding.weight
        total = e
        for _ in range(self.n_layers):
            e = symmetric_spmm(adj_csr, e)
            total = total + e
        return total / (self.n_layers + 1)


class LightGCN:
    name: ClassVar[str] = "lightgcn"

    def __init__(self, config: LightGCNConfig | None = None) -> None:
        self.config = config or LightGCNConfig()
        self.user_index: dict[str, int] = {}
        self.item_index: dict[str, int] = {}
        self.item_ids: list[str] = []
        self.train_items: list[set[int]] = []
        self.positives: list[set[int]] = []
        self.final: np.ndarray | None = None
        self.history: list[dict[str, float]] = []
        self._positive_keys = np.zeros(0, dtype=np.int64)
        self._saturated = np.zeros(0, dtype=bool)
        self.cold_rows = 0

    def fit(self, data: TrainData) -> LightGCN:
        import torch

        c = self.config
        all_inter, inter = positive_interactions(data, c.min_rating)
        users = sorted(set(inter["user_id"].to_list()))
        self.item_ids = sorted(set(inter["item_id"].to_list()))
        self.user_index = {u: n for n, u in enumerate(users)}
        self.item_index = {i: n for n, i in enumerate(self.item_ids)}
        u_idx = np.array([self.user_index[u] for u in inter["user_id"].to_list()], dtype=np.int64)
        i_idx = np.array([self.item_index[i] for i in inter["item_id"].to_list()], dtype=np.int64)
        n_users, n_items = len(users), len(self.item_ids)
        self.positives = [set() for _ in range(n_users)]
        for u, i in zip(u_idx.tolist(), i_idx.tolist(), strict=True):
            self.positives[u].add(i)
        # Excluded from recommendation: every item the user interacted with in training, liked or not.
        self.train_items = [set(p) for p in self.positives]
        for u, i in zip(all_inter["user_id"].to_list(), all_inter["item_id"].to_list(), strict=True):
            if u in self.user_index and i in self.item_index:
                self.train_items[self.user_index[u]].add(self.item_index[i])
        pairs = np.unique(np.stack([u_idx, i_idx], axis=1), axis=0)
        self._positive_keys = np.unique(pairs[:, 0] * n_items + pairs[:, 1])  # (user, positive) as sorted keys
        self._saturated = np.array([len(p) >= n_items for p in self.positives], dtype=bool)
        valid = self._valid_pairs(data.valid)
        rng = np.random.default_rng(c.seed)
        with torch_determinism(c.seed, c.threads):
            adj = normalized_adjacency(n_users, n_items, u_idx, i_idx).to_sparse_csr()
            module = _LightGCNModule(n_users + n_items, c.embedding_dim, c.n_layers)
            opt = torch.optim.Adam(module.embedding.parameters(), lr=c.learning_rate)
            best_state, best_metric, bad = None, -1.0, 0
            for epoch in range(1, c.epochs + 1):
                order = rng.permutation(len(pairs))
                negs = self._sample_negatives(pairs[order, 0], n_items, rng)
                total = 0.0
                for start in range(0, len(order), c.batch_size):
                    sl = order[start:start + c.batch_size]
                    bu = torch.from_numpy(pairs[sl, 0])
                    bi = torch.from_numpy(pairs[sl, 1] + n_users)
                    bj = torch.from_numpy(negs[start:start + len(sl)] + n_users)
                    final = module.propagate(adj)
                    eu, ei, ej = final[bu], final[bi], final[bj]
                    loss = -torch.nn.functional.logsigmoid((eu * ei).sum(1) - (eu * ej).sum(1)).mean()
                    ego = module.embedding.weight
                    reg = (ego[bu].pow(2).sum() + ego[bi].pow(2).sum() + ego[bj].pow(2).sum()) / (2 * len(sl))
                    loss = loss + c.reg_weight * reg
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(sl)
                record = {"epoch": epoch, "loss": total / len(order)}
                if valid and (epoch % c.eval_every == 0 or epoch == c.epochs):
                    with torch.no_grad():
                        self.final = module.propagate(adj).numpy().copy()
                    record["valid_recall"] = self._recall(valid, c.eval_k, n_users)
                    if record["valid_recall"] > best_metric:
                        best_metric, bad = record["valid_recall"], 0
                        best_state = copy.deepcopy(module.embedding.state_dict())
                    else:
                        bad += 1
                self.history.append(record)
                if valid and bad >= c.patience:
                    break
            if best_state is not None:
                module.embedding.load_state_dict(best_state)
            with torch.no_grad():
                self.final = module.propagate(adj).numpy().copy()
        return self

    def _valid_pairs(self, valid: pl.DataFrame | None) -> list[tuple[int, int]]:
        if valid is None or valid.height == 0:
            return []
        out = []
        for u, i in zip(valid["user_id"].cast(pl.String).to_list(), valid["item_id"].cast(pl.String).to_list(),
                        strict=True):
            if u in self.user_index:
                out.append((self.user_index[u], self.item_index.get(i, -1)))
        return out

    def _sample_negatives(self, users: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
        """One uniformly drawn non-positive item per row, redrawing collisions in vectorised rounds.

        Users whose positives cover every item keep their (positive) draw, as there is no negative to find.
        """
        negs = rng.integers(0, n_items, size=len(users))
        redraw = self._is_positive(users, negs, n_items) & ~self._saturated[users]
        while redraw.any():
            negs[redraw] = rng.integers(0, n_items, size=int(redraw.sum()))
            redraw[redraw] = self._is_positive(users[redraw], negs[redraw], n_items)
        return negs

    def _is_positive(self, users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
        keys, query = self._positive_keys, users * n_items + items
        if len(keys) == 0:
            return np.zeros(len(query), dtype=bool)
        return keys[np.minimum(np.searchsorted(keys, query), len(keys) - 1)] == query

    def _recall(self, pairs: list[tuple[int, int]], k: int, n_users: int) -> float:
        assert self.final is not None
        users = np.array([u for u, _ in pairs])
        scores = self.final[users] @ self.final[n_users:].T
        hits = 0
        for row, (u, i) in enumerate(pairs):
            if i < 0:
                continue
            s = scores[row].copy()
            s[list(self.train_items[u])] = -np.inf
            if s[i] > -np.inf and int((s > s[i]).sum()) < k:
                hits += 1
        return hits / max(len(pairs), 1)

    def _scores_for(self, users: list[str]) -> np.ndarray:
        if self.final is None:
            raise RuntimeError("LightGCN used before fit")
        n_users = len(self.user_index)
        rows = np.array([self.user_index[u] for u in users], dtype=np.int64)
        return self.final[rows] @ self.final[n_users:].T

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        """sigmoid(e_u . e_i) per target row; rows with a cold user or item score below every warm row."""
        final = self.final
        if final is None:
            raise RuntimeError("LightGCN used before fit")
        n_users = len(self.user_index)

        def pair_score(user: str, item: str) -> float | None:
            if user not in self.user_index or item not in self.item_index:
                return None
            return float(final[self.user_index[user]] @ final[n_users + self.item_index[item]])

        frame, self.cold_rows = pairwise_predictions(targets, pair_score, method=self.name, dataset=dataset,
                                                     split=split)
        return frame

    def recommend(self, users: list[str], k: int, exclude_train: bool = True) -> pl.DataFrame:
        """Top-k training items per user (users unknown to the model get no rows)."""
        known = [u for u in users if u in self.user_index]
        matrix = self._scores_for(known) if known else np.zeros((0, len(self.item_ids)))
        exclude = [self.train_items[self.user_index[u]] for u in known] if exclude_train else None
        return top_k_table(known, self.item_ids, matrix, k, exclude)

    def factors(self) -> FactorModel:
        """The fitted state as arrays (for a model bundle): the propagated user and item embeddings."""
        if self.final is None:
            raise RuntimeError("LightGCN used before fit")
        n_users = len(self.user_index)
        user_ids = sorted(self.user_index, key=self.user_index.__getitem__)
        return FactorModel(self.name, user_ids, list(self.item_ids), self.final[:n_users].astype(np.float64),
                           self.final[n_users:].astype(np.float64), np.zeros(len(self.item_ids)))
