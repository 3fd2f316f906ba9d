"""Parsers for the three output formats. Unparseable is a value (None + raw text), never a guess.

- ReasoningRec: reasoning and a `Prediction: Yes|No` line, in either order.
- Rec-SAVER:    `### Reason ### … ### Rating ### n`.
- EXP3RT:       `Reasoning: … Predicted User Rating: n`.

All three tolerate case, extra whitespace and markdown decoration (`**bold**`, `# headings`, backticks).
When a text states two DIFFERENT answers, the result is None: picking one would be a guess.
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
    return f"### Reason ###\n{reasoning}\n\n### Rating ###\n{_rating_text(rating)}"


# ---------------------------------------------------------------- EXP3RT

_EX_RATING = re.compile(r"(?i)predicted\s+(?:user\s+)?rating\s*[:=\-]\s*\[?\s*" + _NUMBER)
_EX_REASON = re.compile(r"(?is)\breasoning\s*:(.*?)(?=predicted\s+(?:user\s+)?rating\s*[:=\-]|\Z)")


def parse_exp3rt(text: str, *, scale: tuple[float, float] | None = (0, 9)) -> RatingParse:
    return _parse_rating_format(text, _EX_RATING, _EX_REASON, scale)


def render_exp3rt(rating: float, reasoning: str) -> str:
    return f"Reasoning: {reasoning}\n\nPredicted User Rating: {_rating_text(rating)}"


PARSERS = {
    "reasoningrec": parse_reasoningrec,
    "recsaver": parse_recsaver,
    "exp3rt": parse_exp3rt,
}
