"""`reasonrec recommend BUNDLE`: top-n lists with P(like) and explanations for one user, a list, or everyone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, LLMOpt, MaybeOutOpt, PrintOpt, SetOpt

if TYPE_CHECKING:
    from reasonrec.recommend import Recommender

USERS_PER_CHUNK = 64  # users recommended per pass: bounds memory and shows progress on --all


@one_line_errors()
def recommend_command(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory written by `reasonrec bundle`.")],
    user: Annotated[list[str] | None, typer.Option("--user", help="A user id (repeatable).")] = None,
    users_file: Annotated[Path | None, typer.Option("--users-file", help="A text file with one user id per line.")
                          ] = None,
    all_users: Annotated[bool, typer.Option("--all", help="Every user of the bundle.")] = False,
    out: MaybeOutOpt = None,
    llm_config: LLMOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No terminal table.")] = False,
) -> None:
    """Recommend from BUNDLE: CF candidates minus everything each user saw, scored by the bundle's student,
    with its explanations; a readable table on the terminal, JSONL + Parquet with --out. Settings
    (RecommendConfig): n, n_candidates, explain, explain_top, cutoff, scorer; the model is the bundle's
    (← --llm-config ← --set llm.KEY=VALUE, e.g. llm.n_threads=2, llm.cache_path=...).

    Example: reasonrec recommend bundle/ --user A1B2 --set n=5 --set explain=true --out recs/
    """
    import time

    import polars as pl

    from reasonrec.cli.bundle import bundle_settings
    from reasonrec.errors import ConfigError
    from reasonrec.io import write_jsonl, write_parquet
    from reasonrec.recommend import RecommendConfig, Recommender, as_records, render_table
    from reasonrec.runs import write_manifest

    started = time.time()
    cfg, b, llm_cfg = bundle_settings(bundle, RecommendConfig, config=config, overrides=set_, llm_config=llm_config,
                                      print_only=print_config_)
    llm = None
    if b.config.student:
        from reasonrec.llm.registry import build_llm

        llm = build_llm(llm_cfg)
        b.check_model(llm.identity.model_hash)
    recommender = Recommender(b, llm, show_progress=not quiet)
    users = _users(recommender, user, users_file, all_users)
    if not users:
        raise ConfigError("no users: give --user ID (repeatable), --users-file FILE or --all")
    tables = [recommender.recommend(users[i:i + USERS_PER_CHUNK], cfg) for i in range(0, len(users), USERS_PER_CHUNK)]
    table = pl.concat(tables)
    if not quiet:
        render_table(table)
    if out is not None:
        written = [write_parquet(out / "recommendations.parquet", table),
                   write_jsonl(out / "recommendations.jsonl", as_records(table))]
        write_manifest(out, command="reasonrec recommend", config=cfg, inputs=[bundle / "manifest.json"],
                       outputs=[*written, out / "config.yaml"], started_at=started,
                       extra={"bundle": str(bundle), "users": len(users), "rows": table.height})
        typer.echo(f"wrote {table.height} recommendations for {len(users)} user(s) to {out}")


def _users(recommender: Recommender, user: list[str] | None, users_file: Path | None, all_users: bool) -> list[str]:
    from reasonrec.errors import DataError

    ids = list(user or [])
    if users_file is not None:
        if not users_file.is_file():
            raise DataError("file not found", path=users_file)
        ids += [line.strip() for line in users_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    if all_users:
        ids += recommender.users()
    unknown = [u for u in ids if not recommender.knows(u)]
    if unknown:
        raise DataError(f"{len(unknown)} unknown user(s), e.g. {unknown[0]!r}", field="user_id")
    return list(dict.fromkeys(ids))
