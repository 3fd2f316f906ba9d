"""Shared pieces for the Rec-SAVER stage tests: a scripted LLM (control flow only) and tiny tables."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from reasonrec.llm.base import GenerationRequest
from reasonrec.llm.testing import ScriptedLLM


def recsaver_llm(gen: Callable[[GenerationRequest], str] | None = None) -> ScriptedLLM:
    """Control flow only: generation answers `gen(request)` (default: a fixed reason + rating 3); scoring follows
    the "[predict=N]" markers (0.9 on N, uniform without one); "[error]" fails a request."""
    return ScriptedLLM(text=gen or "### Reason ###\nok\n### Rating ###\n3")


def tiny_tables() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(targets, items, interactions): 3 users, ratings/reviews in history; targets in the contract schema."""
    items = pl.DataFrame({"item_id": ["a", "b", "c", "d", "t1", "t2", "t3"],
                          "title": ["Rose Soap", "Mint Paste", "Lavender Oil", "Nail Kit", "Citrus Gel",
                                    "Shea Bar", "Hair Mask"]})
    hist = {"u1": (["a", "b"], [5.0, 4.0]), "u2": (["c", "d"], [2.0, 1.0]), "u3": (["a", "c"], [3.0, 5.0])}
    tgt = {"u1": ("t1", 5.0), "u2": ("t2", 2.0), "u3": ("t3", 4.0)}
    rows = []
    inter = []
    for u, (ids, rs) in hist.items():
        for pos, (i, r) in enumerate(zip(ids, rs, strict=True)):
            inter.append({"user_id": u, "item_id": i, "rating": r, "timestamp": pos,
                          "review": f"{u} thinks {i} is {'great' if r > 3 else 'poor'}"})
        t, r = tgt[u]
        inter.append({"user_id": u, "item_id": t, "rating": r, "timestamp": 10, "review": "target review"})
        rows.append({"user_id": u, "item_id": t, "rating": r, "timestamp": 10, "label": int(r > 3),
                     "history_item_ids": ids, "history_ratings": rs, "history_labels": [int(x > 3) for x in rs],
                     "split": "test"})
    targets = pl.DataFrame(rows, schema_overrides={"history_item_ids": pl.List(pl.String()),
                                                   "history_ratings": pl.List(pl.Float64()),
                                                   "history_labels": pl.List(pl.Int64())})
    return targets, items, pl.DataFrame(inter)
