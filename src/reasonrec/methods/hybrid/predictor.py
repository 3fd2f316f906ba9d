"""The explaining hybrid predictor: a CF-aware student whose log-odds a stacker calibrates against CF and statistics.

Steps, each a function so a benchmark or a recipe can run, cache or replace it:

1. `cf_aware_rows`: leak-free features for the train/valid/test target tables (`reasonrec.features`) and the same
   tables with a `facts` column the student prompts state.
2. `train_student`: LoRA on K (class-balanced) train rows with CF-aware prompts; label-only or label-first
   completions, optional label-token weight (`StudentConfig`). An adapter already in the run directory is reused.
3. `student_scores`: one forward pass per row — P(yes) after "Prediction:" as log-odds — plus, for the first
   `explain_rows` rows, the explanation the student writes (that is the text the hybrid's predictions carry).
4. `fit_hybrid`: the stacker fitted on validation rows only, with and without the student's term (the ablation).
5. `hybrid_predictions`: PREDICTIONS_SCHEMA rows for `hybrid` and `hybrid-no-llm`; `reasoning` = the student's
   explanation, so every hybrid prediction says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.features import FeatureConfig, leak_free_features, with_facts
from reasonrec.llm.base import LLM
from reasonrec.methods.hybrid.stacker import LLM_TERM, Stacker, StackerConfig
from reasonrec.predictions import conform_predictions

HYBRID = "hybrid"
ABLATION = "hybrid-no-llm"


class StudentConfig(Config):
    """The CF-aware student: what it is trained on and how."""

    model: str = Field("embedded", description="'embedded' (SmolLM2-135M), 'gemma3-270m' or a model directory")
    k: int = Field(512, ge=2, description="class-balanced training rows")
    completion: Literal["label", "reasoning"] = Field(
        "label", description="label-only, or label first + teacher reasoning (needs teacher_reasoning)")
    label_weight: float = Field(1.0, gt=0, le=1000)
    lora_r: int = Field(16, ge=1)
    learning_rate: float = Field(5e-4, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    eval_steps: int = Field(32, ge=1)
    patience: int = Field(3, ge=1)
    early_stop_rows: int = Field(128, ge=8, description="validation rows for early stopping")
    max_seq_length: int = Field(768, ge=128)
    include_profile: bool = False
    include_descriptions: bool = False
    threads: int | None = Field(1, ge=1)
    seed: int = 42


class HybridConfig(Config):
    domain: str = "beauty"
    like_threshold: float = 3.0
    scale_max: float = Field(5.0, description="top of the rating scale (1.0 for 0/1 labels)")
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    student: StudentConfig = Field(default_factory=StudentConfig)
    stacker: StackerConfig = Field(default_factory=StackerConfig)
    stacking_rows: int | None = Field(1000, ge=20, description="validation rows the stacker is fitted on")
    explain_rows: int = Field(0, ge=0, le=100_000, description="test rows the student also explains")
    score_dtype: str = Field("bfloat16", description="student scoring precision")


@dataclass
class CFAwareRows:
    features: dict[str, pl.DataFrame]
    rows: dict[str, pl.DataFrame]


def cf_aware_rows(tables: Mapping[str, pl.DataFrame], cf_rows: pl.DataFrame, config: HybridConfig) -> CFAwareRows:
    features_cfg = config.features.model_copy(update={"like_threshold": config.like_threshold})
    features = leak_free_features(tables, cf_rows, features_cfg)
    rows = {s: with_facts(tables[s], features[s], config.scale_max) for s in tables}
    return CFAwareRows(features, rows)


def _sft_config(config: HybridConfig) -> Any:
    from reasonrec.train.sft_data import SFTDataConfig

    s = config.student
    return SFTDataConfig(k=s.k, completion=s.completion, balance_classes=True, include_profile=s.include_profile,
                         include_descriptions=s.include_descriptions, like_threshold=config.like_threshold,
                         domain=config.domain, max_seq_length=s.max_seq_length, seed=s.seed)


def train_student(rows: CFAwareRows, items: pl.DataFrame, artefacts: Mapping[str, pl.DataFrame | None],
                  config: HybridConfig, run_dir: Path) -> Path:
    """The adapter directory (trained now, or reused when `run_dir/adapter` already holds one)."""
    from reasonrec.train.lora import LoRAConfig, train_lora
    from reasonrec.train.sft_data import build_reasoningrec_sft, load_tokenizer

    adapter = run_dir / "adapter"
    if (adapter / "adapter_config.json").is_file():
        return adapter
    s = config.student
    sft = _sft_config(config)
    tokenizer = load_tokenizer(s.model)
    extra = (artefacts.get("item_descriptions"), artefacts.get("user_profiles"), artefacts.get("teacher_reasoning"))
    train = build_reasoningrec_sft(rows.rows["train"], items, *extra, tokenizer, sft, split="train")
    valid = build_reasoningrec_sft(rows.rows["valid"].tail(s.early_stop_rows), items, *extra, tokenizer, sft,
                                   split="valid", sample=False)
    lora = LoRAConfig(model=s.model, r=s.lora_r, alpha=2 * s.lora_r, learning_rate=s.learning_rate,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], num_train_epochs=s.epochs,
                      max_steps=s.max_steps, max_seq_length=s.max_seq_length, eval_strategy="steps",
                      eval_steps=s.eval_steps, patience=s.patience, valid_limit=s.early_stop_rows,
                      warmup_steps=0.05, n_threads=s.threads, label_weight=s.label_weight, seed=s.seed)
    train_lora(train, valid, lora, run_dir, run_config=config, command="hybrid student")
    return adapter


def student_llm(config: HybridConfig, adapter: Path) -> LLM:
    from reasonrec.llm.registry import LLMConfig, build_llm

    s = config.student
    return build_llm(LLMConfig(model=s.model, adapter=str(adapter), dtype=config.score_dtype, n_threads=s.threads,
                               batch_size=4))


def student_scores(rows: pl.DataFrame, items: pl.DataFrame, llm: LLM, config: HybridConfig, *,
                   explain: int = 0, dataset: str = "") -> pl.DataFrame:
    """The student's predictions (score = P(yes)) with an `llm_logodds` column; explanations on the first rows."""
    from reasonrec.predict import PredictConfig, predict_labels

    s = config.student
    predict = PredictConfig(method="reasoningrec", method_name="cf-aware-student", dataset=dataset,
                            completion=s.completion, include_profile=s.include_profile,
                            include_descriptions=s.include_descriptions, like_threshold=config.like_threshold,
                            domain=config.domain, max_prompt_tokens=s.max_seq_length - 16, show_progress=False,
                            batch_size=4, generate_reasoning=explain > 0, reasoning_limit=explain)
    preds = predict_labels(rows, items, None, None, llm, predict)
    p = np.clip(preds["score"].to_numpy().astype(np.float64), 1e-6, 1 - 1e-6)
    return preds.with_columns(pl.Series(LLM_TERM, np.log(p) - np.log1p(-p)))


