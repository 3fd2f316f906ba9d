"""Loaders for the ReasoningRec release layouts (`reasoningrec-beauty`, `reasoningrec-ml1m`).

The release ships the authors' LLM outputs next to the data. Loading them as typed **artefact** tables lets later
stages reuse (or audit) them instead of regenerating them, and loading the release's own split files as **target
tables** (see the shared contract) lets us reproduce the authors' numbers on exactly their rows.

Artefact tables (`Dataset.artefacts`), Beauty:

- `item_descriptions(item_id, text, source)` — Mixtral 25-word descriptions from `processed/item_description.json`
  (1,168 items). `processed_item_information.json` carries an identical copy (checked: `info["item_descriptions"]`),
  so the canonical `items.description` stays the *metadata* description, which this release does not have (null).
- `user_profiles(user_id, text)`, `user_profiles_wo_description(user_id, text)` — Mixtral profiles (160 users).
- `profile_history(user_id, item_ids: list[str])` — the items each profile was built from.
- `teacher_reasoning(user_id, split, text, label)` — Mixtral reasoning; `label` from the trailing
  "Prediction: Yes/No" (1/0; null when absent).
- `zeroshot_outputs(run, user_id, text)` — one row per user per file in `zeroshot_outputs/` (`run` = file stem).
- `student_reference_outputs(run, k, row, instruction, input, output, generated_output, logit, label, user_id,
  user_candidates)` — the authors' LoRA student on test; `logit` = their P(Yes); `label` from `output`;
  `user_id` mapped through the teacher test reasoning (see `_map_student_rows_to_users`), `user_candidates` = how
  many users' teacher texts the row's output is a prefix of (1 = unambiguous).
- `authors_results(dataset, run, seed, k, auc, bertscore)` from `student_reference_outputs/*/results.json`.
- `finetune_<variant>_<split>(row, instruction, input, output, label)` for variant in reasoningrec /
  ablation_wo_desc / ablation_wo_profile, and `tallrec_<split>` (same columns; label from "Yes."/"No.").

ML-1M adds `teacher_reasoning_wo_profile`, `release_targets(user_id, split, item_id)` and has
`item_descriptions` = GPT-3.5 summaries; its `user_profiles` are the GPT-3.5 pre-final profiles (4,500 users).

Split tables (`Dataset.splits`) follow the target-table contract (`TARGET_SCHEMA`).
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from reasonrec.answers import (
    leading_prediction_label,
    strip_leading_prediction,
    strip_trailing_prediction,
    trailing_prediction_label,
)
from reasonrec.data.fields import parse_price
from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.schema import (
    INTERACTIONS_SCHEMA,
    ITEMS_SCHEMA,
    TARGET_SCHEMA,
    USERS_SCHEMA,
    Dataset,
    conform,
    validate_interactions,
)
from reasonrec.errors import DataError

BEAUTY_FOLDER = "reasoningrec-beauty"
ML1M_FOLDER = "reasoningrec-ml1m"
LIKE_THRESHOLD = 3.0  # the release's like/dislike rule: rating > 3
SPLITS = ("train", "valid", "test")
FINETUNE_VARIANTS = ("reasoningrec", "ablation_wo_desc", "ablation_wo_profile")



# --------------------------------------------------------------------------- file helpers


def _dataset_dir(data_root: Path, options: LoadOptions, folder: str) -> Path:
    root = Path(options.path) if options.path is not None else Path(data_root) / folder
    if not root.is_dir():
        raise DataError(f"dataset folder not found (expected the {folder!r} release layout)", path=root)
    return root


def _require(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise DataError(f"file not found; expected {expected}", path=path)
    return path


def _read_json(path: Path, expected: str, kind: type = dict) -> Any:
    """Parse a whole JSON file; a missing file or bad JSON is a DataError naming the file (and line)."""
    _require(path, expected)
    try:
        with path.open(encoding="utf-8") as fh:
            value = json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"malformed JSON ({exc.msg}); expected {expected}", path=path, line=exc.lineno) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text: {exc}; expected {expected}", path=path) from exc
    if not isinstance(value, kind):
        raise DataError(f"expected a JSON {kind.__name__} ({expected}), found {type(value).__name__}", path=path)
    return value


def _read_csv_rows(path: Path, expected: str, columns: tuple[str, ...]) -> list[dict[str, str]]:
    _require(path, expected)
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"missing column(s) {missing}; expected {expected}", path=path, field=missing[0])
        return list(reader)


def _string_dict_table(path: Path, expected: str, key: str = "user_id") -> pl.DataFrame:
    """A release `{index: text}` dict as a (key, text) table sorted numerically by key."""
    data = _read_json(path, expected)
    rows = sorted(((str(k), v) for k, v in data.items()), key=lambda kv: _index_order(kv[0]))
    bad = [k for k, v in rows if not isinstance(v, str)]
    if bad:
        raise DataError(f"value for key {bad[0]!r} is not a string; expected {expected}", path=path, field=bad[0])
    return pl.DataFrame(
        {key: [k for k, _ in rows], "text": [v for _, v in rows]}, schema={key: pl.String(), "text": pl.String()}
    )


def _index_order(key: str) -> tuple[int, str]:
    return (int(key), key) if key.lstrip("-").isdigit() else (1 << 62, key)


def _parse_int_list(text: str, *, path: Path, line: int, field: str) -> list[int]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not a JSON list: {text[:60]!r}", path=path, line=line, field=field) from exc
    if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
        raise DataError(f"expected a list of integers, found {text[:60]!r}", path=path, line=line, field=field)
    return value


def _reasoning_body(text: str, *, trailing: bool) -> str:
    """Reasoning text with the Prediction line removed and whitespace collapsed (for prefix matching)."""
    text = strip_trailing_prediction(text) if trailing else strip_leading_prediction(text)
    return " ".join(text.split())


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


def _target_frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    """Rows (dicts with the TARGET_SCHEMA keys) → a typed target table, built column by column (fast)."""
    columns = []
    for name, dtype in TARGET_SCHEMA.items():
        values = [row[name] for row in rows]
        if isinstance(dtype, pl.List):
            columns.append(_list_series(name, values, dtype))  # type: ignore[arg-type]
        else:
            columns.append(pl.Series(name, values, dtype=dtype))
    return pl.DataFrame(columns)


def _label(rating: float | None) -> int | None:
    return None if rating is None else int(rating > LIKE_THRESHOLD)


# --------------------------------------------------------------------------- shared release artefacts


def _instruction_table(path: Path, expected: str) -> tuple[pl.DataFrame, dict[str, int]]:
    """A list of {instruction, input, output} records with a parsed label, plus duplicate-prompt statistics."""
    records = _read_json(path, expected, kind=list)
    for number, record in enumerate(records):
        if not isinstance(record, dict) or "input" not in record or "output" not in record:
            raise DataError(f"record {number} lacks input/output; expected {expected}", path=path, field="input")
    table = pl.DataFrame(
        {
            "row": list(range(len(records))),
            "instruction": [r.get("instruction") for r in records],
            "input": [r["input"] for r in records],
            "output": [r["output"] for r in records],
            "label": [leading_prediction_label(r["output"]) for r in records],
        },
        schema={"row": pl.Int64(), "instruction": pl.String(), "input": pl.String(), "output": pl.String(),
                "label": pl.Int64()},
    )
    stats = {
        "rows": table.height,
        "distinct_inputs": table["input"].n_unique(),
        "yes": int((table["label"] == 1).sum()),
        "no": int((table["label"] == 0).sum()),
        "unlabelled": int(table["label"].is_null().sum()),
    }
    return table, stats


def _teacher_reasoning(folder: Path, files: dict[str, str], expected: str) -> pl.DataFrame:
    parts = []
    for split, name in files.items():
        table = _string_dict_table(folder / name, expected)
        parts.append(
            table.with_columns(
                pl.lit(split).alias("split"),
                pl.col("text").map_elements(trailing_prediction_label, return_dtype=pl.Int64).alias("label"),
            ).select("user_id", "split", "text", "label")
        )
    return pl.concat(parts)


def _zeroshot_outputs(folder: Path) -> pl.DataFrame:
    if not folder.is_dir():
        raise DataError("folder not found; expected zero-shot output JSON files (user index → text)", path=folder)
    parts = []
    for path in sorted(folder.glob("*.json")):
        table = _string_dict_table(path, "a zero-shot output dict (user index → generated text)")
        parts.append(table.select(pl.lit(path.stem).alias("run"), "user_id", "text"))
    if not parts:
        raise DataError("no *.json zero-shot output files found", path=folder)
    return pl.concat(parts)


def _authors_results(folder: Path) -> pl.DataFrame:
    """Flatten `{dataset: {dataset: {run: {seed: {k: {auc, bertscore}}}}}}` from every `*/results.json`."""
    rows: list[dict[str, object]] = []
    paths = sorted(folder.glob("*/results.json"))
    if not paths:
        raise DataError("no */results.json found; expected the authors' student result files", path=folder)
    for path in paths:
        data = _read_json(path, "a nested results dict {dataset: {dataset: {run: {seed: {k: {auc, bertscore}}}}}}")
        try:
            for dataset, inner in data.items():
                for runs in inner.values():
                    for run, seeds in runs.items():
                        for seed, ks in seeds.items():
                            for k, metrics in ks.items():
                                rows.append({
                                    "dataset": dataset, "run": run, "seed": int(seed), "k": int(k),
                                    "auc": float(metrics["auc"]),
                                    "bertscore": float(metrics["bertscore"]) if "bertscore" in metrics else None,
                                })
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise DataError(f"unexpected results structure: {exc!r}", path=path) from exc
    return pl.DataFrame(
        rows,
        schema={"dataset": pl.String(), "run": pl.String(), "seed": pl.Int64(), "k": pl.Int64(),
                "auc": pl.Float64(), "bertscore": pl.Float64()},
    ).sort("dataset", "k", "run")


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


def _seq_ctr_frame(path: Path, *, equal_lengths: bool = True) -> pl.DataFrame:
    """A CTR split CSV as (line, user, history_items: list[i64], history_labels: list[i64], item_id, label, ts).

    `equal_lengths=False` lets the caller align shorter label lists itself (Beauty drops the labels of window
    items that have no rating row)."""
    expected = "a CTR split CSV (user, history_item_id, history_rating, item_id, rating, timestamp)"
    _require(path, expected)
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
            _parse_int_list(items or "", path=path, line=line, field="history_item_id")
            _parse_int_list(labels or "", path=path, line=line, field="history_rating")
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


# --------------------------------------------------------------------------- Beauty


def load_reasoningrec_beauty(data_root: Path, options: LoadOptions) -> Dataset:
    """The ReasoningRec Amazon-Beauty release: canonical tables, the authors' LLM artefacts and their splits."""
    root = _dataset_dir(data_root, options, BEAUTY_FOLDER)
    processed = root / "processed"
    info: dict[str, object] = {"notes": []}
    notes: list[str] = info["notes"]  # type: ignore[assignment]

    idx_item = _read_json(processed / "idx_item_mapping.json", "item index → ASIN dict")
    idx_user = _read_json(processed / "idx_user_mapping.json", "user index → reviewerID dict")

    interactions, pair_lookup = _beauty_interactions(root, idx_item, idx_user, options, info)
    items = _beauty_items(processed, idx_item, info)
    users = conform(
        pl.DataFrame({"user_id": sorted(idx_user, key=_index_order)}).with_columns(
            pl.col("user_id").replace_strict(idx_user, return_dtype=pl.String).alias("reviewer_id")
        ),
        USERS_SCHEMA, table="users", source=processed / "idx_user_mapping.json",
    )

    artefacts = _beauty_artefacts(root, info)
    splits = _beauty_splits(root, pair_lookup, info)
    notes.append(
        "finetune_* artefacts are the released prompts, which are broken (test prompts name the train target); "
        "build prompts from the canonical tables and use these only to reproduce the authors' numbers"
    )
    return Dataset(name="reasoningrec-beauty", interactions=interactions, items=items, users=users,
                   artefacts=artefacts, splits=splits, info=info)


