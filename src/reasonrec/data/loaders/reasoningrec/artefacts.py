"""The authors' LLM artefacts every release layout shares, as typed tables; the ONE parser of their result files.

`read_student_outputs` (a `student_reference_outputs/<run>/test_outputs.json`) and `read_authors_results` (a
`results.json`) are also what `eval.readers` and `eval.report` read the release through.

Student rows carry no user id. Each row's output (minus its leading "Prediction:" line) is a prefix of its user's
teacher test reasoning, which is how `student_reference_outputs` maps rows to users (see `map_student_rows`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.answers import leading_prediction_label, trailing_prediction_label
from reasonrec.data.loaders.reasoningrec.labels import reasoning_body
from reasonrec.data.loaders.reasoningrec.layout import PARTS, ReleaseFiles
from reasonrec.data.loaders.release_files import (
    float_field,
    index_order,
    read_json,
    read_records,
    string_dict_table,
)
from reasonrec.errors import DataError

STUDENT_FIELDS = ("input", "output", "generated_output", "logits")
_RUN_K = re.compile(r"sample(\d+)_")

INSTRUCTION_SCHEMA = {"row": pl.Int64(), "instruction": pl.String(), "input": pl.String(), "output": pl.String(),
                      "label": pl.Int64()}
STUDENT_SCHEMA = {"row": pl.Int64(), "instruction": pl.String(), "input": pl.String(), "output": pl.String(),
                  "generated_output": pl.String(), "logit": pl.Float64(), "label": pl.Int64()}
RESULTS_SCHEMA = {"dataset": pl.String(), "run": pl.String(), "seed": pl.Int64(), "k": pl.Int64(),
                  "auc": pl.Float64(), "bertscore": pl.Float64()}


def k_from_run(run: str) -> int | None:
    """K (training examples) from a run folder name such as `sample64_valsample600_lr1e-4_valauc`."""
    match = _RUN_K.match(run)
    return int(match.group(1)) if match else None


def prompt_stats(table: pl.DataFrame) -> dict[str, int]:
    """Rows, distinct prompts and label balance of an instruction-style table (`input`, `label`)."""
    return {
        "rows": table.height,
        "distinct_inputs": table["input"].n_unique(),
        "yes": int((table["label"] == 1).sum()),
        "no": int((table["label"] == 0).sum()),
        "unlabelled": int(table["label"].is_null().sum()),
    }


def instruction_table(path: Path, expected: str) -> tuple[pl.DataFrame, dict[str, int]]:
    """A list of {instruction, input, output} records with a parsed label, plus duplicate-prompt statistics."""
    records = read_records(path, expected, ("input", "output"))
    table = pl.DataFrame(
        {
            "row": list(range(len(records))),
            "instruction": [r.get("instruction") for r in records],
            "input": [r["input"] for r in records],
            "output": [r["output"] for r in records],
            "label": [leading_prediction_label(r["output"]) for r in records],
        },
        schema=INSTRUCTION_SCHEMA,
    )
    return table, prompt_stats(table)


def teacher_reasoning(files: ReleaseFiles, part: str = "teacher_reasoning") -> pl.DataFrame | None:
    """`(user_id, split, text, label)` for every split the release has; label from the trailing Prediction."""
    splits = files.splits_present(part)
    if not splits:
        return None
    parts = []
    for split, path in files.by_split(part, splits).items():
        table = string_dict_table(path, PARTS[part].expected)
        parts.append(
            table.with_columns(
                pl.lit(split).alias("split"),
                pl.col("text").map_elements(trailing_prediction_label, return_dtype=pl.Int64).alias("label"),
            ).select("user_id", "split", "text", "label")
        )
    return pl.concat(parts)


def zeroshot_outputs(files: ReleaseFiles) -> pl.DataFrame | None:
    runs = files.runs("zeroshot_outputs")
    if not runs:
        return None
    parts = []
    for run, path in runs.items():
        table = string_dict_table(path, PARTS["zeroshot_outputs"].expected)
        parts.append(table.select(pl.lit(run).alias("run"), "user_id", "text"))
    return pl.concat(parts)


def read_authors_results(path: Path) -> pl.DataFrame:
    """Flatten one `results.json` ({dataset: {dataset: {run: {seed: {k: {auc, bertscore}}}}}}) into rows."""
    data = read_json(path, PARTS["authors_results"].expected)
    rows: list[dict[str, object]] = []
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
    return pl.DataFrame(rows, schema=RESULTS_SCHEMA)


def authors_results(files: ReleaseFiles) -> pl.DataFrame | None:
    runs = files.runs("authors_results")
    if not runs:
        return None
    return pl.concat([read_authors_results(path) for path in runs.values()]).sort("dataset", "k", "run")


def read_student_outputs(path: Path) -> pl.DataFrame:
    """One `test_outputs.json` as rows: `logit` = the authors' P(Yes), `label` from the output's leading
    "Prediction: Yes|No" (null when it has none)."""
    rows = read_records(path, PARTS["student_outputs"].expected, STUDENT_FIELDS)
    logits = float_field(rows, "logits", path)
    return pl.DataFrame(
        {
            "row": list(range(len(rows))),
            "instruction": [r.get("instruction") for r in rows],
            "input": [r["input"] for r in rows],
            "output": [r["output"] for r in rows],
            "generated_output": [r["generated_output"] for r in rows],
            "logit": logits,
            "label": [leading_prediction_label(r["output"]) for r in rows],
        },
        schema=STUDENT_SCHEMA,
    )


def map_rows_in_user_order(bodies: list[str], teacher: dict[str, str]) -> list[str | None]:
    """finetune test.json rows are in ascending user order (some users absent): take, for each row, the
    smallest user after the previous row's user whose teacher text starts with the row's reasoning."""
    ordered = sorted(teacher, key=index_order)
    mapped: list[str | None] = []
    previous = -1
    for body in bodies:
        choice = next((u for u in ordered if int(u) > previous and teacher[u].startswith(body)), None)
        mapped.append(choice)
        if choice is not None:
            previous = int(choice)
    return mapped


def map_student_rows(
    rows: list[dict[str, Any]], teacher: dict[str, str], finetune_users: dict[tuple[str, str], list[str]]
) -> tuple[list[str | None], list[int]]:
    """Map each student row to a user through the teacher test reasoning.

    A row's output (minus its leading "Prediction:" line, whitespace collapsed) is a prefix of the teacher
    test text of its user. Teacher texts are not unique (Beauty: 573 distinct texts for 616 users), so some rows
    fit several users; those candidates are narrowed to the users of finetune test rows with the same
    (input, output), and the remaining ties — rows that are character-identical for several users — get
    distinct users deterministically: in row order, the smallest candidate not yet used in this run.
    Returns (user_id per row, number of text candidates per row).
    """
    ordered = sorted(teacher, key=index_order)
    by_body: dict[str, list[str]] = {}
    used: set[str] = set()
    users: list[str | None] = []
    counts: list[int] = []
    for row in rows:
        body = reasoning_body(row["output"], trailing=False)
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


def _finetune_users(finetune_test: pl.DataFrame | None, teacher: dict[str, str]) -> dict[tuple[str, str], list[str]]:
    if finetune_test is None:
        return {}
    ft_rows = finetune_test.select("input", "output").to_dicts()
    ft_users = map_rows_in_user_order([reasoning_body(r["output"], trailing=False) for r in ft_rows], teacher)
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r, u in zip(ft_rows, ft_users):
        if u is not None:
            out[(r["input"], r["output"])].append(u)
    return out


def student_reference_outputs(
    files: ReleaseFiles, teacher_reasoning: pl.DataFrame | None, finetune_test: pl.DataFrame | None
) -> tuple[pl.DataFrame | None, dict[str, dict[str, int]]]:
    """Every run's test outputs with `run`, `k`, the mapped `user_id` and its `user_candidates` count."""
    runs = files.runs("student_outputs")
    if not runs:
        return None, {}
    test = pl.DataFrame() if teacher_reasoning is None else teacher_reasoning.filter(pl.col("split") == "test")
    teacher = {u: reasoning_body(t, trailing=True) for u, t in test.select("user_id", "text").iter_rows()} \
        if test.height else {}
    finetune_users = _finetune_users(finetune_test, teacher)
    parts = []
    stats: dict[str, dict[str, int]] = {}
    for run, path in runs.items():
        table = read_student_outputs(path)
        users, counts = map_student_rows(table.select("input", "output").to_dicts(), teacher, finetune_users)
        parts.append(table.select(
            pl.lit(run).alias("run"), pl.lit(k_from_run(run), dtype=pl.Int64).alias("k"),
            *STUDENT_SCHEMA, pl.Series("user_id", users, dtype=pl.String),
            pl.Series("user_candidates", counts, dtype=pl.Int64),
        ))
        stats[run] = {
            "rows": table.height,
            "distinct_inputs": table["input"].n_unique(),
            "mapped_to_user": sum(u is not None for u in users),
            "distinct_users": len({u for u in users if u is not None}),
            "unambiguous_by_text": sum(c == 1 for c in counts),
        }
    return pl.concat(parts), stats


