"""Measure the checker against hand-labelled claims (the set in `tests/eval/grounding/fixtures/claims.jsonl`).

Each labelled claim names its dataset, split, user and target item, so its rows are rebuilt from the data and the
claim text is checked exactly as it would be inside an explanation. Reported, over the claims of one part (dev or
test):

- **supported**: precision and recall of the checker's "supported" label;
- **ungrounded**: precision and recall of "unsupported or contradicted" (the claims a report should flag);
- **checkable**: precision and recall of "has a checkable fact at all" (coverage);
- the confusion matrix and the exact-label agreement on the gold-checkable claims.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.data.schema import Dataset
from reasonrec.errors import DataError
from reasonrec.eval.grounding.checker import GroundingChecker
from reasonrec.eval.grounding.rules import CONTRADICTED, LABELS, SUPPORTED, UNCHECKABLE, UNSUPPORTED
from reasonrec.eval.grounding.sources import target_table

CLASSES: dict[str, tuple[str, ...]] = {
    "supported": (SUPPORTED,),
    "ungrounded": (UNSUPPORTED, CONTRADICTED),
    "checkable": (SUPPORTED, UNSUPPORTED, CONTRADICTED),
}


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    rows = []
    for line_no, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("label") not in LABELS:
            raise DataError(f"label {row.get('label')!r} is not one of {LABELS}", path=path, line=line_no,
                            field="label")
        rows.append(row)
    return rows


def predict_labelled(
    claims: Sequence[Mapping[str, Any]], checkers: Mapping[str, GroundingChecker], datasets: Mapping[str, Dataset]
) -> list[str]:
    """The checker's label for every claim (grouped by explanation, so each row's evidence is built once)."""
    groups: dict[tuple[str, str, str, str, str], list[int]] = defaultdict(list)
    for pos, c in enumerate(claims):
        groups[(c["dataset"], c["explanation_id"], c["split"], c["user_id"], c["item_id"])].append(pos)
    out = [UNCHECKABLE] * len(claims)
    tables: dict[tuple[str, str], pl.DataFrame] = {}
    for (name, _, split, user, item), positions in groups.items():
        if (name, split) not in tables:
            tables[(name, split)] = target_table(datasets[name], split)[1]
        rows = tables[(name, split)].filter((pl.col("user_id") == user) & (pl.col("item_id") == item))
        if rows.is_empty():
            raise DataError(f"no {split} row for user {user!r}, item {item!r} in {name}", field="user_id")
        checker = checkers[name]
        evidence = checker.retriever.retrieve([rows.row(0, named=True)])[0]
        pred = claims[positions[0]]["pred_label"]
        results = checker.check_texts([claims[p]["text"] for p in positions], evidence, pred)
        for p, r in zip(positions, results, strict=True):
            out[p] = r.label
    return out


def score_labels(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    """Precision/recall per class (see module docstring), confusion matrix and exact agreement."""
    confusion = Counter(zip(gold, predicted, strict=True))
    out: dict[str, Any] = {"n": len(gold), "gold": dict(Counter(gold))}
    for name, members in CLASSES.items():
        tp = sum(n for (g, p), n in confusion.items() if g in members and p in members)
        predicted_pos = sum(n for (_, p), n in confusion.items() if p in members)
        gold_pos = sum(n for (g, _), n in confusion.items() if g in members)
        out[name] = {
            "precision": tp / predicted_pos if predicted_pos else None,
            "recall": tp / gold_pos if gold_pos else None,
            "predicted": predicted_pos, "gold": gold_pos,
        }
    checkable = [(g, p) for g, p in zip(gold, predicted, strict=True) if g != UNCHECKABLE]
    out["exact_on_checkable"] = sum(g == p for g, p in checkable) / len(checkable) if checkable else None
    out["confusion"] = {g: {p: confusion.get((g, p), 0) for p in LABELS} for g in LABELS}
    return out


__all__ = ["CLASSES", "load_labelled", "predict_labelled", "score_labels"]
