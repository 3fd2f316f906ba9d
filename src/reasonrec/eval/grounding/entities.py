"""Find the items a claim names: the user's history, the target, the catalogue, or nowhere (hallucinated).

Two ways to recognise a mention, from strict to tolerant:

1. **Normalised titles.** The longest run of consecutive title words that also occurs in the claim (titles in
   their prose forms: "Rock, The" → "The Rock"). A run counts when it covers a whole short title, or at least two
   words whose rarity (IDF over the catalogue titles) adds up to `min_title_idf`; a one-word title must be written
   with a capital letter. Several items may tie (the same brand prefix): the mention keeps all of them.
2. **MiniLM similarity.** Phrases in item-reference positions ("such as X", "their dislike of X", "as shown by
   their purchase of X") that no title matched are embedded and compared with the texts of the user's items (title
   + description: a description may call an item by another name, "Product: Bath Mitt"); at or above
   `item_similarity` the phrase names that item. A specific phrase (capitalised or quoted) that matches none is
   compared with the catalogue titles that share a word with it: a title holding all its naming words, or one at
   `catalogue_similarity` or above, is the item; otherwise it names an item that does not exist.

Both thresholds are tuned on the dev part of the labelled claim set (`tests/eval/grounding/fixtures`).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from reasonrec.eval.grounding.lexicon import EVALUATIVE, GENERIC, STOPWORDS
from reasonrec.eval.grounding.normalise import clean, stem, title_variants, words
from reasonrec.llm.sentence import SentenceEncoder

UNSEEN_IDF = 4.0  # a word no catalogue title uses (descriptions): moderately informative
_NOT_NAMES = STOPWORDS | GENERIC | EVALUATIVE
_DETERMINERS = {"the", "this", "that", "their", "his", "her"}
_TOKEN = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
_REFERENCE = re.compile(
    r"\b(?:such as|like|including|e\.g\.|especially|particularly|namely|"
    r"(?:dis)?lik(?:ed|ing) of|dislike (?:of|for)|preference for|appreciation (?:of|for)|fondness for|love for|"
    r"purchases? of|liked|disliked|enjoyed|loved|purchased|bought|watched|"
    r"as (?:seen|shown|indicated|evidenced|demonstrated|noted) (?:in|by|with))\s+"
    r"(?P<span>(?:the |their |his |her )?[^,.;:!?()]{2,90})",
    re.IGNORECASE,
)
_SPAN_END = re.compile(
    r"\s+(?:which|that|because|as|who|since|while|so|to|is|was|are|were|has|have|had|and (?:their|the user|they|he|she)|"
    r"but|or their|for (?:its|their)|with (?:its|their))\b.*$",
    re.IGNORECASE,
)
_SPAN_LEAD = re.compile(
    r"(?:their|his|her|the user's)\s+(?:fondness|dislike|affinity|enjoyment|appreciation|love|preference|liking|"
    r"interest|purchases?)\s+(?:for|of|in)\s+",
    re.IGNORECASE,
)
_GENERIC_HEAD = re.compile(
    r"^(?:the |their |his |her )?(?:[a-z\-]+ ){0,3}(?:products|items|movies|films|ones|things|brands|genres|"
    r"stories|features|characteristics|scents|qualities|options|types|kinds)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ItemFacts:
    """What the rows say about one item, and the user's feedback on it before the target (None = none)."""

    item_id: str
    title: str
    brand: str | None = None
    price: float | None = None
    genres: tuple[str, ...] = ()
    description: str | None = None
    rating: float | None = None
    liked: bool | None = None
    in_window: bool = False
    is_target: bool = False


@dataclass(frozen=True)
class Mention:
    """Items a stretch of the claim names (several when tied); empty `items` = named but found nowhere."""

    span: str
    start: int
    end: int
    how: str  # "title" | "similar" | "catalogue" | "unknown"
    score: float
    items: tuple[ItemFacts, ...] = field(default_factory=tuple)
    names_title: bool = False  # the matched words start the title: the item is being named, not described

    @property
    def hallucinated(self) -> bool:
        return not self.items


def _token_spans(text: str) -> list[tuple[str, int, int]]:
    """Word tokens with their character spans in `text` ('&' and possessives handled as in `words`)."""
    out = []
    for m in _TOKEN.finditer(text.lower()):
        token = m.group(0)
        out.append((token.removesuffix("'s"), m.start(), m.end()))
    return out


def title_idf(titles: Sequence[str]) -> dict[str, float]:
    """Inverse document frequency of title words over a catalogue (a word in every title scores ~0)."""
    counts: Counter[str] = Counter()
    for title in titles:
        counts.update(set(words(title)))
    n = max(len(titles), 1)
    return {w: math.log((n + 1) / (c + 0.5)) for w, c in counts.items()}


