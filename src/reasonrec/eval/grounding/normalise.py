"""Text normalisation shared by the grounding rules: clean text, words, stems, title variants."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from reasonrec.eval.grounding.lexicon import STOPWORDS

_WORD = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*")
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"})
_ARTICLE_SUFFIX = re.compile(r"^(.*), (the|a|an|la|le|les|el|il|das|der|die)$", re.IGNORECASE)


def clean(text: str | None) -> str:
    """HTML entities decoded, typographic quotes/dashes made plain, whitespace collapsed."""
    return " ".join(html.unescape(text or "").translate(_QUOTES).split())


def words(text: str | None) -> list[str]:
    """Lower-case word tokens (hyphens and apostrophes inside a word kept, a possessive 's dropped); '&' reads
    as 'and'."""
    return [w.removesuffix("'s") for w in _WORD.findall(clean(text).lower().replace("&", " and "))]


@lru_cache(maxsize=1)
def _porter() -> Any:
    from nltk.stem import PorterStemmer

    return PorterStemmer()


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return str(_porter().stem(word))


def content_stems(text: str | None) -> list[str]:
    """Stems of the words that carry content (stopwords dropped)."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def title_variants(title: str) -> list[str]:
    """A title as it may be written in prose: "Rock, The" → "The Rock"; "Nikita (La Femme Nikita)" → both names."""
    base = clean(title)
    out = [base]
    main = re.sub(r"\s*\([^)]*\)\s*", " ", base).strip()
    alternatives = re.findall(r"\(([^)]*)\)", base)
    for name in [main, *alternatives]:
        m = _ARTICLE_SUFFIX.match(name.strip())
        out.append(f"{m.group(2)} {m.group(1)}" if m else name.strip())
        if m:
            out.append(m.group(1))
    return [v for v in dict.fromkeys(out) if v]


__all__ = ["clean", "content_stems", "stem", "title_variants", "words"]
