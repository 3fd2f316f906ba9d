"""The checks a claim goes through. Each returns `FactCheck`s; `combine` turns them into the claim's label.

Rule set (the same one the labelled claim set was annotated with; see the fixtures README):

- **verdict** — the claim says whether the user will like the target ("will like", "a strong match", "less likely
  to resonate", a formatted "Prediction: No"): supported when it agrees with the stated prediction, else
  contradicted.
- **feedback** — the claim names an item and the user's reaction to it ("their dislike of the Glide floss", "such as
  the bath mitt" after "they like"): checked against the user's ratings before the target (liked = rating > r_T);
  an item the user never rated is unsupported; a purchase without a polarity is supported when the user has it.
- **item** — a named item that is in neither the user's rows nor the catalogue is a hallucinated item (unsupported).
- **genre** — where items carry genres: "the user enjoys comedies" is supported when at least one liked window item
  has the genre and liked ≥ disliked, contradicted when disliked > liked, unsupported when no window item has it
  (mirrored for "dislikes").
- **brand** — the brand of the target or of one of the user's items named with the word "brand", or "the same brand"
  as the user's items.
- **price** — a price figure, a comparison with the user's items, or price words against the description's.
- **target** — properties attributed to the target (title, description, genres): each concrete phrase must be
  found there (content-word overlap or MiniLM similarity); evaluative words ("high-quality", "memorable") are not
  checked.

A claim is contradicted if any fact is, else unsupported if any fact is, else supported if it has a fact, else
uncheckable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reasonrec.answers import parse_reasoningrec
from reasonrec.eval.grounding import lexicon as L
from reasonrec.eval.grounding.entities import ItemFacts, ItemMatcher, Mention, stems_of
from reasonrec.eval.grounding.normalise import clean, stem, words
from reasonrec.llm.sentence import SentenceEncoder

SUPPORTED, CONTRADICTED, UNSUPPORTED, UNCHECKABLE = "supported", "contradicted", "unsupported", "uncheckable"
LABELS = (SUPPORTED, CONTRADICTED, UNSUPPORTED, UNCHECKABLE)


def _alternation(phrases: Sequence[str]) -> str:
    return "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))


_NEGATIVE_CUE = re.compile(rf"\b(?:{_alternation(L.NEGATIVE_FEEDBACK)})\b")
_POSITIVE_CUE = re.compile(rf"\b(?:{_alternation(L.POSITIVE_FEEDBACK)})\b")
_INTERACTION_CUE = re.compile(rf"\b(?:{_alternation(L.INTERACTION_CUES)})\b")
_VERDICT_NEG = re.compile("|".join(f"(?:{p})" for p in L.VERDICT_NEGATIVE))
_VERDICT_POS = re.compile("|".join(f"(?:{p})" for p in L.VERDICT_POSITIVE))
_GENRE_FORMS = {form: genre for genre, forms in L.GENRES.items() for form in forms}
_GENRE = re.compile(rf"\b(?:{_alternation(list(_GENRE_FORMS))})\b")
_PRICE_NUMBER = re.compile(r"\$\s*(\d+(?:\.\d+)?)")
_CHEAP = re.compile(rf"\b(?:{_alternation(L.PRICE_CHEAP)})\b")
_DEAR = re.compile(rf"\b(?:{_alternation(L.PRICE_DEAR)})\b")
_COMPARISON = re.compile(r"\b(?:cheaper|less expensive|more expensive|pricier|compared to|than)\b")
_CLAUSE_BREAK = re.compile(r";|\b(?:whereas|but|however|although|though|while|because|since|on the other hand)\b")
_AFTER_CUE = re.compile(r"[^.;]{0,40}?,?\s*(?:which|that)\s+(?:the user|they|he|she)\b[^,.;]*")
_TARGET_REF = re.compile(
    r"\b(?:it|it's|its|this|these|the (?:product|item|movie|film|target|next))\b", re.IGNORECASE
)
_USER_WORD = r"(?:the user|user's|users|they|their|them|he|his|she|her)"
# A clause about the user (removed before a claim's properties of the target are read): "..., which aligns with
# the user's preference for X" to the end of the sentence; "... that the user enjoys"; "and they ..."; "the user
# seems to ..." up to a comma.
_USER_CLAUSE = re.compile(
    rf"(?:,\s*(?:which|that|as|so|making it)|\s+which)\b[^.;,]*?\b{_USER_WORD}\b[^.;]*"
    rf"|\s+that\s+{_USER_WORD}\b[^.;]*"
    rf"|\band {_USER_WORD}\b[^.;]*"
    rf"|\b{_USER_WORD}\b[^,.;]*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FactCheck:
    kind: str
    status: str
    detail: str = ""


@dataclass
class ClaimContext:
    """What one explanation's claims are checked against."""

    target: ItemFacts
    window: list[ItemFacts]
    known: list[ItemFacts]  # every item the user rated before the target (window included)
    pred_label: int | None
    matcher: ItemMatcher
    encoder: SentenceEncoder | None = None
    attribute_similarity: float = 0.6
    attribute_overlap: float = 0.5
    target_stems: set[str] = field(init=False, default_factory=set)
    target_sentences: list[str] = field(init=False, default_factory=list)
    _target_vectors: np.ndarray | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        t = self.target
        parts = [t.title, *re.split(r"(?<=[.!?])\s+|\n+", clean(t.description))]
        if t.genres:
            parts.append(" ".join(t.genres))
        self.target_sentences = [p for p in parts if p and len(words(p)) >= 1]
        text = " ".join([*self.target_sentences, t.brand or ""])
        self.target_stems = stems_of(text) | stems_of(text.replace("-", " ")) | {
            stem(w) for g in t.genres for form in L.GENRES.get(g, ()) for w in words(form)}

    def target_vectors(self) -> np.ndarray | None:
        if self.encoder is None or not self.target_sentences:
            return None
        if self._target_vectors is None:
            self._target_vectors = self.encoder.encode(self.target_sentences)
        return self._target_vectors


