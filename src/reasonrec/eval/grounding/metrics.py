"""Grounding metrics per explanation and per method (micro-averaged over claims / named items).

- supported-claim precision = supported / checkable claims;
- fact precision = the same over the claims that state a fact besides the verdict (a history item, a target
  property, a brand, a price, a genre): a claim holding only the stated verdict and words of praise counts as
  supported in the first figure, never in this one;
- contradiction rate = contradicted / checkable claims;
- coverage = checkable / all claims;
- hallucinated-item rate = named items found nowhere (not the user's, not the target, not in the catalogue) /
  named items (the target excluded);
- label consistency = share of explanations whose stated verdicts all match the predicted label, over the
  explanations that state one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from reasonrec.eval.grounding.checker import ExplanationResult

METRICS = ("supported_precision", "fact_precision", "contradiction_rate", "unsupported_rate", "coverage", "hallucinated_item_rate",
           "label_consistency")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _rates(c: Mapping[str, int]) -> dict[str, float | None]:
    """The claim and item rates of a set of counts (one explanation's, or a method's totals)."""
    return {
        "supported_precision": _ratio(c["supported"], c["checkable"]),
        "fact_precision": _ratio(c["fact_supported"], c["fact_checkable"]),
        "contradiction_rate": _ratio(c["contradicted"], c["checkable"]),
        "unsupported_rate": _ratio(c["unsupported"], c["checkable"]),
        "coverage": _ratio(c["checkable"], c["claims"]),
        "hallucinated_item_rate": _ratio(c["hallucinated_items"], c["named_items"]),
    }


def explanation_row(result: ExplanationResult) -> dict[str, Any]:
    c = result.counts()
    return {
        "explanation_id": result.explanation_id, "method": result.source, "user_id": result.user_id,
        "item_id": result.item_id, "pred_label": result.pred_label, **c, **_rates(c),
        "label_consistency": result.label_consistency,
    }


def explanation_table(results: Sequence[ExplanationResult]) -> pl.DataFrame:
    """One row per explanation (counts + the per-explanation metrics; None where undefined)."""
    return pl.DataFrame([explanation_row(r) for r in results], infer_schema_length=None)


COUNT_KEYS = ("claims", "checkable", "supported", "contradicted", "unsupported", "fact_checkable", "fact_supported",
              "named_items", "hallucinated_items")


def summarise_rows(rows_by_method: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per method, micro-averaged from per-explanation rows (`explanation_row` dicts or stored marks)."""
    out = {}
    for method, group in rows_by_method.items():
        totals = {k: sum(int(r.get(k) or 0) for r in group) for k in COUNT_KEYS}  # marks stored before a key existed
        consistency = [r["label_consistency"] for r in group if r["label_consistency"] is not None]
        out[method] = {
            "explanations": len(group), **totals, **_rates(totals),
            "label_consistency": _ratio(sum(consistency), len(consistency)),
            "explanations_with_verdict": len(consistency),
        }
    return out


def summarise(results: Sequence[ExplanationResult]) -> dict[str, dict[str, Any]]:
    """Per method: explanation and claim counts and the micro-averaged metrics."""
    by_method: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        by_method[r.source].append(explanation_row(r))
    return summarise_rows(by_method)


__all__ = ["COUNT_KEYS", "METRICS", "explanation_row", "explanation_table", "summarise", "summarise_rows"]
