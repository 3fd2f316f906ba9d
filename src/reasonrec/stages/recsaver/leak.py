"""Sentence splitting and rating-leak scrubbing for Rec-SAVER explanations (paper §3.1 post-processing).

Rec-SAVER explains a rating *given* the truth, then asks the model to re-predict the rating from the
explanation. An explanation that says "the user gave it 5 stars" makes that check trivial, so leaking sentences
are removed first. The paper drops sentences mentioning "a rating of", "stars" or "scores" (`paper_rule`); our
`is_leak` goes further (numbers on a scale, star counts in words, rating verbs with a value, formatted labels).

Labelling policy (the same one used to annotate `tests/stages/recsaver/fixtures/leak_sentences.jsonl`):

LEAK — the sentence states a value or a position on a rating / star / score scale for some item (the target or a
past one: we do not try to tell whose rating it is, and history ratings are already in the verify prompt, so
dropping them costs nothing):
  * a number tied to stars or a scale: "5 stars", "five-star", "4/5", "4 out of 5", "10/10", "one star off";
  * a rating verb or noun with a value: "I give it 4", "rated it a 3", "a rating of 5", "would give it five",
    "score of 8", "Rating: 4";
  * an extreme or qualitative position tied to a rating noun/verb on an item: "the highest rating",
    "a low rating", "perfect score", "full marks", "rated it highly", "gave it a high rating";
  * a formatted label: "Prediction: Yes/No", "### Rating ### 4".
NOT A LEAK:
  * opinions in preference language without the rating scale ("loved it", "the user will like the new item",
    "was disappointed") — that is what an explanation is supposed to say;
  * valuing an attribute: "the user rates quality highly", "values gentle formulas" — a taste, not an item's
    rating (judgement call: the object is an attribute, not an item);
  * numbers that are not ratings: sizes, SPF, prices, counts ("4 out of 5 dentists", "3 bottles"), durations,
    dates, list numbering.

The detector works sentence by sentence, so `scrub` keeps the rest of the text verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ------------------------------------------------------------------------------------------------ splitting

_ABBREVIATIONS = {
    "e.g", "i.e", "etc", "vs", "mr", "mrs", "ms", "dr", "st", "no", "approx", "oz", "fl", "inc", "ltd", "co",
    "jr", "sr", "u.s", "a.m", "p.m", "lbs", "ft", "in", "vol", "mt",
}
_TITLES = {"mr", "mrs", "ms", "dr", "prof"}
# A boundary: terminal punctuation (+ closing quotes/brackets) followed by whitespace, or a line break.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n\s*\n|\s*\n\s*")


@dataclass(frozen=True)
class Sentence:
    text: str
    start: int
    end: int  # exclusive; text == source[start:end]


def _is_false_boundary(source: str, cut: int) -> bool:
    """True when the period before `cut` belongs to an abbreviation, a decimal or a list number."""
    head = source[:cut].rstrip()
    if not head.endswith("."):
        return False
    word = re.search(r"([A-Za-z.]+|\d+)\.$", head)
    if word is None:
        return False
    token = word.group(1).lower().rstrip(".")
    if token in _TITLES:
        return True
    if token in _ABBREVIATIONS:
        nxt = source[cut:].lstrip()[:1]
        return bool(nxt) and (nxt.islower() or nxt.isdigit())
    if word.group(1).isdigit():
        # "1. The user ..." at the start of a line is a list marker, not a sentence.
        line_start = head.rfind("\n") + 1
        return head[line_start:].strip() == word.group(0)
    return len(token) == 1 and token.isalpha()  # initials ("J. Smith")


def split_sentences(text: str) -> list[Sentence]:
    """Sentences with their character spans; line breaks always end a sentence (lists, headings)."""
    sentences: list[Sentence] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        if "\n" not in m.group(0) and _is_false_boundary(text, m.start()):
            continue
        # keep closing quotes/brackets with the sentence they close
        end = m.start() + (len(m.group(0)) - len(m.group(0).lstrip("\"')]")))
        _append(sentences, text, start, end)
        start = m.end()
    _append(sentences, text, start, len(text))
    return sentences


def _append(out: list[Sentence], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return
    lead = len(chunk) - len(chunk.lstrip())
    s = start + lead
    out.append(Sentence(text=stripped, start=s, end=s + len(stripped)))


# ------------------------------------------------------------------------------------------------ detection

_NUM_WORD = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten)"
_NUM = rf"(?:\d+(?:\.\d+)?|{_NUM_WORD}|half|a|an|single|no)"
_SCALE = r"(?:5|10|100|five|ten|hundred)"
_RATING_NOUN = r"(?:ratings?|scores?|marks|grades?|stars?)"
_POSITION = (
    r"(?:high|higher|highest|low|lower|lowest|top|perfect|full|max|maximum|minimum|middling|average|mediocre|"
    r"positive|negative|poor|good|great|bad|decent|solid|neutral)"
)
_ITEM_OBJ = r"(?:it|this|these|that|them|this\s+\w+|the\s+(?:new\s+)?(?:product|item|\w+))"

_LEAK_PATTERNS: dict[str, re.Pattern[str]] = {
    # "5 stars", "five-star", "1 star", "half a star", "4.5 stars", "a star off"
    "number_stars": re.compile(rf"\b{_NUM}(?:\s+and\s+a\s+half)?[\s-]*stars?\b", re.IGNORECASE),
    # any plural "stars" (paper's word; also "all the stars") — beauty text rarely uses it otherwise
    "stars_word": re.compile(r"\bstars\b|\bstar\s+rating\b", re.IGNORECASE),
    # "4/5", "9/10", "4 out of 5", "10 out of 10" (not dates like 9/10/2015, not "4 out of 5 dentists")
    "number_on_scale": re.compile(
        rf"\b(?:\d+(?:\.\d+)?|{_NUM_WORD})\s*(?:/|out\s+of|of)\s*{_SCALE}\b(?!\s*/\s*\d)"
        r"(?!\s+(?!stars?|points?|overall|rating|for\b|because|but\b|and\b|on\b|in\b|from\b|so\b|is\b)[a-z])",
        re.IGNORECASE,
    ),
    # "rating of 4", "rating: 5", "rating is a 3", "score of 8", "a 5 rating", "rating would be four"
    "rating_noun_value": re.compile(
        rf"\b(?:ratings?|scores?|grades?)\b\s*(?:of|:|=|is|was|would\s+be|will\s+be|be|should\s+be|as)?\s*"
        rf"(?:an?\s+)?(?:\d+(?:\.\d+)?|{_NUM_WORD})\b(?!\s*(?:%|percent|products?|items?|times|ml|oz))"
        rf"|\b(?:an?\s+)?(?:\d(?:\.\d)?|{_NUM_WORD})[\s-]+(?:rating|score)\b",
        re.IGNORECASE,
    ),
    # "I give it 4", "gave it a 5", "would give this product five", "rated it a 3", "rate them 2"
    "verb_value": re.compile(
        rf"\b(?:give|gave|giving|given|rate|rated|rating|rates|score|scored)\s+(?:{_ITEM_OBJ}\s+)?(?:an?\s+)?"
        rf"(?:solid\s+|strong\s+|full\s+|only\s+|just\s+)?(?:\d+(?:\.\d+)?|{_NUM_WORD})\b"
        r"(?=\s*(?:$|[.,;:!?)]|stars?|out\b|/|rating|points?|because|but\b|and\b|since|instead|for\b|as\b|if\b))",
        re.IGNORECASE,
    ),
    # "a high rating", "the lowest score", "perfect score", "full marks", "top marks"
    "position_rating": re.compile(rf"\b{_POSITION}\s+(?:{_RATING_NOUN})\b|\b(?:full|top)\s+marks\b", re.IGNORECASE),
    # "rated it highly", "rates this product low", "rated the item poorly"
    "verb_position": re.compile(
        rf"\b(?:rate|rated|rates|rating|score|scored)\s+{_ITEM_OBJ}\s+"
        r"(?:very\s+|quite\s+|so\s+)?(?:highly|high|low|lowly|poorly|badly|positively|negatively|well|low)\b",
        re.IGNORECASE,
    ),
    # formatted labels: "Prediction: Yes", "### Rating ###\n4", "Rating: 5", "Label: No"
    "label_line": re.compile(
        r"\b(?:prediction|label|answer|verdict)\s*[:=\-]\s*\[?\s*(?:yes|no)\b"
        r"|#{1,6}\s*(?:rating|score)\s*#*\s*:?\s*\d"
        r"|^\s*(?:rating|score|stars?)\s*[:=]\s*\d",
        re.IGNORECASE | re.MULTILINE,
    ),
    # the paper's own phrase, kept so our rule is a superset of it
    "a_rating_of": re.compile(r"\ba\s+rating\s+of\b", re.IGNORECASE),
}

PAPER_PHRASES: tuple[str, ...] = ("a rating of", "stars", "scores")


def paper_rule(sentence: str) -> bool:
    """Rec-SAVER §3.1 as written: the sentence mentions "a rating of", "stars" or "scores" (case-insensitive)."""
    lowered = sentence.lower()
    return any(phrase in lowered for phrase in PAPER_PHRASES)


def leak_reasons(sentence: str, rating: float | None = None) -> list[str]:
    """Names of the patterns that fire on `sentence` (empty = no leak).

    With `rating` known, a sentence that names that exact number next to "rate"/"rating"/"stars" within a few
    words also counts ("the rating must be 4 given…" phrasing that slips past the patterns).
    """
    hits = [name for name, pattern in _LEAK_PATTERNS.items() if pattern.search(sentence)]
    if rating is not None and not hits:
        value = int(rating) if float(rating).is_integer() else rating
        words = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five"}
        tokens = [re.escape(str(value))] + ([words[value]] if value in words else [])
        near = re.compile(
            rf"\b(?:rat\w*|stars?|scor\w*)\b\W+(?:\w+\W+){{0,4}}(?:{'|'.join(tokens)})\b"
            rf"|\b(?:{'|'.join(tokens)})\b\W+(?:\w+\W+){{0,2}}(?:rat\w*|stars?|scor\w*)\b",
            re.IGNORECASE,
        )
        if near.search(sentence):
            hits.append("truth_value_near_rating_word")
    return hits


def is_leak(sentence: str, rating: float | None = None) -> bool:
    return bool(leak_reasons(sentence, rating))


def scrub(text: str, rating: float | None = None, *, rule: str = "ours") -> tuple[str, list[str]]:
    """Remove leaking sentences. Returns (clean_text, removed_sentences); kept sentences are verbatim.

    `rule="paper"` applies only the paper's three phrases (for ablations); "ours" applies `is_leak`.
    """
    if rule not in ("ours", "paper"):
        raise ValueError(f"scrub rule must be 'ours' or 'paper', got {rule!r}")
    detect = (lambda s: paper_rule(s)) if rule == "paper" else (lambda s: is_leak(s, rating))
    text = text or ""
    removed: list[str] = []
    pieces: list[str] = []
    cursor = 0
    sentences = split_sentences(text)
    for pos, sentence in enumerate(sentences):
        if detect(sentence.text):
            removed.append(sentence.text)
            pieces.append(text[cursor:sentence.start])
            # drop the separator after a removed sentence too (the one before it stays)
            cursor = sentences[pos + 1].start if pos + 1 < len(sentences) else len(text)
    pieces.append(text[cursor:])
    clean = "".join(pieces)
    clean = re.sub(r"[ \t]+\n", "\n", clean)
    return clean.strip(), removed


__all__ = [
    "PAPER_PHRASES", "Sentence", "is_leak", "leak_reasons", "paper_rule", "scrub", "split_sentences",
]