# --------------------------------------------------------------------------------------------- verdict


def verdict_polarity(text: str) -> int | None:
    """1 / 0 when the claim states the user will like / not like the target, else None."""
    parsed = parse_reasoningrec(text).label
    if parsed is not None:
        return parsed
    lowered = clean(text).lower()
    if _VERDICT_NEG.search(lowered):
        return 0
    if _VERDICT_POS.search(lowered):
        return 1
    return None


def check_verdict(text: str, ctx: ClaimContext) -> list[FactCheck]:
    polarity = verdict_polarity(text)
    if polarity is None or ctx.pred_label is None:
        return []
    status = SUPPORTED if polarity == ctx.pred_label else CONTRADICTED
    return [FactCheck("verdict", status, f"states {'like' if polarity else 'dislike'}, predicted {ctx.pred_label}")]


def _without_verdicts(lowered: str) -> str:
    return _VERDICT_POS.sub(" ", _VERDICT_NEG.sub(" ", lowered))


# --------------------------------------------------------------------------------------------- feedback


def _clause_before(text: str, position: int) -> str:
    """The text before `position` back to the last contrast or clause break ("whereas", "but", ";")."""
    head = text[:position]
    cut = max((m.end() for m in _CLAUSE_BREAK.finditer(head)), default=0)
    return head[cut:]


def cue_polarity(before: str) -> int | None:
    """Polarity of the last feedback cue in `before`: 1 liked, -1 disliked, 0 interaction only, None none.
    A negative cue wins over a positive one it overlaps ("less drawn to" is not "drawn to")."""
    negatives = [(m.start(), m.end()) for m in _NEGATIVE_CUE.finditer(before)]
    cues = [(e, -1) for _, e in negatives]
    cues += [(m.end(), 1) for m in _POSITIVE_CUE.finditer(before)
             if not any(s < m.end() and m.start() < e for s, e in negatives)]
    cues += [(m.end(), 0) for m in _INTERACTION_CUE.finditer(before)]
    return max(cues, key=lambda c: (c[0], -c[1]))[1] if cues else None


