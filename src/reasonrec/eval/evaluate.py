"""Evaluate a predictions table (PREDICTIONS_SCHEMA) → one flat, JSON-ready metrics dict.

Rules that keep numbers honest:
- The binary truth is `label`, or `rating > like_cutoff` where only a rating is known (paper convention r > 3).
- AUC uses every row with a truth and a score (`score`, else `pred_rating`): a score comes from a forward pass,
  not from parsing text, and this is how the ReasoningRec authors computed theirs.
- Hard-label metrics (accuracy, F1) and rating-class metrics use only rows whose output parsed (`parse_ok`);
  parse failures are counted and reported next to the metrics, never folded into a class.
- With `dedupe`, metrics are reported on all rows AND on distinct prompts (or user–item pairs); duplicates
  whose truth disagrees are counted.
- Every metric carries its n (under `metrics`), undefined ones carry a reason.
"""

from __future__ import annotations

import json
import math
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import ConfigError, DataError
from reasonrec.eval import breakdowns
from reasonrec.eval.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED, MAX_RESAMPLES, bootstrap_ci
from reasonrec.eval.metrics import (
    LIKE_CUTOFF,
    MetricResult,
    binary_accuracy,
    binary_auc,
    binary_f1,
    binary_log_loss,
    macro_auc_ovr,
    mae,
    multiclass_accuracy,
    rmse,
)
from reasonrec.eval.text import BertScoreModel, TextMetricsConfig, TextScores, score_texts
from reasonrec.predictions import conform_predictions, validate_predictions


class EvalConfig(Config):
    """How to turn predictions into metrics; defaults follow ReasoningRec (r > 3 = like, AUC with CI)."""

    threshold: float = Field(0.5, allow_inf_nan=False)
    """score >= threshold → like, used only when no parsed `pred_label` exists."""
    like_cutoff: float = Field(LIKE_CUTOFF, allow_inf_nan=False)
    bootstrap: int = Field(DEFAULT_RESAMPLES, ge=0, le=MAX_RESAMPLES)
    """AUC bootstrap resamples (0 disables the CI)."""
    seed: int = Field(DEFAULT_SEED, ge=0)
    dedupe: bool = False
    dedupe_on: Literal["auto", "input", "user_item"] = "auto"
    """auto: the `input` (prompt) column when present, else (user_id, item_id)."""
    rating_classes: list[int] | None = None
    """Rating scale for multi-class metrics; None → the keys of `probs`, else the observed ratings."""
    correctness: Literal["auto", "label", "rating"] = "auto"
    """What "correct" means for breakdowns; auto → rating class when rating predictions exist, else the label."""
    text: TextMetricsConfig | None = None
    """Text metrics of `reasoning` vs `reference`; None skips them."""
    breakdowns: list[Literal["correctness", "segment", "rating"]] = Field(default_factory=list)
    segment_column: str = "segment"


# ------------------------------------------------------------------------------------------- preparation


def _parse_probs(raw: str | None) -> dict[int, float] | None:
    """Rating-class probabilities from a `probs` cell, or None when its keys are not all numeric.

    Per the predictions contract, label-choice keys ("Yes"/"No") belong to P(like) stages whose
    probability already lives in `score`; they are not rating classes and are ignored here.
    """
    if raw is None:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise DataError(f"probs is not JSON: {raw[:60]!r}", field="probs") from exc
    if not isinstance(data, dict):
        raise DataError(f"probs must be a JSON object of choice → probability: {raw[:60]!r}", field="probs")
    try:
        return {int(float(k)): float(v) for k, v in data.items()}
    except ValueError:
        return None


def _rating_classes(df: pl.DataFrame, cfg: EvalConfig, probs: list[dict[int, float] | None]) -> list[int]:
    if cfg.rating_classes:
        return sorted(cfg.rating_classes)
    keys = sorted({k for p in probs if p for k in p})
    if keys:
        return keys
    observed = df["rating"].drop_nulls().round(0).cast(pl.Int64).unique().to_list()
    return sorted(observed)


