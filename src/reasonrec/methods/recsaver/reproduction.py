"""`reasonrec reproduce recsaver`: Rec-SAVER (Tsai et al. 2024) on the raw Beauty reviews, end-to-end.

What runs, in order (each piece is a stage function; this module only composes them):
1. Data: the paper's balanced user-disjoint sample (`split`: 4 ≤ |H| ≤ 10, `per_class_train` / `per_class_test`
   pairs per rating class) via `data.prepare` (written under OUT/data).
2. Teacher paths (§2.3): M sampled CoT answers per TRAIN pair (`recsaver_teacher_paths`, T = 0.7) annotated with the
   §4.3 filters (`stages.recsaver.filters`: none / 5class / binary / 1off).
3. Students (§4.3, Tables 4–5): for each entry of `students` ("1:none", "M:none", "M:5class", …) the kept paths
   become rating SFT data (`build_rating_sft` with the filter's `keep` column and 1 or M paths per pair; target =
   teacher reasoning + the TRUE rating, as in the paper), a LoRA student is trained (`train_student`) and scored on
   the test pairs (`predict.predict_ratings`: generated reasoning, then the rating-digit distribution).
   Student prompts come from `stages.recsaver.teacher.cot_prompts` — the teacher's own prompt builder.
4. Zero-shot CoT vs no reasoning with the base model (`recsaver_zeroshot`, Table 3's first rows).
5. Verified references (§3.1) for the TEST pairs: post-hoc explanations → scrub → self-verification → pools.
6. Evaluation: rating accuracy, MAE/RMSE, binary AUC from P(r > 3) (and macro OvR AUC), the NLG metrics of each
   model's reasoning against the verified pool (multi-reference), and the correct-vs-incorrect table (Table 7).

The quick budget shrinks everything (2 train / 1 test pair per class, M = 2, 48 new tokens, ONE LoRA step, a
subset of students) — it proves the pipeline runs, its numbers are not evidence about the method.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import Field, field_validator

from reasonrec.data.prepare import PrepareConfig, SplitConfig, prepare
from reasonrec.errors import ConfigError
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.eval.report import Section
from reasonrec.eval.text import BertScoreModel, TextMetricsConfig
from reasonrec.io import write_parquet
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import build_llm
from reasonrec.methods.base import Protocol, Timer
from reasonrec.methods.reproduction import ReproductionConfig, finish_reproduction, headline
from reasonrec.predict import PredictConfig, predict_ratings
from reasonrec.stages.recsaver.explain import ExplainConfig, post_hoc_explanations
from reasonrec.stages.recsaver.filters import FILTERS, annotate_filters, filter_counts, training_paths
from reasonrec.stages.recsaver.teacher import (
    TeacherPathsConfig,
    recsaver_teacher_paths,
    score_missing_ratings,
    student_prompt_table,
)
from reasonrec.stages.recsaver.verify import VerifyConfig, self_verify, with_references
from reasonrec.stages.recsaver.zeroshot import RecSaverZeroShotConfig, recsaver_zeroshot
from reasonrec.train.lora import LoRAConfig
from reasonrec.train.sft_data import SFTDataConfig, build_rating_sft, load_tokenizer
from reasonrec.train.student import train_student

VARIANTS = ("cot", "no_reasoning")
PAPER_STUDENTS = ["1:none", "M:none", "M:5class", "M:binary", "M:1off"]  # Table 5's rows
TEXT_METRICS = ["bleu", "rouge1", "meteor", "bertscore"]


class RecSaverReproConfig(ReproductionConfig):
    """Defaults = the paper: 800/100 pairs per rating class, M = 8, Table 5's five students, 256-token answers."""

    dataset: str = "amazon-beauty-raw"
    split: SplitConfig = Field(default_factory=lambda: SplitConfig(strategy="user_disjoint_balanced"),
                               description="the paper's pairs (§4.1): per_class_train / per_class_test per rating")
    n_paths: int = Field(8, ge=1, description="M teacher paths per training pair")
    temperature: float = Field(0.7, ge=0.0, description="teacher / explanation sampling temperature")
    n_explanations: int = Field(8, ge=1, description="post-hoc explanations per test pair (reference pool size)")
    max_new_tokens: int = Field(256, ge=1, description="reasoning budget (teacher, explanations, zero-shot, student)")
    review_max_chars: int | None = Field(600, description="history review truncation in every prompt")
    students: list[str] = Field(default_factory=lambda: list(PAPER_STUDENTS),
                                description="'<paths>:<filter>' with paths 1 or M; [] = no student")
    variants: list[str] = Field(default_factory=lambda: list(VARIANTS), description="zero-shot variants")
    lora: LoRAConfig = Field(default_factory=lambda: LoRAConfig(num_train_epochs=3, eval_strategy="no"))
    text_metrics: list[str] = Field(default_factory=lambda: list(TEXT_METRICS))
    predict_batch_size: int = Field(4, ge=1)

    @field_validator("students")
    @classmethod
    def _students(cls, value: list[str]) -> list[str]:
        for spec in value:
            paths, _, name = spec.partition(":")
            if paths not in ("1", "M") or name not in FILTERS:
                raise ValueError(f"student {spec!r}: expected '<1|M>:<{'|'.join(FILTERS)}>'")
        return value


