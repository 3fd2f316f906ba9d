"""Teacher reasoning conditioned on the truth (ReasoningRec §3.4), through the shared multi-path sampler.

`teacher_reasoning`: profile + the k recent items (liked/disliked, descriptions) + the target + the TRUE label
→ reasoning that ends with "Prediction: Yes/No" (`reasoningrec/teacher_reasoning`). History that does not fit
`max_prompt_tokens` is trimmed from the oldest end; the target always stays.
"""

from __future__ import annotations

import polars as pl
from pydantic import Field

from reasonrec.answers import parse_reasoningrec
from reasonrec.llm.base import LLM
from reasonrec.llm.runner import RunSummary
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import GenerationJob, StageConfig, fit_prompt, token_counter
from reasonrec.stages.common.context import ItemCatalog, target_rows, text_map
from reasonrec.stages.common.paths import sample_paths

TEMPLATE = "reasoningrec/teacher_reasoning"

class ReasonConfig(StageConfig):
    """Teacher reasoning: the paper samples one greedy path; n_samples > 1 with temperature > 0 for more."""

    n_samples: int = Field(1, ge=1, description="reasoning paths per (user, target)")
    include_profile: bool = Field(True, description="False = w/o-profile ablation")
    include_descriptions: bool = Field(True, description="False = w/o-description ablation")
    like_threshold: float = Field(3.0, description="r_T, used only when a history label is missing")
    max_new_tokens: int = Field(320, ge=1)


KEY_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String(), "split": pl.String()}


def teacher_reasoning(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    user_profiles: pl.DataFrame | None,
    llm: LLM,
    config: ReasonConfig,
    *,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """One row per (target row, sample): keys, label (truth), text, teacher pred_label, agrees, LLM columns.

    Rows whose target label is null (no threshold) are skipped: the teacher needs the truth.
    """
    catalog = ItemCatalog.from_tables(items, item_descriptions)
    profiles = text_map(user_profiles, "user_id") if config.include_profile else {}
    renderer = PromptRenderer()
    count = token_counter(llm)
    domain = config.domain_view()
    params = config.sampling()
    jobs: list[GenerationJob] = []
    truth: dict[tuple[str, str, str], int] = {}
    for row in target_rows(targets, limit):
        label = row.get("label")
        if label is None:
            continue
        key = {"user_id": str(row["user_id"]), "item_id": str(row["item_id"]), "split": str(row.get("split") or "")}
        history = catalog.history(
            row["history_item_ids"], row.get("history_labels"), row.get("history_ratings"),
            like_threshold=config.like_threshold,
        )
        ctx = {
            "domain": domain,
            "profile": profiles.get(key["user_id"]),
            "history": history,
            "target": catalog.view(key["item_id"]),
            "include_descriptions": config.include_descriptions,
            "liked": bool(label),
            "facts": row.get("facts"),
        }
        messages, _ = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)
        jobs.append(GenerationJob(key=key, messages=messages, params=params))
        truth[(key["user_id"], key["item_id"], key["split"])] = int(label)
    table, summary = sample_paths(
        llm, jobs, KEY_SCHEMA, n_samples=config.n_samples,
        temperature=config.temperature,
        top_p=config.top_p, parser=parse_reasoningrec, batch_size=config.batch_size, desc="teacher reasoning",
        show=config.show_progress,
    )
    if summaries is not None:
        summaries.append(summary)
    labels = [truth[k] for k in table.select("user_id", "item_id", "split").iter_rows()]
    table = table.with_columns(
        pl.Series("label", labels, dtype=pl.Int64()),
        pl.col("text").str.strip_chars(),
    ).with_columns((pl.col("pred_label") == pl.col("label")).fill_null(False).alias("agrees"))
    first = ["user_id", "item_id", "split", "sample_index", "label", "text", "pred_label", "agrees", "parse_ok"]
    return table.select(*first, *[c for c in table.columns if c not in first])


__all__ = ["KEY_SCHEMA", "ReasonConfig", "teacher_reasoning"]
