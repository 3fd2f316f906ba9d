"""Supervised fine-tuning pairs for the student: chat-message prompts + plain completion text, per method.

Why prompts are rebuilt here rather than read from a release: the released ReasoningRec fine-tuning JSON names
the user's *train* target in test prompts (see the data README), so every ReasoningRec prompt is rendered from the
canonical target tables (window → history with like/dislike, item descriptions, user profile, target) and paired
with that user's teacher reasoning for the same split.

Completions per method (the student learns to write exactly what `predict` later reads):
- ReasoningRec: "Prediction: Yes|No" + "\\n" + teacher reasoning (its trailing Prediction line removed) —
  prediction first, like the authors' `predfirst` runs, so P(" Yes") after "Prediction:" is the score.
- TALLRec:      "Yes." / "No." only.
- EXP3RT:       "Reasoning: …\\n\\nPredicted User Rating: n".
- Rec-SAVER:    "### Reason ###\\n…\\n\\n### Rating ###\\nn"; 1 or M kept paths per (user, item).

Length: an example longer than `max_seq_length` is trimmed from the OLDEST history item until prompt + completion
fit (`PromptRenderer.render_fitted` with the model tokenizer); nothing is dropped silently — the stats count the
trimmed examples and dropped history items, and an example that cannot fit even with an empty history is an error.
K-shot sampling is uniform over the eligible train rows (seeded), optionally class-balanced.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from reasonrec.answers import render_exp3rt, render_reasoningrec, render_recsaver, strip_trailing_prediction
from reasonrec.config import Config
from reasonrec.errors import ConfigError, DataError
from reasonrec.llm.base import Message
from reasonrec.prompts import DOMAINS, PromptRenderer
from reasonrec.stages.common.context import ItemCatalog, text_map
from reasonrec.stages.student import LabelPrompt, label_prompt_context

Method = Literal["reasoningrec", "tallrec", "exp3rt", "recsaver"]

SFT_SCHEMA: dict[str, pl.DataType] = {
    "user_id": pl.String(),
    "item_id": pl.String(),
    "split": pl.String(),
    "label": pl.Int64(),
    "rating": pl.Float64(),
    "prompt": pl.String(),  # JSON list of {role, content}
    "completion": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "history_dropped": pl.Int64(),
    "path_index": pl.Int64(),
}


class SFTDataConfig(Config):
    """How to build one SFT dataset. Defaults reproduce ReasoningRec (K=256, paper-uniform sampling, 2048 tokens)."""

    method: Method = "reasoningrec"
    k: int | Literal["all"] = Field(256, description="K training examples (64/128/256 in the paper) or 'all'")
    seed: int = 42
    balance_classes: bool = Field(False, description="sample K/2 per class (off = the paper's uniform sampling)")
    max_seq_length: int = Field(2048, ge=32, description="prompt + completion token budget (paper: 2048)")
    domain: str = "beauty"
    include_profile: bool = True
    include_descriptions: bool = True
    completion: Literal["reasoning", "label"] = Field(
        "reasoning", description="ReasoningRec completion: 'Prediction: …' + teacher reasoning, or the label line "
        "only (every labelled row is eligible; the prompt asks for the label only)")
    facts: bool = Field(False, description="CF-aware prompts: state each row's leak-free facts (a facts column, "
                        "reasonrec.baselines.features.with_facts)")
    like_threshold: float = 3.0
    paths_per_pair: int = Field(1, ge=1, description="Rec-SAVER/EXP3RT: kept reasoning paths per pair (1 or M)")
    on_overflow: Literal["error", "skip"] = Field(
        "error", description="an example that cannot fit even with an empty history: error, or skip and count it"
    )

    def label_prompt(self) -> LabelPrompt:
        """The like/dislike student's prompt these examples are rendered with (the one `predict` scores)."""
        return LabelPrompt.student(self.method, profile=self.include_profile, descriptions=self.include_descriptions,
                                   label_only=self.completion == "label", facts=self.facts)

    @field_validator("k")
    @classmethod
    def _positive_k(cls, v: int | str) -> int | str:
        if isinstance(v, int) and v < 1:
            raise ValueError("k must be >= 1 or 'all'")
        return v


