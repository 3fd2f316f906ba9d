"""EXP3RT step 3b (§3.5.2–3.5.3, App. A Table 12): rating prediction with rating bias and optional reasoning.

The prompt shows the user profile, the item description and the item profile; with `include_bias` it also shows
the user's and the item's average TRAINING rating (the "rating bias" that counters label inconsistency; a user or
item without training ratings simply gets no average line). Ratings appear on the PROMPT scale
(`RatingScale`: IMDB 1–10 → 0–9, as in the paper's prompt); averages are mapped the same way.

E[rating] (§3.5.3) comes from ONE scoring pass over the rating values after "Predicted User Rating: ":
- `reasoning=True`: first generate the reasoning (assistant turn primed with "Reasoning: ", stopped at the
  rating line), then score the values with assistant_prefix = "Reasoning: <generated>\\n\\nPredicted User Rating: ";
- `reasoning=False`: score directly after "Predicted User Rating: ".
p(r) is the softmax over the choices' (summed) token log-probs; E[rating] is mapped back to the data scale, and
`probs` is a JSON object keyed by DATA-scale ratings ("1".."10"), so evaluators never see the prompt scale.

Output: PREDICTIONS_SCHEMA rows (score = pred_rating = E[rating]; label/pred_label only with a like_threshold)
plus `error`, `generated` and token counts. parse_ok is False when a call failed or the reasoning came back empty.
"""

from __future__ import annotations

import json

import polars as pl
from pydantic import Field

from reasonrec.errors import DataError
from reasonrec.llm.base import LLM, Message, expected_value
from reasonrec.llm.chat import TokenizerChat
from reasonrec.llm.runner import RunSummary
from reasonrec.predictions import conform_predictions
from reasonrec.prompts import PromptRenderer
from reasonrec.stages.common.base import (
    GenerationJob,
    ScoreJob,
    StageConfig,
    fit_prompt,
    messages_json,
    run_generation_jobs,
    run_score_jobs,
    token_counter,
)
from reasonrec.stages.exp3rt.reason import RatingScale, clean_reasoning

TEMPLATE = "exp3rt/predict"
REASONING_PREFIX = "Reasoning: "
RATING_LINE = "Predicted User Rating: "

KEY_SCHEMA: dict[str, pl.DataType] = {"user_id": pl.String(), "item_id": pl.String()}


class Exp3rtPredictConfig(StageConfig):
    """Rating prediction; defaults = the paper's full model (bias on, reasoning on, IMDB 1–10 scale)."""

    domain: str = "movies"
    include_bias: bool = Field(True, description="show user/item average training ratings in the prompt")
    reasoning: bool = Field(True, description="generate reasoning before scoring the rating")
    max_new_tokens: int = Field(256, ge=1, description="reasoning budget")
    scale: RatingScale = Field(default_factory=RatingScale)
    like_threshold: float | None = Field(None, description="label = rating > threshold (None: no labels)")
    method: str = "exp3rt"
    dataset: str = "exp3rt-imdb"
    split: str = "test"


def expected_rating(probs: dict[str, float], scale: RatingScale) -> float:
    """E[rating] on the DATA scale from probabilities keyed by prompt-scale choices."""
    return scale.to_data(expected_value(probs))


def _prompt_avg(value: float | None, scale: RatingScale) -> float | None:
    return None if value is None else scale.to_prompt(value)


def rating_prompts(context: pl.DataFrame, config: Exp3rtPredictConfig,
                   llm: LLM | TokenizerChat | None) -> list[tuple[Message, ...]]:
    """The rating prompt (messages) for each row of `context`, fitted to `config.max_prompt_tokens`.

    Public because a student must be TRAINED on exactly the prompt it is SCORED with: `exp3rt_predict_ratings` and the
    SFT-data builders (`reproduce.exp3rt`) both call this, so the two cannot drift."""
    scale = config.scale
    lo, hi = scale.prompt_range()
    renderer = PromptRenderer()
    count = token_counter(llm, RATING_LINE)
    domain = config.domain_view()
    prompts = []
    for r in context.iter_rows(named=True):
        ctx = {
            "domain": domain,
            "reasoning": config.reasoning,
            "include_bias": config.include_bias,
            "scale_min": lo,
            "scale_max": hi,
            "user_profile": r["user_profile"] or "None.",
            "item_profile": r["item_profile"] or "None.",
            "item_description": r["item_description"],
            "user_avg": _prompt_avg(r.get("user_avg"), scale),
            "item_avg": _prompt_avg(r.get("item_avg"), scale),
        }
        messages, _ = fit_prompt(renderer, TEMPLATE, ctx, count, config.max_prompt_tokens)
        prompts.append(messages)
    return prompts


def rating_prompts_json(context: pl.DataFrame, config: Exp3rtPredictConfig,
                        llm: LLM | TokenizerChat | None) -> list[str]:
    """`rating_prompts` as messages JSON: the prompt column a student's SFT data is built from."""
    return [messages_json(messages) for messages in rating_prompts(context, config, llm)]