def fit_hybrid(features: pl.DataFrame, labels: np.ndarray, logodds: np.ndarray | None, config: StackerConfig
               ) -> tuple[Stacker | None, Stacker]:
    """(hybrid with the student's term — None without student scores —, the no-LLM ablation), both fitted on
    the same validation rows."""
    ablation = Stacker(config.without(LLM_TERM)).fit(features, labels)
    if logodds is None:
        return None, ablation
    hybrid = Stacker(config).fit(features.with_columns(pl.Series(LLM_TERM, logodds)), labels)
    return hybrid, ablation


def hybrid_predictions(rows: pl.DataFrame, features: pl.DataFrame, model: Stacker, *, method: str, dataset: str,
                       student: pl.DataFrame | None = None) -> pl.DataFrame:
    """PREDICTIONS_SCHEMA rows of one stacker; with `student` (its predictions for the same rows) the student's
    log-odds feed the stacker and its explanation becomes the prediction's `reasoning`."""
    table = features if student is None else features.with_columns(student[LLM_TERM])
    p = model.predict_proba(table)
    out = pl.DataFrame({
        "method": method, "dataset": dataset, "split": rows["split"], "user_id": rows["user_id"].cast(pl.String),
        "item_id": rows["item_id"].cast(pl.String), "label": rows["label"], "rating": rows["rating"], "score": p,
        "pred_label": (p >= 0.5).astype(np.int64),
        "reasoning": student["reasoning"] if student is not None else pl.Series([None] * rows.height, dtype=pl.String),
    })
    return conform_predictions(out)


__all__ = ["ABLATION", "HYBRID", "CFAwareRows", "HybridConfig", "StudentConfig", "cf_aware_rows", "fit_hybrid",
           "hybrid_predictions", "student_llm", "student_scores", "train_student"]
