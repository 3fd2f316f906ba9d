"""`reasonrec reproduce reasoningrec`: the ReasoningRec paper's Beauty / ML-1M table, with our student.

Protocol (paper §4 / App. A.4, with what this machine and the release allow):
- Student: the configured base model (embedded SmolLM2-135M by default — NOT the paper's Llama-2-7B) + LoRA,
  trained on K train targets whose prompts are rebuilt from the canonical tables (`train.sft_data`) and whose
  completions are the released Mixtral teacher reasoning; early-stopped on validation AUC (`train.lora`).
- Test: P(like) from one forward pass per test prompt (`predict.predict_labels`) on the whole test split (or the
  first `test_users` users); generated reasoning vs the released test reasoning on the first `reasoning_rows`
  rows (BLEU / ROUGE-1 / METEOR / BERTScore with MiniLM — the paper's BERTScore model differs).
- Same rows, same report: TALLRec (same K, same base, "Yes."/"No." completions), zero-shot base model (vanilla and
  full CoT prompts), classic baselines (user mean / like-share — the real bar on Beauty — MF, SASRec, Caser),
  and the authors' numbers from their release (their results.json AUC/BERTScore, plus the AUC recomputed from
  their student outputs on all rows and on distinct prompts).
- ML-1M: the release has teacher reasoning for 3,200 train/valid users and 1,880 test users; the student trains
  on users that have it (the SFT builder excludes and counts the rest) and is tested on the 1,880.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.baselines import TrainData
from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.loaders.reasoningrec import release_notes
from reasonrec.data.schema import Dataset
from reasonrec.data.splits import from_target_tables
from reasonrec.errors import ConfigError
from reasonrec.eval.grounding.marks import summarise_marks
from reasonrec.eval.text import TextMetricsConfig
from reasonrec.io import write_parquet
from reasonrec.llm.base import LLM
from reasonrec.llm.chat import LocalTokenizer
from reasonrec.llm.registry import build_llm
from reasonrec.methods.base import Ablation, Protocol, Timer
from reasonrec.methods.reproduction import (
    ReproductionConfig,
    baseline_predictions,
    evaluate,
    finish_reproduction,
    headline,
    mark_explanations,
    models_note,
    models_record,
    with_k,
)
from reasonrec.predict import PredictConfig, predict_labels
from reasonrec.stages.common.context import target_rows
from reasonrec.stages.common.grounded import ExplainConfig
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict
from reasonrec.stages.student import label_prompts
from reasonrec.train.lora import LoRAConfig, LoRAResult
from reasonrec.train.sft_data import SFTDataConfig, load_tokenizer
from reasonrec.train.student import ScoringCheck, TrainRunConfig, run_training

STUDENT = "reasoningrec-student"
RELEASED_TEACHER = "Mixtral-8x7B-Instruct (the release's teacher reasoning, descriptions and profiles)"
TALLREC = "tallrec-student"
TEXT_METRICS = ["bleu", "rouge1", "meteor", "bertscore"]


class ReasoningRecReproConfig(ReproductionConfig):
    """Defaults = the paper's protocol on Beauty (K=256, all test users, patience 5, 2048 tokens)."""

    dataset: str = "reasoningrec-beauty"
    k: int | Literal["all"] = 256
    train_split: str = "release_windows_train"
    valid_split: str = "release_windows_valid"
    test_split: str = "release_windows_test"
    domain: str = "beauty"
    like_threshold: float = Field(3.0, description="r_T (ML-1M release ratings are already 0/1: 0.5)")
    test_users: int | None = Field(None, ge=1, description="score only the first N test users (None = all)")
    require_test_reference: bool = Field(False, description="test only users with released test reasoning")
    reasoning_rows: int = Field(100, ge=0, description="generate + score reasoning for the first N test rows")
    max_new_tokens: int = Field(256, ge=1)
    explain: ExplainConfig = Field(default_factory=ExplainConfig, description="the student's explanations: "
                                   "free (its own reasoning) | evidence (grounded, after the label)")
    grounding: bool = Field(True, description="check generated explanations (eval.grounding) and show them, "
                            "with their marks, in the report")
    max_prompt_tokens: int | None = Field(None, description="scoring prompt budget (default lora.max_seq_length "
                                          "- 256, the room the completion had in training)")
    lora: LoRAConfig = Field(default_factory=LoRAConfig)
    sft_on_overflow: Literal["error", "skip"] = "error"
    balance_classes: bool = False
    include_profile: bool = Field(True, description="student prompts show the user profile (Table 3: w/o profile)")
    include_descriptions: bool = Field(True, description="student prompts show item descriptions (Table 3: w/o "
                                       "description)")
    tallrec: bool = True
    zeroshot: list[str] = Field(default_factory=lambda: ["vanilla", "full"])
    baselines: list[str] = Field(default_factory=lambda: ["user-mean", "user-like-share", "mf", "sasrec", "caser"])
    baseline_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    student_adapter: Path | None = Field(
        None, description="score this already-trained LoRA adapter instead of training the student (e.g. to "
        "resume after the training half of a long run; its own manifest says how it was trained)")
    tallrec_adapter: Path | None = Field(None, description="score this already-trained TALLRec adapter instead of "
                                         "training one (with tallrec=true)")


DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "reasoningrec-beauty": {},
    "reasoningrec-release": {},
    "reasoningrec-ml1m": {
        "train_split": "seq_ctr_train", "valid_split": "seq_ctr_valid", "test_split": "seq_ctr_test",
        "domain": "movies", "like_threshold": 0.5, "require_test_reference": True,
        "lora": {"learning_rate": 3e-5},
    },
}

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "k": 16, "test_users": 48, "reasoning_rows": 2, "max_new_tokens": 64, "bootstrap": 500,
        "sft_on_overflow": "skip",
        "lora": {"max_seq_length": 768, "num_train_epochs": 1, "valid_limit": 16, "patience": 5},
        "baseline_overrides": {"sasrec": {"max_epochs": 20}, "caser": {"max_epochs": 20}},
    },
    "full": {},
}

# Budget adjustments a dataset needs on top of PRESETS: ML-1M prompts carry long Mixtral profiles, so even an
# empty-history scoring prompt is ~540 tokens and the quick preset's 768-token window (scoring budget 512) can't hold it.
DATASET_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "reasoningrec-ml1m": {"quick": {"lora": {"max_seq_length": 1280}}},
}


# ------------------------------------------------------------------------------------------------ pieces


def test_rows(ds: Dataset, config: ReasoningRecReproConfig) -> pl.DataFrame:
    """The evaluated test targets: labelled rows of the test split (users with a reference if required),
    first `test_users` users in table order (never chosen by outcome)."""
    if config.test_split not in ds.splits:
        raise ConfigError(f"{config.dataset} has no split {config.test_split!r}; have {sorted(ds.splits)}")
    rows = ds.splits[config.test_split].filter(pl.col("label").is_not_null())
    if config.require_test_reference:
        teacher = ds.artefacts.get("teacher_reasoning")
        if teacher is None:
            raise ConfigError(f"{config.dataset}: require_test_reference needs a teacher_reasoning artefact")
        users = teacher.filter(pl.col("split") == "test")["user_id"].cast(pl.String).unique()
        rows = rows.filter(pl.col("user_id").is_in(users.implode()))
    if config.test_users is not None:
        keep = rows["user_id"].unique(maintain_order=True).head(config.test_users)
        rows = rows.filter(pl.col("user_id").is_in(keep.implode()))
    return rows


def run_baselines(ds: Dataset, config: ReasoningRecReproConfig, rows: pl.DataFrame, out: Path
                  ) -> tuple[dict[str, Any], dict[str, float]]:
    """Fit each configured baseline on train (+valid for early stopping), score the SAME test rows."""
    split = from_target_tables(ds.interactions, ds.splits[config.train_split], ds.splits[config.valid_split],
                               ds.splits[config.test_split])
    data = TrainData(split.train_interactions, split.train, split.valid, r_threshold=config.like_threshold)
    results: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    fitted = baseline_predictions(data, rows, config.baselines, seed=config.seed, dataset=config.dataset,
                                  overrides=config.baseline_overrides)
    for name, (preds, took) in fitted.items():
        write_parquet(out / "baselines" / f"{name}.parquet", preds)
        results[name] = _record(evaluate(preds, config), config, split="test")
        seconds[name] = took
    return results, seconds


def _record(result: dict[str, Any], config: ReasoningRecReproConfig, *, split: str | None = "test",
            **ident: Any) -> dict[str, Any]:
    return {"dataset": config.dataset, "split": split, **ident, **headline(result), "result": result}


