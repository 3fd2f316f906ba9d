"""The like/dislike labels written into the release's texts.

Teacher reasoning ENDS with "Prediction: Yes|No"; fine-tuning outputs and the authors' student references START
with it (TALLRec answers start with "Yes."/"No."). A text without the marker has no label (None), never a guess.
"""

from __future__ import annotations

import re

LIKE_THRESHOLD = 3.0  # the release's like/dislike rule: rating > 3

_TRAILING_PREDICTION = re.compile(r"Prediction:\s*(Yes|No)\W*$", re.IGNORECASE)
_LEADING_PREDICTION = re.compile(r"^\s*(?:Answer:\s*)?Prediction:\s*(Yes|No)\b\s*", re.IGNORECASE)
_YES_NO_ANSWER = re.compile(r"^\s*(Yes|No)\b", re.IGNORECASE)


def trailing_prediction_label(text: str | None) -> int | None:
    """1/0 from a text ending in "Prediction: Yes|No" (teacher reasoning); None when it does not end so."""
    if text is None:
        return None
    match = _TRAILING_PREDICTION.search(text.rstrip())
    return None if match is None else int(match.group(1).lower() == "yes")


def leading_prediction_label(text: str | None) -> int | None:
    """1/0 from a text starting with "Prediction: Yes|No" (finetune output) or "Yes."/"No." (TALLRec)."""
    if text is None:
        return None
    match = _LEADING_PREDICTION.match(text) or _YES_NO_ANSWER.match(text)
    return None if match is None else int(match.group(1).lower() == "yes")


def reasoning_body(text: str, *, trailing: bool) -> str:
    """Reasoning text with the Prediction line removed and whitespace collapsed (for prefix matching)."""
    text = _TRAILING_PREDICTION.sub("", text.rstrip()) if trailing else _LEADING_PREDICTION.sub("", text)
    return " ".join(text.split())


def rating_label(rating: float | None) -> int | None:
    return None if rating is None else int(rating > LIKE_THRESHOLD)


__all__ = ["LIKE_THRESHOLD", "leading_prediction_label", "rating_label", "reasoning_body",
           "trailing_prediction_label"]
