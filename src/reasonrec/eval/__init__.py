"""Evaluation: label/rating/ranking metrics, text similarity, agreement, breakdowns, bootstrap CIs, readers.

Entry points: `read_predictions(path, fmt)` → canonical table; `evaluate_predictions(df, EvalConfig(...))` →
JSON-ready dict. Individual metrics live in `metrics`, `text`, `agreement`, `bootstrap`.
"""

from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.eval.readers import READERS, read_predictions
from reasonrec.eval.text import TextMetricsConfig

__all__ = ["READERS", "EvalConfig", "TextMetricsConfig", "evaluate_predictions", "read_predictions"]
