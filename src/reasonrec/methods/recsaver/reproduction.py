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
from typing import Any, Literal

import polars as pl
from pydantic import Field, field_validator

from reasonrec.data.loaders import LoadOptions
from reasonrec.data.prepare import PrepareConfig, SplitConfig, prepare
from reasonrec.errors import ConfigError
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.io import write_parquet
from reasonrec.llm.base import LLM
from reasonrec.llm.chat import LocalTokenizer
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.methods.base import Ablation, Protocol, Timer
from reasonrec.methods.recsaver.tables import sections, split_notes
from reasonrec.methods.reproduction import (
    RatingReadout,
    ReproductionConfig,
    expected_rating_errors,
    finish_reproduction,
    headline,
    model_label,
    models_note,
    models_record,
    rating_readout,
)
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
from reasonrec.stages.recsaver.zeroshot import VARIANTS as ZEROSHOT_VARIANTS
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
    load: LoadOptions = Field(default_factory=LoadOptions,
                              description="loader options, e.g. load.category for an Amazon download")
    domain: str = Field("beauty", description="prompt wording (beauty | movies | …)")
    split: SplitConfig = Field(default_factory=lambda: SplitConfig(strategy="user_disjoint_balanced"),
                               description="the paper's pairs (§4.1): per_class_train / per_class_test per rating")
    n_paths: int = Field(8, ge=1, description="M teacher paths per training pair")
    temperature: float = Field(0.7, ge=0.0, description="teacher / explanation sampling temperature")
    n_explanations: int = Field(8, ge=1, description="post-hoc explanations per test pair (reference pool size)")
    max_new_tokens: int = Field(256, ge=1, description="reasoning budget (teacher, explanations, zero-shot, student)")
    review_max_chars: int | None = Field(600, description="history review truncation in every prompt")
    students: list[str] = Field(default_factory=lambda: list(PAPER_STUDENTS),
                                description="'<paths>:<filter>' with paths 1 or M, or '0:none' (fine-tuned "
                                "without reasoning, Table 4); [] = no student")
    variants: list[str] = Field(default_factory=lambda: list(VARIANTS), description="zero-shot variants")
    scrub_rules: list[Literal["ours", "paper", "none"]] = Field(
        default_factory=lambda: ["ours", "paper"], min_length=1,
        description="leak scrubbing before self-verification, each reported; the first gives the NLG references")
    lora: LoRAConfig = Field(default_factory=lambda: LoRAConfig(num_train_epochs=3, eval_strategy="no"))
    text_metrics: list[str] = Field(default_factory=lambda: list(TEXT_METRICS))
    student_bases: list[LLMConfig] = Field(default_factory=list, description="model-size sweep (Table 4): the "
                                           "students are trained once per base model listed (empty = `llm` only)")
    rating_readout: RatingReadout = Field("argmax", description="the rating every row of every table reports: "
                                          "argmax of the 5 normalised rating-token probabilities (the paper's) or "
                                          "E[rating]; the other one is an extra column")

    @field_validator("split", mode="before")
    @classmethod
    def _paper_strategy(cls, value: Any) -> Any:
        """A partial `split` section (the quick preset, `--set split.per_class_train=…`) keeps the paper's
        strategy instead of falling back to SplitConfig's leave-last-out default."""
        if isinstance(value, dict) and "strategy" not in value:
            return {"strategy": "user_disjoint_balanced", **value}
        return value

    @field_validator("students")
    @classmethod
    def _students(cls, value: list[str]) -> list[str]:
        for spec in value:
            paths, _, name = spec.partition(":")
            if paths not in ("0", "1", "M") or name not in FILTERS or (paths == "0" and name != "none"):
                raise ValueError(f"student {spec!r}: expected '<1|M>:<{'|'.join(FILTERS)}>' or '0:none' (no "
                                 "reasoning)")
        return value


DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "amazon-beauty-raw": {},
    "amazon-2018": {},  # any category fetched by `reasonrec data download` (--set load.category=...)
    "amazon-2023": {},
    "movielens-100k": {"domain": "movies"},  # no reviews: the "No Review" prompts; quotas fill in part (shortfall)
}

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
    if paths == "0":
        return "recsaver-student-no-reasoning"
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
            "max_prompt_tokens": prompt_budget(config), "domain": config.domain}


def teacher_config(config: RecSaverReproConfig) -> TeacherPathsConfig:
    return TeacherPathsConfig(n_samples=config.n_paths, temperature=config.temperature,
                              max_new_tokens=config.max_new_tokens, review_max_chars=config.review_max_chars,
                              **stage_kwargs(config))


def evaluate_run(predictions: pl.DataFrame, config: RecSaverReproConfig, bertscore: Any) -> dict[str, Any]:
    """Rating/binary metrics + NLG vs the verified pools + the correct/incorrect breakdown (Table 7)."""
    has_text = bool(predictions["reasoning"].is_not_null().any() and predictions["reference"].is_not_null().any())
    text = config.text_config(config.text_metrics) if has_text and config.text_metrics else None
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
        self.bertscore = config.bertscore_scorer() if "bertscore" in config.text_metrics else None
        self.frames: list[pl.DataFrame] = []
        self.runs: list[dict[str, Any]] = []

    def record(self, method: str, preds: pl.DataFrame, extra: dict[str, Any] | None = None) -> None:
        preds = with_references(preds.with_columns(pl.lit(method).alias("method")), self.pool)
        preds = rating_readout(preds, self.config.rating_readout)
        result = evaluate_run(preds, self.config, self.bertscore)
        self.frames.append(preds)
        self.runs.append({"method": method, "dataset": self.config.dataset, "split": "test", **headline(result),
                          **expected_rating_errors(preds), "rating_accuracy": _value(result, "rating_accuracy"),
                          "macro_auc_ovr": _value(result, "macro_auc_ovr"), **(extra or {}), "result": result})


# ------------------------------------------------------------------------------------------------ run


def run(config: RecSaverReproConfig, out_dir: str | Path, llm: LLM | None = None, *,
        command: str = "reproduce recsaver") -> dict[str, Any]:
    """The steps of the module docstring, in order; writes OUT/ and returns the metrics dict. `llm` replaces the
    teacher (teacher paths, explanations, verification, zero-shot rows; default: `teacher_llm`); the students'
    base is always `config.llm`."""
    started = time.time()
    out = Path(out_dir)
    timer = Timer()
    with timer("prepare"):
        train, test, items, inter, split_stats = prepare_pairs(config, out, command)
    teacher = llm if llm is not None else build_llm(config.teacher_llm)
    stages = out / "stages"
    with timer("teacher_paths"):
        needs_paths = any(not spec.startswith("0") for spec in config.students)
        paths, counts = teacher_paths(train, items, inter, teacher, config, stages) if needs_paths else (None, {})
    with timer("references"):
        pool, verification = verified_references(test, items, inter, teacher, config, stages)
    log = RunLog(config, pool)
    for variant in config.variants:
        with timer(f"zeroshot_{variant}"):
            zs = RecSaverZeroShotConfig(variant=variant, dataset=config.dataset, max_new_tokens=config.max_new_tokens,
                                        review_max_chars=config.review_max_chars, **stage_kwargs(config))
            log.record(zs.method_name(), recsaver_zeroshot(test, items, inter, teacher, zs, train_targets=train),
                       {"kind": "zero-shot"})
    notes: list[str] = []
    students: dict[str, Any] = {}
    bases = config.student_bases or [config.llm]
    for base in bases:
        suffix = f"@{Path(base.model).name}" if len(bases) > 1 else ""
        students |= train_students(paths, train, test, items, inter, config.model_copy(update={"llm": base}), out,
                                   command, timer, log, notes, suffix=suffix)
    models = models_record(config)
    if config.student_bases:
        models["student_base"] = ", ".join(model_label(base) for base in bases)
    notes += _notes(config, models, train, test, counts, verification)
    notes += split_notes(split_stats)
    runs = log.runs
    student_runs = [r for r in runs if r.get("kind") == "student"]
    top = next((r for r in student_runs if r["method"].endswith(f"{config.n_paths}path-none")),
               student_runs[0] if student_runs else runs[0])
    metrics = {
        "method": top["method"], "dataset": config.dataset, "split": "test",
        **{k: v for k, v in top.items() if k not in ("method", "dataset", "split", "result", "kind")},
        "models": models, "split_counts": split_stats, "runs": runs, "students": students, "filter_counts": counts,
        "verification": verification,
        "correctness": {r["method"]: (r["result"].get("breakdowns") or {}).get("correctness") for r in runs},
        "rows": {"train": train.height, "test": test.height}, "notes": notes, "timings": timer.seconds,
    }
    text = None
    if any(r.get("bleu") is not None or r.get("bertscore") is not None for r in runs):
        text = config.text_config(config.text_metrics)
    tables = sections(metrics, n_paths=config.n_paths, rating_readout=config.rating_readout,
                      text_metrics=config.text_metrics)
    finish_reproduction(out, config=config, command=command, predictions=pl.concat(log.frames, how="diagonal_relaxed"),
                        metrics=metrics, started_at=started, text=text, sections=tables,
                        title=f"Rec-SAVER reproduction — {config.dataset} ({config.budget})", ablations=ABLATIONS)
    return metrics


