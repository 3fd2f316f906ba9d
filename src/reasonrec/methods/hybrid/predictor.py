"""The explaining hybrid predictor: a CF-aware student whose log-odds a stacker calibrates against CF and statistics.

Steps, each a function so the recipe (`methods.hybrid.recipe`) and the benchmark (`bench/predictor.py`) run the
same code:

1. `cf_aware_rows`: leak-free features for the train/valid/test target tables (`reasonrec.baselines.features`),
   the evidence similarities of each target to the user's liked and disliked history items
   (`EvidenceRetriever.similarity_table`, the retrieval that grounded explanations cite), and the same tables with
   the `facts` column the CF-aware student prompt states (`LabelPrompt.facts`).
2. `train_student`: LoRA on K class-balanced train rows with CF-aware prompts through the one student path
   (`train.student.train_student`, pre-flight of the prompts it will score); label-only or label-first
   completions, optional label-token weight (`StudentConfig`). An adapter already in the run directory is reused.
3. `student_scores`: one forward pass per row — P(yes) after "Prediction:" as log-odds — plus, for the first
   `explain` rows, the explanation the student writes when asked in the reasoning format.
4. `fit_hybrid`: the stacker fitted on validation rows only, with and without the student's term (the ablation).
5. `hybrid_predictions`: PREDICTIONS_SCHEMA rows for `hybrid` and `hybrid-no-llm`; `reasoning` = the student's
   explanation, so a hybrid prediction says why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field, model_validator

from reasonrec.baselines.features import FeatureConfig, leak_free_features, with_facts
from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.kernels import DType
from reasonrec.llm.registry import build_llm
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
from reasonrec.methods.hybrid.stacker import DEFAULT_FEATURES, LLM_TERM, Stacker, StackerConfig
from reasonrec.methods.reproduction import ReproductionConfig
from reasonrec.predict import PredictConfig, predict_labels
from reasonrec.predictions import conform_predictions
from reasonrec.stages.common.context import target_rows
from reasonrec.stages.common.evidence import SIMILARITY_FEATURES, EvidenceConfig, EvidenceRetriever
from reasonrec.stages.common.grounded import ExplainConfig, with_grounded_explanations
from reasonrec.stages.student import label_prompts

HYBRID = "hybrid"
ABLATION = "hybrid-no-llm"
STUDENT = "cf-aware-student"


class StudentConfig(Config):
    """The CF-aware student (base model: the run's `llm.model`): what it is trained on and how."""

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
    threads: int | None = Field(1, ge=1, description="torch threads (1: no spin-wait collapse on a shared CPU)")
    score_dtype: DType = Field(
        "auto", description="scoring precision; auto = fp32 on CPU: bf16 moved the Beauty student's P(yes) by up to "
        "0.050 and its validation AUC by -0.016, outside the accuracy gate of a faster default (llm.kernels)")
    seed: int = 42


class HybridConfig(ReproductionConfig):
    """The hybrid on one dataset's release windows: features, student, stacker, and what is evaluated (a
    reproduction's fields: its baselines are scored on the same rows, every CI has `bootstrap` resamples)."""

    dataset: str = "reasoningrec-beauty"
    split_prefix: str = Field("release_windows_", description="target tables <prefix>train|valid|test")
    domain: str = "beauty"
    like_threshold: float = 3.0
    scale_max: float = Field(5.0, description="top of the rating scale (1.0 for 0/1 labels)")
    require_test_reference: bool = Field(False, description="test only users with released test reasoning")
    test_limit: int | None = Field(None, ge=1, description="evaluate the first N test rows only (table order)")
    features: FeatureConfig = Field(default_factory=FeatureConfig)
    evidence_features: bool = Field(True, description="stack the target's similarity to the user's liked and "
                                    "disliked history items (off: drop the sim_* columns from stacker.features)")
    evidence: EvidenceConfig = Field(
        default_factory=lambda: EvidenceConfig(generated_descriptions=False),
        description="how the similarities are computed; generated descriptions are off by default: they summarise "
        "all of an item's reviews, the target user's own review of the target included")
    use_student: bool = Field(True, description="train and score the CF-aware student (off: no-LLM hybrid only)")
    student: StudentConfig = Field(default_factory=StudentConfig)
    stacker: StackerConfig = Field(default_factory=StackerConfig)
    stacking_rows: int = Field(1000, ge=20, description="validation rows the stacker is fitted on (table order)")
    explain_rows: int = Field(0, ge=0, le=100_000, description="test rows the student also explains")
    explain: ExplainConfig = Field(
        default_factory=lambda: ExplainConfig(mode="evidence"),
        description="evidence: explanations written from retrieved evidence after the label (a label-only student "
        "has no reasoning of its own); free: the student's reasoning-format answer")
    grounding: bool = Field(True, description="check the explanations (eval.grounding) and show them in the report")
    baselines: list[str] = Field(default_factory=lambda: ["user-mean", "user-like-share", "item-mean", "mf",
                                                          "sasrec", "caser"])
    baseline_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _similarities_computed_if_stacked(self) -> HybridConfig:
        """evidence_features=false drops the similarities from the default inputs; a list naming them is refused."""
        stacked = [c for c in self.stacker.features if c in SIMILARITY_FEATURES]
        if stacked and not self.evidence_features:
            if tuple(self.stacker.features) != DEFAULT_FEATURES:
                raise ConfigError(f"stacker.features lists {stacked} but evidence_features=false computes none")
            self.stacker = self.stacker.model_copy(
                update={"features": [c for c in self.stacker.features if c not in SIMILARITY_FEATURES]})
        return self


@dataclass
class CFAwareRows:
    features: dict[str, pl.DataFrame]
    rows: dict[str, pl.DataFrame]


def cf_aware_rows(tables: Mapping[str, pl.DataFrame], cf_rows: pl.DataFrame, config: HybridConfig,
                  items: pl.DataFrame | None = None, item_descriptions: pl.DataFrame | None = None,
                  encoder: SentenceEncoder | None = None) -> CFAwareRows:
    """Features per split (leak-free facts + evidence similarities) and the rows with their prompt facts. The
    similarities need `items` (titles/descriptions to embed); a history window never holds its own target, so
    they are before the target by construction."""
    if config.evidence_features and items is None:
        raise ConfigError("hybrid evidence_features needs the items table (titles to embed)")
    features_cfg = config.features.model_copy(update={"like_threshold": config.like_threshold})
    features = leak_free_features(tables, cf_rows, features_cfg)
    if items is not None and config.evidence_features:
        retriever = EvidenceRetriever.from_tables(
            items, encoder or SentenceEncoder(cache_path=default_embedding_cache()),
            item_descriptions=item_descriptions,
            config=config.evidence.model_copy(update={"like_threshold": config.like_threshold}))
        features = {s: f.hstack(retriever.similarity_table(tables[s])) for s, f in features.items()}
    rows = {s: with_facts(tables[s], features[s], config.scale_max) for s in tables}
    return CFAwareRows(features, rows)


def _sft_config(config: HybridConfig) -> Any:
    from reasonrec.train.sft_data import SFTDataConfig

    s = config.student
    return SFTDataConfig(k=s.k, completion=s.completion, facts=True, balance_classes=True,
                         include_profile=s.include_profile, include_descriptions=s.include_descriptions,
                         like_threshold=config.like_threshold, domain=config.domain, max_seq_length=s.max_seq_length,
                         seed=s.seed)


def student_predict_config(config: HybridConfig, *, explain: int = 0, completion: str | None = None
                           ) -> PredictConfig:
    """The CF-aware student's scoring config: the prompt it was trained on (`LabelPrompt.facts`)."""
    s = config.student
    return PredictConfig(method="reasoningrec", method_name=STUDENT, dataset=config.dataset,
                         completion=completion or s.completion, facts=True, include_profile=s.include_profile,
                         include_descriptions=s.include_descriptions, like_threshold=config.like_threshold,
                         domain=config.domain, max_prompt_tokens=s.max_seq_length - 16,
                         batch_size=config.predict_batch_size, show_progress=config.show_progress,
                         generate_reasoning=explain > 0, reasoning_limit=explain or None, max_new_tokens=96,
                         explain=config.explain)


def train_student(rows: CFAwareRows, items: pl.DataFrame, artefacts: Mapping[str, pl.DataFrame | None],
                  config: HybridConfig, run_dir: Path, scored: pl.DataFrame | None = None) -> Path:
    """The adapter directory (trained now through `train.student.train_student`, or reused when
    `run_dir/adapter` already holds one). `scored`: the rows it will score, built first by the pre-flight."""
    from reasonrec.llm.chat import LocalTokenizer
    from reasonrec.train.lora import LoRAConfig
    from reasonrec.train.sft_data import build_reasoningrec_sft, load_tokenizer
    from reasonrec.train.student import train_student as train_one_student

    adapter = run_dir / "adapter"
    if (adapter / "adapter_config.json").is_file():
        return adapter
    s = config.student
    sft = _sft_config(config)
    tokenizer = load_tokenizer(config.llm.model)
    extra = (artefacts.get("item_descriptions"), artefacts.get("user_profiles"), artefacts.get("teacher_reasoning"))
    train = build_reasoningrec_sft(rows.rows["train"], items, *extra, tokenizer, sft, split="train")
    valid = build_reasoningrec_sft(rows.rows["valid"].tail(s.early_stop_rows), items, *extra, tokenizer, sft,
                                   split="valid", sample=False)
    lora = LoRAConfig(model=config.llm.model, r=s.lora_r, alpha=2 * s.lora_r, learning_rate=s.learning_rate,
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], num_train_epochs=s.epochs,
                      max_steps=s.max_steps, max_seq_length=s.max_seq_length, eval_strategy="steps",
                      eval_steps=s.eval_steps, patience=s.patience, valid_limit=s.early_stop_rows,
                      warmup_steps=0.05, n_threads=s.threads, label_weight=s.label_weight, seed=s.seed)
    checks = []
    if scored is not None and scored.height:
        counter = LocalTokenizer(tokenizer)
        checks.append(lambda: label_prompts(target_rows(scored), items, extra[0], extra[1], counter,
                                            student_predict_config(config)))
    return train_one_student(train, valid, lora, run_dir, scoring=checks, run_config=config,
                             command="hybrid student").adapter_dir


