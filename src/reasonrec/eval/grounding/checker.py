"""`GroundingChecker`: claims of an explanation checked against the rows its prompt was built from.

The rows come from `stages.common.evidence.EvidenceRetriever` (the one owner of "what is known about this target row"):
the history window with ratings, the user's earlier ratings, the target item, the catalogue. Rules live in
`rules`, item matching in `entities`; an optional verifier (`verifier.LLMVerifier`, any backend through the LLM
protocol) is asked about the claims the rules leave uncheckable. Off by default: a small local model is not a
trustworthy judge of free text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import Field

from reasonrec.config import Config
from reasonrec.eval.grounding.claims import split_claims
from reasonrec.eval.grounding.entities import ItemFacts, ItemMatcher, Mention, title_idf, word_index
from reasonrec.eval.grounding.rules import (
    UNCHECKABLE,
    ClaimContext,
    FactCheck,
    check_claim_text,
    combine,
    verdict_polarity,
)
from reasonrec.eval.grounding.sources import ExplanationRecord
from reasonrec.stages.common.evidence import Evidence, EvidenceConfig, EvidenceRetriever


class GroundingConfig(Config):
    """Thresholds of the checker; the defaults are the values tuned on the labelled set's dev part."""

    min_title_idf: float = Field(5.0, ge=0, description="rarity a partial title match needs (sum of word IDFs)")
    item_similarity: float = Field(0.55, ge=0, le=1, description="MiniLM: phrase ↔ the user's item texts")
    catalogue_similarity: float = Field(0.75, ge=0, le=1, description="MiniLM: named phrase ↔ catalogue titles")
    attribute_similarity: float = Field(0.6, ge=0, le=1, description="MiniLM: attribute phrase ↔ target sentences")
    attribute_overlap: float = Field(0.5, ge=0, le=1, description="share of a phrase's words found in the target")
    use_similarity: bool = Field(True, description="MiniLM matching on (off: exact/normalised matching only)")
    verifier: bool = Field(False, description="ask the LLM verifier about claims the rules cannot check")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)


@dataclass(frozen=True)
class ClaimResult:
    index: int
    text: str
    label: str
    facts: tuple[FactCheck, ...]
    mentions: tuple[Mention, ...]

    @property
    def checkable(self) -> bool:
        return self.label != UNCHECKABLE


@dataclass
class ExplanationResult:
    """Per-explanation grounding: claims with labels, item mentions and the verdict it states."""

    explanation_id: str
    source: str
    user_id: str
    item_id: str
    pred_label: int | None
    claims: list[ClaimResult] = field(default_factory=list)

    def verdicts(self) -> list[int]:
        return [p for c in self.claims if (p := verdict_polarity(c.text)) is not None]

    @property
    def label_consistency(self) -> float | None:
        """1.0 when every verdict the explanation states matches the predicted label, 0.0 when one does not,
        None when it states none (or nothing was predicted)."""
        verdicts = self.verdicts()
        if not verdicts or self.pred_label is None:
            return None
        return float(all(v == self.pred_label for v in verdicts))

    def named_items(self) -> list[Mention]:
        return [m for c in self.claims for m in c.mentions if not (m.items and all(i.is_target for i in m.items))]

    def counts(self) -> dict[str, int]:
        out = {"claims": len(self.claims), "checkable": sum(c.checkable for c in self.claims)}
        for label in ("supported", "contradicted", "unsupported"):
            out[label] = sum(c.label == label for c in self.claims)
        with_facts = [c for c in self.claims if any(f.kind != "verdict" for f in c.facts)]
        out["fact_checkable"] = len(with_facts)
        out["fact_supported"] = sum(c.label == "supported" for c in with_facts)
        named = self.named_items()
        out["named_items"] = len(named)
        out["hallucinated_items"] = sum(m.hallucinated for m in named)
        return out


class ClaimVerifier(Protocol):
    """Second opinion on claims the rules cannot check (see `verifier.LLMVerifier`)."""

    def verify(self, claims: Sequence[str], evidence: Evidence) -> list[str]: ...


