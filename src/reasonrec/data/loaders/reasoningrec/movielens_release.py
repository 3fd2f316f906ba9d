"""Canonical tables of a CTR-only MovieLens release (ReasoningRec ML-1M: movies, users, CTR windows; no ratings).

Without ratings.dat the interactions are DERIVED from the CTR windows: each user's sequence is rebuilt as train
history + train, valid and test targets (sliding leave-one-out), its rating column holds the binary like labels,
and a position's timestamp is its index in that sequence. Valid/test histories are checked against it.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reasonrec.data.loaders.reasoningrec.layout import PARTS, SPLITS, ReleaseFiles
from reasonrec.data.loaders.reasoningrec.windows import seq_ctr_frame
from reasonrec.data.loaders.release_files import index_order, read_csv_rows, read_json
from reasonrec.data.schema import (
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    TARGET_SCHEMA,
    USERS_SCHEMA,
    conform,
    validate_interactions,
)
from reasonrec.errors import DataError

DERIVED_NOTES = (
    ("no ratings file in this release: interactions are DERIVED from the CTR split windows and "
     "their rating column holds BINARY like/dislike labels (1.0 / 0.0), NOT 1-5 star ratings"),
    ("the CTR CSVs' timestamp column is always 0; timestamps here are each user's sequence positions "
     "(0 = oldest window item), usable for ordering only"),
)


def movielens_items(files: ReleaseFiles, info: dict[str, object]) -> pl.DataFrame:
    path = files.one("movies")
    rows = read_csv_rows(path, PARTS["movies"].expected, ("movie_id", "name", "cleaned_genre", "year"))
    kept = [r for r in rows if r["movie_id"].strip()]
    info["movies_csv_blank_rows_skipped"] = len(rows) - len(kept)
    years = []
    for number, row in enumerate(kept, start=2):
        year = row["year"].strip()
        if year and not year.isdigit():
            raise DataError(f"year is not an integer: {year!r}", path=path, line=number, field="year")
        years.append(int(year) if year else None)
    table = pl.DataFrame(
        {
            "item_id": [r["movie_id"].strip() for r in kept],
            "title": [r["name"].strip() for r in kept],
            "genres": [[g.strip() for g in r["cleaned_genre"].split(",") if g.strip()] for r in kept],
            "year": years,
        },
        schema={"item_id": pl.String(), "title": pl.String(), "genres": pl.List(pl.String()), "year": pl.Int64()},
    )
    if table["item_id"].is_duplicated().any():
        raise DataError("duplicate movie_id", path=path, field="movie_id")
    return conform(table, ITEMS_SCHEMA, table="items", source=path)


def movielens_users(files: ReleaseFiles) -> pl.DataFrame:
    path = files.one("users_dat")
    records = []
    for number, line in enumerate(path.read_text(encoding="latin-1").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split("::")
        if len(parts) != 5:
            raise DataError(f"expected 5 '::'-separated fields, found {len(parts)}", path=path, line=number)
        try:
            records.append((parts[0], parts[1], int(parts[2]), int(parts[3]), parts[4]))
        except ValueError as exc:
            raise DataError(f"age/occupation not integers: {exc}", path=path, line=number) from exc
    profiles = read_csv_rows(files.one("user_demographics"), PARTS["user_demographics"].expected,
                             ("user_id", "user_profile"))
    text = {r["user_id"].strip(): r["user_profile"] for r in profiles}
    table = pl.DataFrame(
        {
            "user_id": [r[0] for r in records], "gender": [r[1] for r in records], "age": [r[2] for r in records],
            "occupation": [r[3] for r in records], "zip": [r[4] for r in records],
            "profile_text": [text.get(r[0]) for r in records],
        },
        schema={"user_id": pl.String(), "gender": pl.String(), "age": pl.Int64(), "occupation": pl.Int64(),
                "zip": pl.String(), "profile_text": pl.String()},
    )
    return conform(table, USERS_SCHEMA, table="users", source=path)


def _joined_sequences(frames: dict[str, pl.DataFrame], folder: Path) -> pl.DataFrame:
    """One row per user: each split's window side by side and the rebuilt sequence (`seq_items`, `seq_labels`)."""
    joined = frames["train"].select(
        "user", pl.col("history_items").alias("train_history"), pl.col("history_labels").alias("train_labels"),
        pl.col("item_id").cast(pl.Int64, strict=False).alias("train_item"), pl.col("label").alias("train_label"),
    )
    if joined["train_item"].is_null().any():
        raise DataError("item_id is not an integer", path=folder / "train.csv", field="item_id")
    for split in ("valid", "test"):
        other = frames[split].select(
            "user",
            pl.col("history_items").alias(f"{split}_history"), pl.col("history_labels").alias(f"{split}_labels"),
            pl.col("item_id").cast(pl.Int64, strict=False).alias(f"{split}_item"),
            pl.col("label").alias(f"{split}_label"),
        )
        joined = joined.join(other, on="user", how="full", coalesce=True)
    missing = joined.filter(pl.any_horizontal(pl.col("train_item", "valid_item", "test_item").is_null()))
    if missing.height:
        raise DataError(f"user {missing['user'][0]} lacks a window in one of train/valid/test", path=folder,
                        field="user")
    return joined.with_columns(
        pl.concat_list("train_history", "train_item", "valid_item", "test_item").alias("seq_items"),
        pl.concat_list("train_labels", "train_label", "valid_label", "test_label").alias("seq_labels"),
    )