def _beauty_interactions(
    root: Path, idx_item: dict[str, str], idx_user: dict[str, str], options: LoadOptions, info: dict[str, object]
) -> tuple[pl.DataFrame, dict[tuple[str, str], tuple[float, int]]]:
    """ratings.csv → canonical interactions (+ review text from the raw 5-core file) and the pair lookup.

    Duplicates: the release holds exact duplicate rows (the same review listed once per product variant).
    They are dropped keeping the first occurrence in file order. A few (user, item, timestamp) keys then still
    carry two different ratings; we keep the first row in file order (`options.dedupe="keep_last"` keeps the
    last instead) — first-in-file is also the rule the authors' own labels follow (see `_beauty_splits`).
    """
    path = root / "processed" / "ratings.csv"
    _require(path, "ratings.csv with columns item,user,rating,timestamp (release index space)")
    try:
        raw = pl.read_csv(path, schema_overrides={"item": pl.String, "user": pl.String, "rating": pl.Float64,
                                                  "timestamp": pl.Int64})
    except Exception as exc:  # polars raises several error types for malformed CSV
        raise DataError(f"cannot parse CSV: {exc}", path=path) from exc
    for column in ("item", "user", "rating", "timestamp"):
        if column not in raw.columns:
            raise DataError("required column is missing", path=path, field=column)
    raw = raw.with_row_index("_file_row")
    rows_in_file = raw.height

    # Lookup used for the release windows: the FIRST row in file order per (user, item) pair.
    first = raw.unique(subset=["user", "item"], keep="first", maintain_order=True)
    pair_lookup = {
        (u, i): (r, t) for u, i, r, t in first.select("user", "item", "rating", "timestamp").iter_rows()
    }

    exact = raw.unique(subset=["user", "item", "rating", "timestamp"], keep="first", maintain_order=True)
    keep = "last" if options.dedupe == "keep_last" else "first"
    dedup = exact.unique(subset=["user", "item", "timestamp"], keep=keep, maintain_order=True)
    info["ratings_rows_in_file"] = rows_in_file
    info["exact_duplicate_rows_dropped"] = rows_in_file - exact.height
    info["conflicting_rating_rows_dropped"] = exact.height - dedup.height
    info["dedupe_rule"] = (
        "exact duplicate rows of ratings.csv dropped keeping the first in file order; rows with the same "
        f"(user, item, timestamp) but different ratings resolved keeping the {keep} in file order"
    )
    repeats = dedup.group_by("user", "item").len().filter(pl.col("len") > 1)
    info["repeated_user_item_rows_at_distinct_times"] = int((repeats["len"] - 1).sum())

    unknown_items = sorted(set(dedup["item"]) - set(idx_item), key=_index_order)
    unknown_users = sorted(set(dedup["user"]) - set(idx_user), key=_index_order)
    if unknown_items or unknown_users:
        raise DataError(
            f"ids missing from *_idx_mapping.json: items {unknown_items[:5]}, users {unknown_users[:5]}",
            path=path, field="item" if unknown_items else "user",
        )
    table = dedup.select(
        pl.col("user").alias("user_id"),
        pl.col("item").alias("item_id"),
        "rating",
        "timestamp",
        pl.col("user").replace_strict(idx_user, return_dtype=pl.String).alias("reviewer_id"),
        pl.col("item").replace_strict(idx_item, return_dtype=pl.String).alias("asin"),
    )
    table = _attach_reviews(table, root / "raw" / "All_Beauty_5.json", info)
    table = conform(table, INTERACTIONS_SCHEMA, table="interactions", source=path)
    validate_interactions(table, source=path)
    return table, pair_lookup


