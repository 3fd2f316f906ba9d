"""Synthetic interaction tables for tests and scale benchmarks.

`synthetic_like` scales a real table up while keeping its *shape*: per-user history lengths are drawn from the
real ones, items from the real popularity distribution (each real item gets `scale` look-alike copies),
ratings from the real rating marginal, timestamps uniform over the real time span. So a 10x table stresses
the code the way 10x more of the same kind of data would. `write_movielens_100k_format` writes any table as
ML-100K files, so benchmarks and CLI tests go through the real loader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

ML100K_GENRES = ["unknown", "Action", "Comedy", "Drama"]


def synthetic_like(interactions: pl.DataFrame, scale: float, seed: int = 0) -> pl.DataFrame:
    """About `scale` x the rows of `interactions` with the same user-length / item-popularity / rating shape."""
    rng = np.random.default_rng(seed)
    user_lengths = interactions.group_by("user_id").len()["len"].to_numpy()
    item_pop = interactions.group_by("item_id").len().sort("item_id")
    item_ids = item_pop["item_id"]
    item_p = item_pop["len"].to_numpy() / item_pop["len"].sum()
    ratings = interactions["rating"].to_numpy()
    t_lo, t_hi = int(interactions["timestamp"].min()), int(interactions["timestamp"].max())
    copies = max(1, round(scale))
    n_users = max(1, round(len(user_lengths) * scale))
    lengths = rng.choice(user_lengths, size=n_users)
    total = int(lengths.sum())
    users = np.repeat(np.arange(1, n_users + 1), lengths)
    base_items = item_ids.gather(rng.choice(len(item_ids), size=total, p=item_p))
    replica = rng.integers(0, copies, size=total)
    df = pl.DataFrame(
        {
            "user_id": pl.Series(users).cast(pl.String),
            "_base": base_items,
            "_replica": replica,
            "rating": rng.choice(ratings, size=total).astype(np.float64),
            "timestamp": rng.integers(t_lo, t_hi + 1, size=total, dtype=np.int64),
        }
    )
    numeric = df["_base"].cast(pl.Int64, strict=False).null_count() == 0
    new_id = (
        (pl.col("_base").cast(pl.Int64) * copies + pl.col("_replica") + 1).cast(pl.String)
        if numeric  # keep ids integer-like so the table can be written in MovieLens format
        else pl.col("_base") + "_" + pl.col("_replica").cast(pl.String)
    )
    df = df.with_columns(new_id.alias("item_id"))
    return df.unique(["user_id", "item_id"], keep="first", maintain_order=True).select(
        "user_id", "item_id", "rating", "timestamp"
    )


def random_interactions(
    n_users: int, n_items: int, per_user: tuple[int, int] = (3, 12), seed: int = 0, tie_share: float = 0.2
) -> pl.DataFrame:
    """A small random table with unique (user, item) pairs, ratings 1-5 and some timestamp ties."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[str, str, float, int]] = []
    for u in range(1, n_users + 1):
        k = int(rng.integers(per_user[0], per_user[1] + 1))
        items = rng.choice(np.arange(1, n_items + 1), size=min(k, n_items), replace=False)
        ts = 1_000_000_000 + np.sort(rng.integers(0, 10_000, size=len(items)))
        ties = rng.random(len(items)) < tie_share
        ts[1:][ties[1:]] = ts[:-1][ties[1:]]
        ts = np.maximum.accumulate(ts)
        for item, t in zip(items, ts, strict=True):
            rows.append((str(u), str(int(item)), float(rng.integers(1, 6)), int(t)))
    return pl.DataFrame(rows, schema=["user_id", "item_id", "rating", "timestamp"], orient="row")


def write_movielens_100k_format(folder: str | Path, interactions: pl.DataFrame) -> Path:
    """Write `interactions` as u.data / u.item / u.user / u.genre (ids must be integers-as-strings)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    interactions.select(
        "user_id", "item_id", pl.col("rating").cast(pl.Int64), "timestamp"
    ).write_csv(folder / "u.data", separator="\t", include_header=False)
    items = interactions.select("item_id").unique().sort(pl.col("item_id").cast(pl.Int64))
    flags = "|".join(["0"] * (len(ML100K_GENRES) - 1))
    (folder / "u.item").write_text(
        "".join(f"{i}|Synthetic movie {i} (1995)|01-Jan-1995||http://example.invalid/{i}|1|{flags}\n"
                for i in items["item_id"].to_list()),
        encoding="latin-1",
    )
    users = interactions.select("user_id").unique().sort(pl.col("user_id").cast(pl.Int64))
    (folder / "u.user").write_text(
        "".join(f"{u}|30|F|other|00000\n" for u in users["user_id"].to_list()), encoding="latin-1"
    )
    (folder / "u.genre").write_text("".join(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES)), encoding="latin-1")
    return folder
