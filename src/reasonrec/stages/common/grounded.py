"""Evidence-grounded explanations: the explanation is written from the retrieved evidence alone, after the label.

The free mode asks the model to predict and reason in one text, so its explanation may contradict the score and
cite whatever the prompt (or the model's memory) offers. This mode runs after scoring:

1. evidence first (`stages.common.evidence`): the `top_k` history items most similar to the target with the
   user's ratings, the user's and the item's statistics strictly before the target, and a CF score when a
   caller has one;
2. a prompt holding ONLY that evidence and the final predicted label (`prompts/grounding/explain.j2`), and an
   assistant turn that starts with the verdict ("The user will likely enjoy this … because"), so the explanation
   cannot disagree with the prediction, and (`anchor=evidence`, the default) with the retrieved fact behind it:
   the most similar history item the user liked (for a like) or disliked, else a like-share that agrees. That
   sentence is written from the evidence, not by the model; the model continues after it. A 135M model asked
   to cite facts garbles titles and numbers, so the fact is stated for it;
3. decoding that does not loop: two or three short sentences (48 new tokens), with `repetition_penalty` and
   `no_repeat_ngram_size` available; the defaults were chosen on validation rows (`bench/explanations.py
   --sweep`, bench/results/explanations_sweep.json): at this length no setting looped and the neutral one had the
   best grounding, so both are neutral by default.

The evidence shown is returned as JSON beside each explanation, so a reader (and the grounding checker, which
marks unsupported sentences: `eval.grounding.mark_predictions`) sees what the model was given. One
implementation, called by the fine-tuned student (`predict.predict_labels`) and every zero-shot variant
(`stages.reasoningrec.zeroshot`).
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.llm.base import LLM, SamplingParams
from reasonrec.llm.runner import CHUNK_SIZE, RunSummary
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
from reasonrec.prompts import Domain, PromptRenderer
from reasonrec.stages.common.base import GenerationJob, run_generation_jobs
from reasonrec.stages.common.evidence import Evidence, EvidenceConfig, EvidenceRetriever
from reasonrec.stages.common.label_rows import ROW_KEY_SCHEMA

TEMPLATE = "grounding/explain"
MAX_DESCRIPTION_CHARS = 300


class ExplainConfig(Config):
    """How explanations are produced: `free` (the prompt's own reasoning text) or `evidence` (this module)."""

    mode: Literal["free", "evidence"] = Field("free", description="free | evidence (grounded, after the label)")
    anchor: Literal["verdict", "evidence"] = Field(
        "evidence", description="how the answer starts: the verdict only, or the verdict and the retrieved fact "
                                "behind it (written from the evidence); the model continues. Chosen on validation "
                                "rows (bench/explanations.py --anchor-sweep, bench/results/explanations_anchor.json)")
    top_k: int = Field(3, ge=1, le=10, description="similar history items shown as evidence")
    describe_target: bool = Field(True, description="show the target's description (cut to 300 characters)")
    max_new_tokens: int = Field(48, ge=8, le=512, description="two or three short sentences")
    repetition_penalty: float = Field(
        1.0, ge=1.0, le=3.0, description="chosen on validation rows (bench/results/explanations_sweep.json)")
    no_repeat_ngram_size: int = Field(
        0, ge=0, le=20, description="chosen on validation rows; raise it (e.g. 3) for outputs longer than ~50 tokens")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)

    def sampling(self, seed: int = 0) -> SamplingParams:
        return SamplingParams(temperature=0.0, max_new_tokens=self.max_new_tokens, seed=seed,
                              repetition_penalty=self.repetition_penalty,
                              no_repeat_ngram_size=self.no_repeat_ngram_size)


def verdict_prefix(label: int, domain: Domain) -> str:
    """The start of the assistant turn: the prediction, stated so the grounding checker reads it as a verdict."""
    return (f"The user will likely enjoy this {domain.item} because" if label
            else f"The user will likely not enjoy this {domain.item} because")


def anchor_fact(evidence: Evidence, label: int, domain: Domain, scale_max: int) -> str | None:
    """The strongest retrieved fact for the predicted label, as a clause: the most similar history item the user
    liked (for a like) or disliked (for a not-like), else the user's or the item's like-share when it agrees with
    the label; None when no evidence points that way."""
    agreeing = [e for e in evidence.most_similar(len(evidence.history)) if e.liked == bool(label)]
    if agreeing:
        e = agreeing[0]
        rated = f" (rated {e.rating:g} of {scale_max})" if e.rating is not None and scale_max > 1 else ""
        verb = "liked" if label else "disliked"
        return f'they {verb} the similar {domain.item} "{html.unescape(e.view.title)}"{rated}'
    user, item = evidence.user, evidence.item
    if user.n and user.like_share is not None and (user.like_share >= 0.5) == bool(label):
        return f"they liked {round(100 * user.like_share)}% of the {user.n} {domain.items} they rated before"
    if item.n and item.like_share is not None and (item.like_share >= 0.5) == bool(label):
        return f"{round(100 * item.like_share)}% of the {item.n} other ratings of this {domain.item} were likes"
    return None


def answer_prefix(evidence: Evidence, label: int, config: ExplainConfig, domain: Domain, scale_max: int) -> str:
    """The assistant turn's start: the verdict, plus (anchor=evidence) the fact behind it as its own sentence."""
    verdict = verdict_prefix(label, domain)
    fact = anchor_fact(evidence, label, domain, scale_max) if config.anchor == "evidence" else None
    return f"{verdict} {fact}." if fact else verdict