def _attach_reviews(table: pl.DataFrame, raw_path: Path, info: dict[str, object]) -> pl.DataFrame:
    """Join review text, summary and helpful votes from the raw 5-core file by (reviewerID, asin, time, rating).

    The raw file repeats reviews per product variant; the first raw record per key (file order) is used.
    Only part of the release is covered by this 5-core file (85 ASINs), so most rows keep null reviews.
    """
    _require(raw_path, "the Amazon 2018 All_Beauty 5-core JSON-lines file")
    records: dict[tuple[str, str, int, float], tuple[str | None, str | None, int | None]] = {}
    with raw_path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                key = (rec["reviewerID"], rec["asin"], int(rec["unixReviewTime"]), float(rec["overall"]))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise DataError(f"malformed review record: {exc!r}", path=raw_path, line=number) from exc
            if key in records:
                continue
            vote = rec.get("vote")
            votes = int(str(vote).replace(",", "")) if vote not in (None, "") else None
            records[key] = (rec.get("reviewText"), rec.get("summary"), votes)
    keys = table.select("reviewer_id", "asin", "timestamp", "rating").iter_rows()
    found = [records.get((u, i, int(t), float(r))) for u, i, t, r in keys]
    info["review_text_matched_rows"] = sum(f is not None for f in found)
    info["raw_review_records"] = sum(1 for _ in records)
    return table.with_columns(
        pl.Series("review", [f[0] if f else None for f in found], dtype=pl.String),
        pl.Series("helpful_votes", [f[2] if f else None for f in found], dtype=pl.Int64),
        pl.Series("summary", [f[1] if f else None for f in found], dtype=pl.String),
    )


