"""`reasonrec data download <name>`: fetch a public dataset into the data root, checksummed and resumable.

The command is built by `make_download_command(registry)` so tests can hand it a registry pointing at a local
server; `download_command` is the one bound to the real registry (`reasonrec.data.download.DOWNLOADS`, looked up
when the command runs, so `--help` loads no download machinery), registered in `cli/data.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from reasonrec.errors import ReasonrecError
from reasonrec.paths import MIRROR_ENV
from reasonrec.paths import data_dir as default_data_dir

if TYPE_CHECKING:
    from reasonrec.data.download import DownloadableDataset, DownloadReport


def _list_table(registry: Mapping[str, DownloadableDataset]) -> Table:
    table = Table(title="Downloadable datasets")
    table.add_column("name")
    table.add_column("folder")
    table.add_column("files")
    table.add_column("checksum")
    for key, spec in registry.items():
        known = all(f.sha256 for f in spec.files)
        members = any(f.members_sha256 for f in spec.files)
        table.add_row(
            key,
            spec.folder,
            ", ".join(f.filename for f in spec.files),
            "sha256 known" if known else ("TOFU + known members" if members else "trust on first use"),
        )
    return table


def _print_report(report: DownloadReport, spec: DownloadableDataset) -> None:
    """One line per verified file, the extracted count, and the `data prepare` line to run next."""
    for outcome in report.files:
        if outcome.status != "extracted":
            typer.echo(f"{outcome.status:<10} {outcome.path}  sha256={outcome.sha256}")
    extracted = sum(1 for o in report.files if o.status == "extracted")
    if extracted:
        typer.echo(f"extracted  {extracted} files into {report.folder}")
    typer.echo(f"{report.dataset}: ready in {report.folder}")
    command = spec.prepare_command(report.folder.parent)
    if command is not None:
        typer.echo(f"next: {command}")


def make_download_command(registry: Mapping[str, DownloadableDataset] | None = None) -> Callable[..., None]:
    """A Typer command function bound to `registry` (default: the real one; no global state to patch in tests)."""

    def download_command(
        name: Annotated[
            str | None,
            typer.Argument(
                help="Dataset to fetch: movielens-100k, movielens-1m, amazon-2018, amazon-2023 (Amazon takes "
                "--category), or a full key such as amazon-2023:Books. Omit it to list every download.",
                show_default=False,
            ),
        ] = None,
        category: Annotated[
            str | None,
            typer.Option(
                "--category",
                "-c",
                help="Amazon category as the publisher spells it (All_Beauty, Books, Video_Games, ...). "
                "Default: All_Beauty.",
            ),
        ] = None,
        data_dir: Annotated[
            Path | None,
            typer.Option(
                "--data-dir",
                help="Root of the datasets; files land in <data-dir>/<folder> (movielens-100k/, amazon-2018/, "
                "...). Default: $REASONREC_DATA_DIR, else ~/.cache/reasonrec/data.",
            ),
        ] = None,
        mirror: Annotated[
            str | None,
            typer.Option(
                "--mirror",
                envvar=MIRROR_ENV,
                help="Mirror root replacing the publisher's base URL: the file URL becomes <mirror>/<dataset "
                "path>, e.g. <mirror>/movielens/ml-100k.zip or "
                f"<mirror>/amazon_v2/categoryFilesSmall/All_Beauty_5.json.gz. Also read from ${MIRROR_ENV}.",
            ),
        ] = None,
        force: Annotated[
            bool,
            typer.Option(
                "--force",
                help="Download again even when the files are present (the new bytes are still verified against "
                "the known or recorded checksum).",
            ),
        ] = False,
        retrust: Annotated[
            bool,
            typer.Option(
                "--retrust",
                help="Forget the checksums recorded by earlier downloads of this dataset (trust on first use) "
                "and record the new ones: use only when the publisher really changed the files.",
            ),
        ] = False,
        keep_archive: Annotated[
            bool,
            typer.Option(
                "--keep-archive/--delete-archive",
                help="Keep a zip after extracting it (later runs verify it cheaply), or delete it and verify "
                "the extracted files instead.",
            ),
        ] = True,
        retries: Annotated[
            int,
            typer.Option(
                "--retries",
                min=1,
                help="Attempts per file on connection errors and 5xx answers; each resumes.",
            ),
        ] = 6,
        backoff: Annotated[
            float,
            typer.Option(
                "--backoff",
                min=0.0,
                help="First wait in seconds between attempts; doubles each time (max 30 s).",
            ),
        ] = 1.0,
        progress: Annotated[
            bool,
            typer.Option(
                "--progress/--no-progress", help="Show a progress bar with bytes and transfer rate."
            ),
        ] = True,
    ) -> None:
        """Download a public dataset with resume, retries and sha256 verification, then print the `data prepare`
        line for it.

        \b
        Example:
          reasonrec data download amazon-2023 --category Books --data-dir data
          reasonrec data prepare amazon-2023 --data-dir data \\
              --set load.category=Books --set filters.k_core=5 --out prepared/books
        """
        from reasonrec.data.download import DOWNLOADS, RetryPolicy, download_dataset, resolve_dataset

        datasets = DOWNLOADS if registry is None else registry
        console = Console(stderr=True)
        if name is None:
            Console().print(_list_table(datasets))
            return
        try:
            spec = resolve_dataset(name, category, datasets)
            report = download_dataset(
                spec,
                default_data_dir(data_dir),
                mirror=mirror or None,
                retry=RetryPolicy(attempts=retries, backoff_seconds=backoff),
                force=force,
                retrust=retrust,
                keep_archives=keep_archive,
                show_progress=progress,
                console=console,
            )
        except ReasonrecError as exc:
            console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(code=1) from exc
        _print_report(report, spec)

    return download_command


download_command = make_download_command()