def authors_figures(ds: Dataset, config: ReasoningRecReproConfig) -> list[dict[str, Any]]:
    """The authors' reported numbers (results.json) and, where their outputs are released, the AUC recomputed
    from them on all rows (as they did) and on distinct prompts (their rows repeat)."""
    results = ds.artefacts.get("authors_results")
    outputs = ds.artefacts.get("student_reference_outputs")
    records = []
    if results is None:
        return records
    for row in results.sort("k").iter_rows(named=True):
        rec: dict[str, Any] = {
            "method": f"reasoningrec (authors' Llama-2-7B, K={row['k']})", "dataset": config.dataset,
            "k": row["k"], "auc": row["auc"], "bertscore": row["bertscore"], "source": f"results.json {row['run']}",
        }
        if outputs is not None:
            part = outputs.filter(pl.col("k") == row["k"])
            if part.height:
                preds = pl.DataFrame({
                    "method": "authors", "dataset": config.dataset, "split": "test",
                    "user_id": part["user_id"].cast(pl.String), "item_id": None,
                    "label": part["label"], "score": part["logit"], "input": part["input"],
                }, schema_overrides={"item_id": pl.String})
                res = evaluate(preds, config, dedupe_on="input")
                rec.update({"n": res.get("n"), "auc_recomputed_all_rows": res.get("auc"),
                            "auc_distinct_prompts": (res.get("distinct") or {}).get("auc"),
                            "n_distinct_prompts": res.get("n_distinct")})
        records.append(rec)
    return records


def _student_llm(config: ReasoningRecReproConfig, adapter: Path | None) -> LLM:
    return build_llm(config.llm.model_copy(update={"adapter": None if adapter is None else str(adapter)}))


def scoring_budget(config: ReasoningRecReproConfig) -> int:
    """Prompt tokens when scoring: default lora.max_seq_length − 256, the room the completion had in training."""
    return config.max_prompt_tokens or max(256, config.lora.max_seq_length - 256)


def student_inputs(config: ReasoningRecReproConfig, method: str) -> dict[str, bool]:
    """What the `method` student's prompt shows: the ablation switches apply to the ReasoningRec student only."""
    if method != "reasoningrec":
        return {}
    return {"include_profile": config.include_profile, "include_descriptions": config.include_descriptions}


def student_predict_config(config: ReasoningRecReproConfig, method: str, name: str, reasoning_rows: int
                           ) -> PredictConfig:
    return PredictConfig(method=method, method_name=name, dataset=config.dataset, domain=config.domain,
                         **student_inputs(config, method),
                         like_threshold=config.like_threshold, generate_reasoning=reasoning_rows > 0,
                         reasoning_limit=reasoning_rows or None, max_new_tokens=config.max_new_tokens,
                         explain=config.explain,
                         max_prompt_tokens=scoring_budget(config), batch_size=config.predict_batch_size,
                         seed=config.seed, show_progress=config.show_progress)


def zeroshot_config(config: ReasoningRecReproConfig, variant: str) -> ZeroShotConfig:
    return ZeroShotConfig(variant=variant, dataset=config.dataset, domain=config.domain,
                          like_threshold=config.like_threshold, max_prompt_tokens=scoring_budget(config),
                          batch_size=config.predict_batch_size, show_progress=config.show_progress)


def scoring_checks(ds: Dataset, rows: pl.DataFrame, config: ReasoningRecReproConfig) -> list[ScoringCheck]:
    """Every prompt family the run scores after training (student, TALLRec, each zero-shot variant), built by the
    scorers' own prompt builders with the base model's tokenizer: the students' pre-flight."""
    tokenizer = LocalTokenizer(load_tokenizer(config.llm.model))
    targets = target_rows(rows)
    a = ds.artefacts
    tables = (ds.items, a.get("item_descriptions"), a.get("user_profiles"))
    students = [("reasoningrec", STUDENT), *([("tallrec", TALLREC)] if config.tallrec else [])]
    configs = [student_predict_config(config, method, name, 0) for method, name in students]
    configs += [zeroshot_config(config, variant) for variant in config.zeroshot]
    return [lambda c=c: label_prompts(targets, *tables, tokenizer, c) for c in configs]