def _beauty_items(processed: Path, idx_item: dict[str, str], info: dict[str, object]) -> pl.DataFrame:
    path = processed / "processed_item_information.json"
    data = _read_json(path, "item index → {title, brand, price, description} dict")
    ids = sorted(data, key=_index_order)
    for item_id in ids:
        if not isinstance(data[item_id], dict):
            raise DataError("item record is not an object", path=path, field=item_id)
    brands = [data[i].get("brand") or None for i in ids]
    prices = [parse_price(data[i].get("price")) for i in ids]
    info["items_price_unparsed"] = sum(p is None for p in prices)
    info["items_brand_missing"] = sum(b is None for b in brands)
    table = pl.DataFrame(
        {
            "item_id": ids,
            "title": [data[i].get("title") or None for i in ids],
            "brand": brands,
            "price": prices,
            "asin": [idx_item.get(i) for i in ids],
        },
        schema={"item_id": pl.String(), "title": pl.String(), "brand": pl.String(), "price": pl.Float64(),
                "asin": pl.String()},
    )
    return conform(table, ITEMS_SCHEMA, table="items", source=path)


def _beauty_artefacts(root: Path, info: dict[str, object]) -> dict[str, pl.DataFrame]:
    processed = root / "processed"
    artefacts: dict[str, pl.DataFrame] = {}

    descriptions = _string_dict_table(processed / "item_description.json", "item index → description", "item_id")
    artefacts["item_descriptions"] = descriptions.with_columns(
        pl.lit("mixtral-8x7b-instruct:item_description.json").alias("source")
    )
    item_info = _read_json(processed / "processed_item_information.json", "item index → item info dict")
    same = sum(
        1 for k, v in zip(descriptions["item_id"], descriptions["text"])
        if isinstance(item_info.get(k), dict) and item_info[k].get("description") == v
    )
    info["item_descriptions"] = {
        "count": descriptions.height,
        "identical_copy_in_processed_item_information": same,
        "items_without_description": sum(1 for v in item_info.values() if not (v or {}).get("description")),
    }

    artefacts["user_profiles"] = _string_dict_table(processed / "user_profile_summary.json", "user → profile")
    artefacts["user_profiles_wo_description"] = _string_dict_table(
        processed / "user_profile_summary_wo_description.json", "user → profile (without item descriptions)"
    )
    history = _read_json(processed / "user_profile.json", "user index → list of item indices")
    keys = sorted(history, key=_index_order)
    artefacts["profile_history"] = pl.DataFrame(
        {"user_id": keys, "item_ids": [[str(i) for i in history[k]] for k in keys]},
        schema={"user_id": pl.String(), "item_ids": pl.List(pl.String())},
    )

    artefacts["teacher_reasoning"] = _teacher_reasoning(
        root / "teacher_reasoning", {s: f"reasoning_{s}_dict.json" for s in SPLITS},
        "user index → Mixtral reasoning text ending in 'Prediction: Yes/No'",
    )
    artefacts["zeroshot_outputs"] = _zeroshot_outputs(root / "zeroshot_outputs")
    artefacts["authors_results"] = _authors_results(root / "student_reference_outputs")

    prompt_stats: dict[str, dict[str, int]] = {}
    for variant in FINETUNE_VARIANTS:
        for split in SPLITS:
            path = root / "finetune_data" / variant / f"{split}.json"
            table, stats = _instruction_table(path, "a list of {instruction, input, output} fine-tuning records")
            artefacts[f"finetune_{variant}_{split}"] = table
            prompt_stats[f"finetune_{variant}_{split}"] = stats
    for split in SPLITS:
        path = root / "baselines" / "tallrec_format" / f"{split}.json"
        table, stats = _instruction_table(path, "a list of TALLRec {instruction, input, output} records")
        artefacts[f"tallrec_{split}"] = table
        prompt_stats[f"tallrec_{split}"] = stats
    train_inputs = set(artefacts["finetune_reasoningrec_train"]["input"])
    prompt_stats["finetune_reasoningrec_test"]["inputs_also_in_train"] = int(
        sum(x in train_inputs for x in artefacts["finetune_reasoningrec_test"]["input"])
    )

    students, student_info = _student_reference_outputs(
        root / "student_reference_outputs", artefacts["teacher_reasoning"], artefacts["finetune_reasoningrec_test"]
    )
    artefacts["student_reference_outputs"] = students
    for run, stats in student_info.items():
        prompt_stats[f"student_{run}"] = stats
    info["duplicate_prompts"] = prompt_stats
    return artefacts


