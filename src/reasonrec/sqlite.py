"""The SQLite files several processes and threads share (the LLM cache, the embedding cache, the service's feedback
store): how one is opened and how one is written, in one place.

WAL: readers never block the writer. Every write is one `BEGIN IMMEDIATE` transaction, committed whole or rolled
back whole, so a killed process leaves either the batch or nothing. A core module apart from `io` because it
imports nothing heavy (no polars): the LLM cache stays cheap to import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal


def open_shared_sqlite(path: Path, *, synchronous: Literal["NORMAL", "FULL"], timeout: float) -> sqlite3.Connection:
    """A connection the caller's threads share (it serialises them with its own lock); other processes open the
    same file. synchronous=NORMAL keeps a commit through a killed process, FULL through a lost machine.
    Autocommit mode: writes go through `immediate_transaction`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


@contextmanager
def immediate_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction on an autocommit connection: committed whole, or rolled back whole on any error
    (interrupts included)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


__all__ = ["immediate_transaction", "open_shared_sqlite"]