def instruction_artefacts(files: ReleaseFiles) -> tuple[dict[str, pl.DataFrame], dict[str, dict[str, int]]]:
    """`finetune_<variant>_<split>` and `tallrec_<split>` tables with their duplicate-prompt statistics.

    `inputs_also_in_train` counts a variant's test prompts that appear verbatim among its train prompts."""
    tables: dict[str, pl.DataFrame] = {}
    stats: dict[str, dict[str, int]] = {}
    for variant in files.variants("finetune"):
        for split, path in files.by_split("finetune", files.splits_present("finetune", variant=variant),
                                          variant=variant).items():
            name = f"finetune_{variant}_{split}"
            tables[name], stats[name] = instruction_table(path, PARTS["finetune"].expected)
        train, test = tables.get(f"finetune_{variant}_train"), tables.get(f"finetune_{variant}_test")
        if train is not None and test is not None:
            seen = set(train["input"])
            stats[f"finetune_{variant}_test"]["inputs_also_in_train"] = sum(x in seen for x in test["input"])
    for split, path in files.by_split("tallrec", files.splits_present("tallrec")).items():
        tables[f"tallrec_{split}"], stats[f"tallrec_{split}"] = instruction_table(path, PARTS["tallrec"].expected)
    return tables, stats


__all__ = ["instruction_artefacts", "instruction_table", "k_from_run", "map_rows_in_user_order",
           "map_student_rows", "prompt_stats", "read_authors_results", "read_student_outputs",
           "student_reference_outputs", "teacher_reasoning", "zeroshot_outputs"]
