"""What people tell the recommendation service, kept in one SQLite file: feedback on recommended items and human
ratings of explanations (the explorer's annotation form; Rec-SAVER's human study dimensions).

Crash safety: WAL journal with synchronous=FULL, and every write is one short transaction, so an answered request's
row survives a kill of the process or of the machine; readers never block the writer. The store validates what
it writes (ranges, lengths) even though the HTTP layer already did: it is also a library API.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonrec.errors import DataError
from reasonrec.eval.human import DIMENSIONS
from reasonrec.sqlite import immediate_transaction, open_shared_sqlite

FEEDBACK_KINDS = ("click", "like", "dislike", "purchase", "dismiss", "rating")
MAX_TEXT = 4000
MAX_ID = 200

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL,
    method TEXT
);
CREATE TABLE IF NOT EXISTS annotations (
    id INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    annotator TEXT NOT NULL,
    user_id TEXT NOT NULL,
    item_id TEXT NOT NULL,
    method TEXT NOT NULL,
    persuasiveness INTEGER NOT NULL CHECK (persuasiveness BETWEEN 1 AND 5),
    transparency INTEGER NOT NULL CHECK (transparency BETWEEN 1 AND 5),
    accuracy INTEGER NOT NULL CHECK (accuracy BETWEEN 1 AND 5),
    satisfaction INTEGER NOT NULL CHECK (satisfaction BETWEEN 1 AND 5),
    comment TEXT,
    explanation TEXT,
    p_like REAL,
    UNIQUE (annotator, user_id, item_id, method)
);
"""


@dataclass(frozen=True)
class Annotation:
    """One person's 1–5 ratings of one explanation (of `item_id` for `user_id` by `method`)."""

    annotator: str
    user_id: str
    item_id: str
    method: str
    persuasiveness: int
    transparency: int
    accuracy: int
    satisfaction: int
    comment: str | None = None
    explanation: str | None = None
    p_like: float | None = None

    def check(self) -> None:
        for name in ("annotator", "user_id", "item_id", "method"):
            value = getattr(self, name)
            if not value or len(value) > MAX_ID:
                raise DataError(f"must be 1..{MAX_ID} characters", field=name)
        for name in DIMENSIONS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                raise DataError(f"must be an integer from 1 to 5, got {value!r}", field=name)
        for name in ("comment", "explanation"):
            value = getattr(self, name)
            if value is not None and len(value) > MAX_TEXT:
                raise DataError(f"longer than {MAX_TEXT} characters", field=name)


class FeedbackStore:
    """One SQLite file (WAL, synchronous=FULL) shared by the service's request threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = open_shared_sqlite(self.path, synchronous="FULL", timeout=30.0)
        self._conn.executescript(SCHEMA)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        with self._lock, immediate_transaction(self._conn) as conn:
            cursor = conn.execute(sql, params)
        return int(cursor.lastrowid or 0)

    def add_feedback(self, user_id: str, item_id: str, kind: str, value: float | None = None,
                     method: str | None = None) -> int:
        if kind not in FEEDBACK_KINDS:
            raise DataError(f"unknown feedback kind {kind!r}; one of {', '.join(FEEDBACK_KINDS)}", field="kind")
        if (kind == "rating") != (value is not None):
            raise DataError("a value is required for kind 'rating' and only for it", field="value")
        return self._write(
            "INSERT INTO feedback (created, user_id, item_id, kind, value, method) VALUES (?, ?, ?, ?, ?, ?)",
            (time.time(), user_id, item_id, kind, value, method),
        )

    def feedback(self, user_id: str, limit: int = 100) -> list[dict[str, Any]]:
        return self._rows("SELECT id, created, user_id, item_id, kind, value, method FROM feedback "
                          "WHERE user_id = ? ORDER BY id DESC LIMIT ?", (user_id, limit))

    def annotate(self, annotation: Annotation) -> int:
        """Insert, or replace the same annotator's earlier rating of the same explanation."""
        annotation.check()
        a = annotation
        return self._write(
            "INSERT INTO annotations (created, annotator, user_id, item_id, method, persuasiveness, transparency, "
            "accuracy, satisfaction, comment, explanation, p_like) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (annotator, user_id, item_id, method) DO UPDATE SET created = excluded.created, "
            "persuasiveness = excluded.persuasiveness, transparency = excluded.transparency, "
            "accuracy = excluded.accuracy, satisfaction = excluded.satisfaction, comment = excluded.comment, "
            "explanation = excluded.explanation, p_like = excluded.p_like",
            (time.time(), a.annotator, a.user_id, a.item_id, a.method, a.persuasiveness, a.transparency,
             a.accuracy, a.satisfaction, a.comment, a.explanation, a.p_like),
        )

    def annotations(self, *, user_id: str | None = None, annotator: str | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:
        where, params = [], []
        for column, value in (("user_id", user_id), ("annotator", annotator)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return self._rows(f"SELECT * FROM annotations {clause}ORDER BY id LIMIT ?", (*params, limit))

    def _rows(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._conn.execute(sql, params)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def ping(self) -> bool:
        try:
            with self._lock:
                self._conn.execute("SELECT 1").fetchone()
            return True
        except sqlite3.Error:
            return False

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def read_annotations(path: str | Path) -> list[dict[str, Any]]:
    """Every annotation row of a store file (read-only), for `reasonrec eval agreement`."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            cursor = conn.execute("SELECT * FROM annotations ORDER BY id")
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise DataError(f"not a feedback store ({exc})", path=path) from exc


__all__ = ["DIMENSIONS", "FEEDBACK_KINDS", "Annotation", "FeedbackStore", "read_annotations"]
