"""What every LLM stage command shares (the `reasoningrec`, `exp3rt` and `recsaver` groups): the LLM from
`--llm-config` + `--set llm.*`, built on first use, the run summaries, and writing + reporting the stage artefact.

    run = StageRun("reasonrec recsaver explain", llm_settings)
    table = post_hoc_explanations(..., run.llm, cfg, summaries=run.summaries)
    run.report(run.write(out, "explanations", table, cfg), table)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from reasonrec.cli.options import print_config, resolve_llm_config, resolve_with_llm

if TYPE_CHECKING:
    import polars as pl

    from reasonrec.config import Config
    from reasonrec.llm.base import LLM
    from reasonrec.llm.registry import LLMConfig
    from reasonrec.llm.runner import RunSummary


@dataclass
class StageRun:
    """One stage command's run. The LLM is built on first use, so a bad dataset fails before a model loads."""

    command: str
    llm_settings: LLMConfig = field(default_factory=lambda: resolve_llm_config(None))
    started: float = field(default_factory=time.time)
    summaries: list[RunSummary] = field(default_factory=list)

    @cached_property
    def llm(self) -> LLM:
        from reasonrec.llm.registry import LazyLLM

        return LazyLLM(self.llm_settings)

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


def stage_command(cls: type[Config], command: str, *, config: Path | None, overrides: Sequence[str] | None,
                  llm_config: Path | None, print_only: bool, defaults: dict | None = None
                  ) -> tuple[Any, StageRun]:
    """The resolved stage config and the run (LLM not built yet); with `--print-config`, print them and exit."""
    cfg, llm_settings = resolve_with_llm(cls, config=config, llm_config=llm_config, overrides=overrides,
                                         defaults=defaults)
    print_config(print_only, config=cfg, llm=llm_settings)
    return cfg, StageRun(command, llm_settings)


__all__ = ["StageRun", "stage_command"]