def _reasoning(llm: LLM, keys: list[dict[str, str]], prompts: list[tuple[Message, ...]], config: Exp3rtPredictConfig,
               summaries: list[RunSummary] | None) -> tuple[list, list, list, list]:
    """(generated text, cleaned reasoning, error, completion tokens) per pair; all None without reasoning."""
    n = len(keys)
    if not config.reasoning:
        return [None] * n, [None] * n, [None] * n, [None] * n
    params = config.sampling(stop=tuple(config.stop) + ("Predicted User Rating",))
    jobs = [GenerationJob(key=k, messages=m, params=params, assistant_prefix=REASONING_PREFIX)
            for k, m in zip(keys, prompts, strict=True)]
    gen, summary = run_generation_jobs(llm, jobs, KEY_SCHEMA, batch_size=config.batch_size,
                                       desc="exp3rt reasoning", show=config.show_progress, keep_prompts=False)
    if summaries is not None:
        summaries.append(summary)
    generated = gen["text"].to_list()
    return generated, [clean_reasoning(t) for t in generated], gen["error"].to_list(), gen["completion_tokens"].to_list()


def exp3rt_predict_ratings(
    context: pl.DataFrame,
    llm: LLM,
    config: Exp3rtPredictConfig,
    *,
    limit: int | None = None,
    summaries: list[RunSummary] | None = None,
) -> pl.DataFrame:
    """PREDICTIONS_SCHEMA rows for the pairs of `context` (stages.exp3rt.profiles.CONTEXT_SCHEMA)."""
    for col in ("user_id", "item_id", "user_profile", "item_profile", "item_description"):
        if col not in context.columns:
            raise DataError(f"pair context lacks {col!r} (build it with stages.exp3rt.profiles.pair_context)", field=col)
    rows = context if limit is None else context.head(limit)
    scale = config.scale
    prompts = rating_prompts(rows, config, llm)
    keys = [{"user_id": str(u), "item_id": str(i)} for u, i in zip(rows["user_id"], rows["item_id"], strict=True)]

    n = len(keys)
    generated, reasoning, gen_errors, completion_tokens = _reasoning(llm, keys, prompts, config, summaries)
    prefixes = ([f"{REASONING_PREFIX}{t or ''}\n\n{RATING_LINE}" for t in reasoning] if config.reasoning
                else [RATING_LINE] * n)
    choices = scale.choices()
    score_index = [i for i in range(n) if gen_errors[i] is None]
    score_jobs = [ScoreJob(key=keys[i], messages=prompts[i], choices=choices, assistant_prefix=prefixes[i])
                  for i in score_index]
    scored, summary = run_score_jobs(llm, score_jobs, KEY_SCHEMA, batch_size=config.batch_size,
                                     desc="exp3rt rating scores", show=config.show_progress, keep_prompts=False)
    if summaries is not None:
        summaries.append(summary)
    probs_col: list[str | None] = [None] * n
    pred: list[float | None] = [None] * n
    errors = list(gen_errors)
    prompt_tokens: list[int | None] = [None] * n
    for i, (p_json, err, ptok) in zip(score_index, scored.select("probs", "error", "prompt_tokens").iter_rows(),
                                      strict=True):
        prompt_tokens[i] = ptok
        if err is not None:
            errors[i] = err
            continue
        probs = json.loads(p_json)
        pred[i] = expected_rating(probs, scale)
        probs_col[i] = json.dumps({scale.data_label(c): probs[c] for c in choices})
    parse_ok = [
        errors[i] is None and pred[i] is not None and (not config.reasoning or bool(reasoning[i]))
        for i in range(n)
    ]
    truth = rows["rating"].to_list() if "rating" in rows.columns else [None] * n
    threshold = config.like_threshold
    table = pl.DataFrame({
        "method": [config.method] * n,
        "dataset": [config.dataset] * n,
        "split": [config.split] * n,
        "user_id": [k["user_id"] for k in keys],
        "item_id": [k["item_id"] for k in keys],
        "label": [None if threshold is None or t is None else int(t > threshold) for t in truth],
        "rating": truth,
        "score": pred,
        "pred_label": [None if threshold is None or p is None else int(p > threshold) for p in pred],
        "pred_rating": pred,
        "probs": probs_col,
        "reasoning": reasoning,
        "parse_ok": parse_ok,
        "error": errors,
        "generated": generated,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
    }, schema_overrides={"label": pl.Int64(), "rating": pl.Float64(), "score": pl.Float64(),
                         "pred_label": pl.Int64(), "pred_rating": pl.Float64(), "probs": pl.String(),
                         "reasoning": pl.String(), "error": pl.String(), "generated": pl.String(),
                         "prompt_tokens": pl.Int64(), "completion_tokens": pl.Int64()})
    return conform_predictions(table)


__all__ = ["KEY_SCHEMA", "RATING_LINE", "REASONING_PREFIX", "Exp3rtPredictConfig", "exp3rt_predict_ratings", "expected_rating", "rating_prompts", "rating_prompts_json"]