def prepare_pairs(config: RecSaverReproConfig, out: Path, command: str
                  ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, Any]]:
    """(train targets, test targets, items, interactions, split counts) of the paper's pairs, prepared under
    OUT/data. Prompts show the reviews of history items from the interactions (none on MovieLens: the paper's
    "No Review" variant); a target never shows its own review."""
    prep = PrepareConfig(dataset=config.dataset, data_dir=config.data_dir, load=config.load, r_threshold=3.0,
                         seed=config.seed, split=config.split)
    prepared = prepare(prep, out / "data", command=f"{command}: prepare")
    targets = dict(prepared.split.targets())
    inter = prepared.dataset.interactions
    has_reviews = "review" in inter.columns and bool(inter["review"].is_not_null().any())
    stats = {k: prepared.split.stats.get(k) for k in ("per_class_requested", "per_class", "shortfall", "users",
                                                       "max_per_user", "candidates", "candidate_users")}
    stats["reviews"] = has_reviews
    return targets["train"], targets["test"], prepared.dataset.items, inter, stats


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
    """Post-hoc explanations of the test pairs → scrub → self-verification → per-pair reference pools, once per
    scrub rule; the pool of the FIRST rule is the reference of the NLG metrics, each rule's counts are reported."""
    kw = stage_kwargs(config)
    ecfg = ExplainConfig(n_samples=config.n_explanations, temperature=config.temperature,
                         max_new_tokens=config.max_new_tokens, review_max_chars=config.review_max_chars, **kw)
    explanations = post_hoc_explanations(test, items, inter, llm, ecfg)
    write_parquet(stages / "explanations.parquet", explanations)
    pools: dict[str, pl.DataFrame] = {}
    by_rule: dict[str, dict[str, Any]] = {}
    for rule in config.scrub_rules:
        verified = self_verify(explanations, test, items, inter, llm, VerifyConfig(scrub_rule=rule, **kw))
        suffix = "" if not pools else f"_{rule}"
        write_parquet(stages / f"verification{suffix}.parquet", verified.table)
        write_parquet(stages / f"reference_pool{suffix}.parquet", verified.pool)
        pool, table = verified.pool, verified.table
        pools[rule] = pool
        by_rule[rule] = {
            "explanations": explanations.height, "pairs": pool.height,
            "scrubbed_sentences": int(table["n_removed"].sum()) if table.height else 0,
            "verified": int(pool["n_verified"].sum()) if pool.height else 0,
            "pairs_with_reference": int((pool["n_verified"] > 0).sum()) if pool.height else 0,
            "statuses": dict(table.group_by("status").len().iter_rows()) if table.height else {}}
    first = config.scrub_rules[0]
    return pools[first], {**by_rule[first], "scrub_rule": first, "by_rule": by_rule}


