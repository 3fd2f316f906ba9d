"""`reasonrec reproduce exp3rt`: EXP3RT's rating student on the released IMDB pairs, plus top-k reranking.

Protocol, and what differs from the paper (the release ships only the 2,073 TEST pairs, not the training data):
- The 2,073 (persona, item synopsis, description, score) pairs are split USER-DISJOINTLY (seeded): the student
  trains on one part and is tested on the rest, so no test user's persona was seen with a score.
- Completions: "Reasoning: <teacher rationale>\\n\\nPredicted User Rating: d" (prompt scale 0–9 for IMDB 1–10),
  with rationales from the teacher (`rationale: teacher`, `teacher_llm` = the embedded model by default), or
  `rationale: none` = an empty rationale (rating-only completion; the quick budget does this and says so).
- Test: E[rating] from the rating-token distribution after the (generated) reasoning (`stages.exp3rt.predict`)
  → RMSE/MAE vs the user / item averages the authors printed in the prompts (their training split) and the
  train-part global mean.
- Reranking (Table 4 protocol): BPR-MF / LightGCN fit on `topk_train`, top-20 candidates for the first
  `rerank_users` test users, reordered by the student's E[rating] (`reasonrec.rerank`), Recall/NDCG@5..20.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.baselines import TrainData, make_baseline
from reasonrec.data.loaders import load_dataset
from reasonrec.data.schema import Dataset
from reasonrec.data.splits import split_users
from reasonrec.errors import ConfigError
from reasonrec.eval.report import Section
from reasonrec.llm.base import LLM
from reasonrec.llm.chat import LocalTokenizer
from reasonrec.llm.registry import build_llm
from reasonrec.methods.base import Ablation, Protocol, Timer
from reasonrec.methods.reproduction import (
    ReproductionConfig,
    evaluate,
    finish_reproduction,
    headline,
    models_note,
    models_record,
)
from reasonrec.rerank import RerankConfig, generate_candidates, relevant_sets, rerank_and_evaluate
from reasonrec.stages.exp3rt.predict import (
    Exp3rtPredictConfig,
    exp3rt_predict_ratings,
    rating_prompts,
    rating_prompts_json,
)
from reasonrec.stages.exp3rt.profiles import imdb_release_context, pair_context, with_release_bias
from reasonrec.stages.exp3rt.reason import TeacherConfig, exp3rt_teacher_reasoning, post_check_counts
from reasonrec.train.lora import LoRAConfig, LoRAResult
from reasonrec.train.sft_data import SFTDataConfig, build_rating_sft, load_tokenizer
from reasonrec.train.student import train_student

STUDENT = "exp3rt-student"


class Exp3rtReproConfig(ReproductionConfig):
    """Defaults: half the users train, every pair of the other half tests, teacher rationales, 2048 tokens."""

    dataset: str = "exp3rt-imdb"
    variant: Literal["helpful", "similarity"] = "helpful"
    train_user_fraction: float = Field(0.5, gt=0, lt=1, description="share of users whose pairs train the student")
    train_pairs: int | None = Field(None, ge=1, description="at most N training pairs (None = all)")
    test_pairs: int | None = Field(None, ge=1, description="at most N test pairs (None = all)")
    rationale: Literal["teacher", "none"] = "teacher"
    teacher_max_new_tokens: int = Field(256, ge=1)
    max_new_tokens: int = Field(256, ge=1, description="student reasoning budget at test time")
    lora: LoRAConfig = Field(default_factory=lambda: LoRAConfig(num_train_epochs=3, eval_strategy="no"))
    rerank_generators: list[str] = Field(default_factory=lambda: ["bpr", "lightgcn"])
    rerank_users: int | None = Field(100, ge=0, description="test users whose top-20 is reranked (0 = skip)")
    n_candidates: int = Field(20, ge=1)
    rerank_item_profiles: Literal["variant", "item_profile.json"] = Field(
        "variant", description="item profiles in the reranking prompts: the `variant` the student trained on (from "
        "the release pairs; items they never show fall back to item_profile.json) or item_profile.json for all")
    predict_batch_size: int = Field(4, ge=1)
    like_cutoff: float = Field(6.0, description="binary metrics only: rating > cutoff is a like (IMDB is 1–10; "
                               "the 1–5 convention r > 3 rescaled). RMSE/MAE and AUC on E[rating] ignore it")


DATASET_DEFAULTS: dict[str, dict[str, Any]] = {"exp3rt-imdb": {}}

PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "train_pairs": 8, "test_pairs": 16, "rationale": "none", "max_new_tokens": 8, "rerank_users": 1,
        "rerank_generators": ["bpr"], "bootstrap": 200,
        "lora": {"max_seq_length": 1024, "num_train_epochs": 1, "eval_strategy": "no"},
    },
    # §4.1.4 (IMDB): QLoRA r=512, α=128, dropout 0.1, lr 2e-4, at most 10 epochs, 1,200 tokens. Early stopping on
    # the eval loss (patience 1), the constant scheduler and 3 seeds are not built (docs/fidelity.md).
    "full": {"lora": {"r": 512, "alpha": 128, "dropout": 0.1, "learning_rate": 2e-4, "num_train_epochs": 10,
                      "max_seq_length": 1200, "eval_strategy": "no"}},
}


def prompt_budget(config: Exp3rtReproConfig) -> int:
    """Prompt tokens so that prompt + completion ("Reasoning: <≤ teacher_max_new_tokens>\n\nPredicted User Rating:
    d") fits lora.max_seq_length: prompts are fitted when rendered, so `build_rating_sft` never meets an overflow."""
    completion = (config.teacher_max_new_tokens if config.rationale == "teacher" else 0) + 24
    return max(256, config.lora.max_seq_length - completion)


def _stage_config(config: Exp3rtReproConfig) -> Exp3rtPredictConfig:
    return Exp3rtPredictConfig(method=STUDENT, dataset=config.dataset, reasoning=True, max_new_tokens=config.max_new_tokens,
                         max_prompt_tokens=prompt_budget(config),
                         batch_size=config.predict_batch_size, seed=config.seed, show_progress=config.show_progress)


def average_baselines(train: pl.DataFrame, test: pl.DataFrame, config: Exp3rtReproConfig) -> dict[str, Any]:
    """User / item averages the authors printed (their training split), and the train-part global mean."""
    global_mean = float(train["rating"].mean())  # type: ignore[arg-type]
    out = {}
    for name, expr in {
        "user-average (authors' printed)": pl.col("user_avg").fill_null(global_mean),
        "item-average (authors' printed)": pl.col("item_avg").fill_null(global_mean),
        "global-mean (train part)": pl.lit(global_mean),
    }.items():
        preds = test.select("user_id", "item_id", "rating", expr.cast(pl.Float64).alias("pred_rating")).with_columns(
            pl.lit(name).alias("method"), pl.lit(config.dataset).alias("dataset"), pl.lit("test").alias("split"),
            pl.col("pred_rating").alias("score"))
        result = evaluate(preds, config, like_cutoff=config.like_cutoff)
        out[name] = {"dataset": config.dataset, "split": "test", **headline(result), "result": result}
    return out


def item_profile_source(config: Exp3rtReproConfig) -> str:
    """How the report names the item profiles of training and reranking prompts."""
    if config.rerank_item_profiles == "variant":
        return f"'{config.variant}' release profiles in training and reranking (item_profile.json where absent)"
    return f"'{config.variant}' release profiles in training, item_profile.json in reranking"


def rerank_with_student(ds: Dataset, config: Exp3rtReproConfig, llm: LLM, out: Path, *, release: pl.DataFrame,
                        test_users: list[str]) -> dict[str, Any]:
    """Table 4: CF top-20 from `topk_train` → student E[rating] → reordered; Recall/NDCG vs `topk_test`.

    Only users of the student's TEST part are reranked (the student saw the other users' personas with scores)."""
    if not config.rerank_users or "topk_train" not in ds.splits:
        return {}
    train = ds.splits["topk_train"].select("user_id", "item_id").with_columns(pl.lit(1.0).alias("rating"))
    test = ds.splits["topk_test"].select("user_id", "item_id")
    allowed = set(test_users)
    users = [u for u in test["user_id"].unique(maintain_order=True).to_list() if u in allowed][:config.rerank_users]
    if not users:
        return {}
    rcfg = RerankConfig(n_candidates=config.n_candidates, seed=config.seed)
    results: dict[str, Any] = {}
    for name in config.rerank_generators:
        model = make_baseline(name, {"seed": config.seed})
        model.fit(TrainData(train, train.with_columns(pl.lit(None, dtype=pl.Int64).alias("label")), None, 0.5))
        cands = generate_candidates(model, users, rcfg)
        context = pair_context(cands.select("user_id", "item_id"), ds.artefacts["user_profiles"],
                               ds.artefacts["item_profiles"], ds.items, None)
        context = with_release_bias(context, release, item_profiles=config.rerank_item_profiles == "variant")
        preds = exp3rt_predict_ratings(context, llm, _stage_config(config).model_copy(update={"split": "rerank"}))
        scores = preds.select("user_id", "item_id", pl.col("pred_rating").alias("score"))
        _, metrics = rerank_and_evaluate(cands, scores, relevant_sets(test), rcfg, out / "rerank" / name,
                                         command=f"reproduce exp3rt rerank {name}")
        shown = cands.select("item_id").unique().join(release.select("item_id").unique(), on="item_id", how="semi")
        results[name] = {**metrics, "item_profiles": item_profile_source(config),
                         "candidate_items_in_release": shown.height,
                         "candidate_items": cands["item_id"].n_unique()}
    return results


def run(config: Exp3rtReproConfig, out_dir: str | Path, llm: LLM | None = None, *,
        command: str = "reproduce exp3rt") -> dict[str, Any]:
    """Teacher rationales → student (one student path, pre-flight) → test E[rating], averages, reranking → OUT/.
    `llm` replaces the teacher (default: `teacher_llm`); the student's base is `config.llm`."""
    started = time.time()
    out = Path(out_dir)
    timer = Timer()
    with timer("load"):
        ds = load_dataset(config.dataset, config.data_dir)
        context = imdb_release_context(ds, config.variant)
        train, test = split_users(context, config.train_user_fraction, config.seed)
        test_part_users = test["user_id"].unique(maintain_order=True).to_list()
        if config.train_pairs:
            train = train.sample(n=min(config.train_pairs, train.height), seed=config.seed, shuffle=True)
        if config.test_pairs:
            test = test.head(config.test_pairs)
    stage_cfg = _stage_config(config)
    with timer("teacher"):
        teacher = None if config.rationale != "teacher" else llm if llm is not None else build_llm(config.teacher_llm)
        train_paths, teacher_checks = teacher_paths(train, config, teacher)
    with timer("train_student"):
        result = train_on_paths(train_paths, test, config, stage_cfg, teacher_checks, out, command)
    student_llm = build_llm(config.llm.model_copy(update={"adapter": str(result.adapter_dir)}))
    with timer("score_student"):
        preds = exp3rt_predict_ratings(test, student_llm, stage_cfg)
    preds = preds.with_columns(pl.lit(STUDENT).alias("method"))
    student_result = evaluate(preds, config, like_cutoff=config.like_cutoff)
    with timer("baselines"):
        baselines = average_baselines(train, test, config)
    with timer("rerank"):
        rerank = rerank_with_student(ds, config, student_llm, out, release=context,
                                     test_users=test_part_users)
    models = models_record(config, None if config.rationale == "teacher" else "none (rationale=none)")
    notes = [
        models_note(models) + " The paper: GPT-3.5 teacher, Llama-3-8B student; 'embedded' is SmolLM2-135M.",
        (f"User-disjoint split of the {context.height} released test pairs: {train.height} pairs train the student, "
        f"{test.height} test it (the release has no training ratings or reviews)."),
        ("User/item averages are the ones the authors printed in the release prompts (computed on THEIR training "
        "split); they are both a prompt input (rating bias) and a baseline."),
        "Rationale: " + ("teacher reasoning from " + models["teacher"] if config.rationale == "teacher" else
                         "NONE — rating-only completions (no rationale distilled); the student still writes the "
                         "'Reasoning:' prefix, E[rating] is read after 'Predicted User Rating:'."),
        f"Item profiles: {item_profile_source(config)}.",
        ("Rating read-out: E[rating] over the normalised rating-token probabilities (the paper's §3.5.3) in every "
         "row; the averages are point predictions."),
    ]
    if config.budget == "quick":
        notes.append(f"QUICK budget: {train.height} training pairs, {test.height} test pairs, rerank of "
                     f"{config.rerank_users} user(s) with {', '.join(config.rerank_generators)} only.")
    top = headline(student_result)
    metrics = {
        "method": STUDENT, "dataset": config.dataset, "split": "test", **top, "models": models,
        "runs": [{"method": STUDENT, "dataset": config.dataset, "split": "test", **top, "result": student_result}],
        "baselines": baselines, "rerank": rerank, "item_profiles": item_profile_source(config), "notes": notes,
        "timings": timer.seconds,
        "teacher_post_checks": teacher_checks,
        "training": {"train_examples": result.train_examples, "global_step": result.global_step,
                     "wall_s": round(result.wall_s, 1), "adapter_dir": str(result.adapter_dir)},
    }
    finish_reproduction(out, config=config, command=command, predictions=preds, metrics=metrics, started_at=started,
                        title=f"EXP3RT reproduction — {config.dataset} ({config.budget})", ablations=ABLATIONS,
                        sections=[s for s in [rerank_section(rerank)] if s is not None])
    return metrics


def teacher_paths(train: pl.DataFrame, config: Exp3rtReproConfig, llm: LLM | None
                  ) -> tuple[pl.DataFrame, dict[str, int] | None]:
    """Training pairs with the rationale the student learns (`reasoning`) and the post-checks' verdict (`keep`: no
    "Based on…" opener, no stated rating, non-empty); `rationale: none` gives every pair an empty rationale."""
    if config.rationale != "teacher" or llm is None:
        return train.with_columns(pl.lit("").alias("reasoning")), None
    tcfg = TeacherConfig(max_new_tokens=config.teacher_max_new_tokens, seed=config.seed,
                         show_progress=config.show_progress, batch_size=config.predict_batch_size)
    teacher = exp3rt_teacher_reasoning(train, llm, tcfg)
    paths = teacher.select("user_id", "item_id", "reasoning", pl.col("post_check_ok").alias("keep"))
    return train.join(paths, on=["user_id", "item_id"], how="inner"), post_check_counts(teacher)


def train_on_paths(train_paths: pl.DataFrame, test: pl.DataFrame, config: Exp3rtReproConfig,
                   stage_cfg: Exp3rtPredictConfig, teacher_checks: dict[str, int] | None, out: Path,
                   command: str) -> LoRAResult:
    """Rating SFT data on the very prompt the student is scored with (fitted with the student's tokenizer), then
    the one student path; its pre-flight builds the test prompts too."""
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


def rerank_section(rerank: dict[str, Any]):
    """EXP3RT Table 4 layout: one row per (generator, generator-only | reranked), Recall/NDCG@k columns."""
    if not rerank:
        return None
    ks = next(iter(rerank.values())).get("ks") or [5, 10, 15, 20]
    header = ["Generator", "List", "users", *[f"{m}@{k}" for k in ks for m in ("Recall", "NDCG")]]
    rows = []
    for name, m in rerank.items():
        for kind, label in (("generator", "generator only"), ("reranked", "reranked by student")):
            vals = m.get(kind) or {}
            rows.append([name, label, m.get("users_scored"),
                         *[vals.get(f"{metric}@{k}") for k in ks for metric in ("recall", "ndcg")]])
    return Section("Top-k reranking (EXP3RT Table 4 protocol)", header, rows,
                   note="CF top-N candidates from topk_train, reordered by the student's E[rating]; relevant = "
                        "topk_test items. Only users of the student's test part are reranked.")


ABLATIONS: dict[str, Ablation] = {
    "profile-helpful": Ablation("EXP3RT Table 6, 'Helpfulness-based' item profiles", {"variant": "helpful"}),
    "profile-neighbor": Ablation("EXP3RT Table 6, 'Neighbor-based' item profiles (the release's 'similarity')",
                                 {"variant": "similarity"}),
    "no-reasoning": Ablation("EXP3RT Table 7, the student without step-by-step reasoning (rating-only "
                             "completions; the bias 'B' stays in the prompt)", {"rationale": "none"}),
}

REPRODUCTION = Protocol(
    name="reproduce exp3rt", config=Exp3rtReproConfig, run=run, default_dataset="exp3rt-imdb", presets=PRESETS,
    datasets=DATASET_DEFAULTS, ablations=ABLATIONS,
)

__all__ = ["ABLATIONS", "DATASET_DEFAULTS", "PRESETS", "REPRODUCTION", "Exp3rtReproConfig", "run"]
