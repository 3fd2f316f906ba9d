"""What every stage command shares: the LLM built from its options, the run summaries, and writing + reporting
the stage artefact. The `stage`, `recsaver` and `exp3rt` command groups (and `run`) used to carry a copy each.

    run = StageRun("reasonrec recsaver explain", model=model, cache_path=cache)
    table = post_hoc_explanations(..., run.llm, cfg, summaries=run.summaries)
    run.report(run.write(out, "explanations", table, cfg), table)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import polars as pl

    from reasonrec.config import Config
    from reasonrec.llm.base import LLM
    from reasonrec.llm.runner import RunSummary


def llm_from_options(
    llm_config: Path | None = None,
    *,
    model: str = "embedded",
    adapter: str | None = None,
    cache_path: str | Path | None = None,
) -> LLM:
    """`--llm-config YAML` when given, else an LLMConfig from the model/adapter/cache flags (cached by default)."""
    from reasonrec.llm.registry import LLMConfig, build_llm

    if llm_config is not None:
        return build_llm(LLMConfig.from_yaml(llm_config))
    return build_llm(LLMConfig(model=model, adapter=adapter, cache_path=str(cache_path) if cache_path else None))


@dataclass
class StageRun:
    """One stage command's run. The LLM is built on first use, so a bad dataset fails before a model loads."""

    command: str
    llm_config: Path | None = None
    model: str = "embedded"
    adapter: str | None = None
    cache_path: str | Path | None = None
    started: float = field(default_factory=time.time)
    summaries: list[RunSummary] = field(default_factory=list)

    @cached_property
    def llm(self) -> LLM:
        return llm_from_options(self.llm_config, model=self.model, adapter=self.adapter, cache_path=self.cache_path)

    def write(self, out: Path, name: str, table: pl.DataFrame, config: Config, *,
              inputs: list[Path] | tuple[Path, ...] = ()) -> Path:
        """`<out>/<name>.parquet` + config.yaml + manifest.json (LLM identity, call summaries, timing)."""
        from reasonrec.stages.common.base import write_stage_output

        return write_stage_output(out, name, table, config, llm=self.llm, summaries=self.summaries, inputs=inputs,
                                  command=self.command, started_at=self.started)

    def report(self, path: Path, table: pl.DataFrame, detail: str = "") -> None:
        """Per-call summaries on stderr; one `wrote <path> (...)` line on stdout."""
        for s in self.summaries:
            typer.echo(s.line(), err=True)
        hits = sum(s.cache_hits for s in self.summaries)
        failed = sum(s.failures for s in self.summaries)
        typer.echo(f"wrote {path} ({table.height} rows; {hits} cache hits; {failed} failures){detail}")


__all__ = ["StageRun", "llm_from_options"]
