"""The `reasonrec` command line: one Typer app; each group lives in its own module and is registered here.

Registration is an explicit list (no import magic): to add a group, write `cli/<group>.py` with an `app`
and add one line below. The group modules import only typer and the vocabulary (`cli.options`) at the top;
everything heavy (polars, torch, transformers, the evaluation stack) is imported inside the command that needs
it, so `reasonrec --help` starts in a fraction of a second.
"""

from __future__ import annotations

import typer

from reasonrec import __version__
from reasonrec.cli import baselines as baselines_cli
from reasonrec.cli import data as data_cli
from reasonrec.cli import demo as demo_cli
from reasonrec.cli import eval as eval_cli
from reasonrec.cli import exp3rt as exp3rt_cli
from reasonrec.cli import llm as llm_cli
from reasonrec.cli import reasoningrec as reasoningrec_cli
from reasonrec.cli import recsaver as recsaver_cli
from reasonrec.cli import reproduce as reproduce_cli
from reasonrec.cli import train as train_cli
from reasonrec.cli.predict import predict_command
from reasonrec.cli.report import report_command
from reasonrec.cli.rerank import rerank_command
from reasonrec.cli.run import run_command

app = typer.Typer(
    name="reasonrec",
    help="LLM-reasoning recommendation: describe items, profile users, distil teacher reasoning into a small "
    "student, predict likes/ratings with an explanation, evaluate and rerank.\n\n"
    "Every command takes --help; settings come from --config YAML and --set KEY=VALUE (--print-config shows them), "
    "the data root from --data-dir, the model from --llm-config.\n\n"
    "Example: reasonrec reproduce reasoningrec --budget quick --out runs/rr_quick",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

app.add_typer(data_cli.app, name="data")
app.add_typer(llm_cli.app, name="llm")
app.add_typer(eval_cli.app, name="eval")
app.add_typer(baselines_cli.app, name="baselines")
app.add_typer(reasoningrec_cli.app, name="reasoningrec")
app.add_typer(recsaver_cli.app, name="recsaver")
app.add_typer(exp3rt_cli.app, name="exp3rt")
app.add_typer(train_cli.app, name="train")
app.command(name="predict")(predict_command)
app.add_typer(reproduce_cli.app, name="reproduce")
app.command(name="run")(run_command)
app.command(name="rerank")(rerank_command)
app.command(name="report")(report_command)
app.command(name="demo")(demo_cli.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"reasonrec {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """reasonrec command line."""