DATASET_DEFAULTS: dict[str, dict[str, Any]] = {"amazon-beauty-raw": {}}

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "split": {"per_class_train": 2, "per_class_test": 1}, "n_paths": 2, "n_explanations": 2,
        "max_new_tokens": 48, "review_max_chars": 300, "students": ["1:none", "M:none", "M:binary"],
        "bootstrap": 100,
        "lora": {"max_steps": 1, "batch_size": 2, "gradient_accumulation_steps": 1, "max_seq_length": 1024,
                 "eval_strategy": "no"},
    },
    "full": {},
}


# ------------------------------------------------------------------------------------------------ pieces


def student_name(spec: str, n_paths: int) -> str:
    paths, _, name = spec.partition(":")
    return f"recsaver-student-{n_paths if paths == 'M' else 1}path-{name}"


def prompt_budget(config: RecSaverReproConfig) -> int:
    """Prompt tokens such that prompt + completion (reasoning ≤ max_new_tokens + the rating lines) fits the LoRA
    max_seq_length: prompts are trimmed from the oldest history item when they are rendered, never by TRL."""
    budget = config.lora.max_seq_length - config.max_new_tokens - 24
    if budget < 256:
        raise ConfigError(f"lora.max_seq_length={config.lora.max_seq_length} leaves {budget} prompt tokens after "
                          f"max_new_tokens={config.max_new_tokens}; raise it")
    return budget


def stage_kwargs(config: RecSaverReproConfig) -> dict[str, Any]:
    return {"seed": config.seed, "show_progress": config.show_progress, "batch_size": config.predict_batch_size,
            "max_prompt_tokens": prompt_budget(config)}


def teacher_config(config: RecSaverReproConfig) -> TeacherPathsConfig:
    return TeacherPathsConfig(n_samples=config.n_paths, temperature=config.temperature,
                              max_new_tokens=config.max_new_tokens, review_max_chars=config.review_max_chars,
                              **stage_kwargs(config))


def evaluate_run(predictions: pl.DataFrame, config: RecSaverReproConfig, bertscore: Any) -> dict[str, Any]:
    """Rating/binary metrics + NLG vs the verified pools + the correct/incorrect breakdown (Table 7)."""
    has_text = bool(predictions["reasoning"].is_not_null().any() and predictions["reference"].is_not_null().any())
    text = TextMetricsConfig(metrics=config.text_metrics) if has_text and config.text_metrics else None
    cfg = EvalConfig(bootstrap=config.bootstrap, seed=0, text=text, breakdowns=["correctness"] if text else [])
    return evaluate_predictions(predictions, cfg, bertscore=bertscore)


def _value(result: dict[str, Any], key: str) -> Any:
    if result.get(key) is not None:
        return result[key]
    detail = (result.get("metrics") or {}).get(key)
    return detail.get("value") if isinstance(detail, dict) else None


class RunLog:
    """The method runs of one reproduction, evaluated against the verified pools as they finish."""

    def __init__(self, config: RecSaverReproConfig, pool: pl.DataFrame) -> None:
        self.config, self.pool = config, pool
        self.bertscore = BertScoreModel() if "bertscore" in config.text_metrics else None
        self.frames: list[pl.DataFrame] = []
        self.runs: list[dict[str, Any]] = []

    def record(self, method: str, preds: pl.DataFrame, extra: dict[str, Any] | None = None) -> None:
        preds = with_references(preds.with_columns(pl.lit(method).alias("method")), self.pool)
        result = evaluate_run(preds, self.config, self.bertscore)
        self.frames.append(preds)
        self.runs.append({"method": method, "dataset": self.config.dataset, "split": "test", **headline(result),
                          "rating_accuracy": _value(result, "rating_accuracy"),
                          "macro_auc_ovr": _value(result, "macro_auc_ovr"), **(extra or {}), "result": result})