def prepare_predictions(df: pl.DataFrame, cfg: EvalConfig) -> pl.DataFrame:
    """Add the derived columns every metric reads (`_truth`, `_score`, `_hard`, `_rating_*`, `_correct`, `_row`)."""
    out = conform_predictions(df)
    validate_predictions(out)
    out = out.with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    out = out.with_columns(pl.col("parse_ok").fill_null(True))
    out = out.with_columns(
        pl.coalesce(pl.col("label"), (pl.col("rating") > cfg.like_cutoff).cast(pl.Int64)).alias("_truth"),
        pl.coalesce(pl.col("score"), pl.col("pred_rating")).alias("_score"),
    )
    # Hard binary prediction: the parsed label if the method emits one, else a thresholded score.
    if out["pred_label"].is_not_null().any():
        hard = pl.col("pred_label")
        source = "pred_label"
    elif out["score"].is_not_null().any():
        hard = (pl.col("score") >= cfg.threshold).cast(pl.Int64)
        source = f"score>={cfg.threshold}"
    else:
        hard = (pl.col("pred_rating") > cfg.like_cutoff).cast(pl.Int64)
        source = f"pred_rating>{cfg.like_cutoff}"
    out = out.with_columns(pl.when(pl.col("parse_ok")).then(hard).otherwise(None).alias("_hard"))

    # Rating (multi-class) predictions: class = argmax of probs, else the rounded predicted rating.
    probs = [_parse_probs(p) for p in out["probs"].to_list()]
    has_rating_pred = any(p is not None for p in probs) or out["pred_rating"].is_not_null().any()
    classes = _rating_classes(out, cfg, probs) if has_rating_pred else []
    pred_class: list[int | None] = []
    pred_value: list[float | None] = []
    for p, r in zip(probs, out["pred_rating"].to_list()):
        if p:
            pred_class.append(max(classes, key=lambda c: (p.get(c, 0.0), -c)))
            total = sum(p.get(c, 0.0) for c in classes)
            expected = sum(c * p.get(c, 0.0) for c in classes) / total if total > 0 else None
            pred_value.append(r if r is not None else expected)
        elif r is not None and classes:
            pred_class.append(int(min(max(round(r), classes[0]), classes[-1])))
            pred_value.append(r)
        else:
            pred_class.append(None)
            pred_value.append(r)
    out = out.with_columns(
        pl.Series("_rating_pred_class", pred_class, dtype=pl.Int64),
        pl.Series("_rating_pred", pred_value, dtype=pl.Float64),
        pl.col("rating").round(0).cast(pl.Int64).alias("_rating_true"),
    )
    out = out.with_columns(
        pl.when(pl.col("parse_ok"))
        .then(pl.col("_rating_pred_class"))
        .otherwise(None)
        .alias("_rating_pred_class"),
        pl.when(pl.col("parse_ok")).then(pl.col("_rating_pred")).otherwise(None).alias("_rating_pred"),
    )
    use_rating = cfg.correctness == "rating" or (
        cfg.correctness == "auto"
        and out["_rating_pred_class"].is_not_null().any()
        and out["rating"].is_not_null().any()
    )
    if use_rating:
        correct = pl.col("_rating_pred_class") == pl.col("_rating_true")
    else:
        correct = pl.col("_hard") == pl.col("_truth")
    out = out.with_columns(correct.alias("_correct"))
    return out.with_columns(
        pl.lit(source).alias("_hard_source"),
        pl.lit(json.dumps(classes)).alias("_classes"),
    )


# -------------------------------------------------------------------------------------------- metrics