def _map_rows_in_user_order(bodies: list[str], teacher: dict[str, str]) -> list[str | None]:
    """finetune test.json rows are in ascending user order (some users absent): take, for each row, the
    smallest user after the previous row's user whose teacher text starts with the row's reasoning."""
    ordered = sorted(teacher, key=_index_order)
    mapped: list[str | None] = []
    previous = -1
    for body in bodies:
        choice = next((u for u in ordered if int(u) > previous and teacher[u].startswith(body)), None)
        mapped.append(choice)
        if choice is not None:
            previous = int(choice)
    return mapped


def _map_student_rows_to_users(
    rows: list[dict[str, Any]], teacher: dict[str, str], finetune_users: dict[tuple[str, str], list[str]]
) -> tuple[list[str | None], list[int]]:
    """Map each student row to a user through the teacher test reasoning.

    A row's output (minus its leading "Prediction:" line, whitespace collapsed) is a prefix of the teacher
    test text of its user. Teacher texts are not unique (573 distinct texts for 616 users), so some rows fit
    several users; those candidates are narrowed to the users of finetune test rows with the same
    (input, output), and the remaining ties — rows that are character-identical for several users — get
    distinct users deterministically: in row order, the smallest candidate not yet used in this run.
    Returns (user_id per row, number of text candidates per row).
    """
    ordered = sorted(teacher, key=_index_order)
    by_body: dict[str, list[str]] = {}
    used: set[str] = set()
    users: list[str | None] = []
    counts: list[int] = []
    for row in rows:
        body = _reasoning_body(row["output"], trailing=False)
        if body not in by_body:
            by_body[body] = [u for u in ordered if teacher[u].startswith(body)]
        candidates = by_body[body]
        counts.append(len(candidates))
        narrowed = finetune_users.get((row["input"], row["output"]))
        if narrowed:
            candidates = [u for u in candidates if u in narrowed] or candidates
        choice = next((u for u in candidates if u not in used), candidates[0] if candidates else None)
        if choice is not None:
            used.add(choice)
        users.append(choice)
    return users, counts


