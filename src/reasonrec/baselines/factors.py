"""A fitted dot-product recommender's state (BPR-MF, LightGCN) as plain arrays: saved, loaded and used to
generate candidates without the library that trained it.

Why arrays and not the model object: a model bundle must load in a serving process quickly, without pickle (a
pickled object runs code on load) and without refitting. Both top-k generators score an item as
`user_vector · item_vector (+ item_bias)`, so this one form holds either. `.npz` is read with
`allow_pickle=False` and every shape is checked before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from reasonrec.baselines.common import top_k_table
from reasonrec.errors import DataError
from reasonrec.io import atomic_path

FACTORS_FILE = "cf_model.npz"


@dataclass
class FactorModel:
    """`score(u, i) = user_vectors[u] · item_vectors[i] + item_bias[i]`; ids are strings."""

    generator: str
    user_ids: list[str]
    item_ids: list[str]
    user_vectors: np.ndarray
    item_vectors: np.ndarray
    item_bias: np.ndarray

    def __post_init__(self) -> None:
        self._user_index = {u: n for n, u in enumerate(self.user_ids)}
        self._item_index = {i: n for n, i in enumerate(self.item_ids)}

    def knows_user(self, user_id: str) -> bool:
        return user_id in self._user_index

    def user_scores(self, users: Sequence[str]) -> np.ndarray:
        """(len(users), n_items) scores; every user must be known (`knows_user`)."""
        rows = np.array([self._user_index[u] for u in users], dtype=np.int64)
        return self.user_vectors[rows] @ self.item_vectors.T + self.item_bias

    def recommend(self, users: Sequence[str], k: int, exclude: Mapping[str, set[str]] | None = None) -> pl.DataFrame:
        """Top-k `(user_id, item_id, rank, score)` per known user, never an item in `exclude[user]`."""
        known = [u for u in users if u in self._user_index]
        matrix = self.user_scores(known) if known else np.zeros((0, len(self.item_ids)))
        columns = None
        if exclude is not None:
            columns = [{self._item_index[i] for i in exclude.get(u, ()) if i in self._item_index} for u in known]
        return top_k_table(known, self.item_ids, matrix, k, columns)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with atomic_path(path) as tmp, tmp.open("wb") as fh:
            np.savez(
                fh,
                generator=np.array(self.generator),
                user_ids=np.array(self.user_ids, dtype=np.str_),
                item_ids=np.array(self.item_ids, dtype=np.str_),
                user_vectors=self.user_vectors.astype(np.float32),
                item_vectors=self.item_vectors.astype(np.float32),
                item_bias=self.item_bias.astype(np.float32),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> FactorModel:
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise DataError(f"not a CF factor file ({exc})", path=path) from exc
        missing = [n for n in ("generator", "user_ids", "item_ids", "user_vectors", "item_vectors", "item_bias")
                   if n not in arrays]
        if missing:
            raise DataError(f"CF factor file lacks {missing}", path=path)
        users, items = arrays["user_vectors"], arrays["item_vectors"]
        n_users, n_items = len(arrays["user_ids"]), len(arrays["item_ids"])
        if (users.ndim != 2 or items.ndim != 2 or users.shape[0] != n_users or items.shape[0] != n_items
                or users.shape[1] != items.shape[1] or arrays["item_bias"].shape != (n_items,)):
            raise DataError(f"CF factor arrays have inconsistent shapes (users {users.shape}, items {items.shape}, "
                            f"bias {arrays['item_bias'].shape}, {n_users} user ids, {n_items} item ids)", path=path)
        return cls(
            generator=str(arrays["generator"]),
            user_ids=[str(u) for u in arrays["user_ids"]],
            item_ids=[str(i) for i in arrays["item_ids"]],
            user_vectors=users.astype(np.float64),
            item_vectors=items.astype(np.float64),
            item_bias=arrays["item_bias"].astype(np.float64),
        )


__all__ = ["FACTORS_FILE", "FactorModel"]
