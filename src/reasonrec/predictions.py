"""The one predictions schema that LLM methods and CF baselines both write, so one evaluator scores all.

One row per (user, item[, sample]) prediction. `label` is the binary ground truth (like = rating > r_T)
where known; `score` is P(like) (or any monotone score) used for AUC; `rating`/`pred_rating` serve
rating-prediction methods; `parse_ok=False` marks outputs whose text could not be parsed (counted, never
folded into a class).

`probs` is a JSON object string mapping each scored choice to its probability, exactly as the model was
asked: rating classes for rating methods (`{"1": p1, …, "5": p5}`, data-scale keys) or label choices for
P(like) methods (`{"Yes": p, "No": 1 - p}`). The evaluator uses `probs` for rating metrics (argmax class,
E[rating], macro one-vs-rest AUC) only when ALL its keys are numeric rating classes; label-choice keys are
ignored there because their probability is already `score`. So writers never need to drop or rename them.
"""

from __future__ import annotations

import polars as pl

PREDICTIONS_SCHEMA: dict[str, pl.DataType] = {
    "method": pl.String(),
    "dataset": pl.String(),
    "split": pl.String(),
    "user_id": pl.String(),
    "item_id": pl.String(),
    "label": pl.Int64(),
    "rating": pl.Float64(),
    "score": pl.Float64(),
    "pred_label": pl.Int64(),
    "pred_rating": pl.Float64(),
    "probs": pl.String(),
    "reasoning": pl.String(),
    "reference": pl.String(),
    "parse_ok": pl.Boolean(),
}


def empty_predictions() -> pl.DataFrame:
    return pl.DataFrame(schema=PREDICTIONS_SCHEMA)


def conform_predictions(df: pl.DataFrame) -> pl.DataFrame:
    """Add missing columns as nulls (parse_ok defaults to True), cast, and order canonically."""
    out = df
    for name, dtype in PREDICTIONS_SCHEMA.items():
        if name not in out.columns:
            default = True if name == "parse_ok" else None
            out = out.with_columns(pl.lit(default, dtype=dtype).alias(name))
        else:
            out = out.with_columns(pl.col(name).cast(dtype))
    extras = [c for c in out.columns if c not in PREDICTIONS_SCHEMA]
    return out.select([*PREDICTIONS_SCHEMA.keys(), *extras])