class ItemMatcher:
    """Mentions of items in claims about one target row."""

    def __init__(
        self,
        candidates: Sequence[ItemFacts],
        idf: Mapping[str, float],
        *,
        encoder: SentenceEncoder | None = None,
        catalogue: Sequence[ItemFacts] = (),
        catalogue_index: Mapping[str, Sequence[int]] | None = None,
        min_title_idf: float = 5.0,
        item_similarity: float = 0.55,
        catalogue_similarity: float = 0.75,
    ) -> None:
        self.candidates = list(candidates)
        self.idf = idf
        self.encoder = encoder
        self.catalogue = list(catalogue)
        self.catalogue_index = catalogue_index if catalogue_index is not None else word_index(self.catalogue)
        self.min_title_idf = min_title_idf
        self.item_similarity = item_similarity
        self.catalogue_similarity = catalogue_similarity
        self._titles = [[words(v) for v in title_variants(c.title)] for c in self.candidates]
        self._heads = [[] if c.is_target else _head(c.description) for c in self.candidates]
        self.texts = [clean(f"{c.title}. {c.description or ''}") for c in self.candidates]
        self._vocabulary = {w for t in self.texts for w in words(t)}

    def _run(self, claim: list[str], title: list[str]) -> tuple[int, int, int]:
        """(length, start in claim, start in title) of the longest common run of words."""
        best = (0, 0, 0)
        for i in range(len(claim)):
            for j in range(len(title)):
                k = 0
                while i + k < len(claim) and j + k < len(title) and claim[i + k] == title[j + k]:
                    k += 1
                if k > best[0]:
                    best = (k, i, j)
        return best

    def _title_score(
        self, tokens: list[tuple[str, int, int]], text: str, title: list[str]
    ) -> tuple[float, int, int, bool]:
        """(score, start, end, run starts the title) of the best run of `title` in the claim; score 0 = none."""
        claim = [t for t, _, _ in tokens]
        length, i, j = self._run(claim, title)
        none = (0.0, 0, 0, False)
        if length == 0:
            return none
        run = claim[i : i + length]
        content = [w for w in run if w not in _NOT_NAMES]
        weight = sum(self.idf.get(w, UNSEEN_IDF) for w in content)
        start, end = tokens[i][1], tokens[i + length - 1][2]
        if length == len(title) and content:
            if length == 1 and not text[start : start + 1].isupper():
                return none
            return max(weight, self.min_title_idf), start, end, True
        if len(content) >= 2 and weight >= self.min_title_idf:
            return weight, start, end, j == 0
        return none

    def _head_score(
        self, tokens: list[tuple[str, int, int]], text: str, head: list[str]
    ) -> tuple[float, int, int, bool]:
        """Like `_title_score` on the first words of a description, but only for a definite reference ("the
        bath mitt"): a description's words also describe features that are no item name."""
        score, start, end, _ = self._title_score(tokens, text, head)
        if score == 0:
            return 0.0, 0, 0, False
        before = [t for t, _, e in tokens if e <= start]
        return (score, start, end, True) if before and before[-1] in _DETERMINERS else (0.0, 0, 0, False)

    def title_mentions(self, text: str) -> list[Mention]:
        tokens = _token_spans(text)
        found: list[tuple[float, int, int, bool, ItemFacts]] = []
        for item, variants, head in zip(self.candidates, self._titles, self._heads, strict=True):
            best = max((self._title_score(tokens, text, v) for v in variants if v), default=(0.0, 0, 0, False))
            if best[0] == 0 and head:
                best = self._head_score(tokens, text, head)
            if best[0] > 0:
                found.append((*best, item))
        found.sort(key=lambda f: (-f[0], f[1]))
        mentions: list[Mention] = []
        for score, start, end, names, item in found:
            same = next((m for m in mentions if start < m.end and m.start < end), None)
            if same is None:
                mentions.append(Mention(text[start:end], start, end, "title", score, (item,), names))
            elif math.isclose(score, same.score) and item not in same.items:
                mentions[mentions.index(same)] = Mention(same.span, same.start, same.end, "title", score,
                                                         (*same.items, item), same.names_title or names)
        return mentions

    def reference_spans(self, text: str) -> list[tuple[str, int, int]]:
        """Phrases in item-reference positions (see module docstring), trimmed at the next clause; a leading
        "their fondness for" is dropped and "X and Y" of two names gives two phrases."""
        out = []
        for m in _REFERENCE.finditer(text):
            lead = _SPAN_LEAD.match(m.group("span"))
            offset = m.start("span") + (lead.end() if lead else 0)
            body = text[offset : m.end("span")]
            span = re.sub(r"\s+(?:and|or)$", "", _SPAN_END.sub("", body).strip())
            parts = [span]
            if " and " in span and all(self._specific(p) for p in span.split(" and ")):
                parts = span.split(" and ")
            for part in (p.strip(' "') for p in parts):
                at = body.find(part)
                if part and at >= 0 and self._reference_like(part):
                    out.append((part, offset + at, offset + at + len(part)))
        return out

    def _reference_like(self, span: str) -> bool:
        """A definite or named reference to one item, not a description of a kind of item."""
        tokens = words(span)
        if not tokens or (len(tokens) < 2 and not span[:1].isupper()):
            return False
        if _GENERIC_HEAD.match(span) or tokens[0].endswith("ing"):
            return False
        if tokens[0] in ("their", "his", "her") and tokens[-1].endswith("s") and not self._specific(span):
            return False
        return self._specific(span) or tokens[0] in ("the", "their", "his", "her")

    @staticmethod
    def _specific(span: str) -> bool:
        """Capitalised or quoted: a name, not a description."""
        body = re.sub(r"^(?:the|their|his|her)\s+", "", span, flags=re.IGNORECASE)
        return bool(re.search(r"\b[A-Z][A-Za-z0-9'&\-]+", body)) or '"' in span

    def similar_mentions(self, text: str, taken: Sequence[Mention]) -> list[Mention]:
        if self.encoder is None:
            return []
        spans = [s for s in self.reference_spans(text)
                 if not any(s[1] < m.end and m.start < s[2] for m in taken)]
        if not spans:
            return []
        vectors = self.encoder.encode([s[0] for s in spans])
        out = []
        item_vectors = self.encoder.encode(self.texts) if self.texts else np.zeros((0, vectors.shape[1]))
        title_vectors = self.encoder.encode([c.title for c in self.candidates]) if self.candidates else item_vectors
        for (span, start, end), vec in zip(spans, vectors, strict=True):
            if self.candidates:
                sims = np.maximum(item_vectors @ vec, title_vectors @ vec)
                best = int(np.argmax(sims))
                if sims[best] >= self.item_similarity:
                    out.append(Mention(span, start, end, "similar", float(sims[best]), (self.candidates[best],)))
                    continue
            if not self._specific(span) or self._known_words(span):
                continue
            out.append(self._catalogue_mention(span, start, end, vec))
        return out

    def _catalogue_mention(self, span: str, start: int, end: int, vector: np.ndarray) -> Mention:
        """The catalogue item a named phrase refers to, among the titles sharing a content word with it."""
        content = {w for w in words(span) if w not in _NOT_NAMES}
        shared = sorted({i for w in content for i in self.catalogue_index.get(w, ())})
        within = [i for i in shared if content <= set(words(self.catalogue[i].title))]
        if within:  # every naming word of the phrase is in one title ("Star Wars", "the Holy Grail")
            return Mention(span, start, end, "catalogue", 1.0, (self.catalogue[within[0]],))
        if shared and self.encoder is not None:
            sims = self.encoder.encode([self.catalogue[i].title for i in shared]) @ vector
            best = int(np.argmax(sims))
            if sims[best] >= self.catalogue_similarity:
                return Mention(span, start, end, "catalogue", float(sims[best]), (self.catalogue[shared[best]],))
        return Mention(span, start, end, "unknown", 0.0)

    def _known_words(self, span: str) -> bool:
        """Every content word of the phrase occurs in the texts of the target or the user's items (an ingredient,
        a shade, a character of the description), so it is not a product of its own."""
        content = {w for w in words(span) if w not in STOPWORDS}
        return bool(content) and content <= self._vocabulary

    def find(self, text: str) -> list[Mention]:
        """Every item mention in `text`, in order of appearance."""
        cleaned = clean(text)
        titled = self.title_mentions(cleaned)
        return sorted(titled + self.similar_mentions(cleaned, titled), key=lambda m: m.start)


def word_index(items: Sequence[ItemFacts]) -> dict[str, list[int]]:
    """Title word → positions of the items whose title has it (naming words only)."""
    index: dict[str, list[int]] = {}
    for pos, item in enumerate(items):
        for w in set(words(item.title)) - _NOT_NAMES:
            index.setdefault(w, []).append(pos)
    return index


def _head(description: str | None, n: int = 12) -> list[str]:
    """The first words of a description: generated descriptions often name the item there ("Product: Bath Mitt")."""
    return words(description)[:n]


def stems_of(text: str) -> set[str]:
    return {stem(w) for w in words(text) if w not in STOPWORDS}


__all__ = ["ItemFacts", "ItemMatcher", "Mention", "stems_of", "title_idf", "word_index"]
