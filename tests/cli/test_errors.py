"""Expected failures (DataError/ConfigError) are one `error:` line on stderr with exit code 2 in every command."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from reasonrec.cli import app
from reasonrec.cli.errors import EXIT_USAGE, one_line_errors
from reasonrec.errors import ConfigError, DataError


def _assert_one_line_error(result, *needles: str) -> None:
    assert result.exit_code == EXIT_USAGE, result.output
    lines = result.stderr.strip().splitlines()  # progress lines may come first; the error is the last, whole
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in errors[0]


def test_helper_as_decorator_keeps_signature_and_reports_one_line() -> None:
    tiny = typer.Typer()

    @tiny.command()
    @one_line_errors()
    def load(path: str, strict: bool = False) -> None:
        raise DataError("bad rating 'x'\n(second line)", path=path, line=3, field="rating")

    result = CliRunner().invoke(tiny, ["ratings.csv", "--strict"])
    _assert_one_line_error(result, "ratings.csv:3", "field 'rating'", "bad rating 'x'; (second line)")


def test_helper_leaves_bugs_as_exceptions() -> None:
    with pytest.raises(ZeroDivisionError), one_line_errors():
        1 / 0  # noqa: B018
    with pytest.raises(typer.Exit), one_line_errors(KeyError):
        raise KeyError("column")


def test_run_bad_override_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["run", "tallrec", "--out", str(tmp_path / "r"), "--set", "no_such_key=1"])
    _assert_one_line_error(result, "no_such_key")


def test_data_prepare_unknown_dataset_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["data", "prepare", "no-such-data", "--out", str(tmp_path / "p")])
    _assert_one_line_error(result, "unknown dataset")


def test_eval_and_report_missing_input_are_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.parquet"
    _assert_one_line_error(CliRunner().invoke(app, ["eval", "predictions", str(missing)]), "not found")
    report = CliRunner().invoke(app, ["report", str(missing), "--out", str(tmp_path / "rep")])
    _assert_one_line_error(report)


def test_baselines_run_without_prepared_splits_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["baselines", "run", "user-mean", "--split-dir", str(tmp_path), "--out",
                                      str(tmp_path / "o")])
    if result.exit_code != EXIT_USAGE and "unknown baseline" in result.output:
        pytest.fail("baseline name changed; use one from `reasonrec baselines list`")
    _assert_one_line_error(result, "missing split file")


def test_config_error_type_is_covered() -> None:
    with pytest.raises(typer.Exit) as exc, one_line_errors():
        raise ConfigError("unknown key")
    assert exc.value.exit_code == EXIT_USAGE


@pytest.mark.parametrize(
    ("raise_it", "needles"),
    [
        (lambda: Path("/proc/version/out").mkdir(parents=True), ("/proc/version/out",)),
        (lambda: Path("/proc/nope/file").write_text("x"), ("/proc/nope/file", "No such file or directory")),
        (lambda: os.rename("/proc/nope-a", "/proc/nope-b"), ("/proc/nope-a -> /proc/nope-b",)),
    ],
)
def test_os_errors_at_a_path_are_one_line_naming_it(raise_it, needles) -> None:
    tiny = typer.Typer()

    @tiny.command()
    @one_line_errors()
    def write(out: str) -> None:
        raise_it()

    _assert_one_line_error(CliRunner().invoke(tiny, ["x"]), *needles)


def test_out_pointing_at_a_file_is_one_line(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("x")
    result = CliRunner().invoke(app, ["data", "describe", str(taken / "sub")])
    _assert_one_line_error(result, str(taken / "sub"))
