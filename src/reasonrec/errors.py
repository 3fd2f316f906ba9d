"""Error types that carry enough location to fix the input without a debugger."""

from __future__ import annotations

from pathlib import Path


class ReasonrecError(Exception):
    """Base class for every error reasonrec raises on purpose."""


class DataError(ReasonrecError):
    """Bad input data: names the file, the line (1-based) and the field when they are known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.field = field
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where += f":{line}"
        if field is not None:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}")


class ConfigError(ReasonrecError):
    """Invalid configuration or CLI override."""


class LLMError(ReasonrecError):
    """A model backend failed in a way the caller should see (not retried further)."""
