"""Classification, rating and ranking metrics on plain arrays.

Every function returns a `MetricResult` that carries the number of rows it was computed on and, when the
input makes the metric undefined (one class only, empty input), `value=None` with the reason — a report
must show "undefined because ..." instead of crashing or printing a misleading 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from reasonrec.auc import roc_auc

RANKING_KS: tuple[int, ...] = (5, 10, 15, 20)
"""The cut-offs the papers report (Recall@k / NDCG@k)."""

LIKE_CUTOFF = 3.0
"""ReasoningRec / TALLRec convention: a rating r > 3 means "like"."""


@dataclass(frozen=True)
class MetricResult:
    """One metric value with its sample size; `value is None` means undefined and `reason` says why."""

    name: str
    value: float | None
    n: int
    reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "n": self.n}
        if self.reason is not None:
            out["reason"] = self.reason
        out.update(self.extra)
        return out


def _undefined(name: str, n: int, reason: str, **extra: Any) -> MetricResult:
    return MetricResult(name=name, value=None, n=n, reason=reason, extra=dict(extra))


def _as_float_array(values: Iterable[float] | np.ndarray) -> np.ndarray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)


def _as_int_array(values: Iterable[int] | np.ndarray) -> np.ndarray:
    return np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=int)


def _on_pairs(name: str, y: np.ndarray, p: np.ndarray, pair: str,
              compute: Callable[[np.ndarray, np.ndarray], float]) -> MetricResult:
    """`compute(y, p)` over the rows that have both values (`pair` names them); undefined when there are none."""
    if len(y) == 0:
        return _undefined(name, 0, f"no rows with both {pair}")
    return MetricResult(name, float(compute(y, p)), len(y))


def likes_from_ratings(ratings: Sequence[float] | np.ndarray, cutoff: float = LIKE_CUTOFF) -> np.ndarray:
    """Binary like labels from ratings with the papers' rule (rating > cutoff → 1)."""
    return (_as_float_array(ratings) > cutoff).astype(int)


