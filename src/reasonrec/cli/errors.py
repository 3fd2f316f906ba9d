"""One way for every command to report an expected failure: a single `error: ...` line on stderr, exit code 2.

Expected failures are the errors reasonrec raises on purpose (`DataError`, `ConfigError`, `LLMError`): they
already name the file, line and field, so a traceback adds nothing but noise. An `OSError` (an `--out` that is
a file, lies under a file or under /proc, an unwritable directory, a full disk) is the user's environment, not
a bug: it becomes one line naming the path. Anything else is a bug and keeps its traceback.
`one_line_errors` is both a context manager and a decorator (it is a ContextDecorator,
and the decorated command keeps its signature, which Typer reads):

    @one_line_errors()
    def run_command(...): ...

    with one_line_errors(ValueError):   # also report these as one line
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from reasonrec.errors import ReasonrecError

EXIT_USAGE = 2


def one_line(exc: BaseException) -> str:
    """The error text on one line (multi-line messages, e.g. config validation, are joined with '; ')."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return "; ".join(lines) or type(exc).__name__


def os_error_line(exc: OSError) -> str:
    """`PATH: reason` (both paths of a failed rename), or the bare reason when the OS named no path."""
    reason = exc.strerror or one_line(exc)
    if exc.filename is None:
        return reason
    where = f"{exc.filename}" + (f" -> {exc.filename2}" if exc.filename2 is not None else "")
    return f"{where}: {reason}"


@contextmanager
def one_line_errors(*also: type[Exception]) -> Iterator[None]:
    """Turn ReasonrecError, OSError (and the `also` types) into `error: <message>` on stderr and exit code 2."""
    try:
        yield
    except (ReasonrecError, *also) as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except OSError as exc:
        typer.echo(f"error: {os_error_line(exc)}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


__all__ = ["EXIT_USAGE", "one_line", "one_line_errors", "os_error_line"]
