"""What a model answers, in each paper's format: parsers and renderers, one owner of the "Prediction: Yes/No" line.

- ReasoningRec: reasoning and a `Prediction: Yes|No` line, in either order.
- Rec-SAVER:    `### Reason ### … ### Rating ### n`.
- EXP3RT:       `Reasoning: … Predicted User Rating: n`.

Unparseable is a value (None + raw text), never a guess. All three tolerate case, extra whitespace and markdown
decoration (`**bold**`, `# headings`, backticks). When a text states two DIFFERENT answers, the result is None:
picking one would be a guess. The module sits below every layer (no reasonrec imports) so loaders reading the
authors' release, the stages, the student's SFT data and the evaluators all read the label the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelParse:
    """ReasoningRec output: `label` 1 (Yes) / 0 (No) / None when the text states no single answer."""

    label: int | None
    reasoning: str
    raw: str

    @property
    def ok(self) -> bool:
        return self.label is not None


@dataclass(frozen=True)
class RatingParse:
    """Rec-SAVER / EXP3RT output: `rating` is None when missing, ambiguous or outside the allowed scale."""

    rating: float | None
    reasoning: str
    raw: str

    @property
    def ok(self) -> bool:
        return self.rating is not None


_DECORATION = re.compile(r"[*`]+|(?<!\w)__|__(?!\w)")
_NUMBER = r"([-+]?\d+(?:\.\d+)?)"


def _clean(text: str) -> str:
    """Drop markdown emphasis/code marks; keep '#' (Rec-SAVER headings use it)."""
    return _DECORATION.sub("", text)


def _single(values: list) -> object | None:
    unique = set(values)
    return unique.pop() if len(unique) == 1 else None


# ---------------------------------------------------------------- ReasoningRec

_PREDICTION = re.compile(
    r"^[ \t#>\-]*(?:final\s+)?prediction\s*[:=\-–]\s*\[?\s*(yes|no)\b\]?\.?[ \t]*$"
    r"|\bprediction\s*[:=]\s*\[?\s*(yes|no)\b",
    re.IGNORECASE | re.MULTILINE,
)


def parse_reasoningrec(text: str) -> LabelParse:
    """`Prediction: Yes|No` anywhere (its own line or inline) + the rest as reasoning."""
    cleaned = _clean(text or "")
    matches = list(_PREDICTION.finditer(cleaned))
    answers = [(m.group(1) or m.group(2)).lower() for m in matches]
    answer = _single(answers)
    label = None if answer is None else int(answer == "yes")
    reasoning = cleaned
    for m in reversed(matches):
        reasoning = reasoning[: m.start()] + reasoning[m.end() :]
    return LabelParse(label=label, reasoning=reasoning.strip(), raw=text)


def render_reasoningrec(label: int, reasoning: str, *, prediction_first: bool = True) -> str:
    """The canonical target text (used for SFT data and for round-trip tests)."""
    line = f"Prediction: {'Yes' if label else 'No'}"
    return f"{line}\n{reasoning}" if prediction_first else f"{reasoning}\n{line}"


# A teacher text closes with its verdict; the release's fine-tuning outputs open with it; readers look for the first.
_TRAILING_PREDICTION = re.compile(r"\s*(?:Final\s+)?Prediction:\s*(Yes|No)\W*$", re.IGNORECASE)
_LEADING_PREDICTION = re.compile(r"^\s*(?:Answer:\s*)?Prediction:\s*(Yes|No)\b\s*", re.IGNORECASE)
_YES_NO_ANSWER = re.compile(r"^\s*(Yes|No)\b", re.IGNORECASE)
_FIRST_PREDICTION = re.compile(r"Prediction\s*:\s*(Yes|No)\b", re.IGNORECASE)


def _yes(match: re.Match[str] | None) -> int | None:
    return None if match is None else int(match.group(1).lower() == "yes")


def trailing_prediction_label(text: str | None) -> int | None:
    """1/0 from a text ending in "Prediction: Yes|No" (teacher reasoning); None when it does not end so."""
    return None if text is None else _yes(_TRAILING_PREDICTION.search(text.rstrip()))


def leading_prediction_label(text: str | None) -> int | None:
    """1/0 from a text starting with "Prediction: Yes|No" (finetune output) or "Yes."/"No." (TALLRec)."""
    if text is None:
        return None
    return _yes(_LEADING_PREDICTION.match(text) or _YES_NO_ANSWER.match(text))


def first_prediction_label(text: str | None) -> int | None:
    """1/0 from the first "Prediction: Yes|No" in the text; None when there is none (never a guess)."""
    return _yes(_FIRST_PREDICTION.search(text)) if text else None


def strip_trailing_prediction(text: str) -> str:
    """Teacher reasoning without its closing "Prediction: Yes|No" line, dedented and trimmed."""
    body = _TRAILING_PREDICTION.sub("", text.rstrip())
    lines = [line.strip() for line in body.strip().splitlines()]
    return "\n".join(lines).strip()


def strip_leading_prediction(text: str) -> str:
    """A fine-tuning output without its opening "Prediction: Yes|No" (the reasoning that follows it)."""
    return _LEADING_PREDICTION.sub("", text)


# ---------------------------------------------------------------- rating helpers


def _rating_in_scale(values: list[float], scale: tuple[float, float] | None) -> float | None:
    value = _single(values)
    if value is None:
        return None
    if scale is not None and not (scale[0] <= value <= scale[1]):
        return None
    return float(value)


# ---------------------------------------------------------------- Rec-SAVER

_RS_RATING = re.compile(r"(?i)#{1,6}\s*rating\s*#*\s*[:\-]?\s*\n?\s*" + _NUMBER + r"(?![\d.]*\s*[-–]\s*\d)")
_RS_REASON = re.compile(r"(?is)#{1,6}\s*reason(?:ing)?\s*#*\s*:?(.*?)(?=#{1,6}\s*rating\b|\Z)")


def _parse_rating_format(
    text: str, rating: re.Pattern[str], reason: re.Pattern[str], scale: tuple[float, float] | None
) -> RatingParse:
    """Shared by the "reasoning + rating line" formats: every rating match is a candidate; see _rating_in_scale."""
    cleaned = _clean(text or "")
    values = [float(m.group(1)) for m in rating.finditer(cleaned)]
    found = reason.search(cleaned)
    return RatingParse(rating=_rating_in_scale(values, scale), reasoning=found.group(1).strip() if found else "",
                       raw=text)


def _rating_text(rating: float) -> str:
    """5.0 → "5", 4.5 → "4.5" (how a rating is written back into a completion)."""
    return str(int(rating) if float(rating).is_integer() else rating)


def parse_recsaver(text: str, *, scale: tuple[float, float] | None = (1, 5)) -> RatingParse:
    return _parse_rating_format(text, _RS_RATING, _RS_REASON, scale)


def render_recsaver(rating: float, reasoning: str) -> str:
    """The answer format; without reasoning, the rating-only answer the no-reasoning prompt asks for."""
    if not reasoning.strip():
        return f"### Rating ###\n{_rating_text(rating)}"
    return f"### Reason ###\n{reasoning}\n\n### Rating ###\n{_rating_text(rating)}"


# ---------------------------------------------------------------- EXP3RT

_EX_RATING = re.compile(r"(?i)predicted\s+(?:user\s+)?rating\s*[:=\-]\s*\[?\s*" + _NUMBER)
_EX_REASON = re.compile(r"(?is)\breasoning\s*:(.*?)(?=predicted\s+(?:user\s+)?rating\s*[:=\-]|\Z)")


def parse_exp3rt(text: str, *, scale: tuple[float, float] | None = (0, 9)) -> RatingParse:
    return _parse_rating_format(text, _EX_RATING, _EX_REASON, scale)


def render_exp3rt(rating: float, reasoning: str) -> str:
    return f"Reasoning: {reasoning}\n\nPredicted User Rating: {_rating_text(rating)}"


__all__ = [
    "LabelParse",
    "RatingParse",
    "first_prediction_label",
    "leading_prediction_label",
    "parse_exp3rt",
    "parse_reasoningrec",
    "parse_recsaver",
    "render_exp3rt",
    "render_reasoningrec",
    "render_recsaver",
    "strip_leading_prediction",
    "strip_trailing_prediction",
    "trailing_prediction_label",
]