def _student_reference_outputs(
    folder: Path, teacher_reasoning: pl.DataFrame, finetune_test: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    test = teacher_reasoning.filter(pl.col("split") == "test")
    teacher = {u: _reasoning_body(t, trailing=True) for u, t in test.select("user_id", "text").iter_rows()}
    ft_rows = finetune_test.select("input", "output").to_dicts()
    ft_users = _map_rows_in_user_order([_reasoning_body(r["output"], trailing=False) for r in ft_rows], teacher)
    finetune_users: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r, u in zip(ft_rows, ft_users):
        if u is not None:
            finetune_users[(r["input"], r["output"])].append(u)

    parts = []
    stats: dict[str, dict[str, int]] = {}
    paths = sorted(folder.glob("*/test_outputs.json"))
    if not paths:
        raise DataError("no */test_outputs.json found; expected the authors' student outputs", path=folder)
    for path in paths:
        run = path.parent.name
        match = re.match(r"sample(\d+)_", run)
        k = int(match.group(1)) if match else None
        rows = _read_json(path, "a list of {instruction, input, output, generated_output, logits}", kind=list)
        for number, row in enumerate(rows):
            missing = {"input", "output", "generated_output", "logits"} - set(row)
            if missing:
                raise DataError(f"record {number} lacks {sorted(missing)}", path=path, field=min(missing))
        users, counts = _map_student_rows_to_users(rows, teacher, finetune_users)
        parts.append(pl.DataFrame(
            {
                "run": [run] * len(rows),
                "k": [k] * len(rows),
                "row": list(range(len(rows))),
                "instruction": [r.get("instruction") for r in rows],
                "input": [r["input"] for r in rows],
                "output": [r["output"] for r in rows],
                "generated_output": [r["generated_output"] for r in rows],
                "logit": [float(r["logits"]) for r in rows],
                "label": [leading_prediction_label(r["output"]) for r in rows],
                "user_id": users,
                "user_candidates": counts,
            },
            schema={"run": pl.String(), "k": pl.Int64(), "row": pl.Int64(), "instruction": pl.String(),
                    "input": pl.String(), "output": pl.String(), "generated_output": pl.String(),
                    "logit": pl.Float64(), "label": pl.Int64(), "user_id": pl.String(),
                    "user_candidates": pl.Int64()},
        ))
        stats[run] = {
            "rows": len(rows),
            "distinct_inputs": len({r["input"] for r in rows}),
            "mapped_to_user": sum(u is not None for u in users),
            "distinct_users": len({u for u in users if u is not None}),
            "unambiguous_by_text": sum(c == 1 for c in counts),
        }
    return pl.concat(parts), stats


def _beauty_splits(
    root: Path, pair_lookup: dict[tuple[str, str], tuple[float, int]], info: dict[str, object]
) -> dict[str, pl.DataFrame]:
    """Release windows and the CTR-baseline CSVs as target tables.

    A (user, item) pair may occur more than once in ratings.csv (duplicates, repeat purchases). Every window
    position is resolved to the FIRST row of that pair in ratings.csv file order: this reproduces the
    authors' binary labels in `baselines/seq_ctr_csv` for every target and every history position, so it is
    the rule they used. Pairs absent from ratings.csv (a handful of window items) get null rating/label.
    """
    splits: dict[str, pl.DataFrame] = {}
    window_info: dict[str, dict[str, int]] = {}
    processed = root / "processed"

    def resolve(user: str, item: str) -> tuple[float | None, int | None]:
        found = pair_lookup.get((user, item))
        return (None, None) if found is None else found

    for split in SPLITS:
        path = processed / f"user_{split}.json"
        windows = _read_json(path, "user index → item-index window (last element = target)")
        rows = []
        unresolved = 0
        for user in sorted(windows, key=_index_order):
            window = [str(i) for i in windows[user]]
            if not window:
                raise DataError("empty window", path=path, field=user)
            looked = [resolve(user, item) for item in window]
            unresolved += sum(r is None for r, _ in looked)
            rating, timestamp = looked[-1]
            rows.append({
                "user_id": user, "item_id": window[-1], "rating": rating, "timestamp": timestamp,
                "label": _label(rating), "history_item_ids": window[:-1],
                "history_ratings": [r for r, _ in looked[:-1]],
                "history_labels": [_label(r) for r, _ in looked[:-1]], "split": split,
            })
        table = _target_frame(rows)
        splits[f"release_windows_{split}"] = table
        window_info[split] = {
            "users": table.height,
            "positions_not_in_ratings": unresolved,
            "targets_without_rating": int(table["rating"].is_null().sum()),
            "target_item_also_in_history": int(
                table.select(pl.col("history_item_ids").list.contains(pl.col("item_id")).sum()).item()
            ),
        }

        csv_path = root / "baselines" / "seq_ctr_csv" / f"{split}.csv"
        ctr_rows = []
        disagree = 0
        realigned = 0
        ctr = _seq_ctr_frame(csv_path, equal_lengths=False)
        for line, user, items, labels, target, label in ctr.select(
            "line", "user", "history_items", "history_labels", "item_id", "label"
        ).iter_rows():
            history = [str(i) for i in items]
            looked = [resolve(user, i) for i in history]
            if len(labels) != len(history):
                # The authors listed labels only for window items (history + target) that have a rating row,
                # then cut the last one off as the target's. Put each label back on its item; null elsewhere.
                present = [p for p, (r, _) in enumerate(looked + [resolve(user, target)]) if r is not None]
                if len(present) != len(labels) + 1:
                    raise DataError(
                        f"{len(history)} history items but {len(labels)} history ratings, and the gap is not "
                        "explained by items missing from ratings.csv", path=csv_path, line=line,
                        field="history_rating",
                    )
                by_position = dict(zip(present, labels))
                labels = [by_position.get(p) for p in range(len(history))]
                realigned += 1
            rating, timestamp = resolve(user, target)
            disagree += int(_label(rating) is not None and _label(rating) != label)
            disagree += sum(
                int(lab is not None and r is not None and _label(r) != lab) for lab, (r, _) in zip(labels, looked)
            )
            ctr_rows.append({
                "user_id": user, "item_id": target, "rating": rating, "timestamp": timestamp, "label": label,
                "history_item_ids": history, "history_ratings": [r for r, _ in looked],
                "history_labels": labels, "split": split,
            })
        splits[f"seq_ctr_{split}"] = _target_frame(ctr_rows)
        window_info[split]["seq_ctr_labels_disagreeing_with_ratings"] = disagree
        window_info[split]["seq_ctr_rows_with_realigned_history_labels"] = realigned
    info["release_windows"] = window_info
    info["release_windows_rule"] = (
        "last element = target, preceding = history; rating/timestamp of each (user, item) from its first row "
        "in ratings.csv file order; label = rating > 3; seq_ctr_* keep the CSV labels and take rating/timestamp "
        "from the same lookup (the CSV timestamp column is always 0)"
    )
    return splits


# --------------------------------------------------------------------------- ML-1M


def load_reasoningrec_ml1m(data_root: Path, options: LoadOptions) -> Dataset:
    """The ReasoningRec MovieLens-1M release (no ratings.dat): items, users, binary CTR windows and artefacts."""
    root = _dataset_dir(data_root, options, ML1M_FOLDER)
    info: dict[str, object] = {"notes": [
        (
            "ratings.dat is ABSENT from this release: interactions are DERIVED from the CTR split windows and "
            "their rating column holds BINARY like/dislike labels (1.0 / 0.0), NOT 1-5 star ratings"
        ),
        (
            "the CTR CSVs' timestamp column is always 0; timestamps here are each user's sequence positions "
            "(0 = oldest window item), usable for ordering only"
        ),
    ]}
    items = _ml1m_items(root, info)
    users = _ml1m_users(root)
    splits, interactions = _ml1m_splits(root, info)
    artefacts = _ml1m_artefacts(root, splits, info)
    summaries = _read_csv_rows(
        root / "processed" / "movie_summary_25_words.csv", "movie_id,name,cleaned_genre,year,summary CSV",
        ("movie_id", "summary"),
    )
    artefacts["item_descriptions"] = pl.DataFrame(
        {"item_id": [r["movie_id"].strip() for r in summaries], "text": [r["summary"] for r in summaries],
         "source": ["gpt-3.5-turbo:movie_summary_25_words.csv"] * len(summaries)},
        schema={"item_id": pl.String(), "text": pl.String(), "source": pl.String()},
    )
    return Dataset(name="reasoningrec-ml1m", interactions=interactions, items=items, users=users,
                   artefacts=artefacts, splits=splits, info=info)


def _ml1m_items(root: Path, info: dict[str, object]) -> pl.DataFrame:
    path = root / "processed" / "movies.csv"
    rows = _read_csv_rows(path, "movies CSV with columns movie_id,name,cleaned_genre,year",
                          ("movie_id", "name", "cleaned_genre", "year"))
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


def _ml1m_users(root: Path) -> pl.DataFrame:
    path = root / "raw" / "users.dat"
    _require(path, "MovieLens-1M users.dat (UserID::Gender::Age::Occupation::Zip-code)")
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
    profiles = _read_csv_rows(root / "processed" / "users.csv", "users CSV with columns user_id,user_profile",
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


def _ml1m_splits(root: Path, info: dict[str, object]) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """CTR windows as target tables, and a canonical table derived from them.

    Each user's sequence is rebuilt as train history + train, valid and test targets (sliding leave-one-out);
    a position's timestamp is its index in that sequence. Valid/test histories are checked against it.
    """
    folder = root / "splits_seq_ctr_csv"
    frames = {split: _seq_ctr_frame(folder / f"{split}.csv") for split in SPLITS}
    for split, frame in frames.items():
        if frame["user"].is_duplicated().any():
            raise DataError("a user has more than one row", path=folder / f"{split}.csv", field="user")
    train = frames["train"].select(
        "user", pl.col("history_items").alias("train_history"), pl.col("history_labels").alias("train_labels"),
        pl.col("item_id").cast(pl.Int64, strict=False).alias("train_item"), pl.col("label").alias("train_label"),
    )
    if train["train_item"].is_null().any():
        raise DataError("item_id is not an integer", path=folder / "train.csv", field="item_id")
    joined = train
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
    joined = joined.with_columns(
        pl.concat_list("train_history", "train_item", "valid_item", "test_item").alias("seq_items"),
        pl.concat_list("train_labels", "train_label", "valid_label", "test_label").alias("seq_labels"),
    )
    inconsistent = 0
    for offset, split in ((1, "valid"), (0, "test")):
        n_hist = pl.col(f"{split}_history").list.len()
        end = pl.col("seq_items").list.len() - 1 - offset
        expected_items = pl.col("seq_items").list.slice(end - n_hist, n_hist)
        expected_labels = pl.col("seq_labels").list.slice(end - n_hist, n_hist)
        inconsistent += joined.filter(
            (expected_items != pl.col(f"{split}_history")) | (expected_labels != pl.col(f"{split}_labels"))
        ).height
    info["ml1m_history_inconsistencies"] = inconsistent

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
    source = folder / "train.csv"
    interactions = conform(interactions, INTERACTIONS_SCHEMA, table="interactions", source=source)
    validate_interactions(interactions, source=source)
    info["derived_interactions"] = interactions.height
    return splits, interactions


def _ml1m_artefacts(root: Path, splits: dict[str, pl.DataFrame], info: dict[str, object]) -> dict[str, pl.DataFrame]:
    artefacts: dict[str, pl.DataFrame] = {}
    artefacts["teacher_reasoning"] = _teacher_reasoning(
        root / "teacher_reasoning_partial",
        {"train": "reasoning_train_dict_3200users.json", "valid": "reasoning_valid_dict_3200users.json",
         "test": "reasoning_test_dict_1880users.json"},
        "user id → Mixtral reasoning text (partial release)",
    )
    artefacts["teacher_reasoning_wo_profile"] = _teacher_reasoning(
        root / "teacher_reasoning_wo_profile",
        {"valid": "reasoning_valid_dict.json", "test": "reasoning_test_dict.json"},
        "user id → Mixtral reasoning text (w/o-profile ablation)",
    )
    artefacts["user_profiles"] = _string_dict_table(
        root / "user_profiles_pre_final" / "user_profile_dict_gpt35_4500users.json", "user id → GPT-3.5 profile"
    )
    artefacts["zeroshot_outputs"] = _zeroshot_outputs(root / "zeroshot_outputs")
    artefacts["authors_results"] = _authors_results(root / "student_reference_outputs")
    tallrec, stats = _instruction_table(root / "baselines" / "tallrec_format" / "valid.json",
                                        "a list of TALLRec {instruction, input, output} records")
    artefacts["tallrec_valid"] = tallrec
    info["duplicate_prompts"] = {"tallrec_valid": stats}

    targets = []
    agree: dict[str, int] = {}
    for split in ("valid", "test"):
        data = _read_json(root / "processed" / f"user_{split}_target.json", "user id → [target movie id]")
        ctr = dict(splits[f"seq_ctr_{split}"].select("user_id", "item_id").iter_rows())
        for user in sorted(data, key=_index_order):
            value = data[user]
            item = str(value[0]) if isinstance(value, list) and value else str(value)
            targets.append((user, split, item))
        agree[split] = sum(ctr.get(u) == i for u, s, i in targets if s == split)
    artefacts["release_targets"] = pl.DataFrame(
        targets, schema={"user_id": pl.String(), "split": pl.String(), "item_id": pl.String()}, orient="row"
    )
    info["release_targets_agreeing_with_seq_ctr"] = agree
    info["teacher_reasoning_users"] = {
        s: int((artefacts["teacher_reasoning"]["split"] == s).sum()) for s in SPLITS
    }
    return artefacts
