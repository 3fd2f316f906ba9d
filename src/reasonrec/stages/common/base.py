"""Shared machinery for LLM stages: config fields, prompt jobs → result tables, token counting, artefact writing.

A stage is a plain function

    def some_stage(<tables…>, llm: LLM, config: SomeStageConfig) -> pl.DataFrame

that (1) builds prompt jobs from tables (`GenerationJob` / `ScoreJob`: a row key, rendered messages, params,
sample index), (2) runs them with `run_generation_jobs` / `run_score_jobs` — which go through
`reasonrec.llm.runner` so every stage has the same progress bar, summary and "errors are rows, never drops"
behaviour — and (3) post-processes the result table (parse labels, join metadata). Writing the table to disk is a
separate step, `write_stage_output`, so stages stay pure and a recipe decides where artefacts live. Stages take
an optional `summaries: list[RunSummary]` keyword and append their runner summaries to it (cache hits, failures,
tokens) so a CLI or recipe can report them without changing the return type.

Resumability comes from the LLM cache, not from the stage: pass a `CachedLLM` (what `build_llm` returns by
default) and a rerun after a kill recomputes only the calls that never finished. Multi-path sampling relies on
`sample_index` being part of the cache key: M samples of one prompt are M cache entries.

Token budgets: `token_counter(llm)` counts with the backend's own tokenizer and chat template when the LLM (or
the backend inside a CachedLLM) exposes `render(messages, prompt, assistant_prefix)` and `encode(text)` (HFBackend
does); otherwise it estimates ceil(chars / 3.5) + 4 per message, which over-counts English for Llama/Mistral-style
tokenizers (~4 chars per token), so a prompt the estimate accepts also fits the real model. `fit_prompt` wraps
`PromptRenderer.render_fitted`, which drops history from the OLDEST end and never drops the target.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.io import write_parquet
from reasonrec.llm.base import LLM, GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.chat import TokenizerChat
from reasonrec.llm.runner import CHUNK_SIZE, RunSummary, run_generate, run_score
from reasonrec.prompts import DOMAINS, Domain, PromptRenderer
from reasonrec.runs import write_manifest

CHARS_PER_TOKEN_ESTIMATE = 3.5
MESSAGE_OVERHEAD_TOKENS = 4


class StageConfig(Config):
    """Fields every LLM stage shares. Sampling fields are flat so `--set temperature=0.7` just works."""

    seed: int = Field(0, description="seed for every random choice of the stage and for sampling")
    domain: str = Field("beauty", description=f"prompt wording; one of {sorted(DOMAINS)}")
    max_prompt_tokens: int = Field(2048, ge=64, description="prompt budget; history is trimmed oldest-first")
    batch_size: int = Field(CHUNK_SIZE, ge=1, description="requests per runner chunk (one cache transaction each; "
                            "it should hold llm.decode_batch_size generations)")
    temperature: float = Field(0.0, ge=0.0, description="0 = greedy")
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_new_tokens: int = Field(256, ge=1)
    stop: list[str] = Field(default_factory=list, description="stop strings")
    repetition_penalty: float = Field(1.0, ge=1.0, le=3.0, description="> 1 discourages repeating generated tokens")
    no_repeat_ngram_size: int = Field(0, ge=0, le=20, description="n > 0: no n-gram twice in an output")
    show_progress: bool = Field(True, description="rich progress bar + summary line on stderr")

    def sampling(self, **overrides: Any) -> SamplingParams:
        values: dict[str, Any] = {
            "temperature": self.temperature, "top_p": self.top_p, "max_new_tokens": self.max_new_tokens,
            "stop": tuple(self.stop), "seed": self.seed, "repetition_penalty": self.repetition_penalty,
            "no_repeat_ngram_size": self.no_repeat_ngram_size,
        }
        values.update(overrides)
        return SamplingParams(**values)

    def domain_view(self) -> Domain:
        try:
            return DOMAINS[self.domain]
        except KeyError:
            raise ConfigError(f"domain={self.domain!r} is unknown; known: {', '.join(sorted(DOMAINS))}") from None


# ------------------------------------------------------------------------------------------------ token counting

TokenCounter = Callable[[Sequence[Message]], int]


def _unwrap_backend(llm: Any) -> Any | None:
    """The innermost object exposing render()+encode() (follows CachedLLM.llm), or None."""
    seen = 0
    obj = llm
    while obj is not None and seen < 8:
        if callable(getattr(obj, "render", None)) and callable(getattr(obj, "encode", None)):
            return obj
        obj = getattr(obj, "llm", None)
        seen += 1
    return None


def estimate_tokens(messages: Sequence[Message]) -> int:
    """Conservative estimate for backends without a local tokenizer: ceil(chars/3.5) + 4 per message."""
    chars = sum(len(m.content) for m in messages)
    return math.ceil(chars / CHARS_PER_TOKEN_ESTIMATE) + MESSAGE_OVERHEAD_TOKENS * len(messages)


def token_counter(llm: LLM | TokenizerChat | None, assistant_prefix: str = "") -> TokenCounter:
    """Exact counts through the backend's chat template + tokenizer when available (an `LLM` or a bare
    `llm.chat.LocalTokenizer`), else `estimate_tokens`."""
    backend = _unwrap_backend(llm) if llm is not None else None
    if backend is None:
        return estimate_tokens

    def count(messages: Sequence[Message]) -> int:
        return len(backend.encode(backend.render(tuple(messages), None, assistant_prefix)))

    return count


def fit_prompt(
    renderer: PromptRenderer,
    template: str,
    context: dict[str, Any],
    count: TokenCounter,
    max_tokens: int,
    history_key: str = "history",
    *,
    where: str = "",
) -> tuple[tuple[Message, ...], int]:
    """Render `template` within `max_tokens`, trimming `context[history_key]` from the oldest end. `where` names
    the row (e.g. "user 12 item 345") in the error raised when even an empty history does not fit."""
    if history_key not in context:
        return renderer.render(template, **context), 0
    try:
        return renderer.render_fitted(template, context, count, max_tokens, history_key=history_key)
    except ConfigError as exc:
        if not where:
            raise
        raise ConfigError(f"{where}: {exc}") from exc


# ------------------------------------------------------------------------------------------------ jobs → tables


@dataclass(frozen=True)
class GenerationJob:
    """One generation call: `key` identifies the output row (e.g. {"item_id": "3"}); all jobs share key names."""

    key: dict[str, Any]
    messages: tuple[Message, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    sample_index: int = 0
    assistant_prefix: str = ""

    def request(self) -> GenerationRequest:
        return GenerationRequest(
            messages=self.messages, params=self.params, sample_index=self.sample_index,
            assistant_prefix=self.assistant_prefix,
        )


@dataclass(frozen=True)
class ScoreJob:
    """One scoring call: P(choice) for each choice after messages + assistant_prefix (one forward pass)."""

    key: dict[str, Any]
    messages: tuple[Message, ...]
    choices: tuple[str, ...]
    assistant_prefix: str = ""

    def request(self) -> ScoreRequest:
        return ScoreRequest(choices=self.choices, messages=self.messages, assistant_prefix=self.assistant_prefix)


GENERATION_COLUMNS: dict[str, pl.DataType] = {
    "sample_index": pl.Int64(),
    "text": pl.String(),
    "finish_reason": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "cached": pl.Boolean(),
    "error": pl.String(),
    "prompt": pl.String(),
}

SCORE_COLUMNS: dict[str, pl.DataType] = {
    "probs": pl.String(),
    "logprobs": pl.String(),
    "prompt_tokens": pl.Int64(),
    "cached": pl.Boolean(),
    "error": pl.String(),
    "prompt": pl.String(),
}


def messages_json(messages: Sequence[Message]) -> str:
    """The rendered prompt as a JSON list of {role, content} (kept in artefacts for audit and SFT reuse)."""
    return json.dumps([{"role": m.role, "content": m.content} for m in messages], ensure_ascii=False)


def _key_frame(jobs: Sequence[GenerationJob | ScoreJob], key_schema: dict[str, pl.DataType]) -> dict[str, list]:
    cols: dict[str, list] = {name: [] for name in key_schema}
    for job in jobs:
        if set(job.key) != set(key_schema):
            raise ValueError(f"job key {sorted(job.key)} does not match key schema {sorted(key_schema)}")
        for name in key_schema:
            cols[name].append(job.key[name])
    return cols


def run_generation_jobs(
    llm: LLM,
    jobs: Sequence[GenerationJob],
    key_schema: dict[str, pl.DataType],
    *,
    batch_size: int = CHUNK_SIZE,
    desc: str = "generate",
    show: bool = True,
    keep_prompts: bool = True,
) -> tuple[pl.DataFrame, RunSummary]:
    """Run jobs through `run_generate`; one row per job, in job order: key columns + GENERATION_COLUMNS."""
    completions, summary = run_generate(
        llm, [j.request() for j in jobs], batch_size=batch_size, desc=desc, show=show
    )
    data: dict[str, list] = _key_frame(jobs, key_schema)
    data["sample_index"] = [j.sample_index for j in jobs]
    data["text"] = [c.text if c.error is None else None for c in completions]
    data["finish_reason"] = [c.finish_reason for c in completions]
    data["prompt_tokens"] = [c.prompt_tokens for c in completions]
    data["completion_tokens"] = [c.completion_tokens for c in completions]
    data["cached"] = [c.cached for c in completions]
    data["error"] = [c.error for c in completions]
    data["prompt"] = [messages_json(j.messages) if keep_prompts else None for j in jobs]
    schema = {**key_schema, **GENERATION_COLUMNS}
    return pl.DataFrame(data, schema=schema), summary


def run_score_jobs(
    llm: LLM,
    jobs: Sequence[ScoreJob],
    key_schema: dict[str, pl.DataType],
    *,
    batch_size: int = CHUNK_SIZE,
    desc: str = "score",
    show: bool = True,
    keep_prompts: bool = True,
) -> tuple[pl.DataFrame, RunSummary]:
    """Run jobs through `run_score`; one row per job: key columns + SCORE_COLUMNS (probs/logprobs as JSON)."""
    scores, summary = run_score(llm, [j.request() for j in jobs], batch_size=batch_size, desc=desc, show=show)
    data: dict[str, list] = _key_frame(jobs, key_schema)
    data["probs"] = [json.dumps(s.probs) if s.error is None else None for s in scores]
    data["logprobs"] = [json.dumps(s.logprobs) if s.error is None else None for s in scores]
    data["prompt_tokens"] = [s.prompt_tokens for s in scores]
    data["cached"] = [s.cached for s in scores]
    data["error"] = [s.error for s in scores]
    data["prompt"] = [messages_json(j.messages) if keep_prompts else None for j in jobs]
    schema = {**key_schema, **SCORE_COLUMNS}
    return pl.DataFrame(data, schema=schema), summary


def choice_prob(probs_json: str | None, choice: str) -> float | None:
    """P(choice) from a `probs` JSON cell (None when the call failed)."""
    if probs_json is None:
        return None
    return float(json.loads(probs_json)[choice])


# ------------------------------------------------------------------------------------------------ artefacts


def write_stage_output(
    out_dir: str | Path,
    name: str,
    table: pl.DataFrame,
    config: Config,
    *,
    llm: LLM | None = None,
    summaries: Iterable[RunSummary] = (),
    inputs: Iterable[str | Path] = (),
    command: str | None = None,
    started_at: float | None = None,
) -> Path:
    """Write `<out_dir>/<name>.parquet` atomically plus `config.yaml` + `manifest.json` in `out_dir`.

    `out_dir` is the stage's own directory (one stage per directory: the manifest describes that stage).
    Returns the Parquet path.
    """
    out_dir = Path(out_dir)
    path = write_parquet(out_dir / f"{name}.parquet", table)
    identity = None
    if llm is not None:
        identity = json.loads(llm.identity.key())
    summaries = list(summaries)
    extra = {
        "stage": name,
        "rows": table.height,
        "llm": identity,
        "llm_runs": [s.as_dict() for s in summaries],
    }
    if "error" in table.columns:
        extra["failed_rows"] = int(table["error"].is_not_null().sum())
    write_manifest(
        out_dir,
        command=command or f"stage {name}",
        config=config,
        seeds={"seed": int(getattr(config, "seed", 0))},
        inputs=inputs,
        outputs=[path],
        extra=extra,
        started_at=started_at if started_at is not None else time.time(),
    )
    return path


__all__ = [
    "CHARS_PER_TOKEN_ESTIMATE", "GENERATION_COLUMNS", "SCORE_COLUMNS", "GenerationJob", "ScoreJob", "StageConfig",
    "TokenCounter", "choice_prob", "estimate_tokens", "fit_prompt", "messages_json",
    "run_generation_jobs", "run_score_jobs", "token_counter", "write_stage_output",
]
