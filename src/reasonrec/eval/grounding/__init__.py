"""Grounding: are an explanation's claims true to the rows its prompt was built from?

Entry points:

- `checker_for(dataset, config, encoder)` → a `GroundingChecker` for one dataset;
- `GroundingChecker.check_records(records)` → one `ExplanationResult` per explanation (claims with labels,
  facts and item mentions); records come from `sources.load_records` (predictions, released teacher reasoning,
  the authors' student outputs);
- `metrics.summarise(results)` → per-method supported-claim precision, contradiction rate, coverage,
  hallucinated-item rate, label consistency; `metrics.explanation_table(results)` → one row per explanation.

Reports call `check_predictions(predictions, dataset)` to get both at once.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reasonrec.data.schema import Dataset
from reasonrec.eval.grounding.checker import ExplanationResult, GroundingChecker, GroundingConfig
from reasonrec.eval.grounding.metrics import explanation_table, summarise
from reasonrec.eval.grounding.sources import ExplanationRecord, load_records
from reasonrec.llm.sentence import SentenceEncoder
from reasonrec.stages.common.evidence import EvidenceRetriever, default_like_threshold


def checker_for(
    dataset: Dataset, config: GroundingConfig | None = None, encoder: SentenceEncoder | None = None
) -> GroundingChecker:
    """A checker over one dataset's catalogue and interactions; like threshold from the data unless configured."""
    cfg = config or GroundingConfig()
    if "like_threshold" not in cfg.evidence.model_fields_set:
        evidence = cfg.evidence.model_copy(update={"like_threshold": default_like_threshold(dataset.interactions)})
        cfg = cfg.model_copy(update={"evidence": evidence})
    retriever = EvidenceRetriever.from_tables(
        dataset.items, encoder or SentenceEncoder(), interactions=dataset.interactions,
        item_descriptions=dataset.artefacts.get("item_descriptions"), config=cfg.evidence,
    )
    return GroundingChecker(retriever, cfg)


def check_predictions(
    predictions: pl.DataFrame, dataset: Dataset, *, split: str | None = None,
    checker: GroundingChecker | None = None,
) -> tuple[pl.DataFrame, dict[str, dict[str, Any]]]:
    """Per-explanation table and per-method summary for the rows of a predictions table that carry reasoning."""
    records = load_records(dataset, "predictions", split=split or "test", predictions=predictions)
    results = (checker or checker_for(dataset)).check_records(records)
    return explanation_table(results), summarise(results)


__all__ = [
    "ExplanationRecord", "ExplanationResult", "GroundingChecker", "GroundingConfig", "check_predictions",
    "checker_for", "explanation_table", "load_records", "summarise",
]
