"""One way to run a method: one config base, one precedence, one run writer.

Every way of running a method — a recipe (`reasonrec run`) or a paper's reproduction (`reasonrec reproduce`) — is a
`Protocol`: a config class deriving from `RunConfig`, a run function `run(config, out_dir, llm=None)`, and data
that shapes the config (budget presets, per-dataset defaults). Resolution has ONE precedence, lowest first:

    config defaults ← dataset defaults ← budget preset (+ the dataset's adjustment) ← YAML (--config)
                    ← command-line flags (--dataset, --data-dir, --llm-config, …) ← --set key=value

so `k: 64` in a YAML stays 64 under `--budget quick`, and `--set` always has the last word. Every run directory is
written by `write_run`: predictions.parquet, metrics.json, optionally report.md/html/json (with extra sections),
and config.yaml + manifest.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Self

import polars as pl
from pydantic import Field

from reasonrec.config import Config, resolve_layers
from reasonrec.errors import ConfigError
from reasonrec.eval.report import ReportConfig, Section, generate_report
from reasonrec.eval.text import TextMetricsConfig
from reasonrec.io import write_json, write_parquet
from reasonrec.llm.registry import LLMConfig
from reasonrec.runs import write_manifest

Budget = Literal["quick", "full"]


class RunConfig(Config):
    """Fields every run of a method has. `llm` answers a recipe's LLM stages and is the base of any trained student
    (a reproduction adds a separate `teacher_llm` for its teacher-side stages)."""

    dataset: str
    data_dir: Path | None = Field(None, description="data root (default: $REASONREC_DATA_DIR)")
    llm: LLMConfig = Field(default_factory=LLMConfig)
    budget: Budget = Field("full", description="quick (minutes, subsets) | full (the paper's protocol)")
    show_progress: bool = Field(True, description="rich progress bars for the LLM calls")


def _override_value(overrides: Sequence[str], key: str) -> str | None:
    values = [o.partition("=")[2].strip() for o in overrides if o.partition("=")[0].strip() == key]
    return values[-1] if values else None


@dataclass(frozen=True)
class Ablation:
    """A named variant of a reproduction on the SAME run path: config overrides layered right above the budget
    preset, and the table of the paper it reproduces (named in the run's report)."""

    table: str
    overrides: Mapping[str, Any]


@dataclass(frozen=True)
class Protocol:
    """How a method runs: config class, run function, budget presets and per-dataset defaults/adjustments.

    `datasets` maps each supported dataset to its defaults (None: any dataset, no defaults);
    `dataset_presets[dataset][budget]` adjusts a budget preset for one dataset; `ablations` are the paper's
    ablation tables as named presets (`--ablation NAME`)."""

    name: str
    config: type[RunConfig]
    run: Callable[..., Any]
    default_dataset: str
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: {"full": {}})
    datasets: Mapping[str, Mapping[str, Any]] | None = None
    dataset_presets: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    stages: tuple[str, ...] = ()
    ablations: Mapping[str, Ablation] = field(default_factory=dict)

    def resolve(self, dataset: str | None = None, budget: str = "full", overrides: Sequence[str] = (), *,
                yaml: Mapping[str, Any] | None = None, flags: Mapping[str, Any] | None = None,
                ablation: str | None = None) -> RunConfig:
        """The config after the one precedence (module docstring; an ablation preset sits right above the budget
        preset); `flags` entries that are None were not given."""
        yaml = dict(yaml or {})
        given = {k: v for k, v in (flags or {}).items() if v is not None}
        name = (_override_value(overrides, "dataset") or given.get("dataset") or dataset or yaml.get("dataset")
                or self.default_dataset)
        ablation = _override_value(overrides, "ablation") or ablation or yaml.get("ablation")
        if self.datasets is not None and name not in self.datasets:
            raise ConfigError(f"{self.name} supports the datasets {', '.join(self.datasets)}, not {name!r}")
        if budget not in self.presets:
            raise ConfigError(f"budget={budget!r} is unknown for {self.name}; known: {', '.join(self.presets)}")
        if ablation is not None and ablation not in self.ablations:
            known = ", ".join(self.ablations) or "none"
            raise ConfigError(f"ablation={ablation!r} is unknown for {self.name}; known: {known}")
        chosen = {**self.ablations[ablation].overrides, "ablation": ablation} if ablation else {}
        layers = [{"dataset": name}, (self.datasets or {}).get(name, {}), self.presets[budget],
                  self.dataset_presets.get(name, {}).get(budget, {}), chosen, {"budget": budget}, yaml,
                  {**given, "dataset": name}]
        return resolve_layers(self.config, layers, overrides, source=f"{self.name} ({budget})")


class Timer:
    """Named wall-clock timings, recorded into metrics.json (`timings`)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> _Span:
        return _Span(self, name)


class _Span:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name, self.started = timer, name, 0.0

    def __enter__(self) -> Self:
        self.started = time.time()
        return self

    def __exit__(self, *exc: object) -> bool:
        seconds = self.timer.seconds
        seconds[self.name] = round(seconds.get(self.name, 0.0) + time.time() - self.started, 2)
        return False


@dataclass(frozen=True)
class RunReport:
    """What `write_run` renders into report.md/html/json: a title, the text metrics to show, extra sections."""

    title: str
    bootstrap: int = 1000
    text: TextMetricsConfig | None = None
    sections: Sequence[Section] = ()


def write_run(
    out_dir: str | Path,
    *,
    config: Config,
    command: str,
    metrics: dict[str, Any],
    started_at: float,
    predictions: pl.DataFrame | None = None,
    report: RunReport | None = None,
    seeds: Mapping[str, int] | None = None,
    manifest_extra: Mapping[str, Any] | None = None,
    inputs: Iterable[str | Path] = (),
    extra_outputs: Iterable[Path] = (),
) -> dict[str, Path]:
    """The one run writer: predictions.parquet (when given), metrics.json, the report (when asked for, read back
    from those two files), then config.yaml + manifest.json hashing everything written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    if predictions is not None:
        written["predictions"] = write_parquet(out / "predictions.parquet", predictions)
    written["metrics"] = write_json(out / "metrics.json", metrics)
    if report is not None:
        report_cfg = ReportConfig(title=report.title, bootstrap=report.bootstrap, text=report.text)
        _, files = generate_report([out], out, report_cfg, sections=list(report.sections))
        written.update({"report_md": files.markdown, "report_html": files.html, "report_json": files.json})
    write_manifest(out, command=command, config=config, seeds=dict(seeds or {}), inputs=inputs,
                   outputs=[*written.values(), *extra_outputs, out / "config.yaml"], started_at=started_at,
                   extra=dict(manifest_extra or {}))
    written["manifest"] = out / "manifest.json"
    return written


__all__ = ["Ablation", "Budget", "Protocol", "RunConfig", "RunReport", "Timer", "write_run"]
