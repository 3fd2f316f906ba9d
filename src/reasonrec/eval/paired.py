"""Paired comparison of two scorers on the SAME rows: is method A's AUC above method B's, or is that noise?

Two methods scored on the same rows share most of their sampling noise, so the CI of each AUC overlaps even when
one is consistently better. What separates methods is the distribution of the *difference*:

- `paired_auc_difference`: percentile bootstrap of AUC(a) - AUC(b), resampling rows jointly (one index vector
  drives both AUCs), plus DeLong's test for two correlated ROC curves (DeLong, DeLong & Clarke-Pearson 1988) as
  the paired test (two-sided p-value; it needs no resampling and agrees with the bootstrap on large samples).
- `compare_to_reference`: every method against one reference (the best baseline) on the rows they share, each
  row of the result saying whether the 95% CI lies above 0, below 0, or includes 0 ("cannot rank").

A report ranks methods only where the CI excludes 0; otherwise it says the rows cannot tell them apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import norm, rankdata

from reasonrec.auc import rank_auc
from reasonrec.eval.bootstrap import DEFAULT_RESAMPLES

MAX_RESAMPLES = 100_000
"""Bound on bootstrap resamples (each one is two AUCs over all rows)."""

VERDICTS = ("better", "worse", "cannot rank")


@dataclass(frozen=True)
class PairedDifference:
    """AUC(a) - AUC(b) on `n` shared rows with its bootstrap CI and DeLong p-value; `verdict` reads the CI."""

    auc_a: float
    auc_b: float
    diff: float
    low: float
    high: float
    p_value: float
    n: int
    n_negative: int
    confidence: float
    n_resamples: int
    n_valid: int
    seed: int

    @property
    def verdict(self) -> str:
        """'better' / 'worse' when the CI excludes 0, else 'cannot rank' (the CI is too wide for these rows)."""
        if self.low > 0:
            return "better"
        if self.high < 0:
            return "worse"
        return "cannot rank"

    def to_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "verdict": self.verdict}


def _delong_components(labels: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(AUC, structural components over positives V10, over negatives V01) — Sun & Xu's fast DeLong."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    m, n = len(pos), len(neg)
    rank_all = rankdata(np.concatenate([pos, neg]))
    rank_pos, rank_neg = rankdata(pos), rankdata(neg)
    v10 = (rank_all[:m] - rank_pos) / n
    v01 = 1.0 - (rank_all[m:] - rank_neg) / m
    auc = float(v10.mean())
    return auc, v10, v01


def _difference_variance(a: np.ndarray, b: np.ndarray) -> float:
    """Var(mean(a) - mean(b)) of paired components; 0 for a side with a single row (no spread to estimate)."""
    if len(a) < 2:
        return 0.0
    cov = np.cov(np.vstack([a, b]))
    return float(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]) / len(a)


def delong_p_value(labels: Sequence[int] | np.ndarray, scores_a: Sequence[float] | np.ndarray,
                   scores_b: Sequence[float] | np.ndarray) -> float:
    """Two-sided p-value of DeLong's test that two correlated AUCs (same rows) are equal."""
    y = np.asarray(labels, dtype=int)
    a_auc, a10, a01 = _delong_components(y, np.asarray(scores_a, dtype=np.float64))
    b_auc, b10, b01 = _delong_components(y, np.asarray(scores_b, dtype=np.float64))
    var = _difference_variance(a10, b10) + _difference_variance(a01, b01)
    if var <= 0 or not np.isfinite(var):
        return 1.0 if a_auc == b_auc else 0.0
    z = (a_auc - b_auc) / np.sqrt(var)
    return float(2.0 * norm.sf(abs(z)))