# ------------------------------------------------------------------------------------------------ run


def run(config: RecSaverReproConfig, out_dir: str | Path, llm: LLM | None = None, *,
        command: str = "reproduce recsaver") -> dict[str, Any]:
    """The steps of the module docstring, in order; writes OUT/ and returns the metrics dict. `llm` is teacher,
    explainer, verifier and zero-shot model (default: the configured base model)."""
    started = time.time()
    out = Path(out_dir)
    timer = Timer()
    with timer("prepare"):
        train, test, items, inter = prepare_pairs(config, out, command)
    llm = llm if llm is not None else build_llm(config.llm)
    stages = out / "stages"
    with timer("teacher_paths"):
        paths, counts = teacher_paths(train, items, inter, llm, config, stages)
    with timer("references"):
        pool, verification = verified_references(test, items, inter, llm, config, stages)
    log = RunLog(config, pool)
    for variant in config.variants:
        with timer(f"zeroshot_{variant}"):
            zs = RecSaverZeroShotConfig(variant=variant, dataset=config.dataset, max_new_tokens=config.max_new_tokens,
                                        review_max_chars=config.review_max_chars, **stage_kwargs(config))
            log.record(zs.method_name(), recsaver_zeroshot(test, items, inter, llm, zs), {"kind": "zero-shot"})
    notes: list[str] = []
    students = train_students(paths, test, items, inter, llm, config, out, command, timer, log, notes)
    notes += _notes(config, train, test, counts, verification)
    runs = log.runs
    student_runs = [r for r in runs if r.get("kind") == "student"]
    top = next((r for r in student_runs if r["method"].endswith(f"{config.n_paths}path-none")),
               student_runs[0] if student_runs else runs[0])
    metrics = {
        "method": top["method"], "dataset": config.dataset, "split": "test",
        **{k: v for k, v in top.items() if k not in ("method", "dataset", "split", "result", "kind")},
        "runs": runs, "students": students, "filter_counts": counts, "verification": verification,
        "correctness": {r["method"]: (r["result"].get("breakdowns") or {}).get("correctness") for r in runs},
        "rows": {"train": train.height, "test": test.height}, "notes": notes, "timings": timer.seconds,
    }
    text = None
    if any(r.get("bleu") is not None or r.get("bertscore") is not None for r in runs):
        text = TextMetricsConfig(metrics=config.text_metrics)
    finish_reproduction(out, config=config, command=command, predictions=pl.concat(log.frames, how="diagonal_relaxed"),
                        metrics=metrics, started_at=started, text=text, sections=sections(metrics, config),
                        title=f"Rec-SAVER reproduction — {config.dataset} ({config.budget})")
    return metrics


