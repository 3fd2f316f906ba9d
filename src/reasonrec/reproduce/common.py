"""What every paper reproduction shares: budget presets, the run directory, and the report.

A reproduction writes ONE directory:

    OUT/predictions.parquet       every LLM method's test predictions (PREDICTIONS_SCHEMA + `k`), so the report
                                  recomputes AUC/CIs/curves from rows, not from copied numbers
    OUT/baselines/…               the classic baselines' predictions on the SAME rows
    OUT/metrics.json              top-level `auc`/`rmse`/`mae` + `n` of the headline method, `runs`, `baselines`,
                                  `authors`, `notes`, `timings` (the shapes `reasonrec.eval.report` reads)
    OUT/report.md, report.html    `reasonrec.eval.report.generate_report([OUT], OUT)`
    OUT/config.yaml, manifest.json   the resolved config (budget preset + --set overrides) and provenance

Budgets are data, not code paths: `quick` and `full` are dicts of config overrides applied before the user's
`--set`, so `--budget quick --set k=64` is a legitimate middle ground and the resolved config says what ran.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.io import write_json, write_parquet
from reasonrec.llm.registry import LLMConfig
from reasonrec.predictions import conform_predictions
from reasonrec.runs import write_manifest

Budget = Literal["quick", "full"]
BUDGETS: tuple[str, ...] = ("quick", "full")
C = TypeVar("C", bound="ReproduceConfig")


class ReproduceConfig(Config):
    """Fields every reproduction has. `llm` is the base model: the student's base AND the zero-shot model."""

    dataset: str
    data_dir: str | None = None
    budget: Budget = "full"
    seed: int = 42
    llm: LLMConfig = Field(default_factory=LLMConfig)
    bootstrap: int = Field(1000, ge=0, description="AUC bootstrap resamples for the CIs")
    show_progress: bool = True


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dict merge (update wins); used to stack dataset defaults, a budget preset and a YAML file."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_config(
    cls: type[C],
    presets: Mapping[str, Mapping[str, Any]],
    budget: str,
    *,
    base: Mapping[str, Any] | None = None,
    overrides: list[str] | None = None,
) -> C:
    """`cls` defaults ← `base` (dataset defaults / YAML) ← `presets[budget]` ← `--set` overrides."""
    if budget not in presets:
        raise ConfigError(f"budget={budget!r} is unknown; known: {', '.join(presets)}")
    raw = deep_merge(dict(base or {}), presets[budget])
    raw["budget"] = budget
    return cls.from_dict(raw, overrides or [], source=f"reproduce ({budget})")


def llm_config_from(path: str | Path | None) -> LLMConfig | None:
    return LLMConfig.from_yaml(path) if path else None


# ------------------------------------------------------------------------------------------------ metrics


def evaluate(predictions: pl.DataFrame, config: ReproduceConfig, *, text: Any = None, bertscore: Any = None,
             dedupe_on: str = "user_item", like_cutoff: float | None = None) -> dict[str, Any]:
    """`evaluate_predictions` with the reproduction's bootstrap/seed; AUC uses `score` (P(like) or E[rating]).

    `like_cutoff` (rating > cutoff = liked) matters only for rating data without labels; None = the 1–5 default."""
    extra = {} if like_cutoff is None else {"like_cutoff": like_cutoff}
    cfg = EvalConfig(bootstrap=config.bootstrap, seed=0, dedupe=True, dedupe_on=dedupe_on, text=text, **extra)
    return evaluate_predictions(rating_probs_only(predictions), cfg, bertscore=bertscore)


def rating_probs_only(predictions: pl.DataFrame) -> pl.DataFrame:
    """The evaluator reads `probs` as rating classes; P(like) methods store {"Yes": p, "No": 1-p} there, so for
    evaluation those are nulled (AUC uses `score`). Same rule as `methods.base.evaluable`."""
    import json

    if "probs" not in predictions.columns:
        return predictions

    def numeric(raw: str | None) -> bool:
        if raw is None:
            return True
        try:
            keys = json.loads(raw)
            return all(_is_number(k) for k in keys)
        except (ValueError, TypeError):
            return False

    if all(numeric(p) for p in predictions["probs"].to_list()):
        return predictions
    return predictions.with_columns(pl.lit(None, dtype=pl.String).alias("probs"))


def _is_number(key: str) -> bool:
    try:
        float(key)
    except ValueError:
        return False
    return True


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


def with_k(predictions: pl.DataFrame, k: int | str | None) -> pl.DataFrame:
    """Add the report's `k` identity column (null for K-free methods)."""
    value = k if isinstance(k, int) else None
    return conform_predictions(predictions).with_columns(pl.lit(value, dtype=pl.Int64).alias("k"))


class Timer:
    """Named wall-clock timings, recorded into metrics.json (`timings`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str):
        timer = self

        class _Span:
            def __enter__(self):
                self.started = time.time()
                return self

            def __exit__(self, *exc):
                timer.seconds[name] = round(timer.seconds.get(name, 0.0) + time.time() - self.started, 2)
                return False

        return _Span()


# ------------------------------------------------------------------------------------------------ writing


def write_reproduction(
    out_dir: str | Path,
    *,
    config: ReproduceConfig,
    command: str,
    predictions: pl.DataFrame | None,
    metrics: dict[str, Any],
    started_at: float,
    inputs: Iterable[str | Path] = (),
    extra_outputs: Iterable[Path] = (),
    report_title: str | None = None,
    text: Any = None,
    sections: Iterable[Any] = (),
) -> dict[str, Path]:
    """predictions.parquet + metrics.json + config.yaml/manifest.json, then report.md/html from them
    (+ `sections`: report tables whose rows are not methods, e.g. reranking)."""
    from reasonrec.eval.report import ReportConfig, generate_report

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if predictions is not None and predictions.height:
        written["predictions"] = write_parquet(out / "predictions.parquet", predictions)
    metrics = {**metrics, "budget": config.budget, "wall_s": round(time.time() - started_at, 1)}
    written["metrics"] = write_json(out / "metrics.json", metrics)
    report_cfg = ReportConfig(title=report_title or f"reasonrec reproduce: {config.dataset} ({config.budget})",
                              bootstrap=config.bootstrap, text=text)
    _, files = generate_report([out], out, report_cfg, sections=list(sections))
    written.update({"report_md": files.markdown, "report_html": files.html, "report_json": files.json})
    write_manifest(out, command=command, config=config, seeds={"seed": config.seed}, inputs=inputs,
                   outputs=[*written.values(), *extra_outputs], started_at=started_at,
                   extra={"budget": config.budget})
    written["manifest"] = out / "manifest.json"
    return written


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


__all__ = [
    "BUDGETS", "Budget", "ReproduceConfig", "Timer", "deep_merge", "evaluate", "headline", "llm_config_from",
    "metrics_table", "resolve_config", "same_rows", "with_k", "write_reproduction",
]
