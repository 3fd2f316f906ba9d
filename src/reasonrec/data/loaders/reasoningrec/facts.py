"""Facts about a loaded release, computed from its files: what a report must say before anyone reads a metric.

Every number here is counted on the data at hand (`info["facts"]`), never copied from a README: the authors'
outputs' rows and distinct prompts, each split's label balance, cold targets and repeat targets, the fine-tuning
prompts' duplicates. `release_notes` turns them into the sentences a reproduction report prints.

Cold target: a valid/test target whose item has no interaction in the leak-free CF training rows (all
interactions minus every user's valid and test targets of the same split family) — item-side CF has nothing on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

HELD_OUT = ("valid", "test")
_BROKEN_PROMPT_SHARE = 0.5  # above this share of test prompts found verbatim in train, the released prompts leak


def _family(split_name: str) -> tuple[str, str]:
    """`release_windows_test` → (`release_windows`, `test`)."""
    family, _, split = split_name.rpartition("_")
    return family, split


def _split_facts(table: pl.DataFrame, cf_items: set[str] | None) -> dict[str, int]:
    labels = table["label"]
    facts = {
        "targets": table.height,
        "users": table["user_id"].n_unique(),
        "labelled": int(labels.is_not_null().sum()),
        "liked": int((labels == 1).sum()),
        "not_liked": int((labels == 0).sum()),
        "target_in_history": int(table.select(pl.col("history_item_ids").list.contains(pl.col("item_id")).sum())
                                 .item()),
    }
    if cf_items is not None:
        facts["cold_targets"] = int((~table["item_id"].is_in(list(cf_items))).sum())
    return facts


def _cf_items(family: str, splits: Mapping[str, pl.DataFrame], interactions: pl.DataFrame) -> set[str]:
    held = [splits[f"{family}_{s}"].select("user_id", "item_id") for s in HELD_OUT if f"{family}_{s}" in splits]
    rows = interactions.select("user_id", "item_id")
    if held:
        rows = rows.join(pl.concat(held).unique(), on=["user_id", "item_id"], how="anti")
    return set(rows["item_id"].to_list())


def split_facts(splits: Mapping[str, pl.DataFrame], interactions: pl.DataFrame) -> dict[str, dict[str, int]]:
    families: dict[str, set[str]] = {}
    out = {}
    for name, table in splits.items():
        family, split = _family(name)
        cf_items = None
        if split in HELD_OUT:
            if family not in families:
                families[family] = _cf_items(family, splits, interactions)
            cf_items = families[family]
        out[name] = _split_facts(table, cf_items)
    return out


def authors_facts(artefacts: Mapping[str, pl.DataFrame]) -> dict[str, Any]:
    """Per released output run: rows, distinct prompts, repeats, label balance; and the K values of results.json."""
    facts: dict[str, Any] = {}
    results = artefacts.get("authors_results")
    if results is not None:
        facts["results_k"] = sorted({int(k) for k in results["k"].to_list()})
    outputs = artefacts.get("student_reference_outputs")
    if outputs is not None:
        runs = {}
        for (run,), rows in outputs.group_by("run", maintain_order=True):
            distinct = rows["input"].n_unique()
            runs[str(run)] = {
                "k": rows["k"][0], "rows": rows.height, "distinct_prompts": distinct,
                "repeated_rows": rows.height - distinct,
                "liked": int((rows["label"] == 1).sum()), "not_liked": int((rows["label"] == 0).sum()),
            }
        facts["outputs"] = dict(sorted(runs.items(), key=lambda kv: (kv[1]["k"] or 0, kv[0])))
    return facts


def prompt_facts(duplicate_prompts: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """The released fine-tuning test prompts: rows, distinct prompts, and how many appear verbatim in train."""
    return {
        name: {"rows": stats["rows"], "distinct_prompts": stats["distinct_inputs"],
               "also_in_train": stats["inputs_also_in_train"]}
        for name, stats in duplicate_prompts.items() if "inputs_also_in_train" in stats
    }


def release_facts(splits: Mapping[str, pl.DataFrame], interactions: pl.DataFrame,
                  artefacts: Mapping[str, pl.DataFrame], info: Mapping[str, Any]) -> dict[str, Any]:
    teacher = artefacts.get("teacher_reasoning")
    return {
        "splits": split_facts(splits, interactions),
        "authors": authors_facts(artefacts),
        "finetune_test_prompts": prompt_facts(info.get("duplicate_prompts") or {}),
        "teacher_reasoning_users": {} if teacher is None else {
            str(s): n for s, n in teacher.group_by("split", maintain_order=True).len().iter_rows()
        },
    }


def loader_notes(facts: Mapping[str, Any]) -> list[str]:
    """Warnings about the release's own files, for `info["notes"]`."""
    notes = []
    for name, f in (facts.get("finetune_test_prompts") or {}).items():
        if f["rows"] and f["also_in_train"] > _BROKEN_PROMPT_SHARE * f["rows"]:
            notes.append(
                f"{name}: {f['also_in_train']} of {f['rows']} released test prompts ({f['distinct_prompts']} "
                "distinct) appear verbatim among the train prompts — the released prompts do not describe the test "
                "targets; build prompts from the canonical tables and use these only to reproduce the authors' "
                "numbers"
            )
    return notes


def _authors_note(authors: Mapping[str, Any]) -> str | None:
    outputs = authors.get("outputs") or {}
    if outputs:
        shapes = {(o["rows"], o["distinct_prompts"]) for o in outputs.values()}
        if all(rows == distinct for rows, distinct in shapes):
            return ("The authors' released outputs repeat no prompt; their AUCs are recomputed on the same "
                    "rows ('auc_recomputed_all_rows').")
        if len(shapes) == 1:
            rows, distinct = next(iter(shapes))
            counted = f"{rows} rows with repeated prompts ({distinct} distinct)"
        else:
            counted = "rows with repeated prompts (" + "; ".join(
                f"K={o['k']}: {o['rows']} rows, {o['distinct_prompts']} distinct" for o in outputs.values()) + ")"
        return (f"The authors' AUCs were computed over {counted}; 'auc_distinct_prompts' is the honest figure "
                "recomputed from their released outputs.")
    ks = authors.get("results_k")
    if ks:
        return (f"The authors released their AUCs only (results.json, K={'/'.join(map(str, ks))}), not per-row "
                "outputs: their figures cannot be recomputed or checked for repeated prompts here.")
    return None


def _split_notes(name: str, f: Mapping[str, int]) -> list[str]:
    notes = []
    if f.get("cold_targets"):
        notes.append(f"{name}: {f['cold_targets']} of {f['targets']} targets are cold items (no interaction in the "
                     "leak-free CF training rows): item-side CF has nothing to learn from for them.")
    if f.get("target_in_history"):
        notes.append(f"{name}: {f['target_in_history']} of {f['targets']} targets already appear in the same "
                     "user's history window: ID-memory and content similarity look strong on those rows.")
    return notes


def release_notes(info: Mapping[str, Any], split: str | None = None) -> list[str]:
    """Report sentences from `info["facts"]`: the authors' figures, then `split`'s cold and repeat targets."""
    facts = info.get("facts") or {}
    notes = []
    authors = _authors_note(facts.get("authors") or {})
    if authors is not None:
        notes.append(authors)
    split_facts_ = (facts.get("splits") or {}).get(split) if split else None
    if split_facts_:
        notes.extend(_split_notes(str(split), split_facts_))
    return notes


__all__ = ["loader_notes", "release_facts", "release_notes"]