def prepare_pairs(config: RecSaverReproConfig, out: Path, command: str
                  ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(train targets, test targets, items, interactions) of the paper's pairs, prepared under OUT/data. Prompts show
    the reviews of history items from the interactions; a target never shows its own review."""
    prep = PrepareConfig(dataset=config.dataset, data_dir=config.data_dir, r_threshold=3.0, seed=config.seed,
                         split=config.split)
    prepared = prepare(prep, out / "data", command=f"{command}: prepare")
    targets = dict(prepared.split.targets())
    return targets["train"], targets["test"], prepared.dataset.items, prepared.dataset.interactions


def teacher_paths(train: pl.DataFrame, items: pl.DataFrame, inter: pl.DataFrame, llm: LLM,
                  config: RecSaverReproConfig, stages: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """M paths per train pair, each with a teacher rating (parsed or scored), annotated with every filter."""
    raw_paths = recsaver_teacher_paths(train, items, inter, llm, teacher_config(config))
    paths = annotate_filters(score_missing_ratings(raw_paths, llm, teacher_config(config)))
    write_parquet(stages / "teacher_paths.parquet", paths)
    counts = filter_counts(paths)
    counts["rating_source"] = {str(k): v for k, v in paths.group_by("rating_source").len().iter_rows()}
    return paths, counts


def verified_references(test: pl.DataFrame, items: pl.DataFrame, inter: pl.DataFrame, llm: LLM,
                        config: RecSaverReproConfig, stages: Path) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Post-hoc explanations of the test pairs → scrub → self-verification → per-pair reference pools."""
    kw = stage_kwargs(config)
    ecfg = ExplainConfig(n_samples=config.n_explanations, temperature=config.temperature,
                         max_new_tokens=config.max_new_tokens, review_max_chars=config.review_max_chars, **kw)
    explanations = post_hoc_explanations(test, items, inter, llm, ecfg)
    verified = self_verify(explanations, test, items, inter, llm, VerifyConfig(**kw))
    write_parquet(stages / "explanations.parquet", explanations)
    write_parquet(stages / "verification.parquet", verified.table)
    write_parquet(stages / "reference_pool.parquet", verified.pool)
    pool = verified.pool
    statuses = dict(verified.table.group_by("status").len().iter_rows()) if "status" in verified.table.columns \
        else {}
    verification = {"explanations": explanations.height, "pairs": pool.height,
                    "verified": int(pool["n_verified"].sum()) if pool.height else 0,
                    "pairs_with_reference": int((pool["n_verified"] > 0).sum()) if pool.height else 0,
                    "statuses": statuses}
    return pool, verification


def train_students(paths: pl.DataFrame, test: pl.DataFrame, items: pl.DataFrame, inter: pl.DataFrame, llm: LLM,
                   config: RecSaverReproConfig, out: Path, command: str, timer: Timer, log: RunLog,
                   notes: list[str]) -> dict[str, Any]:
    """One student per spec (1 vs M paths × filter) through the one student path, scored on the test prompts —
    built before the first student trains, so their pre-flight is done by then."""
    students: dict[str, Any] = {}
    if not config.students:
        return students
    tokenizer = load_tokenizer(config.llm.model)
    prompts = student_prompt_table(test, items, inter, llm, teacher_config(config))
    write_parquet(out / "stages" / "student_test_prompts.parquet", prompts)
    for spec in config.students:
        name = student_name(spec, config.n_paths)
        per_pair = config.n_paths if spec.startswith("M") else 1
        table, empty = training_paths(paths, spec.partition(":")[2])
        sft_cfg = SFTDataConfig(method="recsaver", k="all", seed=config.seed, paths_per_pair=per_pair,
                                max_seq_length=config.lora.max_seq_length, like_threshold=3.0)
        sft = build_rating_sft(table, tokenizer, sft_cfg)
        info = {"spec": spec, "paths_per_pair": per_pair, "filter": spec.partition(":")[2],
                "train_examples": len(sft), "train_pairs": sft.table.select("user_id", "item_id").unique().height,
                "empty_reasoning_dropped": empty}
        if len(sft) == 0:
            notes.append(f"{name}: the filter kept no teacher path with reasoning — no student trained.")
            students[name] = {**info, "trained": False}
            continue
        with timer(f"train_{name}"):
            lora = config.lora.model_copy(update={"model": config.llm.model, "seed": config.seed})
            result = train_student(sft, None, lora, out / "students" / name, run_config=config,
                                   command=f"{command}: train {name}")
        student_llm = build_llm(config.llm.model_copy(update={"adapter": str(result.adapter_dir)}))
        with timer(f"score_{name}"):
            pcfg = PredictConfig(method="recsaver", method_name=name, dataset=config.dataset, like_threshold=3.0,
                                 generate_reasoning=True, max_new_tokens=config.max_new_tokens,
                                 max_prompt_tokens=prompt_budget(config), batch_size=config.predict_batch_size,
                                 seed=config.seed, show_progress=config.show_progress)
            preds = predict_ratings(prompts, student_llm, pcfg)
        info.update({"trained": True, "global_step": result.global_step, "train_wall_s": round(result.wall_s, 1),
                     "adapter_dir": str(result.adapter_dir)})
        students[name] = info
        log.record(name, preds, {"kind": "student", **{k: info[k] for k in ("paths_per_pair", "filter",
                                                                              "train_examples")}})
    return students


def _notes(config: RecSaverReproConfig, train: pl.DataFrame, test: pl.DataFrame, counts: dict[str, Any],
           verification: dict[str, Any]) -> list[str]:
    notes = [
        (f"Model: {config.llm.model} (embedded = SmolLM2-135M) is teacher, explainer, verifier, zero-shot predictor "
         "AND the students' base — the paper used PaLM 2-M (teacher) and Flan-T5 (students); levels are not "
         "comparable."),
        ("Student targets = teacher reasoning + the TRUE rating (§2.3); filters compare the teacher's own rating "
         "with the truth (§4.3). Student prompts are the teacher's CoT prompt (same builder), without the truth."),
        (f"Teacher ratings: {counts.get('rating_source')} — 'scored' = the path's text had no rating line (cut at "
         "max_new_tokens or never written), so its rating is the argmax of the digit distribution after its own "
         "reasoning (one forward pass), the same read-out as zero-shot CoT."),
        (f"Verified references: {verification['explanations']} post-hoc explanations for {verification['pairs']} "
         f"test pairs, {verification['verified']} verified; {verification['pairs_with_reference']} pairs have a "
         "non-empty pool. NLG metrics are multi-reference against the pool; pairs without one are not scored."),
        "Binary AUC uses P(rating > 3) from the rating-digit distribution; rating accuracy uses its argmax class.",
    ]
    if config.budget == "quick":
        notes.append(
            f"QUICK budget: {train.height} train / {test.height} test pairs, M={config.n_paths}, "
            f"{config.max_new_tokens} new tokens, students {', '.join(config.students)} "
            f"(of the paper's {', '.join(PAPER_STUDENTS)}), LoRA max_steps={config.lora.max_steps}: a smoke run.")
    return notes


# ------------------------------------------------------------------------------------------------ report tables


def sections(metrics: dict[str, Any], config: RecSaverReproConfig) -> list[Section]:
    """The paper's tables whose rows are not single methods: Table 5 (students × filters), filter counts, Table 7."""
    out = []
    rows = []
    for r in metrics["runs"]:
        rows.append([r["method"], r.get("kind"), r.get("paths_per_pair"), r.get("filter"), r.get("train_examples"),
                     r.get("n"), r.get("accuracy"), r.get("f1"), r.get("auc"), r.get("rating_accuracy"),
                     r.get("macro_auc_ovr"), r.get("mae"), r.get("rmse"), r.get("bleu"), r.get("rouge1"),
                     r.get("meteor"), r.get("bertscore")])
    out.append(Section(
        "Rec-SAVER Table 5 layout: zero-shot and students (1 vs M paths × filter)",
        ["Method", "Kind", "Paths/pair", "Filter", "SFT examples", "n", "Bin. acc", "Bin. F1", "Bin. AUC",
         "5-class acc", "Macro AUC", "MAE", "RMSE", "BLEU", "ROUGE-1", "METEOR", "BERTScore"], rows,
        note="Binary = rating > 3 (AUC from P(r > 3)); NLG columns: the model's reasoning vs the verified pool."))
    counts = metrics.get("filter_counts") or {}
    out.append(Section(
        "Teacher paths kept by each filter (§4.3)", ["Filter", "Kept", "Dropped", "Pairs with ≥1 kept"],
        [[name, f["kept"], f["dropped"], f["pairs_with_any"]] for name, f in (counts.get("filters") or {}).items()],
        note=f"{counts.get('samples', 0)} sampled paths ({config.n_paths} per train pair); teacher rating "
             f"source (parsed from the text / scored after the reasoning): {counts.get('rating_source')}; "
             f"{counts.get('unparseable', 0)} with no rating at all."))
    corr_rows = []
    for method, parts in (metrics.get("correctness") or {}).items():
        if not parts:
            continue  # no reasoning text (e.g. the no-reasoning variant): nothing to score
        for group in ("correct", "incorrect"):
            part = parts.get(group) or {}
            m = part.get("metrics") or {}
            scored = next(((m.get(k) or {}).get("n") for k in config.text_metrics if (m.get(k) or {}).get("n")), 0)
            corr_rows.append([method, group, part.get("n"), scored,
                              *[(m.get(k) or {}).get("value") for k in ("bleu", "rouge1", "meteor", "bertscore")]])
    if corr_rows:
        out.append(Section("Reasoning quality for correct vs incorrect rating predictions (Table 7 layout)",
                           ["Method", "Group", "rows", "rows with a verified pool", "BLEU", "ROUGE-1", "METEOR",
                            "BERTScore"], corr_rows,
                           note="Correct = predicted rating class equals the truth; scored against the verified "
                                "pools (rows without a pool are not scored). The verifier is the same small model, "
                                "so pools exist mostly where it can recover the rating — i.e. where it tends to be "
                                "right; an empty 'incorrect' row says exactly that."))
    return out


REPRODUCTION = Protocol(
    name="reproduce recsaver", config=RecSaverReproConfig, run=run, default_dataset="amazon-beauty-raw",
    presets=PRESETS, datasets=DATASET_DEFAULTS,
)

__all__ = ["DATASET_DEFAULTS", "PAPER_STUDENTS", "PRESETS", "REPRODUCTION", "RecSaverReproConfig", "run",
           "student_name"]
