"""The release's split files as target tables (`TARGET_SCHEMA`): user windows and the CTR-baseline CSVs.

Windows (`processed/user_{split}.json`, rating releases): user index → item-index window whose last element is the
target (sliding leave-one-out: train target = 3rd-last interaction, valid = 2nd-last, test = last).
CTR CSVs (`baselines/seq_ctr_csv/` or `splits_seq_ctr_csv/`): one row per user with the history ids, their binary
labels, the target and its label; the CSV timestamp column is always 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from reasonrec.data.loaders.reasoningrec.labels import rating_label
from reasonrec.data.loaders.reasoningrec.layout import PARTS, SPLITS, ReleaseFiles
from reasonrec.data.loaders.release_files import index_order, parse_int_list, read_json, require
from reasonrec.data.schema import TARGET_SCHEMA
from reasonrec.errors import DataError

PairLookup = dict[tuple[str, str], tuple[float, int]]

WINDOW_RULE = (
    "last element = target, preceding = history; rating/timestamp of each (user, item) from its first row "
    "in ratings.csv file order; label = rating > 3; seq_ctr_* keep the CSV labels and take rating/timestamp "
    "from the same lookup (the CSV timestamp column is always 0)"
)


def _list_series(name: str, lists: list[list[Any]], dtype: pl.DataType) -> pl.Series:
    """A list column built through Arrow offsets: polars builds ragged Python lists row by row (slow)."""
    offsets = [0]
    flat: list[Any] = []
    for values in lists:
        flat.extend(values)
        offsets.append(len(flat))
    inner = pl.Series(flat, dtype=dtype.inner).to_arrow()  # type: ignore[attr-defined]
    array = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), inner)
    return pl.Series(name, array).cast(dtype)


def target_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows (dicts with the TARGET_SCHEMA keys) → a typed target table, built column by column (fast)."""
    columns = []
    for name, dtype in TARGET_SCHEMA.items():
        values = [row[name] for row in rows]
        if isinstance(dtype, pl.List):
            columns.append(_list_series(name, values, dtype))  # type: ignore[arg-type]
        else:
            columns.append(pl.Series(name, values, dtype=dtype))
    return pl.DataFrame(columns)