def labels_from_scores(scores: Sequence[float] | np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Hard labels from scores: score >= threshold → 1 (the threshold is always reported next to the metric)."""
    return (_as_float_array(scores) >= threshold).astype(int)


# --------------------------------------------------------------------------------------------- binary


def binary_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> MetricResult:
    """ROC-AUC (`reasonrec.auc.roc_auc`); undefined when only one class is present."""
    y = _as_int_array(labels)
    n = len(y)
    if n == 0:
        return _undefined("auc", 0, "no rows with both a label and a score")
    value = roc_auc(y, _as_float_array(scores))
    if value is None:
        return _undefined("auc", n, f"only one class present in labels ({sorted(set(y.tolist()))})")
    return MetricResult("auc", value, n)


def binary_accuracy(
    labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray
) -> MetricResult:
    return _on_pairs("accuracy", _as_int_array(labels), _as_int_array(predicted), "a label and a prediction",
                     skm.accuracy_score)


def binary_f1(labels: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray) -> MetricResult:
    """F1 of the positive class (like = 1); undefined when there are no positives in truth or predictions."""
    y = _as_int_array(labels)
    p = _as_int_array(predicted)
    n = len(y)
    if n == 0:
        return _undefined("f1", 0, "no rows with both a label and a prediction")
    if y.sum() == 0 and p.sum() == 0:
        return _undefined("f1", n, "no positive labels and no positive predictions")
    return MetricResult("f1", float(skm.f1_score(y, p, pos_label=1, zero_division=0.0)), n)


def binary_log_loss(labels: Sequence[int] | np.ndarray, probs: Sequence[float] | np.ndarray) -> MetricResult:
    """Log-loss of P(like); undefined when the scores are not probabilities (outside [0, 1])."""
    y = _as_int_array(labels)
    p = _as_float_array(probs)
    n = len(y)
    if n == 0:
        return _undefined("log_loss", 0, "no rows with both a label and a score")
    if p.min() < 0.0 or p.max() > 1.0:
        return _undefined("log_loss", n, "scores are not probabilities in [0, 1]")
    eps = 1e-15
    p = np.clip(p, eps, 1 - eps)
    return MetricResult("log_loss", float(skm.log_loss(y, p, labels=[0, 1])), n)


# ----------------------------------------------------------------------------------------- multi-class


def multiclass_accuracy(
    true: Sequence[int] | np.ndarray, predicted: Sequence[int] | np.ndarray
) -> MetricResult:
    return _on_pairs("rating_accuracy", _as_int_array(true), _as_int_array(predicted),
                     "a rating and a predicted class", skm.accuracy_score)


def macro_auc_ovr(
    true: Sequence[int] | np.ndarray, probs: np.ndarray, classes: Sequence[int]
) -> MetricResult:
    """Macro one-vs-rest AUC from per-class probabilities (columns follow `classes`).

    Classes absent from the truth (or present in every row) have no AUC; they are skipped and named, and the
    macro average is over the remaining classes.
    """
    y = _as_int_array(true)
    p = np.asarray(probs, dtype=float)
    n = len(y)
    if n == 0:
        return _undefined("macro_auc_ovr", 0, "no rows with both a rating and class probabilities")
    per_class: dict[str, float] = {}
    skipped: list[int] = []
    for j, cls in enumerate(classes):
        positives = y == cls
        if positives.all() or not positives.any():
            skipped.append(int(cls))
            continue
        per_class[str(cls)] = float(skm.roc_auc_score(positives.astype(int), p[:, j]))
    if not per_class:
        return _undefined(
            "macro_auc_ovr", n, "no class has both positive and negative rows", skipped_classes=skipped
        )
    value = float(np.mean(list(per_class.values())))
    return MetricResult("macro_auc_ovr", value, n, extra={"per_class": per_class, "skipped_classes": skipped})


def mae(true: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> MetricResult:
    return _on_pairs("mae", _as_float_array(true), _as_float_array(predicted), "a rating and a predicted rating",
                     skm.mean_absolute_error)


def rmse(true: Sequence[float] | np.ndarray, predicted: Sequence[float] | np.ndarray) -> MetricResult:
    return _on_pairs("rmse", _as_float_array(true), _as_float_array(predicted), "a rating and a predicted rating",
                     lambda y, p: math.sqrt(skm.mean_squared_error(y, p)))


# ---------------------------------------------------------------------------------------------- ranking


def recall_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float | None:
    """|relevant ∩ top-k| / |relevant| (LightGCN / EXP3RT convention); None when nothing is relevant."""
    if not relevant:
        return None
    hits = sum(1 for item in ranked[:k] if item in relevant)
    return hits / len(relevant)


def ndcg_at_k(ranked: Sequence[str], relevant: set[str] | frozenset[str], k: int) -> float | None:
    """Binary-relevance NDCG@k: DCG of the top-k over the DCG of an ideal list of min(k, |relevant|) hits."""
    if not relevant:
        return None
    dcg = sum(1.0 / math.log2(rank + 2) for rank, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def ranking_metrics(
    ranked: Mapping[str, Sequence[str]],
    relevant: Mapping[str, set[str] | frozenset[str]],
    ks: Sequence[int] = RANKING_KS,
) -> dict[str, MetricResult]:
    """Mean Recall@k / NDCG@k over users that have at least one relevant item (others are counted, not scored)."""
    users = [u for u in ranked if relevant.get(u)]
    skipped = len(ranked) - len(users)
    out: dict[str, MetricResult] = {}
    for k in ks:
        for name, fn in (("recall", recall_at_k), ("ndcg", ndcg_at_k)):
            key = f"{name}@{k}"
            values = [fn(ranked[u], relevant[u], k) for u in users]
            if not values:
                out[key] = _undefined(key, 0, "no user has a relevant item", users_without_relevant=skipped)
            else:
                out[key] = MetricResult(
                    key, float(np.mean(values)), len(values), extra={"users_without_relevant": skipped}
                )
    return out


def full_ranking_metrics(
    scores: np.ndarray,
    item_ids: Sequence[str],
    user_ids: Sequence[str],
    train_items: Mapping[str, Iterable[str]],
    relevant: Mapping[str, set[str] | frozenset[str]],
    ks: Sequence[int] = RANKING_KS,
) -> dict[str, MetricResult]:
    """Full ranking: rank every item by score for each user, excluding that user's training items.

    `scores` is a (users × items) matrix aligned with `user_ids` × `item_ids`.
    """
    matrix = np.array(scores, dtype=float, copy=True)
    if matrix.shape != (len(user_ids), len(item_ids)):
        raise ValueError(f"scores shape {matrix.shape} != ({len(user_ids)} users, {len(item_ids)} items)")
    column = {item: j for j, item in enumerate(item_ids)}
    top = max(ks)
    ranked: dict[str, list[str]] = {}
    for i, user in enumerate(user_ids):
        row = matrix[i]
        seen = [column[it] for it in train_items.get(user, ()) if it in column]
        row[seen] = -np.inf
        k = min(top, len(item_ids))
        candidates = np.argpartition(-row, k - 1)[:k] if k < len(item_ids) else np.arange(len(item_ids))
        # Stable order: by score descending, then by item position (deterministic tie-break).
        order = sorted(candidates.tolist(), key=lambda j: (-row[j], j))
        ranked[user] = [item_ids[j] for j in order if np.isfinite(row[j])][:top]
    return ranking_metrics(ranked, relevant, ks)


def candidate_ranking_metrics(
    candidates: Mapping[str, Sequence[str]],
    scores: Mapping[str, Sequence[float]],
    relevant: Mapping[str, set[str] | frozenset[str]],
    ks: Sequence[int] = RANKING_KS,
) -> dict[str, MetricResult]:
    """Within a candidate list: rank each user's given candidates by their scores (ties keep list order)."""
    ranked: dict[str, list[str]] = {}
    for user, items in candidates.items():
        user_scores = list(scores[user])
        if len(user_scores) != len(items):
            raise ValueError(f"user {user!r}: {len(items)} candidates but {len(user_scores)} scores")
        order = sorted(range(len(items)), key=lambda j: (-user_scores[j], j))
        ranked[user] = [items[j] for j in order]
    return ranking_metrics(ranked, relevant, ks)