def train_students(paths: pl.DataFrame | None, train: pl.DataFrame, test: pl.DataFrame, items: pl.DataFrame,
                   inter: pl.DataFrame, config: RecSaverReproConfig, out: Path, command: str, timer: Timer,
                   log: RunLog, notes: list[str], *, suffix: str = "") -> dict[str, Any]:
    """One student per spec (0, 1 or M paths × filter) through the one student path, scored on the test prompts —
    built before the first student trains, so their pre-flight is done by then."""
    students: dict[str, Any] = {}
    if not config.students:
        return students
    tokenizer = load_tokenizer(config.llm.model)
    counter = LocalTokenizer(tokenizer)
    prompts = {reasoning: student_prompt_table(test, items, inter, counter, teacher_config(config),
                                               reasoning=reasoning)
               for reasoning in {not spec.startswith("0") for spec in config.students}}
    for reasoning, table in prompts.items():
        kind = "" if reasoning else "_no_reasoning"
        write_parquet(out / "stages" / f"student_test_prompts{kind}{suffix}.parquet", table)
    for spec in config.students:
        name = student_name(spec, config.n_paths) + suffix
        reasoning = not spec.startswith("0")
        table, per_pair, empty = sft_input(spec, paths, train, items, inter, counter, config)
        sft_cfg = SFTDataConfig(method="recsaver", k="all", seed=config.seed, paths_per_pair=per_pair,
                                max_seq_length=config.lora.max_seq_length, like_threshold=3.0)
        sft = build_rating_sft(table, tokenizer, sft_cfg)
        info = {"spec": spec, "paths_per_pair": per_pair if reasoning else 0, "filter": spec.partition(":")[2],
                "train_examples": len(sft), "train_pairs": sft.table.select("user_id", "item_id").unique().height,
                "train_classes": {f"{r:g}": n for r, n in sft.table.group_by("rating").len().sort("rating").rows()},
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
                                 generate_reasoning=reasoning, max_new_tokens=config.max_new_tokens,
                                 max_prompt_tokens=prompt_budget(config), batch_size=config.predict_batch_size,
                                 seed=config.seed, show_progress=config.show_progress)
            preds = predict_ratings(prompts[reasoning], student_llm, pcfg)
        info.update({"trained": True, "global_step": result.global_step, "train_wall_s": round(result.wall_s, 1),
                     "adapter_dir": str(result.adapter_dir)})
        students[name] = info
        log.record(name, preds, {"kind": "student", **{k: info[k] for k in ("paths_per_pair", "filter",
                                                                              "train_examples")}})
    return students


def sft_input(spec: str, paths: pl.DataFrame | None, train: pl.DataFrame, items: pl.DataFrame, inter: pl.DataFrame,
              counter: LocalTokenizer, config: RecSaverReproConfig) -> tuple[pl.DataFrame, int, int]:
    """(SFT input, paths per pair, kept paths dropped for empty reasoning) of one student spec. '0:none' (Table 4,
    fine-tuned without reasoning) needs no teacher: every train pair, its true rating, the rating-only prompt."""
    count, _, name = spec.partition(":")
    if count == "0":
        table = student_prompt_table(train, items, inter, counter, teacher_config(config), reasoning=False)
        return table.with_columns(pl.lit("").alias("reasoning")), 1, 0
    if paths is None:
        raise ConfigError(f"student {spec!r} needs teacher paths")
    table, empty = training_paths(paths, name)
    return table, config.n_paths if count == "M" else 1, empty