@dataclass
class SFTDataset:
    """Examples (SFT_SCHEMA) plus what building them did: eligible rows, exclusions, trimming."""

    table: pl.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.table.height

    def messages(self) -> list[list[dict[str, str]]]:
        return [json.loads(p) for p in self.table["prompt"].to_list()]

    def to_hf(self):
        """HF `datasets.Dataset` in TRL's conversational prompt-completion form (completion = assistant turn)."""
        from datasets import Dataset

        return Dataset.from_dict(
            {
                "prompt": self.messages(),
                "completion": [[{"role": "assistant", "content": c}] for c in self.table["completion"].to_list()],
            }
        )

    def write(self, out_dir: str | Path) -> Path:
        from reasonrec.io import write_json, write_parquet

        out_dir = Path(out_dir)
        path = write_parquet(out_dir / "sft.parquet", self.table)
        write_json(out_dir / "sft_stats.json", self.stats)
        return path


# ------------------------------------------------------------------------------------------------ token counting


class ChatTokenCounter:
    """Token counts exactly as TRL will tokenise: chat template + generation prompt, completion + end-of-turn."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def prompt(self, messages: Sequence[Message]) -> int:
        ids = self.tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages], tokenize=True, add_generation_prompt=True
        )
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return len(ids)

    def completion(self, text: str, prompt: Sequence[Message] | None = None) -> int:
        """Tokens the completion adds to `prompt` (default: a one-line dummy user turn)."""
        base = [{"role": m.role, "content": m.content} for m in (prompt or (Message("user", "x"),))]
        full = self.tokenizer.apply_chat_template(base + [{"role": "assistant", "content": text}], tokenize=True)
        head = self.tokenizer.apply_chat_template(base, tokenize=True, add_generation_prompt=True)
        if hasattr(full, "keys"):
            full, head = full["input_ids"], head["input_ids"]
        return len(full) - len(head)


def load_tokenizer(model: str | Path = "embedded") -> Any:
    from transformers import AutoTokenizer

    from reasonrec.llm.hf import resolve_model_path

    model_dir, _ = resolve_model_path(model)
    return AutoTokenizer.from_pretrained(str(model_dir))


# ------------------------------------------------------------------------------------------------ sampling


def sample_k_shot(
    rows: pl.DataFrame,
    k: int | str,
    seed: int,
    *,
    balance_classes: bool = False,
    label_column: str = "label",
    exclude_users: set[str] | None = None,
) -> pl.DataFrame:
    """K rows drawn uniformly (seeded) — or K/2 per class when `balance_classes` (the short class is topped up
    from the other). `exclude_users` removes users (e.g. held-out evaluation users) before sampling."""
    pool = rows
    if exclude_users:
        pool = pool.filter(~pl.col("user_id").is_in(sorted(exclude_users)))
    pool = pool.with_row_index("_row")
    if k == "all" or (isinstance(k, int) and k >= pool.height):
        return pool.drop("_row")
    if not isinstance(k, int):
        raise ConfigError(f"k={k!r}: expected an integer or 'all'")
    rng = random.Random(seed)
    indices = pool["_row"].to_list()
    if not balance_classes:
        chosen = rng.sample(indices, k)
    else:
        by_class: dict[Any, list[int]] = {}
        for idx, label in zip(indices, pool[label_column].to_list(), strict=True):
            by_class.setdefault(label, []).append(idx)
        classes = sorted(by_class, key=lambda c: (c is None, c))
        per_class = k // max(1, len(classes))
        chosen = []
        for c in classes:
            chosen += rng.sample(by_class[c], min(per_class, len(by_class[c])))
        rest = sorted(set(indices) - set(chosen))
        chosen += rng.sample(rest, k - len(chosen))
        rng.shuffle(chosen)
    order = {idx: pos for pos, idx in enumerate(chosen)}
    return (
        pool.filter(pl.col("_row").is_in(chosen))
        .with_columns(pl.col("_row").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort("_order")
        .drop("_row", "_order")
    )


# ------------------------------------------------------------------------------------------------ completions


def reasoningrec_completion(label: int, teacher_text: str) -> str:
    return render_reasoningrec(label, strip_trailing_prediction(teacher_text), prediction_first=True)


def tallrec_completion(label: int) -> str:
    return "Yes." if label else "No."


# ------------------------------------------------------------------------------------------------ builders


def _messages_json(messages: Sequence[Message]) -> str:
    return json.dumps([{"role": m.role, "content": m.content} for m in messages], ensure_ascii=False)


def _fit(
    renderer: PromptRenderer,
    template: str,
    ctx: dict[str, Any],
    completion: str,
    counter: ChatTokenCounter,
    max_seq_length: int,
    where: str,
) -> tuple[tuple[Message, ...], int, int, int]:
    """(messages, history dropped, prompt tokens, completion tokens) within max_seq_length."""
    full = renderer.render(template, **ctx)
    completion_tokens = counter.completion(completion, full)
    budget = max_seq_length - completion_tokens
    if budget <= 0:
        raise ConfigError(
            f"{where}: completion alone has {completion_tokens} tokens; max_seq_length={max_seq_length} leaves no "
            "room for a prompt"
        )
    try:
        messages, dropped = renderer.render_fitted(template, ctx, counter.prompt, budget)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc} (completion uses {completion_tokens} of {max_seq_length})") from exc
    return messages, dropped, counter.prompt(messages), completion_tokens


def _trim_stats(table: pl.DataFrame) -> dict[str, int]:
    return {
        "examples": table.height,
        "trimmed_examples": int((table["history_dropped"] > 0).sum()) if table.height else 0,
        "history_items_dropped": int(table["history_dropped"].sum()) if table.height else 0,
        "max_prompt_plus_completion_tokens": int((table["prompt_tokens"] + table["completion_tokens"]).max() or 0)
        if table.height
        else 0,
        "yes": int((table["label"] == 1).sum()) if table.height else 0,
        "no": int((table["label"] == 0).sum()) if table.height else 0,
    }


def reasoningrec_pairs(
    targets: pl.DataFrame,
    teacher_reasoning: pl.DataFrame | None,
    *,
    split: str,
) -> tuple[pl.DataFrame, dict[str, int]]:
    """Target rows joined with the user's teacher reasoning for `split` (column `teacher_text`).

    Rows without a teacher text, or whose teacher text ends in a different label than the target, are excluded
    and counted (the teacher was conditioned on the true label, so a mismatch means the pairing is wrong)."""
    if teacher_reasoning is None:
        raise DataError("teacher_reasoning artefact missing: ReasoningRec SFT needs (user_id, split, text, label)")
    teacher = teacher_reasoning.filter(pl.col("split") == split).select(
        pl.col("user_id").cast(pl.String), pl.col("text").alias("teacher_text"), pl.col("label").alias("teacher_label")
    )
    joined = targets.join(teacher, on="user_id", how="left")
    missing = joined.filter(pl.col("teacher_text").is_null())
    mismatch = joined.filter(
        pl.col("teacher_text").is_not_null() & pl.col("teacher_label").is_not_null()
        & (pl.col("teacher_label") != pl.col("label"))
    )
    eligible = joined.filter(
        pl.col("teacher_text").is_not_null() & pl.col("label").is_not_null()
        & (pl.col("teacher_label").is_null() | (pl.col("teacher_label") == pl.col("label")))
    )
    stats = {
        "target_rows": targets.height,
        "missing_teacher": missing.height,
        "teacher_label_mismatch": mismatch.height,
        "eligible": eligible.height,
    }
    return eligible, stats


def build_reasoningrec_sft(
    targets: pl.DataFrame,
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    user_profiles: pl.DataFrame | None,
    teacher_reasoning: pl.DataFrame | None,
    tokenizer: Any,
    config: SFTDataConfig,
    *,
    split: str = "train",
    sample: bool = True,
    exclude_users: set[str] | None = None,
) -> SFTDataset:
    """ReasoningRec (or TALLRec, by `config.method`) examples for one split of a target table.

    `sample=False` keeps every eligible row (validation/test sets); otherwise K rows are drawn (`sample_k_shot`).
    TALLRec needs no teacher text: every labelled row is eligible.
    """
    if config.method not in ("reasoningrec", "tallrec"):
        raise ConfigError(f"build_reasoningrec_sft builds reasoningrec/tallrec data, not {config.method!r}")
    if config.domain not in DOMAINS:
        raise ConfigError(f"domain={config.domain!r} is unknown; known: {', '.join(sorted(DOMAINS))}")
    label_only = config.method == "tallrec" or config.completion == "label"
    if not label_only:
        eligible, stats = reasoningrec_pairs(targets, teacher_reasoning, split=split)
    else:
        eligible = targets.filter(pl.col("label").is_not_null()).with_columns(
            pl.lit(None, dtype=pl.String).alias("teacher_text")
        )
        stats = {"target_rows": targets.height, "unlabelled": targets.height - eligible.height,
                 "eligible": eligible.height}
    chosen = (
        sample_k_shot(eligible, config.k, config.seed, balance_classes=config.balance_classes,
                      exclude_users=exclude_users)
        if sample
        else eligible
    )
    spec = config.label_prompt()
    catalog = ItemCatalog.from_tables(items, item_descriptions if spec.descriptions else None)
    profiles = text_map(user_profiles, "user_id") if spec.profile else {}
    renderer = PromptRenderer()
    counter = ChatTokenCounter(tokenizer)
    rows: list[dict[str, Any]] = []
    overflow: list[str] = []
    for row in chosen.iter_rows(named=True):
        label = int(row["label"])
        if config.method == "tallrec":
            completion = tallrec_completion(label)
        elif label_only:
            completion = render_reasoningrec(label, "").rstrip()
        else:
            completion = reasoningrec_completion(label, row["teacher_text"])
        ctx = label_prompt_context(row, catalog, profiles, domain=DOMAINS[config.domain],
                                   like_threshold=config.like_threshold, include_descriptions=spec.descriptions,
                                   reasoning=spec.reasoning, facts=spec.facts)
        where = f"user {row['user_id']} item {row['item_id']} ({split})"
        try:
            messages, dropped, p_tok, c_tok = _fit(
                renderer, spec.template, ctx, completion, counter, config.max_seq_length, where
            )
        except ConfigError:
            if config.on_overflow == "error":
                raise
            overflow.append(where)
            continue
        rows.append({
            "user_id": str(row["user_id"]), "item_id": str(row["item_id"]), "split": split, "label": label,
            "rating": row.get("rating"), "prompt": _messages_json(messages), "completion": completion,
            "prompt_tokens": p_tok, "completion_tokens": c_tok, "history_dropped": dropped, "path_index": 0,
        })
    table = pl.DataFrame(rows, schema=SFT_SCHEMA)
    stats.update(_trim_stats(table))
    stats.update({"skipped_overflow": len(overflow), "skipped_overflow_examples": overflow[:20]})
    stats.update({"method": config.method, "split": split, "k": config.k, "seed": config.seed,
                  "balance_classes": config.balance_classes, "max_seq_length": config.max_seq_length,
                  "sampled": sample, "completion": config.completion, "facts": config.facts})
    return SFTDataset(table=table, stats=stats)


def build_rating_sft(
    paths: pl.DataFrame,
    tokenizer: Any,
    config: SFTDataConfig,
    *,
    split: str = "train",
    sample: bool = True,
    prompt_column: str = "student_prompt",
    reasoning_column: str = "reasoning",
    rating_column: str = "rating",
) -> SFTDataset:
    """EXP3RT / Rec-SAVER examples from a multi-path teacher table.

    `paths` has one row per reasoning path: user_id, item_id, `rating_column` (the target on the student's prompt
    scale), `reasoning_column`, `prompt_column` (the student prompt as a messages JSON list — rendered by the
    method's predict template, NEVER the teacher prompt that saw the rating) and optionally `keep` (a filter's
    verdict) and `sample_index`. Up to `paths_per_pair` kept paths per pair are used; K samples pairs.
    These prompts arrive pre-rendered, so an over-long one cannot be trimmed here: it is an error naming the pair.
    """
    if config.method not in ("exp3rt", "recsaver"):
        raise ConfigError(f"build_rating_sft builds exp3rt/recsaver data, not {config.method!r}")
    for col in ("user_id", "item_id", prompt_column, reasoning_column, rating_column):
        if col not in paths.columns:
            raise DataError(f"teacher paths table has no {col!r} column (columns: {paths.columns})", field=col)
    kept = paths.filter(pl.col("keep")) if "keep" in paths.columns else paths
    kept = kept.filter(pl.col(reasoning_column).is_not_null() & pl.col(rating_column).is_not_null())
    if "sample_index" in kept.columns:
        kept = kept.sort("user_id", "item_id", "sample_index")
    kept = kept.with_columns(pl.int_range(pl.len()).over("user_id", "item_id").alias("path_index"))
    kept = kept.filter(pl.col("path_index") < config.paths_per_pair)
    pairs = kept.select("user_id", "item_id", pl.col(rating_column).alias("label")).unique(
        ["user_id", "item_id"], keep="first", maintain_order=True
    )
    chosen_pairs = sample_k_shot(pairs, config.k, config.seed, balance_classes=config.balance_classes) if sample \
        else pairs
    chosen = kept.join(chosen_pairs.select("user_id", "item_id"), on=["user_id", "item_id"], how="semi")
    counter = ChatTokenCounter(tokenizer)
    render = render_exp3rt if config.method == "exp3rt" else render_recsaver
    rows = []
    for row in chosen.iter_rows(named=True):
        messages = tuple(Message(m["role"], m["content"]) for m in json.loads(row[prompt_column]))
        completion = render(float(row[rating_column]), str(row[reasoning_column]).strip())
        p_tok, c_tok = counter.prompt(messages), counter.completion(completion, messages)
        if p_tok + c_tok > config.max_seq_length:
            raise ConfigError(
                f"user {row['user_id']} item {row['item_id']}: {p_tok}+{c_tok} tokens exceed max_seq_length="
                f"{config.max_seq_length}; render the student prompt with a smaller history budget"
            )
        rating = float(row[rating_column])
        rows.append({
            "user_id": str(row["user_id"]), "item_id": str(row["item_id"]), "split": split,
            "label": int(rating > config.like_threshold), "rating": rating, "prompt": _messages_json(messages),
            "completion": completion, "prompt_tokens": p_tok, "completion_tokens": c_tok, "history_dropped": 0,
            "path_index": int(row["path_index"]),
        })
    table = pl.DataFrame(rows, schema=SFT_SCHEMA)
    stats = {"paths_in": paths.height, "paths_kept": kept.height, "pairs": pairs.height,
             "pairs_sampled": chosen_pairs.height, **_trim_stats(table), "method": config.method, "split": split,
             "k": config.k, "seed": config.seed, "paths_per_pair": config.paths_per_pair}
    return SFTDataset(table=table, stats=stats)


__all__ = [
    "SFT_SCHEMA",
    "ChatTokenCounter",
    "SFTDataConfig",
    "SFTDataset",
    "build_rating_sft",
    "build_reasoningrec_sft",
    "load_tokenizer",
    "reasoningrec_completion",
    "reasoningrec_pairs",
    "sample_k_shot",
    "tallrec_completion",
]