def _decode_seq_ctr(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.select(
        "line",
        pl.col("user").str.strip_chars(),
        pl.col("history_item_id").str.json_decode(pl.List(pl.Int64)).alias("history_items"),
        pl.col("history_rating").str.json_decode(pl.List(pl.Int64)).alias("history_labels"),
        pl.col("item_id").str.strip_chars(),
        pl.col("rating").str.strip_chars().cast(pl.Int64, strict=False).alias("label"),
        pl.col("timestamp").str.strip_chars().cast(pl.Int64, strict=False).alias("csv_timestamp"),
    )


def seq_ctr_frame(path: Path, *, equal_lengths: bool = True) -> pl.DataFrame:
    """A CTR split CSV as (line, user, history_items: list[i64], history_labels: list[i64], item_id, label, ts).

    `equal_lengths=False` lets the caller align shorter label lists itself (Beauty drops the labels of window
    items that have no rating row)."""
    expected = PARTS["seq_ctr"].expected
    require(path, expected)
    try:
        raw = pl.read_csv(path, infer_schema=False)
    except Exception as exc:  # polars raises several error types for malformed CSV
        raise DataError(f"cannot parse CSV: {exc}; expected {expected}", path=path) from exc
    for column in ("user", "history_item_id", "history_rating", "item_id", "rating", "timestamp"):
        if column not in raw.columns:
            raise DataError(f"required column is missing; expected {expected}", path=path, field=column)
    raw = raw.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    try:
        out = _decode_seq_ctr(raw)
    except pl.exceptions.PolarsError:
        # Vectorised JSON decoding failed somewhere: find and name the first bad line.
        for line, items, labels in raw.select("line", "history_item_id", "history_rating").iter_rows():
            parse_int_list(items or "", path=path, line=line, field="history_item_id")
            parse_int_list(labels or "", path=path, line=line, field="history_rating")
        raise
    for column, source in (("history_items", "history_item_id"), ("history_labels", "history_rating"),
                           ("label", "rating"), ("csv_timestamp", "timestamp")):
        bad = out.filter(pl.col(column).is_null())
        if bad.height:
            line = int(bad["line"][0])
            value = raw.filter(pl.col("line") == line)[source][0]
            raise DataError(f"cannot parse {value!r}", path=path, line=line, field=source)
    if equal_lengths:
        bad = out.filter(pl.col("history_items").list.len() != pl.col("history_labels").list.len())
        if bad.height:
            raise DataError("history_item_id and history_rating differ in length", path=path,
                            line=int(bad["line"][0]), field="history_rating")
    return out


def _window_table(path: Path, split: str, lookup: PairLookup) -> tuple[pl.DataFrame, dict[str, int]]:
    windows = read_json(path, PARTS["windows"].expected)
    rows = []
    unresolved = 0
    for user in sorted(windows, key=index_order):
        window = [str(i) for i in windows[user]]
        if not window:
            raise DataError("empty window", path=path, field=user)
        looked = [lookup.get((user, item), (None, None)) for item in window]
        unresolved += sum(r is None for r, _ in looked)
        rating, timestamp = looked[-1]
        rows.append({
            "user_id": user, "item_id": window[-1], "rating": rating, "timestamp": timestamp,
            "label": rating_label(rating), "history_item_ids": window[:-1],
            "history_ratings": [r for r, _ in looked[:-1]],
            "history_labels": [rating_label(r) for r, _ in looked[:-1]], "split": split,
        })
    table = target_frame(rows)
    return table, {
        "users": table.height,
        "positions_not_in_ratings": unresolved,
        "targets_without_rating": int(table["rating"].is_null().sum()),
        "target_item_also_in_history": int(
            table.select(pl.col("history_item_ids").list.contains(pl.col("item_id")).sum()).item()
        ),
    }


def _ctr_table(path: Path, split: str, lookup: PairLookup) -> tuple[pl.DataFrame, dict[str, int]]:
    """The CTR CSV with ratings/timestamps from `lookup`; its labels are kept and checked against the ratings."""
    rows = []
    disagree = realigned = 0
    ctr = seq_ctr_frame(path, equal_lengths=False)
    for line, user, items, labels, target, label in ctr.select(
        "line", "user", "history_items", "history_labels", "item_id", "label"
    ).iter_rows():
        history = [str(i) for i in items]
        looked = [lookup.get((user, i), (None, None)) for i in history]
        if len(labels) != len(history):
            # The authors listed labels only for window items (history + target) that have a rating row,
            # then cut the last one off as the target's. Put each label back on its item; null elsewhere.
            present = [p for p, (r, _) in enumerate([*looked, lookup.get((user, target), (None, None))])
                       if r is not None]
            if len(present) != len(labels) + 1:
                raise DataError(
                    f"{len(history)} history items but {len(labels)} history ratings, and the gap is not "
                    "explained by items missing from ratings.csv", path=path, line=line, field="history_rating",
                )
            by_position = dict(zip(present, labels))
            labels = [by_position.get(p) for p in range(len(history))]
            realigned += 1
        rating, timestamp = lookup.get((user, target), (None, None))
        disagree += int(rating_label(rating) is not None and rating_label(rating) != label)
        disagree += sum(
            int(lab is not None and r is not None and rating_label(r) != lab) for lab, (r, _) in zip(labels, looked)
        )
        rows.append({
            "user_id": user, "item_id": target, "rating": rating, "timestamp": timestamp, "label": label,
            "history_item_ids": history, "history_ratings": [r for r, _ in looked],
            "history_labels": labels, "split": split,
        })
    return target_frame(rows), {"seq_ctr_labels_disagreeing_with_ratings": disagree,
                                "seq_ctr_rows_with_realigned_history_labels": realigned}


def rating_release_splits(files: ReleaseFiles, lookup: PairLookup, info: dict[str, object]
                          ) -> dict[str, pl.DataFrame]:
    """`release_windows_<split>` (always) and `seq_ctr_<split>` (where the CSVs exist) as target tables.

    A (user, item) pair may occur more than once in ratings.csv (duplicates, repeat purchases). Every window
    position is resolved to the FIRST row of that pair in ratings.csv file order: this reproduces the
    authors' binary labels in Beauty's `baselines/seq_ctr_csv` for every target and every history position, so
    it is the rule they used. Pairs absent from ratings.csv (a handful of window items) get null rating/label.
    """
    splits: dict[str, pl.DataFrame] = {}
    window_info: dict[str, dict[str, int]] = {}
    ctr_paths = files.by_split("seq_ctr", files.splits_present("seq_ctr"))
    for split, path in files.by_split("windows", SPLITS).items():
        splits[f"release_windows_{split}"], window_info[split] = _window_table(path, split, lookup)
        if split in ctr_paths:
            splits[f"seq_ctr_{split}"], ctr_info = _ctr_table(ctr_paths[split], split, lookup)
            window_info[split].update(ctr_info)
    info["release_windows"] = window_info
    info["release_windows_rule"] = WINDOW_RULE
    return splits


__all__ = ["WINDOW_RULE", "rating_release_splits", "seq_ctr_frame", "target_frame"]
