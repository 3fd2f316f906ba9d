"""Optional second opinion on free-text claims, from any LLM through the protocol (off by default).

The rules label a claim uncheckable when it names no item, genre, brand, price or target property. A capable model
can still judge such a claim against the rows ("the user prefers gentle products" given the history and its
descriptions). The verifier shows the model the rows and the claim and reads P(Yes), P(No), P(Unclear) after
"Answer:" in one forward pass; the most probable answer becomes supported / unsupported / uncheckable. A small
local model is not a reliable verifier, so the checker only asks when `GroundingConfig.verifier` is set.
"""

from __future__ import annotations

from collections.abc import Sequence

from reasonrec.eval.grounding.rules import SUPPORTED, UNCHECKABLE, UNSUPPORTED
from reasonrec.llm.base import LLM, ScoreRequest
from reasonrec.llm.runner import run_score
from reasonrec.prompts import DOMAINS, PromptRenderer
from reasonrec.stages.common.evidence import Evidence

ANSWERS: dict[str, str] = {" Yes": SUPPORTED, " No": UNSUPPORTED, " Unclear": UNCHECKABLE}
MAX_CLAIM_CHARS = 600


class LLMVerifier:
    """Claims → supported / unsupported / uncheckable by the most probable answer of `llm`."""

    def __init__(self, llm: LLM, *, domain: str = "beauty", batch_size: int = 8, show_progress: bool = False) -> None:
        self.llm = llm
        self.domain = DOMAINS[domain]
        self.batch_size = batch_size
        self.show_progress = show_progress
        self.renderer = PromptRenderer()

    def requests(self, claims: Sequence[str], evidence: Evidence) -> list[ScoreRequest]:
        history = [{"title": e.view.title, "liked": e.liked, "rating": e.rating, "description": e.view.description}
                   for e in evidence.history]
        out = []
        for claim in claims:
            messages = self.renderer.render("grounding/verify_claim", domain=self.domain, history=history,
                                            target=evidence.target, claim=claim[:MAX_CLAIM_CHARS])
            out.append(ScoreRequest(tuple(ANSWERS), messages=messages, assistant_prefix="Answer:"))
        return out

    def verify(self, claims: Sequence[str], evidence: Evidence) -> list[str]:
        scores, _ = run_score(self.llm, self.requests(claims, evidence), batch_size=self.batch_size,
                              desc="verify claims", show=self.show_progress)
        return [ANSWERS[s.best()] if s.error is None and s.probs else UNCHECKABLE for s in scores]


__all__ = ["ANSWERS", "LLMVerifier"]
