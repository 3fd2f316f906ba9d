"""`reasonrec bundle RUN_DIR --cf CF_RUN --out BUNDLE`: one directory with everything `recommend` and `serve` need."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import (
    ConfigOpt,
    OutOpt,
    PrintOpt,
    SetOpt,
    print_config,
    resolve_command_config,
    resolve_with_llm,
)

if TYPE_CHECKING:
    from reasonrec.bundle import Bundle
    from reasonrec.config import Config
    from reasonrec.llm.registry import LLMConfig


@one_line_errors()
def bundle_command(
    run_dir: Annotated[Path, typer.Argument(help="A `train lora` run, a recipe run (`reasonrec run …`), or a prepared "
                                                 "data directory (then the base model is the student).")],
    cf: Annotated[Path, typer.Option("--cf", help="A `reasonrec baselines run bpr|lightgcn` directory on the same "
                                                  "prepared data (the candidate generator).")],
    out: OutOpt,
    descriptions: Annotated[Path | None, typer.Option(
        "--descriptions", help="Item descriptions table (item_id, text), e.g. a `reasoningrec describe` output.")
    ] = None,
    profiles: Annotated[Path | None, typer.Option(
        "--profiles", help="User profiles table (user_id, text), e.g. a `reasoningrec profile` output.")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
) -> None:
    """Copy the data tables, the CF model, the adapter and the artefacts of RUN_DIR into a verified bundle with a
    manifest of hashes; refuse sources that do not belong together. Settings (BundleConfig): what RUN_DIR says
    (the student's prompt, base model, like threshold, history window) ← --config ← --set (e.g. scorer=cf,
    student=false, explanation_tokens=96, llm.model=DIR).

    Example: reasonrec bundle runs/student --cf runs/bpr --out bundle/ && reasonrec serve bundle/
    """
    from reasonrec.bundle import BundleConfig, sources_from_run, write_bundle

    sources, found = sources_from_run(run_dir, cf, item_descriptions=descriptions, user_profiles=profiles)
    cfg = resolve_command_config(BundleConfig, config=config, overrides=set_ or [], defaults=found)
    print_config(print_config_, config=cfg)
    written = write_bundle(sources, cfg, out)
    typer.echo(f"wrote bundle {cfg.name!r} to {written} (data {sources.data_dir}, CF {sources.cf_run}"
               + (f", adapter {sources.adapter}" if sources.adapter else ", no adapter: the base model explains")
               + ")")


def bundle_settings(bundle: Path, cls: type[Config], *, config: Path | None, overrides: list[str] | None,
                    llm_config: Path | None, print_only: bool) -> tuple[Config, Bundle, LLMConfig]:
    """What `recommend` and `serve` start from: their own settings (`cls` ← --config ← --set), the loaded bundle,
    and its model (the bundle's LLM ← --llm-config ← --set llm.KEY=VALUE); with --print-config, print and exit."""
    from reasonrec.bundle import load_bundle

    loaded = load_bundle(bundle)
    cfg, llm_cfg = resolve_with_llm(cls, config=config, llm_config=llm_config, overrides=overrides,
                                    llm_base=loaded.llm_config().model_dump(mode="json"))
    print_config(print_only, config=cfg, **({"llm": llm_cfg} if loaded.config.student else {}))
    return cfg, loaded, llm_cfg
