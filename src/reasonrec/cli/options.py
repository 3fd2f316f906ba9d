"""The command line's vocabulary: the same options, spelt and documented once, for every command.

    --out DIR            where the command writes (a run or stage directory)
    --data-dir DIR       the data root (default: $REASONREC_DATA_DIR, else ~/.cache/reasonrec/data)
    --llm-config YAML    which model answers (an LLMConfig: backend, model, adapter, cache, …); default: the
                         embedded SmolLM2, cached. In a reproduction: the students' base model
    --teacher-llm-config YAML  a reproduction's teacher (same LLMConfig; `--set teacher_llm.KEY=VALUE`); default:
                         the embedded model
    --config YAML        the command's settings: its config class as YAML
    --set KEY=VALUE      one setting, dotted for sections (repeatable), applied last; `llm.KEY=VALUE` sets the
                         LLM of commands that take --llm-config
    --print-config       print every setting of the command, resolved, as YAML, and exit without running

Each command's config class is the single source of its settings: there are no flags that copy a config field
under another name. Flags that remain select inputs (--dataset, --split, --limit, files) or, where a config field
is the main knob of a command (e.g. `reproduce reasoningrec --k`), set exactly that field.

One precedence everywhere, lowest first (`reasonrec.config.resolve_layers`):
    config defaults ← dataset defaults ← budget preset ← --config YAML ← flags ← --set
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from reasonrec.config import Config
    from reasonrec.llm.registry import LLMConfig

OutOpt = Annotated[Path, typer.Option("--out", help="Directory to write (outputs + config.yaml + manifest.json).")]
MaybeOutOpt = Annotated[Path | None, typer.Option(
    "--out", help="Directory to write (outputs + config.yaml + manifest.json); without it the result goes to the "
                  "terminal only.")]
DataDirOpt = Annotated[Path | None, typer.Option(
    "--data-dir", help="Data root (default: $REASONREC_DATA_DIR, else ~/.cache/reasonrec/data).")]
LLMOpt = Annotated[Path | None, typer.Option(
    "--llm-config", help="LLMConfig YAML: backend, model, adapter, cache, … (default: the embedded model, cached).")]
TeacherLLMOpt = Annotated[Path | None, typer.Option(
    "--teacher-llm-config", help="LLMConfig YAML of the teacher (teacher reasoning, explanations, verification); "
    "--llm-config is then the student's base (default: both the embedded model).")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="The command's settings as YAML (see --print-config).")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Setting KEY=VALUE, dotted for sections (llm.KEY=VALUE for the model); repeatable; applied last.")]
PrintOpt = Annotated[bool, typer.Option("--print-config", help="Print the resolved settings as YAML and exit.")]
BudgetOpt = Annotated[str, typer.Option("--budget", help="quick (minutes, subsets) | full (the paper's protocol).")]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Only the first N rows (smoke runs).")]

LLM_PREFIX = "llm."


def yaml_layer(path: Path | None) -> dict[str, Any]:
    """A --config / --llm-config file as a config layer ({} when not given)."""
    from reasonrec.config import read_yaml_mapping

    return {} if path is None else read_yaml_mapping(path)


def split_llm_overrides(overrides: Sequence[str] | None) -> tuple[list[str], list[str]]:
    """(the command's own `--set` overrides, the `llm.` ones with the prefix removed)."""
    own, llm = [], []
    for item in overrides or ():
        (llm if item.strip().startswith(LLM_PREFIX) else own).append(item.strip().removeprefix(LLM_PREFIX))
    return own, llm


def given_flags(ctx: typer.Context, values: Mapping[str, Any]) -> dict[str, Any]:
    """The flags the user actually typed (by parameter name): a flag left at its default must not override the
    --config YAML below it."""
    from click.core import ParameterSource

    return {name: value for name, value in values.items()
            if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)}


def resolve_command_config(cls: type[Config], *, config: Path | None = None, flags: Mapping[str, Any] | None = None,
                           overrides: Sequence[str] = (), defaults: Mapping[str, Any] | None = None) -> Config:
    """A command's config: `cls` defaults ← `defaults` ← --config YAML ← flags (None = not given) ← --set."""
    from reasonrec.config import resolve_layers

    given = {k: v for k, v in (flags or {}).items() if v is not None}
    return resolve_layers(cls, [dict(defaults or {}), yaml_layer(config), given], overrides,
                          source=str(config) if config is not None else cls.__name__)


def resolve_llm_config(llm_config: Path | None, overrides: Sequence[str] = (), *,
                       base: Mapping[str, Any] | None = None) -> LLMConfig:
    """The LLM a command uses: LLMConfig defaults ← `base` (e.g. the model a bundle was written for) ←
    --llm-config YAML ← `--set llm.KEY=VALUE`."""
    from reasonrec.config import resolve_layers
    from reasonrec.llm.registry import LLMConfig

    return resolve_layers(LLMConfig, [dict(base or {}), yaml_layer(llm_config)], overrides,
                          source=str(llm_config) if llm_config is not None else "llm")


def resolve_with_llm(cls: type[Config], *, config: Path | None, llm_config: Path | None,
                     overrides: Sequence[str] | None, defaults: Mapping[str, Any] | None = None,
                     flags: Mapping[str, Any] | None = None,
                     llm_base: Mapping[str, Any] | None = None) -> tuple[Config, LLMConfig]:
    """A command that takes --llm-config: its own settings (`resolve_command_config`, with the `--set KEY=VALUE`
    overrides) and its model's (`resolve_llm_config` over `llm_base`, with the `--set llm.KEY=VALUE` ones)."""
    own, llm_overrides = split_llm_overrides(overrides)
    cfg = resolve_command_config(cls, config=config, overrides=own, flags=flags, defaults=defaults)
    return cfg, resolve_llm_config(llm_config, llm_overrides, base=llm_base)


def print_config(asked: bool, **sections: Config) -> None:
    """With `--print-config` (asked): every setting, resolved, as YAML — one section per config (the command's,
    and its `llm` when it has one) — then exit. Without it, nothing."""
    if not asked:
        return
    import yaml

    data = {name: section.model_dump(mode="json") for name, section in sections.items()}
    if list(data) == ["config"]:
        data = data["config"]
    typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True).rstrip())
    raise typer.Exit()


__all__ = [
    "BudgetOpt", "ConfigOpt", "DataDirOpt", "LLMOpt", "LimitOpt", "MaybeOutOpt", "OutOpt", "PrintOpt", "SetOpt",
    "TeacherLLMOpt", "given_flags", "print_config",
    "resolve_command_config", "resolve_llm_config", "resolve_with_llm", "split_llm_overrides", "yaml_layer",
]
