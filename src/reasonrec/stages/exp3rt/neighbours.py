"""Neighbour-based item-profile selection (EXP3RT App. B): adjusted cosine between users on TRAIN ratings.

For a (user u, target item i) pair, the item profile is built only from the reviews of the k (paper: 3) users most
similar to u among those who rated i in the TRAINING interactions. Similarity, as in App. B steps (1)–(6):

    R'_ui = R_ui − μ_u            (μ_u = mean of ALL of u's training ratings)
    sim(u, v) = Σ_{i∈I_uv} R'_ui R'_vi / ( sqrt(Σ_{i∈I_uv} R'_ui²) · sqrt(Σ_{i∈I_uv} R'_vi²) )

with I_uv the items both users rated. Both norms run over the CO-RATED items only (as the paper writes it), so this
is a Pearson-like correlation on the overlap, computed with scipy sparse products — no Python loop over pairs.

Edge cases (the paper is silent; this is our definition):
- fewer than `min_co_rated` (default 2) co-rated items → similarity undefined (NaN): with one co-rated item the
  formula is always ±1, which would rank strangers above real neighbours;
- a zero denominator (a zero-variance user, i.e. every rating equal to the user's mean, or centred ratings that are
  all zero on the overlap) → undefined (NaN), never 0/0;
- `rank_neighbours` ranks the raters of the item by defined similarity (desc; ties by more co-rated items, then
  user id); when fewer than k have a defined similarity, the remaining slots are filled from the undefined ones
  (more co-rated items first, then user id) when `fill_undefined=True` — so a cold-ish user still gets an item
  profile — and the `similarity` column is null for those rows so the choice stays visible. The target user is
  never their own neighbour. Duplicate (user, item) training ratings are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from reasonrec.errors import DataError

NEIGHBOUR_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "rank": pl.Int64(),
    "neighbour_id": pl.String(),
    "similarity": pl.Float64(),
    "co_rated": pl.Int64(),
}


@dataclass(frozen=True)
class RatingMatrix:
    """Users × items training ratings: mean-centred values and a 0/1 "rated" mask (both CSR, same pattern)."""

    user_ids: tuple[str, ...]
    item_ids: tuple[str, ...]
    centred: sp.csr_matrix
    mask: sp.csr_matrix
    means: np.ndarray

    @classmethod
    def from_interactions(cls, interactions: pl.DataFrame) -> RatingMatrix:
        for col in ("user_id", "item_id", "rating"):
            if col not in interactions.columns:
                raise DataError(f"training interactions lack {col!r} (columns: {interactions.columns})", field=col)
        cells = (
            interactions.filter(pl.col("rating").is_not_null())
            .group_by("user_id", "item_id").agg(pl.col("rating").mean())
            .sort("user_id", "item_id")
        )
        user_ids = tuple(cells["user_id"].unique(maintain_order=True).to_list())
        item_ids = tuple(sorted(cells["item_id"].unique().to_list()))
        u_index = {u: n for n, u in enumerate(user_ids)}
        i_index = {i: n for n, i in enumerate(item_ids)}
        rows = np.fromiter((u_index[u] for u in cells["user_id"]), dtype=np.int64, count=cells.height)
        cols = np.fromiter((i_index[i] for i in cells["item_id"]), dtype=np.int64, count=cells.height)
        values = cells["rating"].to_numpy().astype(np.float64)
        shape = (len(user_ids), len(item_ids))
        counts = np.bincount(rows, minlength=shape[0]).astype(np.float64)
        sums = np.bincount(rows, weights=values, minlength=shape[0])
        means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
        centred = sp.csr_matrix((values - means[rows], (rows, cols)), shape=shape)
        mask = sp.csr_matrix((np.ones_like(values), (rows, cols)), shape=shape)
        return cls(user_ids=user_ids, item_ids=item_ids, centred=centred, mask=mask, means=means)

    def user_index(self) -> dict[str, int]:
        return {u: n for n, u in enumerate(self.user_ids)}


def adjusted_cosine(
    matrix: RatingMatrix, rows: Sequence[int] | None = None, *, min_co_rated: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """(similarity, co_rated) for the users at `rows` (default all) against every user; NaN where undefined."""
    idx = np.arange(len(matrix.user_ids)) if rows is None else np.asarray(rows, dtype=np.int64)
    a = matrix.centred[idx]
    a_mask = matrix.mask[idx]
    squared = matrix.centred.multiply(matrix.centred).tocsr()
    numerator = (a @ matrix.centred.T).toarray()
    # Σ_{i∈I_uv} R'_ui² : u's squares summed over the items v rated, and symmetrically for v.
    norm_u = (a.multiply(a) @ matrix.mask.T).toarray()
    norm_v = (a_mask @ squared.T).toarray()
    co_rated = (a_mask @ matrix.mask.T).toarray().round().astype(np.int64)
    denominator = np.sqrt(norm_u * norm_v)
    defined = (co_rated >= min_co_rated) & (denominator > 1e-12)
    similarity = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=similarity, where=defined)
    return np.clip(similarity, -1.0, 1.0, out=similarity, where=defined), co_rated


def rank_neighbours(
    train_interactions: pl.DataFrame,
    pairs: pl.DataFrame,
    *,
    k: int = 3,
    min_co_rated: int = 2,
    fill_undefined: bool = True,
    chunk_size: int = 512,
) -> pl.DataFrame:
    """Top-k similar TRAIN raters of each pair's item, per (user_id, item_id) pair → NEIGHBOUR_SCHEMA rows.

    A pair whose user has no training ratings gets no defined similarity (all candidates undefined); a pair
    whose item has no other rater in train gets no rows at all.
    """
    matrix = RatingMatrix.from_interactions(train_interactions)
    u_index = matrix.user_index()
    raters = (
        train_interactions.select("item_id", "user_id").unique()
        .group_by("item_id").agg(pl.col("user_id").sort())
    )
    raters_of = {i: us for i, us in raters.iter_rows()}
    wanted = pairs.select("user_id", "item_id").unique(maintain_order=True)
    query_users = [u for u in wanted["user_id"].unique(maintain_order=True).to_list() if u in u_index]
    out: dict[str, list] = {name: [] for name in NEIGHBOUR_SCHEMA}
    sims: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for start in range(0, len(query_users), chunk_size):
        chunk = query_users[start : start + chunk_size]
        s, c = adjusted_cosine(matrix, [u_index[u] for u in chunk], min_co_rated=min_co_rated)
        for n, u in enumerate(chunk):
            sims[u] = (s[n], c[n])
    for user, item in wanted.iter_rows():
        candidates = [v for v in raters_of.get(item, []) if v != user]
        if not candidates:
            continue
        if user in sims:
            s_row, c_row = sims[user]
            scored = [(v, s_row[u_index[v]], int(c_row[u_index[v]])) for v in candidates]
        else:
            scored = [(v, np.nan, 0) for v in candidates]
        defined = sorted((x for x in scored if not np.isnan(x[1])), key=lambda x: (-x[1], -x[2], x[0]))
        chosen = defined[:k]
        if fill_undefined and len(chosen) < k:
            undefined = sorted((x for x in scored if np.isnan(x[1])), key=lambda x: (-x[2], x[0]))
            chosen += undefined[: k - len(chosen)]
        for rank, (v, sim, co) in enumerate(chosen):
            out["user_id"].append(user)
            out["item_id"].append(item)
            out["rank"].append(rank)
            out["neighbour_id"].append(v)
            out["similarity"].append(None if np.isnan(sim) else float(sim))
            out["co_rated"].append(co)
    return pl.DataFrame(out, schema=NEIGHBOUR_SCHEMA)


__all__ = ["NEIGHBOUR_SCHEMA", "RatingMatrix", "adjusted_cosine", "rank_neighbours"]