def _clean(value: Any) -> Any:
    """JSON-safe floats (NaN/inf → None)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def compute_metrics(
    prepared: pl.DataFrame, cfg: EvalConfig, text_scores: TextScores | None = None
) -> dict[str, Any]:
    """All metrics on an already prepared table (no dedupe, no breakdowns)."""
    n = prepared.height
    failures = int((~prepared["parse_ok"]).sum()) if n else 0
    results: dict[str, MetricResult] = {}
    result: dict[str, Any] = {
        "n": n,
        "parse_failures": failures,
        "parse_failure_rate": failures / n if n else None,
    }
    # Binary: AUC (+CI, log-loss) on scored rows; accuracy/F1 on parsed hard labels.
    scored = prepared.filter(pl.col("_truth").is_not_null() & pl.col("_score").is_not_null())
    y = scored["_truth"].to_numpy()
    s = scored["_score"].to_numpy()
    results["auc"] = binary_auc(y, s)
    if cfg.bootstrap > 0:
        results["auc_ci"] = bootstrap_ci(y, s, n_resamples=cfg.bootstrap, seed=cfg.seed)
    if scored.height and prepared["score"].is_not_null().any():
        probs = scored.filter(pl.col("score").is_not_null())
        results["log_loss"] = binary_log_loss(probs["_truth"].to_numpy(), probs["score"].to_numpy())
    hard = prepared.filter(pl.col("_truth").is_not_null() & pl.col("_hard").is_not_null())
    results["accuracy"] = binary_accuracy(hard["_truth"].to_numpy(), hard["_hard"].to_numpy())
    results["f1"] = binary_f1(hard["_truth"].to_numpy(), hard["_hard"].to_numpy())
    result["threshold"] = cfg.threshold
    result["like_cutoff"] = cfg.like_cutoff
    result["label_source"] = prepared["_hard_source"][0] if n else None
    result["positives"] = int(prepared["_truth"].sum() or 0) if n else 0
    result["negatives"] = int((prepared["_truth"] == 0).sum()) if n else 0

    # Multi-class rating metrics.
    classes = json.loads(prepared["_classes"][0]) if n else []
    rated = prepared.filter(pl.col("rating").is_not_null() & pl.col("_rating_pred").is_not_null())
    if classes and rated.height:
        results["mae"] = mae(rated["rating"].to_numpy(), rated["_rating_pred"].to_numpy())
        results["rmse"] = rmse(rated["rating"].to_numpy(), rated["_rating_pred"].to_numpy())
        cls_rows = rated.filter(pl.col("_rating_pred_class").is_not_null())
        results["rating_accuracy"] = multiclass_accuracy(
            cls_rows["_rating_true"].to_numpy(), cls_rows["_rating_pred_class"].to_numpy()
        )
        parsed = [_parse_probs(p) for p in rated["probs"].to_list()]
        with_probs = rated.filter(pl.Series([bool(p) for p in parsed], dtype=pl.Boolean))
        if with_probs.height:
            matrix = np.array([[p.get(c, 0.0) for c in classes] for p in parsed if p])
            results["macro_auc_ovr"] = macro_auc_ovr(with_probs["_rating_true"].to_numpy(), matrix, classes)
        result["rating_classes"] = classes

    if text_scores is not None:
        rows = prepared["_row"].to_numpy()
        for name, metric in text_scores.summary(rows).items():
            results[name] = metric

    for name, metric in results.items():
        if name == "auc_ci":
            result[name] = None if metric.value is None else [metric.extra["low"], metric.extra["high"]]
        else:
            result[name] = metric.value
    result["metrics"] = {name: metric.to_dict() for name, metric in results.items()}
    for name, metric in results.items():
        result["metrics"][name]["parse_failures"] = failures
    return _clean(result)


# ------------------------------------------------------------------------------------------ top level


def _dedupe_key(df: pl.DataFrame, cfg: EvalConfig) -> list[str]:
    if cfg.dedupe_on == "input" or (cfg.dedupe_on == "auto" and "input" in df.columns):
        if "input" not in df.columns:
            raise ConfigError("dedupe_on=input but the predictions have no 'input' column")
        return ["input"]
    if df["user_id"].is_null().all() or df["item_id"].is_null().all():
        raise ConfigError("cannot dedupe on (user_id, item_id): the predictions carry no user/item ids")
    return ["user_id", "item_id"]


def text_scores_for(
    prepared: pl.DataFrame, text: TextMetricsConfig, bertscore: BertScoreModel | None = None
) -> TextScores | None:
    """Per-row text scores for rows that have both reasoning and a reference (others NaN)."""
    has_text = prepared.filter(pl.col("reasoning").is_not_null() & pl.col("reference").is_not_null())
    if has_text.height == 0:
        return None
    if "references" in prepared.columns:
        refs: list[Any] = [
            r if r else [ref]
            for r, ref in zip(has_text["references"].to_list(), has_text["reference"].to_list())
        ]
    else:
        refs = has_text["reference"].to_list()
    scores = score_texts(has_text["reasoning"].to_list(), refs, text, bertscore=bertscore)
    return scores.expand(has_text["_row"].to_numpy(), prepared.height)


def evaluate_predictions(
    df: pl.DataFrame, config: EvalConfig | None = None, bertscore: BertScoreModel | None = None
) -> dict[str, Any]:
    """Metrics dict for a predictions table: top-level values, `metrics` (value/n/reason), optional
    `distinct` (deduplicated rows) and `breakdowns`."""
    cfg = config or EvalConfig()
    prepared = prepare_predictions(df, cfg)
    text_scores = text_scores_for(prepared, cfg.text, bertscore) if cfg.text and cfg.text.metrics else None

    def metric_fn(part: pl.DataFrame) -> dict[str, Any]:
        return compute_metrics(part, cfg.model_copy(update={"bootstrap": 0}), text_scores)

    result = compute_metrics(prepared, cfg, text_scores)
    if cfg.dedupe:
        key = _dedupe_key(prepared, cfg)
        distinct = prepared.unique(subset=key, keep="first", maintain_order=True)
        conflicts = (
            prepared.filter(pl.col("_truth").is_not_null())
            .group_by(key)
            .agg(pl.col("_truth").n_unique().alias("k"))
            .filter(pl.col("k") > 1)
            .height
        )
        result["n_distinct"] = distinct.height
        result["dedupe_key"] = key
        result["duplicate_rows"] = prepared.height - distinct.height
        result["distinct_keys_with_conflicting_truth"] = conflicts
        result["distinct"] = compute_metrics(distinct, cfg, text_scores)
    for kind in cfg.breakdowns:
        section = result.setdefault("breakdowns", {})
        if kind == "correctness":
            section["correctness"] = breakdowns.by_correctness(prepared, metric_fn)
        elif kind == "segment":
            section["segment"] = breakdowns.by_segment(prepared, metric_fn, cfg.segment_column)
        elif kind == "rating":
            section["rating"] = breakdowns.by_rating_class(prepared, metric_fn)
    return result