def cue_after(text: str, position: int) -> int | None:
    """Polarity stated right after a mention, by its first cue: "X, which they liked", "X, which the user has
    not shown a preference for in their liked movies"."""
    m = _AFTER_CUE.match(text[position:])
    if m is None:
        return None
    clause = m.group(0)
    for end in range(1, len(clause) + 1):
        polarity = cue_polarity(clause[:end])
        if polarity is not None:
            return cue_polarity(clause[: end + 20]) if polarity == 1 else polarity
    return None


def check_mentions(text: str, mentions: Sequence[Mention], ctx: ClaimContext) -> list[FactCheck]:
    facts = []
    lowered = _without_verdicts(clean(text).lower())
    for mention in mentions:
        if mention.items and all(i.is_target for i in mention.items):
            continue
        if mention.hallucinated:
            facts.append(FactCheck("item", UNSUPPORTED, f"no item named {mention.span!r}"))
            continue
        if any(i.is_target for i in mention.items):
            continue
        polarity = cue_polarity(_clause_before(lowered, mention.start))
        if polarity is None:
            polarity = cue_after(lowered, mention.end)
        if polarity is None:
            continue
        rated = [i for i in mention.items if i.rating is not None]
        if not rated:
            facts.append(FactCheck("feedback", UNSUPPORTED, f"{mention.span!r} is not among the user's items"))
        elif polarity == 0 or any(i.liked == (polarity > 0) for i in rated):
            facts.append(FactCheck("feedback", SUPPORTED, f"{mention.span!r} rated {rated[0].rating}"))
        else:
            facts.append(FactCheck("feedback", CONTRADICTED, f"{mention.span!r} rated {rated[0].rating}"))
    return facts


# --------------------------------------------------------------------------------------------- genres


def check_genres(text: str, ctx: ClaimContext) -> list[FactCheck]:
    if not any(i.genres for i in ctx.window):
        return []
    lowered = _without_verdicts(clean(text).lower())
    facts, seen = [], set()
    for m in _GENRE.finditer(lowered):
        genre = _GENRE_FORMS[m.group(0)]
        polarity = cue_polarity(_clause_before(lowered, m.start()))
        if polarity is None:
            polarity = cue_after(lowered, m.end())
        if polarity in (None, 0) or genre in seen:
            continue
        seen.add(genre)
        liked = sum(1 for i in ctx.window if genre in i.genres and i.liked)
        disliked = sum(1 for i in ctx.window if genre in i.genres and i.liked is False)
        mine, other = (liked, disliked) if polarity > 0 else (disliked, liked)
        if liked + disliked == 0:
            status = UNSUPPORTED
        elif mine >= 1 and mine >= other:
            status = SUPPORTED
        else:
            status = CONTRADICTED
        facts.append(FactCheck("genre", status, f"{genre}: {liked} liked, {disliked} disliked"))
    return facts


# --------------------------------------------------------------------------------------------- brand / price


def check_brand(text: str, ctx: ClaimContext) -> list[FactCheck]:
    lowered = " ".join(words(text))
    brand = " ".join(words(ctx.target.brand)) if ctx.target.brand else ""
    facts = []
    if re.search(r"\bsame brand\b", lowered):
        others = {" ".join(words(i.brand)) for i in ctx.known if i.brand and not i.is_target}
        status = SUPPORTED if brand and brand in others else UNSUPPORTED
        facts.append(FactCheck("brand", status, f"target brand {ctx.target.brand!r}"))
    elif brand and len(brand) >= 3 and re.search(rf"\b{re.escape(brand)}\b", lowered) and re.search(
        r"\bbrand\b|\bby\b|\bfrom\b|\bproduct\b", lowered
    ):
        facts.append(FactCheck("brand", SUPPORTED, f"target brand {ctx.target.brand!r}"))
    elif re.search(r"\bbrand\b", lowered):
        named = [i.brand for i in ctx.known if i.brand and len(i.brand) >= 3
                 and re.search(rf"\b{re.escape(' '.join(words(i.brand)))}\b", lowered)]
        if named:
            facts.append(FactCheck("brand", SUPPORTED, f"brand of the user's item {named[0]!r}"))
    return facts