def student_llm(config: HybridConfig, adapter: Path) -> LLM:
    s = config.student
    return build_llm(config.llm.model_copy(update={"adapter": str(adapter), "dtype": s.score_dtype,
                                                   "n_threads": s.threads, "batch_size": 4}))


def student_scores(rows: pl.DataFrame, items: pl.DataFrame, llm: LLM, config: HybridConfig, *,
                   explain: int = 0, interactions: pl.DataFrame | None = None,
                   encoder: SentenceEncoder | None = None) -> pl.DataFrame:
    """The student's predictions (score = P(yes)) with an `llm_logodds` column. The first `explain` rows also get
    an explanation: written from retrieved evidence after the predicted label (`explain.mode=evidence`;
    `interactions` give the statistics), or the student's answer to the reasoning-format prompt (`free`; a
    label-only student is scored on its label-only prompt, and asked separately why)."""
    preds = predict_labels(rows, items, None, None, llm, student_predict_config(config))
    if explain:
        completion = None if config.explain.mode == "evidence" else "reasoning"
        explained = predict_labels(rows.head(explain), items, None, None, llm,
                                   student_predict_config(config, explain=explain, completion=completion),
                                   interactions=interactions, encoder=encoder)
        pad = pl.Series([None] * (preds.height - explained.height), dtype=pl.String)
        shown = [explained[c].extend(pad).alias(c) for c in ("reasoning", "evidence") if c in explained.columns]
        preds = preds.with_columns(shown)
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


def explain_own_label(frame: pl.DataFrame, rows: pl.DataFrame, items: pl.DataFrame, llm: LLM, config: HybridConfig,
                      interactions: pl.DataFrame | None, encoder: SentenceEncoder | None = None) -> pl.DataFrame:
    """The first `explain_rows` predictions of a stacker explained from evidence for *its own* label: the
    student's explanation argues for the student's label, which the stacker may overturn."""
    predict = student_predict_config(config, explain=config.explain_rows)
    return with_grounded_explanations(
        frame, target_rows(rows, None), (items, None, interactions), llm, config.explain,
        domain=predict.domain_view(), want=lambda idx: idx < config.explain_rows,
        like_threshold=config.like_threshold, seed=config.seed, batch_size=predict.batch_size,
        show=config.show_progress, encoder=encoder)


__all__ = ["ABLATION", "HYBRID", "STUDENT", "CFAwareRows", "HybridConfig", "StudentConfig", "cf_aware_rows",
           "explain_own_label", "fit_hybrid", "hybrid_predictions", "student_llm", "student_predict_config", "student_scores",
           "train_student"]