def train_student(config: ReasoningRecReproConfig, method: str, out: Path,
                  scoring: list[ScoringCheck] | None = None) -> LoRAResult:
    """LoRA run through the one student path (K-shot SFT data built from the canonical tables; pre-flight)."""
    if config.llm.backend != "hf":
        raise ConfigError("the student is trained locally: llm.backend must be 'hf' (a local/embedded model)")
    sft = SFTDataConfig(method=method, k=config.k, seed=config.seed, balance_classes=config.balance_classes,
                        max_seq_length=config.lora.max_seq_length, domain=config.domain,
                        like_threshold=config.like_threshold, on_overflow=config.sft_on_overflow,
                        **student_inputs(config, method))
    run_cfg = TrainRunConfig(dataset=config.dataset, data_dir=config.data_dir, train_split=config.train_split,
                             valid_split=config.valid_split, sft=sft,
                             lora=config.lora.model_copy(update={"model": config.llm.model, "seed": config.seed}))
    return run_training(run_cfg, out, command=f"reproduce reasoningrec: train {method}", scoring=scoring or [])


def predict_student(ds: Dataset, rows: pl.DataFrame, config: ReasoningRecReproConfig, method: str,
                    adapter: Path | None, *, name: str, reasoning_rows: int) -> pl.DataFrame:
    a = ds.artefacts
    return predict_labels(rows, ds.items, a.get("item_descriptions"), a.get("user_profiles"),
                          _student_llm(config, adapter), student_predict_config(config, method, name, reasoning_rows),
                          teacher_reasoning=a.get("teacher_reasoning"), interactions=ds.interactions)


def predict_zeroshot(ds: Dataset, rows: pl.DataFrame, config: ReasoningRecReproConfig, variant: str, llm: LLM
                     ) -> pl.DataFrame:
    a = ds.artefacts
    return zeroshot_predict(rows, ds.items, a.get("item_descriptions"), a.get("user_profiles"), llm,
                            zeroshot_config(config, variant))


# ------------------------------------------------------------------------------------------------ run


def run(config: ReasoningRecReproConfig, out_dir: str | Path, llm: LLM | None = None, *,
        command: str = "reproduce reasoningrec") -> dict[str, Any]:
    """Train + score everything, write OUT/ (see `methods.reproduction`); returns the metrics dict. `llm` is the
    zero-shot model (default: the configured base model)."""
    started = time.time()
    for field_name in ("student_adapter", "tallrec_adapter"):
        given = getattr(config, field_name)
        if given is not None and not (Path(given) / "adapter_config.json").exists():
            raise ConfigError(f"{field_name}={given}: no adapter_config.json there")
    out = Path(out_dir)
    timer = Timer()
    with timer("load"):
        ds = load_dataset(config.dataset, config.data_dir, LoadOptions(domain=config.domain))
        rows = test_rows(ds, config)
    if rows.height == 0:
        raise ConfigError(f"{config.dataset}/{config.test_split}: no labelled test rows selected")
    notes: list[str] = []
    training: dict[str, Any] = {}
    frames = score_methods(ds, rows, config, out, llm, timer, training, notes)
    text_cfg = config.text_config(TEXT_METRICS) if config.reasoning_rows else None
    with timer("evaluate"):
        runs = evaluate_runs(frames, config, text_cfg)
    with timer("grounding"):
        frames = mark_explanations(ds, frames, config.grounding)
    with timer("baselines"):
        baselines, baseline_seconds = run_baselines(ds, config, rows, out)
    authors = authors_figures(ds, config)
    notes.extend(_notes(config, rows, runs, baselines, training, release_notes(ds.info, config.test_split)))
    top = runs[0]
    metrics: dict[str, Any] = {
        "method": STUDENT, "dataset": config.dataset, "split": "test",
        "k": config.k if isinstance(config.k, int) else None,
        **{k: v for k, v in top.items() if k not in ("method", "dataset", "split", "k", "result")},
        "runs": [{k: v for k, v in r.items() if k != "result"} | {"result": r["result"]} for r in runs],
        "baselines": baselines, "authors": authors, "notes": notes,
        "training": training, "timings": {**timer.seconds, "baseline_fit_predict": baseline_seconds},
        "test_rows": rows.height, "test_users": rows["user_id"].n_unique(),
        "base_model": config.llm.model, "models": models_record(config, RELEASED_TEACHER),
        "grounding": summarise_marks(pl.concat(frames, how="diagonal_relaxed")),
    }
    finish_reproduction(out, config=config, command=command, predictions=pl.concat(frames, how="diagonal_relaxed"),
                        metrics=metrics, started_at=started, text=text_cfg,
                        title=f"ReasoningRec reproduction — {config.dataset} (K={config.k}, {config.budget})",
                        ablations=ABLATIONS)
    return metrics


