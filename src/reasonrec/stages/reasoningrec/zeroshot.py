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

from dataclasses import replace
from typing import Literal

import polars as pl
from pydantic import Field

from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.stages.common.base import StageConfig
from reasonrec.stages.common.context import target_rows
from reasonrec.stages.common.label_rows import label_prediction_frame, run_label_jobs
from reasonrec.stages.student import LabelPrompt, label_prompts

Variant = Literal["vanilla", "wo_description", "wo_profile", "full", "tallrec"]


_FULL = LabelPrompt.student("reasoningrec")

VARIANTS: dict[str, LabelPrompt] = {
    "vanilla": replace(_FULL, profile=False, descriptions=False, reasoning=False),
    "wo_description": replace(_FULL, descriptions=False),
    "wo_profile": replace(_FULL, profile=False),
    "full": _FULL,
    "tallrec": LabelPrompt.student("tallrec", profile=False, descriptions=False),
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

    def label_prompt(self) -> LabelPrompt:
        return VARIANTS[self.variant]


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
    spec = config.label_prompt()
    rows = target_rows(targets, limit)
    prompts = label_prompts(rows, items, item_descriptions, user_profiles, llm, config)
    scored, generated = run_label_jobs(
        llm, prompts, choices=spec.choices, assistant_prefix=spec.assistant_prefix, sampling=config.sampling(),
        generate=lambda _: config.generate_reasoning, batch_size=config.batch_size, show=config.show_progress,
        score_desc=f"zero-shot {config.variant}", reasoning_desc=f"zero-shot reasoning {config.variant}",
        summaries=summaries,
    )
    return label_prediction_frame(rows, scored, generated, method=config.method_name(), dataset=config.dataset,
                                  choice=spec.choices[0])


__all__ = ["VARIANTS", "Variant", "ZeroShotConfig", "zeroshot_predict"]