def evidence_json(evidence: Evidence, top_k: int) -> str:
    """What the explanation prompt showed, as one JSON cell (similar items, user and item statistics)."""
    similar = [{"item_id": e.item_id, "title": e.view.title, "rating": e.rating, "liked": e.liked,
                "similarity": round(e.similarity, 3)} for e in evidence.most_similar(top_k)]
    return json.dumps({"similar": similar, "user": asdict(evidence.user), "item": asdict(evidence.item)},
                      ensure_ascii=False)


def explanation_messages(evidence: Evidence, label: int, config: ExplainConfig, domain: Domain, scale_max: int,
                         renderer: PromptRenderer, cf_score: float | None = None) -> tuple:
    description = evidence.target.description if config.describe_target else None
    similar = [{"title": e.view.title, "rating": e.rating, "liked": e.liked}
               for e in evidence.most_similar(config.top_k)]
    return renderer.render(TEMPLATE, domain=domain, target=evidence.target, similar=similar,
                           description=(description or "")[:MAX_DESCRIPTION_CHARS] or None, user=evidence.user,
                           item=evidence.item, cf_score=cf_score, prediction=bool(label), scale_max=scale_max)


def evidence_retriever(items: pl.DataFrame, item_descriptions: pl.DataFrame | None,
                       interactions: pl.DataFrame | None, config: ExplainConfig,
                       encoder: SentenceEncoder | None = None) -> EvidenceRetriever:
    """The retriever this mode uses: the offline MiniLM (embeddings cached on disk) over the given tables."""
    return EvidenceRetriever.from_tables(
        items, encoder or SentenceEncoder(cache_path=default_embedding_cache()), interactions=interactions,
        item_descriptions=item_descriptions, config=config.evidence)


def grounded_explanations(
    rows: Sequence[Mapping[str, Any]],
    labels: Sequence[int | None],
    retriever: EvidenceRetriever,
    llm: LLM,
    config: ExplainConfig,
    *,
    domain: Domain,
    want: Callable[[int], bool] = lambda _: True,
    scale_max: int = 5,
    cf_scores: Mapping[tuple[str, str], float] | None = None,
    seed: int = 0,
    batch_size: int = CHUNK_SIZE,
    show: bool = True,
    summaries: list[RunSummary] | None = None,
) -> tuple[list[str | None], list[str | None]]:
    """(explanation, evidence JSON) per row; None where `want` skips the row or no label was predicted."""
    picked = [i for i in range(len(rows)) if want(i) and labels[i] is not None]
    texts: list[str | None] = [None] * len(rows)
    shown: list[str | None] = [None] * len(rows)
    if not picked:
        return texts, shown
    evidence = dict(zip(picked, retriever.retrieve([rows[i] for i in picked]), strict=True))
    renderer = PromptRenderer()
    prefixes = {i: answer_prefix(evidence[i], int(labels[i]), config, domain, scale_max)  # type: ignore[arg-type]
                for i in picked}
    jobs = []
    for i in picked:
        key = (str(rows[i]["user_id"]), str(rows[i]["item_id"]))
        messages = explanation_messages(evidence[i], int(labels[i]), config, domain, scale_max,  # type: ignore
                                        renderer, (cf_scores or {}).get(key))
        jobs.append(GenerationJob({"row": i}, messages, config.sampling(seed), assistant_prefix=prefixes[i]))
        shown[i] = evidence_json(evidence[i], config.top_k)
    table, summary = run_generation_jobs(llm, jobs, ROW_KEY_SCHEMA, batch_size=batch_size,
                                         desc="grounded explanations", show=show)
    if summaries is not None:
        summaries.append(summary)
    for i, text in zip(table["row"].to_list(), table["text"].to_list(), strict=True):
        texts[i] = None if text is None else f"{prefixes[i]} {text.strip()}".strip()
    return texts, shown


def with_grounded_explanations(
    frame: pl.DataFrame,
    rows: Sequence[Mapping[str, Any]],
    tables: tuple[pl.DataFrame, pl.DataFrame | None, pl.DataFrame | None],
    llm: LLM,
    config: ExplainConfig,
    *,
    domain: Domain,
    want: Callable[[int], bool],
    like_threshold: float = 3.0,
    seed: int = 0,
    batch_size: int = CHUNK_SIZE,
    show: bool = True,
    summaries: list[RunSummary] | None = None,
    encoder: SentenceEncoder | None = None,
) -> pl.DataFrame:
    """A predictions frame (one row per target row, in order) with `reasoning` and `evidence` from this mode;
    `tables` = (items, item descriptions, interactions) the evidence is read from. Ratings are shown "of 5"
    unless the data's ratings are 0/1 labels (like_threshold < 1, the ML-1M CTR release). A long-lived caller
    passes its `encoder`, so the sentence model is loaded once, not per call."""
    items, descriptions, interactions = tables
    config = config.model_copy(update={"evidence": config.evidence.model_copy(
        update={"like_threshold": like_threshold})})
    scale_max = 1 if like_threshold < 1 else 5
    retriever = evidence_retriever(items, descriptions, interactions, config, encoder)
    texts, shown = grounded_explanations(rows, frame["pred_label"].to_list(), retriever, llm, config, domain=domain,
                                         want=want, scale_max=scale_max, seed=seed, batch_size=batch_size,
                                         show=show, summaries=summaries)
    return frame.with_columns(pl.Series("reasoning", texts, dtype=pl.String),
                              pl.Series("evidence", shown, dtype=pl.String))


__all__ = [
    "ExplainConfig", "anchor_fact", "answer_prefix", "evidence_json", "evidence_retriever", "explanation_messages",
    "grounded_explanations", "verdict_prefix", "with_grounded_explanations",
]