def score_methods(ds: Dataset, rows: pl.DataFrame, config: ReasoningRecReproConfig, out: Path, llm: LLM | None,
                  timer: Timer, training: dict[str, Any], notes: list[str]) -> list[pl.DataFrame]:
    """The method runs on the test rows, in report order: student, TALLRec, zero-shot variants (+ `k`). Students
    that are not reused are trained first, after one pre-flight of every prompt scored here."""
    checks = (scoring_checks(ds, rows, config)
              if config.student_adapter is None or (config.tallrec and config.tallrec_adapter is None) else [])
    adapter_dir = _trained_or_reused(config, "reasoningrec", config.student_adapter, out / "student", timer,
                                     training, notes, checks)
    frames = []
    with timer("score_student"):
        preds = predict_student(ds, rows, config, "reasoningrec", adapter_dir, name=STUDENT,
                                reasoning_rows=config.reasoning_rows)
    frames.append(with_k(preds, config.k))
    if config.tallrec:
        tall_dir = _trained_or_reused(config, "tallrec", config.tallrec_adapter, out / "tallrec", timer, training,
                                      notes, checks)
        with timer("score_tallrec"):
            frames.append(with_k(predict_student(ds, rows, config, "tallrec", tall_dir, name=TALLREC,
                                                 reasoning_rows=0), config.k))
    if config.zeroshot:
        base_llm = llm if llm is not None else _student_llm(config, None)
        for variant in config.zeroshot:
            with timer(f"zeroshot_{variant}"):
                frames.append(with_k(predict_zeroshot(ds, rows, config, variant, base_llm), None))
    return frames


def evaluate_runs(frames: list[pl.DataFrame], config: ReasoningRecReproConfig,
                  text_cfg: TextMetricsConfig | None) -> list[dict[str, Any]]:
    """One record per method run; generated reasoning is scored against the released test reasoning."""
    bert = config.bertscore_scorer() if text_cfg else None
    runs = []
    for frame in frames:
        has_text = text_cfg is not None and frame["reasoning"].is_not_null().any()
        result = evaluate(frame.drop("k"), config, text=text_cfg if has_text else None, bertscore=bert)
        k = frame["k"][0]
        runs.append(_record(result, config, method=frame["method"][0], k=None if k is None else int(k)))
    return runs


# method → (name in the report, timer suffix, how notes call it)
_STUDENTS: dict[str, tuple[str, str, str]] = {
    "reasoningrec": (STUDENT, "student", "Student"),
    "tallrec": (TALLREC, "tallrec", "TALLRec"),
}


def _trained_or_reused(config: ReasoningRecReproConfig, method: str, given: Path | None, out: Path, timer: Timer,
                       training: dict[str, Any], notes: list[str], checks: list[ScoringCheck]) -> Path:
    """The adapter to score: `given` (an earlier run's, recorded as reused) or a freshly trained one."""
    name, key, label = _STUDENTS[method]
    if given is not None:
        training[name] = {"adapter_dir": str(given), "reused": True}
        notes.append(f"{label} adapter reused from {given} (not trained in this run).")
        return Path(given)
    with timer(f"train_{key}"):
        result = train_student(config, method, out, checks)
    training[name] = _training_summary(result)
    return result.adapter_dir


def _training_summary(result: LoRAResult) -> dict[str, Any]:
    stats_path = result.out_dir / "sft_stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    train = stats.get("train") or {}
    return {
        "adapter_dir": str(result.adapter_dir), "train_examples": result.train_examples,
        "best_valid_metric": result.best_metric if result.best_metric is not None
        and abs(result.best_metric) != float("inf") else None,
        "best_step": result.best_step, "global_step": result.global_step,
        "wall_s": round(result.wall_s, 1),
        "sft": {k: train.get(k) for k in ("eligible", "missing_teacher", "teacher_label_mismatch", "examples", "yes",
                                          "no", "trimmed_examples", "history_items_dropped", "skipped_overflow")
                if k in train},
    }