def _description_price_words(ctx: ClaimContext) -> int | None:
    desc = clean(ctx.target.description).lower()
    cheap, dear = bool(_CHEAP.search(desc)), bool(_DEAR.search(desc))
    return None if cheap == dear else (1 if cheap else -1)


def _first_price_word(text: str) -> int | None:
    """Polarity of the first price word (1 cheap, -1 dear), flipped after "not" ("not the cheapest")."""
    hits = [(m.start(), 1) for m in _CHEAP.finditer(text)] + [(m.start(), -1) for m in _DEAR.finditer(text)]
    if not hits:
        return None
    start, polarity = min(hits)
    return -polarity if re.search(r"\bnot (?:the |too |very |so |that )?$", text[:start]) else polarity


def check_price(text: str, mentions: Sequence[Mention], ctx: ClaimContext) -> list[FactCheck]:
    lowered = clean(text).lower()
    prices = [i.price for i in ctx.known if i.price is not None and not i.is_target]
    facts = []
    for m in _PRICE_NUMBER.finditer(lowered):
        value = float(m.group(1))
        found = [p for p in [ctx.target.price, *prices] if p is not None and abs(p - value) <= 0.01 * max(p, 1)]
        facts.append(FactCheck("price", SUPPORTED if found else UNSUPPORTED, f"${value}"))
    if facts or not refers_to_target(text, mentions, ctx):
        return facts
    about_target = _USER_CLAUSE.sub(" ", _without_verdicts(lowered))
    if _COMPARISON.search(about_target) and ctx.target.price is not None and prices:
        polarity = _first_price_word(about_target)
        if polarity is not None:
            is_cheaper = ctx.target.price < float(np.mean(prices))
            status = SUPPORTED if is_cheaper == (polarity > 0) else CONTRADICTED
            return [FactCheck("price", status, f"target ${ctx.target.price} vs the user's items")]
    polarity = _first_price_word(about_target)
    described = _description_price_words(ctx)
    if polarity is None or described is None:
        return []
    status = SUPPORTED if described == polarity else CONTRADICTED
    return [FactCheck("price", status, "price words of the description")]


# --------------------------------------------------------------------------------------------- target


_PRICE_WORDS = {w for phrase in (*L.PRICE_CHEAP, *L.PRICE_DEAR) for w in words(phrase)} | {
    "price", "priced", "prices", "cost", "costs", "dollars"}
_IGNORED = L.STOPWORDS | L.EVALUATIVE | L.USER_WORDS | L.GENERIC | _PRICE_WORDS


@dataclass(frozen=True)
class Phrase:
    """Concrete words a claim attributes to the target, and how they are qualified."""

    words: tuple[str, ...]
    negated: bool
    hedged: bool


def attribute_phrases(text: str, name_words: set[str]) -> list[Phrase]:
    """Concrete phrases a claim attributes to the target: words left after user clauses, verdicts, evaluative,
    generic and price words (checked elsewhere) and the words naming the target are removed, grouped by commas
    and conjunctions."""
    lowered = _USER_CLAUSE.sub(" , ", _without_verdicts(clean(text).lower()))
    out = []
    negated = False
    for chunk in re.split(r",|;|\b(and|but|while|which|that|as|with|or)\b", lowered):
        if chunk is None or chunk in ("and", "but", "while", "which", "that", "as", "with"):
            negated = False
            continue
        if chunk == "or":  # "not a crime or Western film": the negation reaches across "or"
            continue
        tokens = words(chunk)
        negated = negated or any(w in L.NEGATIONS for w in tokens)
        kept = tuple(w for w in tokens if w not in _IGNORED and w not in L.NEGATIONS and w not in L.HEDGES
                     and w not in name_words and not w.isdigit() and len(w) > 2)
        if kept:
            out.append(Phrase(kept, negated, any(w in L.HEDGES for w in tokens)))
    return out


