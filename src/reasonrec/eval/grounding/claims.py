"""Split an explanation into claims: the units the grounding checker labels supported, contradicted, unsupported
or uncheckable.

A claim is one sentence (the sentence splitter of `stages.recsaver.leak`, which keeps list numbers, decimals and
abbreviations intact; never cut inside a double-quoted title), further cut at semicolons (never an HTML entity's). Not claims: the formatted verdict line ("Prediction: Yes" — it is
the stated prediction, read by `answers.parse_reasoningrec`; also after "Answer:"), headings (a short line ending in a colon, e.g.
"Summary of user behavior:"), and fragments without a word of three letters. List markers ("1.", "-", "*") are
stripped from the claim text but the character span still points into the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reasonrec.stages.recsaver.leak import Sentence, split_sentences

MAX_CLAIMS = 200  # bound per explanation: a looping generation must not cost unbounded checking time

_VERDICT_LINE = re.compile(
    r"^[\s#>*\-]*(?:answer\s*:\s*)?(?:final\s+)?(?:prediction|answer)\s*[:=\-–]\s*\[?\s*(?:yes|no)\b[\].!\s]*$",
    re.IGNORECASE,
)
_MARKER = re.compile(r"^(?:\d{1,2}[.)]|[-*•])\s+")
_HEADING = re.compile(r"^[^.!?]{0,80}:$")
_WORD = re.compile(r"[A-Za-z]{3,}")


@dataclass(frozen=True)
class Claim:
    """One checkable-or-not statement; `index` is its order in the explanation, `start`/`end` its source span."""

    index: int
    text: str
    start: int
    end: int


_SEMICOLON = re.compile(  # a statement break, not the end of an HTML entity ("&amp;")
    r"(?<!&[a-z]{2})(?<!&[a-z]{3})(?<!&[a-z]{4})(?<!&[a-z]{5})(?<!&[a-z]{6});\s+")


def _pieces(text: str, start: int) -> list[tuple[str, int]]:
    """Cut a sentence at semicolons (each side is a statement of its own), never inside an HTML entity."""
    out, cursor = [], 0
    for m in _SEMICOLON.finditer(text):
        out.append((text[cursor : m.start()], start + cursor))
        cursor = m.end()
    out.append((text[cursor:], start + cursor))
    return out


def _quote_aware(text: str) -> list[Sentence]:
    """Sentences, re-joined where a boundary fell inside a double-quoted title ("… 13.5 oz. Shampoo")."""
    out: list[Sentence] = []
    for sentence in split_sentences(text):
        if out and out[-1].text.count('"') % 2 == 1:
            start = out[-1].start
            out[-1] = Sentence(text[start:sentence.end], start, sentence.end)
        else:
            out.append(sentence)
    return out


def split_claims(text: str | None) -> list[Claim]:
    """Claims of an explanation in order, at most MAX_CLAIMS."""
    claims: list[Claim] = []
    for sentence in _quote_aware(text or ""):
        if _VERDICT_LINE.match(sentence.text):
            continue
        for piece, offset in _pieces(sentence.text, sentence.start):
            marker = _MARKER.match(piece)
            body = piece[marker.end() :] if marker else piece
            body_start = offset + (marker.end() if marker else 0)
            stripped = body.strip()
            if not _WORD.search(stripped) or _HEADING.match(stripped):
                continue
            lead = len(body) - len(body.lstrip())
            claims.append(Claim(len(claims), stripped, body_start + lead, body_start + lead + len(stripped)))
            if len(claims) >= MAX_CLAIMS:
                return claims
    return claims


__all__ = ["MAX_CLAIMS", "Claim", "split_claims"]