def _notes(config: RecSaverReproConfig, models: dict[str, str], train: pl.DataFrame, test: pl.DataFrame,
           counts: dict[str, Any], verification: dict[str, Any]) -> list[str]:
    notes = [
        (models_note(models) + " The teacher writes the teacher paths, explanations and verification and "
         "answers the zero-shot rows; the paper used PaLM 2-M (teacher) and Flan-T5 (students) — 'embedded' is "
         "SmolLM2-135M, whose levels are not comparable."),
        ("Student targets = teacher reasoning + the TRUE rating (§2.3); filters compare the teacher's own rating "
         "with the truth (§4.3). Student prompts are the teacher's CoT prompt (same builder), without the truth."),
        (f"Teacher ratings: {counts.get('rating_source')} — 'scored' = the path's text had no rating line (cut at "
         "max_new_tokens or never written), so its rating is the argmax of the digit distribution after its own "
         "reasoning (one forward pass), the same read-out as zero-shot CoT." if counts else
         "No teacher paths: no student in this run learns reasoning."),
        (f"Verified references: {verification['explanations']} post-hoc explanations for {verification['pairs']} "
         f"test pairs, {verification['verified']} verified; {verification['pairs_with_reference']} pairs have a "
         "non-empty pool. NLG metrics are multi-reference against the pool; pairs without one are not scored."),
        "Leak scrubbing before verification, per rule (ours = our detector, paper = the paper's three phrases): "
        + "; ".join(f"{rule}: {v['scrubbed_sentences']} sentences removed, {v['verified']} verified, "
                    f"{v['pairs_with_reference']} pairs with a reference"
                    for rule, v in (verification.get("by_rule") or {}).items())
        + f". NLG references come from '{verification.get('scrub_rule')}'.",
        (f"Rating read-out for every row of every table: {config.rating_readout} of the 5 normalised rating-token "
         "probabilities (the paper: argmax); the 'E[r]' columns give E[rating] beside it. Binary AUC uses "
         "P(rating > 3) from the same distribution."),
        config.bertscore_note(),
    ]
    if config.budget == "quick":
        notes.append(
            f"QUICK budget: {train.height} train / {test.height} test pairs, M={config.n_paths}, "
            f"{config.max_new_tokens} new tokens, students {', '.join(config.students)} "
            f"(of the paper's {', '.join(PAPER_STUDENTS)}), LoRA max_steps={config.lora.max_steps}: a smoke run.")
    return notes


ABLATIONS: dict[str, Ablation] = {
    "zeroshot-inputs": Ablation(
        "Rec-SAVER Table 3, zero-shot CoT vs no reasoning / no review / no review + no rating / no item "
        "description / one-shot", {"variants": list(ZEROSHOT_VARIANTS), "students": []}),
    "finetune-reasoning": Ablation(
        "Rec-SAVER Table 4 (XL rows), a student fine-tuned with reasoning (1 path, no filter) vs without",
        {"students": ["1:none", "0:none"], "variants": []}),
    "model-size": Ablation(
        "Rec-SAVER Table 4 (size rows), one student per base model in `student_bases` (1 path, no filter)",
        {"students": ["1:none"], "variants": []}),
    "paths-filters": Ablation(
        "Rec-SAVER Table 5, 1 vs M teacher paths per pair × the §4.3 filters, beside the teacher's zero-shot",
        {"students": list(PAPER_STUDENTS), "variants": ["cot"]}),
}

REPRODUCTION = Protocol(
    name="reproduce recsaver", config=RecSaverReproConfig, run=run, default_dataset="amazon-beauty-raw",
    presets=PRESETS, datasets=DATASET_DEFAULTS, ablations=ABLATIONS,
)

__all__ = ["ABLATIONS", "DATASET_DEFAULTS", "PAPER_STUDENTS", "PRESETS", "REPRODUCTION", "RecSaverReproConfig", "run",
           "student_name"]
