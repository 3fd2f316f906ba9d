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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.llm.base import LLM, Message
from reasonrec.llm.chat import LocalTokenizer
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import GenerationJob, ScoreJob, StageConfig, fit_prompt, token_counter
from reasonrec.stages.common.context import ItemCatalog, target_rows, text_map
from reasonrec.stages.common.label_rows import label_prediction_frame, run_label_jobs
from reasonrec.stages.student import LABEL_SCORING, TEMPLATES_BY_METHOD, label_prompt_context

Variant = Literal["vanilla", "wo_description", "wo_profile", "full", "tallrec"]


@dataclass(frozen=True)
class VariantSpec:
    template: str
    profile: bool
    descriptions: bool
    reasoning: bool
    choices: tuple[str, str]  # (yes, no)
    assistant_prefix: str


_RR_TEMPLATE, _TALLREC_TEMPLATE = TEMPLATES_BY_METHOD["reasoningrec"], TEMPLATES_BY_METHOD["tallrec"]
_RR_PREFIX, _RR_CHOICES = LABEL_SCORING["reasoningrec"]
_TALLREC_PREFIX, _TALLREC_CHOICES = LABEL_SCORING["tallrec"]

VARIANTS: dict[str, VariantSpec] = {
    "vanilla": VariantSpec(_RR_TEMPLATE, False, False, False, _RR_CHOICES, _RR_PREFIX),
    "wo_description": VariantSpec(_RR_TEMPLATE, True, False, True, _RR_CHOICES, _RR_PREFIX),
    "wo_profile": VariantSpec(_RR_TEMPLATE, False, True, True, _RR_CHOICES, _RR_PREFIX),
    "full": VariantSpec(_RR_TEMPLATE, True, True, True, _RR_CHOICES, _RR_PREFIX),
    "tallrec": VariantSpec(_TALLREC_TEMPLATE, False, False, False, _TALLREC_CHOICES, _TALLREC_PREFIX),
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


def zeroshot_prompts(
    rows: Sequence[dict[str, Any]],
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    user_profiles: pl.DataFrame | None,
    llm: LLM | LocalTokenizer | None,
    config: ZeroShotConfig,
) -> list[tuple[Message, ...]]:
    """The variant's prompt for each target row, fitted to `max_prompt_tokens`; ConfigError naming the row when one
    cannot fit. `llm` only counts tokens (a bare tokenizer will do)."""
    spec = VARIANTS[config.variant]
    catalog = ItemCatalog.from_tables(items, item_descriptions if spec.descriptions else None)
    profiles = text_map(user_profiles, "user_id") if spec.profile else {}
    renderer = PromptRenderer()
    count = token_counter(llm, spec.assistant_prefix)
    domain = config.domain_view()
    prompts = []
    for row in rows:
        ctx = label_prompt_context(row, catalog, profiles, domain=domain, like_threshold=config.like_threshold,
                                   include_descriptions=spec.descriptions, reasoning=spec.reasoning)
        where = f"user {row['user_id']} item {row['item_id']} ({row.get('split') or 'no split'})"
        messages, _ = fit_prompt(renderer, spec.template, ctx, count, config.max_prompt_tokens, where=where)
        prompts.append(messages)
    return prompts


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
    rows = target_rows(targets, limit)
    prompts = zeroshot_prompts(rows, items, item_descriptions, user_profiles, llm, config)
    score_jobs = [ScoreJob({"row": idx}, m, spec.choices, spec.assistant_prefix) for idx, m in enumerate(prompts)]
    gen_jobs = [GenerationJob({"row": idx}, m, config.sampling()) for idx, m in enumerate(prompts)
                if config.generate_reasoning]
    scored, generated = run_label_jobs(
        llm, score_jobs, gen_jobs, batch_size=config.batch_size, show=config.show_progress,
        score_desc=f"zero-shot {config.variant}", reasoning_desc=f"zero-shot reasoning {config.variant}",
        summaries=summaries,
    )
    return label_prediction_frame(rows, scored, generated, method=config.method_name(), dataset=config.dataset,
                                  choice=spec.choices[0])


__all__ = ["VARIANTS", "Variant", "VariantSpec", "ZeroShotConfig", "zeroshot_predict", "zeroshot_prompts"]