class GroundingChecker:
    """Checks explanations; one instance per dataset (it holds the catalogue index and the sentence model)."""

    def __init__(
        self, retriever: EvidenceRetriever, config: GroundingConfig | None = None,
        verifier: ClaimVerifier | None = None,
    ) -> None:
        self.retriever = retriever
        self.config = config or GroundingConfig()
        self.verifier = verifier if self.config.verifier else None
        self.encoder = retriever.encoder if self.config.use_similarity else None
        catalog = retriever.catalog
        self.catalogue = [self._facts(i) for i in catalog.rows]
        self.idf = title_idf([c.title for c in self.catalogue])
        self.catalogue_index = word_index(self.catalogue)

    def _facts(self, item_id: str, **feedback: object) -> ItemFacts:
        v = self.retriever.view(item_id)
        return ItemFacts(item_id=item_id, title=v.title, brand=v.brand, price=v.price,
                         genres=tuple(v.genres), description=v.description, **feedback)  # type: ignore[arg-type]

    def context(self, evidence: Evidence, pred_label: int | None) -> ClaimContext:
        threshold = self.retriever.config.like_threshold
        window_ids = {e.item_id for e in evidence.history}
        window = [self._facts(e.item_id, rating=e.rating, liked=e.liked, in_window=True) for e in evidence.history]
        earlier = [self._facts(i, rating=r, liked=r > threshold) for i, r in evidence.prior_ratings.items()
                   if i not in window_ids]
        target = self._facts(evidence.item_id, is_target=True)
        cfg = self.config
        matcher = ItemMatcher(
            [target, *window, *earlier], self.idf, encoder=self.encoder, catalogue=self.catalogue,
            catalogue_index=self.catalogue_index, min_title_idf=cfg.min_title_idf,
            item_similarity=cfg.item_similarity, catalogue_similarity=cfg.catalogue_similarity,
        )
        ctx = ClaimContext(target=target, window=window, known=[*window, *earlier], pred_label=pred_label,
                           matcher=matcher, encoder=self.encoder, attribute_similarity=cfg.attribute_similarity,
                           attribute_overlap=cfg.attribute_overlap)
        if self.encoder is not None:  # one batch for the texts every claim of this row is compared with
            self.encoder.encode([*ctx.target_sentences, *matcher.texts, *(c.title for c in matcher.candidates)])
        return ctx

    def check_texts(self, texts: Sequence[str], evidence: Evidence, pred_label: int | None) -> list[ClaimResult]:
        """Label claim texts (already split) about one target row."""
        ctx = self.context(evidence, pred_label)
        out = []
        for index, text in enumerate(texts):
            label, facts, mentions = check_claim_text(text, ctx)
            out.append(ClaimResult(index, text, label, tuple(facts), tuple(mentions)))
        if self.verifier is not None:
            out = self._verify(out, evidence)
        return out

    def _verify(self, results: list[ClaimResult], evidence: Evidence) -> list[ClaimResult]:
        todo = [r for r in results if not r.checkable]
        if not todo or self.verifier is None:
            return results
        labels = dict(zip((r.index for r in todo), self.verifier.verify([r.text for r in todo], evidence),
                          strict=True))
        out = []
        for r in results:
            if r.index in labels and labels[r.index] != UNCHECKABLE:
                facts = (*r.facts, FactCheck("verifier", labels[r.index], "LLM verifier"))
                r = ClaimResult(r.index, r.text, combine(facts), facts, r.mentions)
            out.append(r)
        return out

    def check_records(self, records: Sequence[ExplanationRecord]) -> list[ExplanationResult]:
        """Check every explanation; evidence for all rows is retrieved in one pass (shared embeddings)."""
        evidence = self.retriever.retrieve([r.row for r in records])
        out = []
        for record, ev in zip(records, evidence, strict=True):
            claims = split_claims(record.text)
            results = self.check_texts([c.text for c in claims], ev, record.pred_label)
            results = [ClaimResult(c.index, r.text, r.label, r.facts, r.mentions) for c, r in zip(claims, results,
                                                                                               strict=True)]
            out.append(ExplanationResult(record.explanation_id, record.source, record.user_id, record.item_id,
                                         record.pred_label, results))
        return out


__all__ = ["ClaimResult", "ClaimVerifier", "ExplanationResult", "GroundingChecker", "GroundingConfig"]
