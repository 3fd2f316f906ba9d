"""The like/dislike labels of the release: its rating rule, and the texts' "Prediction: Yes|No" read by the one
owner of that format (`reasonrec.answers`).

Teacher reasoning ENDS with "Prediction: Yes|No"; fine-tuning outputs and the authors' student references START
with it (TALLRec answers start with "Yes."/"No."). A text without the marker has no label (None), never a guess.
"""

from __future__ import annotations

from reasonrec.answers import strip_leading_prediction, strip_trailing_prediction

LIKE_THRESHOLD = 3.0  # the release's like/dislike rule: rating > 3


def reasoning_body(text: str, *, trailing: bool) -> str:
    """Reasoning text with the Prediction line removed and whitespace collapsed (for prefix matching)."""
    text = strip_trailing_prediction(text) if trailing else strip_leading_prediction(text)
    return " ".join(text.split())


def rating_label(rating: float | None) -> int | None:
    return None if rating is None else int(rating > LIKE_THRESHOLD)


__all__ = ["LIKE_THRESHOLD", "rating_label", "reasoning_body"]
