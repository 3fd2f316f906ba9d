"""Zero-shot P(like) for ReasoningRec's ablations and the TALLRec prompt, written as predictions.

Variants are flags on ONE template (`reasoningrec/predict`), never copies:
  vanilla         titles only (no profile, no descriptions), answer only
  wo_description  profile, no item descriptions, CoT format
  wo_profile      item descriptions, no profile, CoT format
  full            profile + descriptions, CoT format ("first the Prediction line, then numbered reasoning")
  tallrec         `tallrec/predict` (liked/disliked title lists), choices "Yes"/"No"
P(like) comes from ONE forward pass: `llm.score` with choices (" Yes", " No") after the assistant prefix
"Prediction:" (TALLRec: "Yes"/"No" with an empty prefix), renormalised over the two choices. Optionally a
reasoning text is generated with the same prompt and stored in `reasoning` (its own parsed label is not used
for the score). Rows follow `reasonrec.predictions.PREDICTIONS_SCHEMA`: score = P(Yes), pred_label = score ≥ 0.5,
label/rating from the target table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import polars as pl
from pydantic import Field

from reasonrec.llm.base import LLM
from reasonrec.llm.parse import parse_reasoningrec
from reasonrec.llm.runner import RunSummary
from reasonrec.predictions import conform_predictions
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.base import (
    GenerationJob,
    ScoreJob,
    StageConfig,
    choice_prob,
    fit_prompt,
    run_generation_jobs,
    run_score_jobs,
    token_counter,
)
from reasonrec.stages.context import ItemCatalog, target_rows, text_map

Variant = Literal["vanilla", "wo_description", "wo_profile", "full", "tallrec"]


@dataclass(frozen=True)
class VariantSpec:
    template: str
    profile: bool
    descriptions: bool
    reasoning: bool
    choices: tuple[str, str]  # (yes, no)
    assistant_prefix: str


VARIANTS: dict[str, VariantSpec] = {
    "vanilla": VariantSpec("reasoningrec/predict", False, False, False, (" Yes", " No"), "Prediction:"),
    "wo_description": VariantSpec("reasoningrec/predict", True, False, True, (" Yes", " No"), "Prediction:"),
    "wo_profile": VariantSpec("reasoningrec/predict", False, True, True, (" Yes", " No"), "Prediction:"),
    "full": VariantSpec("reasoningrec/predict", True, True, True, (" Yes", " No"), "Prediction:"),
    "tallrec": VariantSpec("tallrec/predict", False, False, False, ("Yes", "No"), ""),
}


class ZeroShotConfig(StageConfig):
    variant: Variant = Field("full", description="vanilla | wo_description | wo_profile | full | tallrec")
    generate_reasoning: bool = Field(False, description="also generate a reasoning text (slow on CPU)")
    dataset: str = Field("", description="dataset name written into the predictions")
    method: str | None = Field(None, description="method name in predictions; default zeroshot-<variant>")
    like_threshold: float = Field(3.0, description="r_T, used only when a history label is missing")
    max_new_tokens: int = Field(256, ge=1)

    def method_name(self) -> str:
        return self.method or f"zeroshot-{self.variant}"


def zeroshot_predict(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    user_profiles: pl.DataFrame | None,
    llm: LLM,
    config: ZeroShotConfig,
    *,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One predictions row per target row (PREDICTIONS_SCHEMA + prompt_tokens, cached, error)."""
    spec = VARIANTS[config.variant]
    catalog = ItemCatalog.from_tables(items, item_descriptions if spec.descriptions else None)
    profiles = text_map(user_profiles, "user_id") if spec.profile else {}
    renderer = PromptRenderer()
    count = token_counter(llm, spec.assistant_prefix)
    domain = config.domain_view()
    rows = target_rows(targets, limit)
    score_jobs: list[ScoreJob] = []
    gen_jobs: list[GenerationJob] = []
    key_schema = {"row": pl.Int64()}
    for idx, row in enumerate(rows):
        history = catalog.history(
            row["history_item_ids"], row.get("history_labels"), row.get("history_ratings"),
            like_threshold=config.like_threshold,
        )
        ctx = {
            "domain": domain,
            "profile": profiles.get(str(row["user_id"])),
            "history": history,
            "target": catalog.view(str(row["item_id"])),
            "include_descriptions": spec.descriptions,
            "reasoning": spec.reasoning,
        }
        messages, _ = fit_prompt(renderer, spec.template, ctx, count, config.max_prompt_tokens)
        score_jobs.append(ScoreJob({"row": idx}, messages, spec.choices, spec.assistant_prefix))
        if config.generate_reasoning:
            gen_jobs.append(GenerationJob({"row": idx}, messages, config.sampling()))
    scored, summary = run_score_jobs(
        llm, score_jobs, key_schema, batch_size=config.batch_size, desc=f"zero-shot {config.variant}",
        show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    yes = spec.choices[0]
    p_yes = [choice_prob(p, yes) for p in scored["probs"].to_list()]
    probs = [None if p is None else json.dumps({"Yes": p, "No": 1.0 - p}) for p in p_yes]
    reasoning: list[str | None] = [None] * len(rows)
    if gen_jobs:
        generated, gsummary = run_generation_jobs(
            llm, gen_jobs, key_schema, batch_size=config.batch_size, desc=f"zero-shot reasoning {config.variant}",
            show=config.show_progress,
        )
        if summaries is not None:
            summaries.append(gsummary)
        reasoning = [None if t is None else parse_reasoningrec(t).reasoning for t in generated["text"].to_list()]
    out = pl.DataFrame(
        {
            "method": [config.method_name()] * len(rows),
            "dataset": [config.dataset] * len(rows),
            "split": [str(r.get("split") or "") for r in rows],
            "user_id": [str(r["user_id"]) for r in rows],
            "item_id": [str(r["item_id"]) for r in rows],
            "label": [r.get("label") for r in rows],
            "rating": [r.get("rating") for r in rows],
            "score": p_yes,
            "pred_label": [None if p is None else int(p >= 0.5) for p in p_yes],
            "probs": probs,
            "reasoning": reasoning,
            "parse_ok": [p is not None for p in p_yes],
            "prompt_tokens": scored["prompt_tokens"].to_list(),
            "cached": scored["cached"].to_list(),
            "error": scored["error"].to_list(),
        },
        schema_overrides={"label": pl.Int64(), "rating": pl.Float64(), "score": pl.Float64(),
                          "pred_label": pl.Int64(), "reasoning": pl.String(), "error": pl.String()},
    )
    return conform_predictions(out)


__all__ = ["VARIANTS", "Variant", "VariantSpec", "ZeroShotConfig", "zeroshot_predict"]
