"""What every paper reproduction shares: its config fields, evaluation on the same rows, and the run directory.

A reproduction is the paper's protocol (config + budget presets, registered as a `methods.base.Protocol`): method
runs (students, zero-shot) + baselines on the same rows + the report, written as ONE directory by `write_run`:

    OUT/predictions.parquet       every LLM method's test predictions (PREDICTIONS_SCHEMA + `k`), so the report
                                  recomputes AUC/CIs/curves from rows, not from copied numbers
    OUT/baselines/…               the classic baselines' predictions on the SAME rows
    OUT/metrics.json              top-level `auc`/`rmse`/`mae` + `n` of the headline method, `runs`, `baselines`,
                                  `authors`, `notes`, `timings` (the shapes `reasonrec.eval.report` reads)
    OUT/report.md, report.html    rendered from those two files (+ the reproduction's extra sections)
    OUT/config.yaml, manifest.json   the resolved config (budget preset + --set overrides) and provenance

Budgets are data, not code paths: `quick` and `full` are dicts of config overrides applied below a YAML and the
user's flags and `--set`, so `--budget quick --set k=64` is a legitimate middle ground and config.yaml says what ran.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.baselines import TrainData, make_baseline
from reasonrec.data.schema import Dataset
from reasonrec.errors import ConfigError
from reasonrec.eval.bootstrap import DEFAULT_SEED
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.eval.grounding import checker_for
from reasonrec.eval.grounding.marks import mark_predictions
from reasonrec.eval.metrics import mae, rmse
from reasonrec.eval.report import Section
from reasonrec.eval.text import BertScoreModel, TextMetricsConfig
from reasonrec.llm.base import expected_value
from reasonrec.llm.registry import LLMConfig
from reasonrec.llm.runner import CHUNK_SIZE
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
from reasonrec.methods.base import Ablation, RunConfig, RunReport, write_run
from reasonrec.predictions import conform_predictions


class ReproductionConfig(RunConfig):
    """Fields every reproduction has. The papers distil a large teacher into a small student, so the two are
    separate models: `teacher_llm` answers every teacher-side stage (teacher reasoning, explanations,
    verification, the teacher's zero-shot rows) and `llm` is the students' base. Both default to the embedded
    model, so a reproduction runs offline; `docs/reproduce.md` shows a served 7–70B teacher with a local student."""

    teacher_llm: LLMConfig = Field(default_factory=LLMConfig,
                                   description="the teacher (--teacher-llm-config); default: the embedded model")
    ablation: str | None = Field(None, description="the paper's ablation preset this run is (--ablation NAME)")
    seed: int = 42
    bootstrap: int = Field(1000, ge=0, description="AUC bootstrap resamples for the CIs")
    bertscore_model: str | None = Field(None, description="local BERTScore model directory; the papers use "
                                        "microsoft/deberta-xlarge-mnli (layer 40); None = the bundled MiniLM")
    bertscore_num_layers: int = Field(6, ge=1, description="BERTScore layer (MiniLM: 6; deberta-xlarge-mnli: 40)")
    predict_batch_size: int = Field(CHUNK_SIZE, ge=1, description="requests per runner chunk when a student or "
                                    "teacher stage runs (the LLM's own batches: llm.batch_size, llm.decode_batch_size)")

    def text_config(self, metrics: Sequence[str]) -> TextMetricsConfig:
        """The text metrics of this reproduction, with its BERTScore model."""
        return TextMetricsConfig(metrics=list(metrics), bertscore_model=self.bertscore_model,  # type: ignore[arg-type]
                                 bertscore_num_layers=self.bertscore_num_layers)

    def bertscore_scorer(self) -> BertScoreModel:
        return BertScoreModel(self.bertscore_model, self.bertscore_num_layers)

    def bertscore_note(self) -> str:
        model = self.bertscore_model or "all-MiniLM-L6-v2 (bundled; NOT the papers' deberta-xlarge-mnli)"
        return f"BERTScore model: {model}, layer {self.bertscore_num_layers}."


def model_label(config: LLMConfig) -> str:
    """How a report names a model: the model, its backend and, for a served one, where it is served."""
    where = f" at {config.base_url}" if config.base_url else ""
    adapter = f" + adapter {config.adapter}" if config.adapter else ""
    return f"{config.model} ({config.backend}{where}){adapter}"


def models_record(config: ReproductionConfig, teacher: str | None = None) -> dict[str, str]:
    """metrics.json's `models`: the teacher (`teacher` names a released one instead of `teacher_llm`) and the
    students' base."""
    return {"teacher": teacher or model_label(config.teacher_llm), "student_base": model_label(config.llm)}


def models_note(models: Mapping[str, str]) -> str:
    return f"Models: teacher = {models['teacher']}; student base = {models['student_base']}."


# ------------------------------------------------------------------------------------------------ metrics

RatingReadout = Literal["argmax", "expected"]


def rating_readout(predictions: pl.DataFrame, readout: RatingReadout) -> pl.DataFrame:
    """ONE rating read-out for every row of a table that has a rating distribution (`probs`): `pred_rating` =
    its argmax class (Rec-SAVER: the normalised logits of the 5 rating tokens, then a class) or E[rating]
    (EXP3RT §3.5.3); `expected_rating` keeps E[rating] as an extra column either way. Rows without `probs` keep
    their `pred_rating`."""
    argmax: list[float | None] = []
    expected: list[float | None] = []
    for cell in predictions["probs"].to_list():
        probs = json.loads(cell) if cell else None
        argmax.append(float(max(probs, key=probs.__getitem__)) if probs else None)
        expected.append(expected_value(probs) if probs else None)
    chosen = pl.Series(argmax if readout == "argmax" else expected, dtype=pl.Float64)
    return predictions.with_columns(
        pl.when(chosen.is_not_null()).then(chosen).otherwise(pl.col("pred_rating")).alias("pred_rating"),
        pl.Series("expected_rating", expected, dtype=pl.Float64))


def expected_rating_errors(predictions: pl.DataFrame) -> dict[str, float | None]:
    """MAE / RMSE of E[rating] (the extra column beside a table's read-out) on the rows that have both."""
    rows = predictions.filter(pl.col("rating").is_not_null() & pl.col("expected_rating").is_not_null())
    true, pred = rows["rating"].to_numpy(), rows["expected_rating"].to_numpy()
    return {"mae_expected": mae(true, pred).value, "rmse_expected": rmse(true, pred).value}


def evaluate(predictions: pl.DataFrame, config: ReproductionConfig, *, text: Any = None, bertscore: Any = None,
             dedupe_on: str = "user_item", like_cutoff: float | None = None) -> dict[str, Any]:
    """`evaluate_predictions` with the reproduction's bootstrap count and the evaluation seed; AUC uses `score`
    (P(like) or E[rating]).

    `like_cutoff` (rating > cutoff = liked) matters only for rating data without labels; None = the 1–5 default."""
    extra = {} if like_cutoff is None else {"like_cutoff": like_cutoff}
    cfg = EvalConfig(bootstrap=config.bootstrap, seed=DEFAULT_SEED, dedupe=True, dedupe_on=dedupe_on, text=text,
                     **extra)
    return evaluate_predictions(predictions, cfg, bertscore=bertscore)


def headline(result: Mapping[str, Any]) -> dict[str, Any]:
    """The flat numbers a reader looks for first (auc, ci, rmse, mae, n, bertscore) from an evaluate result."""
    metrics = result.get("metrics") or {}
    out: dict[str, Any] = {"n": result.get("n")}
    for key in ("auc", "auc_ci", "rmse", "mae", "accuracy", "f1", "positives", "negatives", "parse_failures",
                "bleu", "rouge1", "meteor", "bertscore"):
        if result.get(key) is not None:
            out[key] = result[key]
        elif isinstance(metrics.get(key), Mapping) and metrics[key].get("value") is not None:
            out[key] = metrics[key]["value"]
    distinct = result.get("distinct")
    if isinstance(distinct, Mapping) and result.get("duplicate_rows"):
        out["auc_distinct"] = distinct.get("auc")
        out["n_distinct"] = distinct.get("n")
    return out


def same_rows(predictions: pl.DataFrame, rows: pl.DataFrame) -> pl.DataFrame:
    """Predictions restricted to the (user_id, item_id) pairs of `rows` (baselines on the LLM's test rows)."""
    keys = rows.select(pl.col("user_id").cast(pl.String), pl.col("item_id").cast(pl.String)).unique()
    return predictions.join(keys, on=["user_id", "item_id"], how="semi")


def baseline_predictions(data: TrainData, rows: pl.DataFrame, names: Sequence[str], *, seed: int, dataset: str,
                         overrides: Mapping[str, Mapping[str, Any]] | None = None
                         ) -> dict[str, tuple[pl.DataFrame, float]]:
    """Each baseline fitted on `data` (train, + valid for early stopping) and scored on the SAME `rows`:
    name → (its test predictions, fit + score seconds)."""
    out: dict[str, tuple[pl.DataFrame, float]] = {}
    for name in names:
        started = time.time()
        model = make_baseline(name, {"seed": seed, **(overrides or {}).get(name, {})})
        model.fit(data)
        preds = same_rows(model.predict(rows, dataset=dataset, split="test"), rows)
        out[name] = (preds, round(time.time() - started, 2))
    return out


def tune_on_valid(name: str, data: TrainData, grid: Sequence[Mapping[str, Any]], *, seed: int
                  ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The setting of `grid` whose fit on `data` (train) predicts the VALID targets' ratings with the lowest RMSE
    (a tie keeps the earlier setting), and every setting's valid RMSE. Test rows are never read."""
    if data.valid is None or data.valid.height == 0:
        raise ConfigError(f"tuning {name} needs valid targets: the split has none")
    scored: list[dict[str, Any]] = []
    for setting in grid:
        model = make_baseline(name, {"seed": seed, **setting})
        model.fit(data)
        preds = model.predict(data.valid, dataset="", split="valid")
        error = rmse(data.valid["rating"].to_numpy(), preds["pred_rating"].to_numpy()).value
        scored.append({**setting, "valid_rmse": round(float(error), 4)})
    best = min(range(len(scored)), key=lambda i: (scored[i]["valid_rmse"], i))
    return dict(grid[best]), scored


def with_k(predictions: pl.DataFrame, k: int | str | None) -> pl.DataFrame:
    """Add the report's `k` identity column (null for K-free methods)."""
    value = k if isinstance(k, int) else None
    return conform_predictions(predictions).with_columns(pl.lit(value, dtype=pl.Int64).alias("k"))


def finish_reproduction(
    out_dir: str | Path,
    *,
    config: ReproductionConfig,
    command: str,
    predictions: pl.DataFrame | None,
    metrics: dict[str, Any],
    started_at: float,
    title: str,
    text: TextMetricsConfig | None = None,
    sections: Sequence[Section] = (),
    ablations: Mapping[str, Ablation] | None = None,
) -> dict[str, Path]:
    """metrics.json gets the budget, the ablation preset (with the paper table it reproduces) and the wall time;
    the run directory, its report and manifest by `write_run`."""
    metrics = {**metrics, "budget": config.budget, "wall_s": round(time.time() - started_at, 1)}
    if config.ablation:
        table = (ablations or {})[config.ablation].table
        metrics["ablation"] = {"name": config.ablation, "table": table}
        metrics["notes"] = [f"Ablation preset '{config.ablation}': reproduces {table}.", *metrics.get("notes", [])]
        title = f"{title} — ablation {config.ablation}"
    return write_run(out_dir, config=config, command=command, metrics=metrics, started_at=started_at,
                     predictions=predictions if predictions is not None and predictions.height else None,
                     report=RunReport(title=title, bootstrap=config.bootstrap, text=text, sections=sections),
                     seeds={"seed": config.seed}, manifest_extra={"budget": config.budget})


def metrics_table(metrics: Mapping[str, Any]) -> str:
    """A plain-text table of every run, baseline and author figure in a metrics.json (for the terminal)."""
    lines = [(f"{'method':44s} {'kind':9s} {'n':>6s} {'auc':>7s} {'auc 95% CI':>17s} {'rmse':>7s} {'mae':>7s} "
             f"{'bertscore':>9s}")]

    def fmt(v: Any, width: int = 7) -> str:
        return f"{v:{width}.3f}" if isinstance(v, (int, float)) and v is not None else f"{'-':>{width}s}"

    def row(name: str, kind: str, rec: Mapping[str, Any]) -> None:
        ci = rec.get("auc_ci")
        ci_text = f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci and None not in ci else "-"
        n = rec.get("n")
        lines.append(f"{name[:44]:44s} {kind:9s} {n if n is not None else '-'!s:>6s} {fmt(rec.get('auc'))} "
                     f"{ci_text:>17s} {fmt(rec.get('rmse'))} {fmt(rec.get('mae'))} {fmt(rec.get('bertscore'), 9)}")

    for rec in metrics.get("runs") or []:
        row(str(rec.get("method")), "run", rec)
    baselines = metrics.get("baselines") or {}
    for name, rec in (baselines.items() if isinstance(baselines, Mapping) else []):
        row(str(name), "baseline", rec)
    for rec in metrics.get("authors") or []:
        row(str(rec.get("method")), "authors", rec)
    return "\n".join(lines)


def mark_explanations(ds: Dataset, frames: list[pl.DataFrame], enabled: bool = True,
                      encoder: SentenceEncoder | None = None) -> list[pl.DataFrame]:
    """Frames with generated explanations get the grounding checker's per-sentence marks (`grounding` column),
    which the report turns into its explanation sections; the raw text is never changed. `encoder`: a sentence
    model the run already loaded (else one is loaded here)."""
    has_text = ["reasoning" in f.columns and f["reasoning"].is_not_null().any() for f in frames]
    if not enabled or not any(has_text):
        return frames
    checker = checker_for(ds, encoder=encoder or SentenceEncoder(cache_path=default_embedding_cache()))
    return [mark_predictions(f, ds, checker) if text else f for f, text in zip(frames, has_text, strict=True)]


__all__ = [
    "RatingReadout", "ReproductionConfig", "baseline_predictions", "evaluate", "expected_rating_errors",
    "finish_reproduction", "headline", "mark_explanations", "metrics_table", "model_label", "models_note",
    "models_record",
    "rating_readout", "same_rows", "tune_on_valid", "with_k",
]