def refers_to_target(text: str, mentions: Sequence[Mention], ctx: ClaimContext | None = None) -> bool:
    """The claim is about the target: it names it, or says "it"/"the product"/"the film", or "the <word of the
    target's title>" ("the tweezers", "the soap")."""
    if any(m.items and any(i.is_target for i in m.items) for m in mentions):
        return True
    cleaned = clean(text)
    if _TARGET_REF.search(cleaned):
        return True
    if ctx is None:
        return False
    nouns = {stem(w) for w in words(ctx.target.title) if w not in L.STOPWORDS and len(w) > 3}
    return any(stem(m.group(1)) in nouns for m in re.finditer(r"\b(?:the|this)\s+([a-z\-]+)", cleaned.lower()))


def _antonym_in_description(word: str, ctx: ClaimContext) -> bool:
    desc = set(words(ctx.target.description))
    return word not in desc and any(a in desc for a in L.ANTONYMS.get(word, ()))


def _phrase_status(phrase: Phrase, ctx: ClaimContext, vectors: np.ndarray | None) -> str | None:
    """supported / contradicted / unsupported for one phrase; None when it cannot count (hedged and absent).
    `vectors` = the target sentences' embeddings; the phrase's own embedding comes from the encoder's cache,
    filled for all of a claim's phrases at once by `check_target`."""
    genres = {g for w in phrase.words if (g := _GENRE_FORMS.get(w))}
    if phrase.negated and genres:
        return CONTRADICTED if genres & set(ctx.target.genres) else SUPPORTED
    if any(_antonym_in_description(w, ctx) for w in phrase.words) and not phrase.negated:
        return CONTRADICTED
    stems = [stem(part) for w in phrase.words for part in w.split("-")]
    overlap = sum(s in ctx.target_stems for s in stems) / len(stems)
    found = overlap >= ctx.attribute_overlap
    if not found and vectors is not None and ctx.encoder is not None:
        found = float(np.max(vectors @ ctx.encoder.encode([" ".join(phrase.words)])[0])) >= ctx.attribute_similarity
    if found:
        return SUPPORTED
    return None if phrase.hedged else UNSUPPORTED


def check_target(text: str, mentions: Sequence[Mention], ctx: ClaimContext) -> list[FactCheck]:
    if not refers_to_target(text, mentions, ctx):
        return []
    name_words = {w for m in mentions for w in words(m.span)
                  if m.items and (not any(i.is_target for i in m.items) or m.names_title)}
    phrases = attribute_phrases(text, name_words)
    vectors = ctx.target_vectors()
    if vectors is not None and ctx.encoder is not None and phrases:
        ctx.encoder.encode([" ".join(p.words) for p in phrases])  # one batch; _phrase_status reads the cache
    statuses = [(p, _phrase_status(p, ctx, vectors)) for p in phrases]
    statuses = [(p, st) for p, st in statuses if st is not None]
    if not statuses:
        return []
    for label in (CONTRADICTED, UNSUPPORTED):
        bad = [" ".join(p.words) for p, st in statuses if st == label]
        if bad:
            return [FactCheck("target", label, f"{label}: {', '.join(bad)}")]
    return [FactCheck("target", SUPPORTED, f"{len(statuses)} phrase(s) found in the target's rows")]


# --------------------------------------------------------------------------------------------- combine


def combine(facts: Sequence[FactCheck]) -> str:
    statuses = {f.status for f in facts}
    for label in (CONTRADICTED, UNSUPPORTED, SUPPORTED):
        if label in statuses:
            return label
    return UNCHECKABLE


def check_claim_text(text: str, ctx: ClaimContext) -> tuple[str, list[FactCheck], list[Mention]]:
    """(label, facts, item mentions) for one claim."""
    mentions = ctx.matcher.find(text)
    facts = [
        *check_verdict(text, ctx), *check_mentions(text, mentions, ctx), *check_genres(text, ctx),
        *check_brand(text, ctx), *check_price(text, mentions, ctx), *check_target(text, mentions, ctx),
    ]
    return combine(facts), facts, mentions


__all__ = ["CONTRADICTED", "LABELS", "SUPPORTED", "UNCHECKABLE", "UNSUPPORTED", "ClaimContext", "FactCheck",
           "check_claim_text", "combine", "verdict_polarity"]
