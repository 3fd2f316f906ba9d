"""EXP3RT's rating student, shared by both reproduction protocols: teacher rationales for the training pairs →
rating SFT data on the very prompt the student is scored with → the one student path (`train.student`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.chat import LocalTokenizer
from reasonrec.llm.registry import build_llm
from reasonrec.methods.base import Timer
from reasonrec.methods.exp3rt.config import Exp3rtReproConfig
from reasonrec.methods.reproduction import evaluate, headline
from reasonrec.stages.exp3rt.predict import (
    Exp3rtPredictConfig,
    exp3rt_predict_ratings,
    rating_prompts,
    rating_prompts_json,
)
from reasonrec.stages.exp3rt.reason import TeacherConfig, exp3rt_teacher_reasoning, post_check_counts
from reasonrec.train.lora import LoRAResult
from reasonrec.train.sft_data import SFTDataConfig, build_rating_sft, load_tokenizer
from reasonrec.train.student import train_student

STUDENT = "exp3rt-student"
ZEROSHOT = "exp3rt-zeroshot"


def prompt_budget(config: Exp3rtReproConfig) -> int:
    """Prompt tokens so that prompt + completion ("Reasoning: <≤ teacher_max_new_tokens>\n\nPredicted User Rating:
    d") fits lora.max_seq_length: prompts are fitted when rendered, so `build_rating_sft` never meets an overflow."""
    completion = (config.teacher_max_new_tokens if config.rationale == "teacher" else 0) + 24
    return max(256, config.lora.max_seq_length - completion)


def stage_config(config: Exp3rtReproConfig) -> Exp3rtPredictConfig:
    """The rating prompt and read-out of every student row (and of the SFT data it trains on)."""
    return Exp3rtPredictConfig(method=student_name(config), dataset=config.dataset, reasoning=True,
                               max_new_tokens=config.max_new_tokens, max_prompt_tokens=prompt_budget(config),
                               domain=config.domain, scale=config.scale, batch_size=config.predict_batch_size,
                               seed=config.seed, show_progress=config.show_progress)


def student_name(config: Exp3rtReproConfig) -> str:
    return STUDENT if config.student == "lora" else ZEROSHOT


def teacher_paths(train: pl.DataFrame, config: Exp3rtReproConfig, llm: LLM | None
                  ) -> tuple[pl.DataFrame, dict[str, int] | None]:
    """Training pairs with the rationale the student learns (`reasoning`) and the post-checks' verdict (`keep`: no
    "Based on…" opener, no stated rating, non-empty); `rationale: none` gives every pair an empty rationale."""
    if config.rationale != "teacher" or llm is None:
        return train.with_columns(pl.lit("").alias("reasoning")), None
    tcfg = TeacherConfig(max_new_tokens=config.teacher_max_new_tokens, seed=config.seed, domain=config.domain,
                         scale=config.scale, show_progress=config.show_progress, batch_size=config.predict_batch_size)
    teacher = exp3rt_teacher_reasoning(train, llm, tcfg)
    paths = teacher.select("user_id", "item_id", "reasoning", pl.col("post_check_ok").alias("keep"))
    return train.join(paths, on=["user_id", "item_id"], how="inner"), post_check_counts(teacher)


def check_student_base(config: Exp3rtReproConfig) -> None:
    """Refuse, before any work, a LoRA student whose base is not a local model."""
    if config.student == "lora" and config.llm.backend != "hf":
        raise ConfigError("the student is trained locally: llm.backend must be 'hf' (a local/embedded model); "
                          "student=zeroshot scores any backend untrained")


def train_on_paths(train_paths: pl.DataFrame, test: pl.DataFrame, config: Exp3rtReproConfig,
                   teacher_checks: dict[str, int] | None, out: Path, command: str) -> LoRAResult:
    """Rating SFT data on the very prompt the student is scored with (fitted with the student's tokenizer), then
    the one student path; its pre-flight builds the test prompts too."""
    check_student_base(config)
    stage_cfg = stage_config(config)
    tokenizer = load_tokenizer(config.llm.model)
    student = LocalTokenizer(tokenizer)
    train_paths = train_paths.with_columns(
        pl.Series("student_prompt", rating_prompts_json(train_paths, stage_cfg, student)),
        (pl.col("rating") - stage_cfg.scale.resolved_offset()).alias("prompt_rating"),
    )
    sft = build_rating_sft(train_paths, tokenizer,
                           SFTDataConfig(method="exp3rt", k="all", seed=config.seed,
                                         max_seq_length=config.lora.max_seq_length),
                           rating_column="prompt_rating")
    if len(sft) == 0:
        raise ConfigError(f"no training example left for the student (teacher post-checks: {teacher_checks}); "
                          "raise train_pairs or teacher_max_new_tokens, or use rationale=none")
    lora = config.lora.model_copy(update={"model": config.llm.model, "seed": config.seed})
    return train_student(sft, None, lora, out / "student", run_config=config, command=f"{command}: train",
                         scoring=[lambda: rating_prompts(test, stage_cfg, student)])


def rationale_note(config: Exp3rtReproConfig, models: Mapping[str, str]) -> str:
    """The report's line on what the student learned to write before its rating."""
    if config.student == "zeroshot":
        return "Rationale: none distilled — the zero-shot student base writes its own reasoning, untrained."
    if config.rationale == "teacher":
        return "Rationale: teacher reasoning from " + models["teacher"]
    return ("Rationale: NONE — rating-only completions (no rationale distilled); the student still writes the "
            "'Reasoning:' prefix, E[rating] is read after 'Predicted User Rating:'.")


def build_student(train_paths: pl.DataFrame, test: pl.DataFrame, config: Exp3rtReproConfig,
                  teacher_checks: dict[str, int] | None, out: Path, command: str) -> tuple[LLM, dict[str, Any]]:
    """(the model that answers the test rows, metrics.json's `training`): the LoRA student, or with
    `student: zeroshot` the untrained base (no training record)."""
    if config.student == "zeroshot":
        return build_llm(config.llm), {"student": "zeroshot: the untrained student base, no fine-tuning"}
    result = train_on_paths(train_paths, test, config, teacher_checks, out, command)
    llm = build_llm(config.llm.model_copy(update={"adapter": str(result.adapter_dir)}))
    return llm, {"train_examples": result.train_examples, "global_step": result.global_step,
                 "wall_s": round(result.wall_s, 1), "adapter_dir": str(result.adapter_dir)}


@dataclass
class StudentRun:
    """What the reproductions report of the student: its test rows, their evaluation, its training record."""

    predictions: pl.DataFrame
    result: dict[str, Any]
    llm: LLM
    training: dict[str, Any]
    teacher_checks: dict[str, int] | None

    def metrics(self, config: Exp3rtReproConfig) -> dict[str, Any]:
        """metrics.json's headline and `runs` (the student's row), its training record and teacher post-checks."""
        name, top = student_name(config), headline(self.result)
        return {"method": name, "dataset": config.dataset, "split": "test", **top,
                "runs": [{"method": name, "dataset": config.dataset, "split": "test", **top, "result": self.result}],
                "teacher_post_checks": self.teacher_checks, "training": self.training}


def distil_and_score(train: pl.DataFrame, test: pl.DataFrame, config: Exp3rtReproConfig, teacher: LLM | None,
                     out: Path, command: str, timer: Timer) -> StudentRun:
    """Teacher rationales for the `train` contexts → the student → E[rating] on the `test` contexts, evaluated.
    An untrained (zero-shot) student needs no rationales, so the teacher is not asked for them."""
    with timer("teacher"):
        train_paths, teacher_checks = teacher_paths(train, config, teacher if config.student == "lora" else None)
    with timer("train_student"):
        student_llm, training = build_student(train_paths, test, config, teacher_checks, out, command)
    with timer("score_student"):
        preds = exp3rt_predict_ratings(test, student_llm, stage_config(config))
    result = evaluate(preds, config, like_cutoff=config.like_cutoff)
    return StudentRun(preds, result, student_llm, training, teacher_checks)


__all__ = [
    "STUDENT",
    "ZEROSHOT",
    "StudentRun",
    "build_student",
    "check_student_base",
    "distil_and_score",
    "prompt_budget",
    "rationale_note",
    "stage_config",
    "student_name",
    "teacher_paths",
    "train_on_paths",
]
