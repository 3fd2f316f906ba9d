"""The report's ranking: each method against the best baseline on the SAME rows, with a paired 95% CI.

Two AUCs whose own CIs overlap can still be told apart when they are scored on the same rows, and two AUCs a few
thousandths apart cannot be told apart on a few hundred rows: neither is visible in per-method CIs, so the report
ranks by the paired difference (`eval.paired.compare_methods`: bootstrap CI of AUC(method) − AUC(best baseline)
+ DeLong's p) and says "cannot rank" where that CI spans 0, instead of bolding a "best" AUC.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from reasonrec.eval.bootstrap import DEFAULT_RESAMPLES
from reasonrec.eval.paired import compare_methods
from reasonrec.eval.report.model import Entry, ReportConfig, Section

PAIRED_HEADER = ("Method", "AUC", "Best baseline AUC", "Difference", "95% CI", "DeLong p", "n", "Verdict")


def _rows_of(entry: Entry) -> pl.DataFrame:
    prepared = entry.prepared
    assert prepared is not None
    split = pl.col("split").cast(pl.String).fill_null("") if "split" in prepared.columns else pl.lit("")
    return prepared.select(pl.lit(entry.label).alias("method"), split.alias("split"),
                           pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String),
                           pl.col("_truth").cast(pl.Int64).alias("label"), pl.col("_score").cast(pl.Float64)
                           .alias("score")).filter(pl.col("user_id").is_not_null() & pl.col("item_id").is_not_null())


def paired_section(entries: Sequence[Entry], dataset: str, cfg: ReportConfig) -> Section | None:
    """The paired comparison of one dataset's runs with its best baseline; None without both, or without rows."""
    rows_by_entry = [(e, _rows_of(e)) for e in entries
                     if e.dataset == dataset and e.prepared is not None and e.auc is not None]
    scored = [(e, rows) for e, rows in rows_by_entry if rows.height]  # rows without (user, item) cannot be paired
    baselines = [e.label for e, _ in scored if e.kind == "baseline"]
    if not baselines or len(scored) == len(baselines):
        return None
    frame = pl.concat([rows for _, rows in scored])
    result = compare_methods(frame, baselines, n_resamples=cfg.bootstrap or DEFAULT_RESAMPLES, seed=cfg.seed,
                             confidence=cfg.confidence)
    if result["reference"] is None:
        return None
    rows = []
    for method, d in result["comparisons"].items():
        if d is None:
            rows.append([method, None, None, None, None, None, result["n"], "undefined (one class)"])
            continue
        rows.append([method, round(d["auc_a"], 3), round(d["auc_b"], 3), f"{d['diff']:+.3f}",
                     f"[{d['low']:+.3f}, {d['high']:+.3f}]", f"{d['p_value']:.3g}", d["n"], d["verdict"]])
    note = (f"Each method minus the best baseline on these rows ({result['reference']}), on the {result['n']} rows "
            f"every method and baseline scored ({result['n_negative']} negatives): {cfg.confidence:.0%} paired "
            "bootstrap CI of the AUC difference (rows resampled jointly) and DeLong's paired test. 'cannot rank': "
            "the CI spans 0, so these rows cannot tell the two apart.")
    return Section(f"Paired comparison with the best baseline — {dataset}", PAIRED_HEADER, rows, note)


def paired_sections(entries: Sequence[Entry], datasets: Sequence[str], cfg: ReportConfig) -> list[Section]:
    return [s for d in datasets if (s := paired_section(entries, d, cfg)) is not None]


__all__ = ["PAIRED_HEADER", "paired_section", "paired_sections"]