def paired_auc_difference(
    labels: Sequence[int] | np.ndarray,
    scores_a: Sequence[float] | np.ndarray,
    scores_b: Sequence[float] | np.ndarray,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedDifference | None:
    """AUC(a) - AUC(b) over the same rows; None when the rows lack one class (no AUC is defined)."""
    y = np.asarray(labels, dtype=int)
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if not (len(y) == len(a) == len(b)):
        raise ValueError(f"paired comparison needs equal lengths, got {len(y)}, {len(a)}, {len(b)}")
    if not 1 <= n_resamples <= MAX_RESAMPLES:
        raise ValueError(f"n_resamples must be in [1, {MAX_RESAMPLES}], got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if len(y) == 0 or y.min() == y.max():
        return None
    rng = np.random.default_rng(seed)
    diffs: list[float] = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(y), size=len(y))
        ys = y[idx]
        if ys.min() == ys.max():
            continue
        diffs.append(rank_auc(ys, a[idx]) - rank_auc(ys, b[idx]))
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(diffs, [alpha, 1.0 - alpha]) if diffs else (float("nan"), float("nan"))
    auc_a, auc_b = rank_auc(y, a), rank_auc(y, b)
    return PairedDifference(
        auc_a=auc_a, auc_b=auc_b, diff=auc_a - auc_b, low=float(low), high=float(high),
        p_value=delong_p_value(y, a, b), n=len(y), n_negative=int((y == 0).sum()), confidence=confidence,
        n_resamples=n_resamples, n_valid=len(diffs), seed=seed,
    )


def best_reference(labels: Sequence[int] | np.ndarray, scores: Mapping[str, np.ndarray]) -> str:
    """The method with the highest AUC on these rows (ties: first in mapping order) — the bar to compare against."""
    if not scores:
        raise ValueError("best_reference needs at least one method")
    y = np.asarray(labels, dtype=int)
    return max(scores, key=lambda name: rank_auc(y, np.asarray(scores[name], dtype=np.float64)))


def compare_to_reference(
    labels: Sequence[int] | np.ndarray,
    scores: Mapping[str, Sequence[float] | np.ndarray],
    reference: str,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, PairedDifference | None]:
    """Each method (except the reference) minus the reference, all on the same rows and the same resamples."""
    if reference not in scores:
        raise ValueError(f"reference {reference!r} is not among the methods {sorted(scores)}")
    ref = np.asarray(scores[reference], dtype=np.float64)
    return {
        name: paired_auc_difference(labels, s, ref, n_resamples=n_resamples, seed=seed, confidence=confidence)
        for name, s in scores.items() if name != reference
    }


def shared_rows(predictions: pl.DataFrame, methods: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(labels, scores by method) on the rows every method scored: predictions joined on (split, user, item),
    labelled rows with a finite score only, so each comparison is paired. Rows come sorted by those keys: polars'
    `unique` and `join` return rows in no fixed order, and a seeded bootstrap over rows in another order is another
    interval (the same demo's paired CIs had moved by up to 0.013 from run to run)."""
    keys = ["split", "user_id", "item_id"]
    joined: pl.DataFrame | None = None
    for m in methods:
        part = (predictions.filter((pl.col("method") == m) & pl.col("label").is_not_null() & pl.col("score").is_finite())
                .unique(keys, keep="first").select(*keys, "label", pl.col("score").alias(m)))
        joined = part if joined is None else joined.join(part.drop("label"), on=keys, how="inner")
    if joined is None or joined.height == 0:
        return np.zeros(0, dtype=int), {m: np.zeros(0) for m in methods}
    joined = joined.sort(keys)
    return joined["label"].to_numpy().astype(int), {m: joined[m].to_numpy().astype(np.float64) for m in methods}


def compare_methods(predictions: pl.DataFrame, baselines: Sequence[str], *, n_resamples: int = DEFAULT_RESAMPLES,
                    seed: int = 0, confidence: float = 0.95) -> dict[str, Any]:
    """Every non-baseline method of a predictions table against the best of `baselines` on the shared rows:
    {"reference", "n", "n_negative", "comparisons": {method: PairedDifference dict or None}}."""
    methods = list(dict.fromkeys(predictions["method"].to_list()))
    present = [b for b in baselines if b in methods]
    if not present:
        return {"reference": None, "n": 0, "n_negative": 0, "comparisons": {}}
    labels, scores = shared_rows(predictions, methods)
    if len(labels) == 0 or labels.min() == labels.max():
        return {"reference": None, "n": len(labels), "n_negative": int((labels == 0).sum()), "comparisons": {}}
    reference = best_reference(labels, {b: scores[b] for b in present})
    others = {m: s for m, s in scores.items() if m not in present or m == reference}
    table = compare_to_reference(labels, others, reference, n_resamples=n_resamples, seed=seed,
                                 confidence=confidence)
    return {"reference": reference, "n": len(labels), "n_negative": int((labels == 0).sum()),
            "comparisons": {m: (d.to_dict() if d is not None else None) for m, d in table.items()}}


__all__ = [
    "MAX_RESAMPLES", "VERDICTS", "PairedDifference", "best_reference", "compare_methods", "compare_to_reference",
    "delong_p_value", "paired_auc_difference", "shared_rows",
]