def _history_inconsistencies(joined: pl.DataFrame) -> int:
    """Valid/test windows whose history is not the rebuilt sequence's slice just before their target."""
    inconsistent = 0
    for offset, split in ((1, "valid"), (0, "test")):
        n_hist = pl.col(f"{split}_history").list.len()
        end = pl.col("seq_items").list.len() - 1 - offset
        expected_items = pl.col("seq_items").list.slice(end - n_hist, n_hist)
        expected_labels = pl.col("seq_labels").list.slice(end - n_hist, n_hist)
        inconsistent += joined.filter(
            (expected_items != pl.col(f"{split}_history")) | (expected_labels != pl.col(f"{split}_labels"))
        ).height
    return inconsistent


def movielens_splits(files: ReleaseFiles, info: dict[str, object]) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """`seq_ctr_<split>` target tables and the canonical interactions derived from them."""
    paths = files.by_split("seq_ctr", SPLITS)
    frames = {split: seq_ctr_frame(path) for split, path in paths.items()}
    for split, frame in frames.items():
        if frame["user"].is_duplicated().any():
            raise DataError("a user has more than one row", path=paths[split], field="user")
    joined = _joined_sequences(frames, paths["train"].parent)
    info["ml1m_history_inconsistencies"] = _history_inconsistencies(joined)

    order = pl.col("user").cast(pl.Int64, strict=False)
    splits: dict[str, pl.DataFrame] = {}
    for offset, split in ((2, "train"), (1, "valid"), (0, "test")):
        table = (
            frames[split]
            .join(joined.select("user", pl.col("seq_items").list.len().alias("_n")), on="user")
            .sort(order, "user")
            .select(
                pl.col("user").alias("user_id"),
                "item_id",
                pl.col("label").cast(pl.Float64).alias("rating"),
                (pl.col("_n") - 1 - offset).cast(pl.Int64).alias("timestamp"),
                "label",
                pl.col("history_items").cast(pl.List(pl.String)).alias("history_item_ids"),
                pl.col("history_labels").cast(pl.List(pl.Float64)).alias("history_ratings"),
                "history_labels",
                pl.lit(split).alias("split"),
            )
        )
        splits[f"seq_ctr_{split}"] = table.cast(TARGET_SCHEMA)  # type: ignore[arg-type]

    interactions = (
        joined.sort(order, "user")
        .select(
            pl.col("user").alias("user_id"), pl.col("seq_items").alias("item_id"),
            pl.col("seq_labels").alias("rating"),
            pl.int_ranges(0, pl.col("seq_items").list.len()).alias("timestamp"),
        )
        .explode("item_id", "rating", "timestamp")
        .with_columns(pl.col("item_id").cast(pl.String), pl.col("rating").cast(pl.Float64),
                      pl.col("timestamp").cast(pl.Int64))
    )
    interactions = conform(interactions, INTERACTIONS_SCHEMA, table="interactions", source=paths["train"])
    validate_interactions(interactions, source=paths["train"])
    info["derived_interactions"] = interactions.height
    return splits, interactions


def movielens_artefacts(files: ReleaseFiles, splits: dict[str, pl.DataFrame], generator: str,
                        info: dict[str, object]) -> dict[str, pl.DataFrame]:
    """Movie summaries, pre-final user profiles and the per-user target ids (checked against the CTR targets)."""
    artefacts: dict[str, pl.DataFrame] = {}
    path = files.optional("item_summaries")
    if path is not None:
        summaries = read_csv_rows(path, PARTS["item_summaries"].expected, ("movie_id", "summary"))
        artefacts["item_descriptions"] = pl.DataFrame(
            {"item_id": [r["movie_id"].strip() for r in summaries], "text": [r["summary"] for r in summaries],
             "source": [f"{generator}:{path.name}"] * len(summaries)},
            schema={"item_id": pl.String(), "text": pl.String(), "source": pl.String()},
        )
    targets = []
    agree: dict[str, int] = {}
    for split, target_path in files.by_split("release_targets", files.splits_present("release_targets")).items():
        data = read_json(target_path, PARTS["release_targets"].expected)
        ctr = dict(splits[f"seq_ctr_{split}"].select("user_id", "item_id").iter_rows())
        for user in sorted(data, key=index_order):
            value = data[user]
            item = str(value[0]) if isinstance(value, list) and value else str(value)
            targets.append((user, split, item))
        agree[split] = sum(ctr.get(u) == i for u, s, i in targets if s == split)
    if targets:
        artefacts["release_targets"] = pl.DataFrame(
            targets, schema={"user_id": pl.String(), "split": pl.String(), "item_id": pl.String()}, orient="row"
        )
        info["release_targets_agreeing_with_seq_ctr"] = agree
    return artefacts


__all__ = ["DERIVED_NOTES", "movielens_artefacts", "movielens_items", "movielens_splits", "movielens_users"]