def _notes(config: ReasoningRecReproConfig, rows: pl.DataFrame, runs: list[dict[str, Any]],
           baselines: dict[str, Any], training: dict[str, Any], release: list[str]) -> list[str]:
    notes = [
        models_note(models_record(config, RELEASED_TEACHER)) + " The zero-shot rows use the student base.",
        f"Student base model: {config.llm.model} (the embedded model is SmolLM2-135M-Instruct), not the paper's "
        "Llama-2-7B; LoRA r={r}, alpha={a} on {m}, lr {lr:g}.".format(
            r=config.lora.r, a=config.lora.alpha, m="/".join(config.lora.target_modules),
            lr=config.lora.learning_rate),
        ("Prompts are rebuilt from the canonical target tables (the released fine-tuning JSON names the train "
        "target in test prompts); completions are the released Mixtral teacher reasoning, prediction first."),
        ("BLEU/ROUGE-1/METEOR/BERTScore compare generated reasoning with the released test teacher reasoning, "
        "which was conditioned on the true label."),
        config.bertscore_note(),
        (f"Test rows: {rows.height} ({rows['label'].sum()} liked / {(rows['label'] == 0).sum()} not) from "
        f"{config.test_split}; every method and baseline is scored on exactly these rows."),
        *release,
    ]
    if config.budget == "quick":
        notes.append(f"QUICK budget: K={config.k}, {config.lora.num_train_epochs:g} epoch(s), max_seq_length "
                     f"{config.lora.max_seq_length}, first {config.test_users} test users, reasoning generated for "
                     f"{config.reasoning_rows} rows ({config.max_new_tokens} new tokens): a smoke-scale run, "
                     "not the paper protocol (use --budget full).")
    for name, info in training.items():
        sft = info.get("sft") or {}
        if info.get("best_valid_metric") is None and not info.get("reused"):
            notes.append(f"{name}: validation {config.lora.eval_metric} was undefined or not computed (e.g. one "
                         f"class in the {config.lora.valid_limit}-row valid subset), so early stopping and "
                         "best-adapter selection had no signal: the last adapter was used.")
        if sft.get("skipped_overflow"):
            notes.append(f"{name}: {sft['skipped_overflow']} sampled examples could not fit max_seq_length even "
                         "with an empty history and were skipped (counted, not silent).")
        if sft.get("trimmed_examples"):
            notes.append(f"{name}: {sft['trimmed_examples']} training examples were trimmed oldest-history-first "
                         "to fit.")
    student = next((r for r in runs if r.get("method") == STUDENT), None)
    scored = {n: b.get("auc") for n, b in baselines.items() if isinstance(b.get("auc"), (int, float))}
    if student and isinstance(student.get("auc"), (int, float)) and scored:
        best = max(scored, key=lambda n: scored[n])
        verdict = "above" if student["auc"] > scored[best] else "below"
        notes.append(f"Verdict: student AUC {student['auc']:.3f} is {verdict} the best baseline on the same rows "
                     f"({best} {scored[best]:.3f}). User-statistics baselines are the bar on this split.")
    return notes


ABLATIONS: dict[str, Ablation] = {
    "wo-description": Ablation("ReasoningRec Table 3, 'ReasoningRec w/o Description' (fine-tuned, user profiles only)",
                               {"include_descriptions": False, "tallrec": False, "zeroshot": []}),
    "wo-profile": Ablation("ReasoningRec Table 3, 'ReasoningRec w/o Profile' (fine-tuned, item descriptions only)",
                           {"include_profile": False, "tallrec": False, "zeroshot": []}),
    "zeroshot-inputs": Ablation("ReasoningRec Table 4, zero-shot with / without descriptions and profiles",
                                {"zeroshot": ["vanilla", "wo_description", "wo_profile", "full"], "tallrec": False}),
}

REPRODUCTION = Protocol(
    name="reproduce reasoningrec", config=ReasoningRecReproConfig, run=run, default_dataset="reasoningrec-beauty",
    presets=PRESETS, datasets=DATASET_DEFAULTS, dataset_presets=DATASET_PRESETS, ablations=ABLATIONS,
)

__all__ = ["ABLATIONS", "DATASET_DEFAULTS", "PRESETS", "REPRODUCTION", "ReasoningRecReproConfig", "authors_figures",
           "run", "run_baselines", "test_rows"]
