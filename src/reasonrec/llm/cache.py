"""SQLite cache of LLM results, so any stage can be killed and rerun without recomputing a single call.

WAL + synchronous=NORMAL: readers never block the writer and a commit survives a process kill (the OS
still has the WAL pages). Each finished backend batch is committed in its own transaction, so a SIGKILL
loses at most the batch that was in flight. Error results are never cached: a rerun retries them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import TypeVar

from reasonrec.llm.base import (
    LLM,
    ChoiceScores,
    Completion,
    ForwardingLLM,
    GenerationRequest,
    ScoreRequest,
    request_key,
)
from reasonrec.sqlite import immediate_transaction, open_shared_sqlite

T = TypeVar("T", Completion, ChoiceScores)

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    result TEXT NOT NULL,
    created REAL NOT NULL
)
"""


class LLMCache:
    """Key → result JSON in one SQLite file (safe to share between processes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn = open_shared_sqlite(self.path, synchronous="NORMAL", timeout=60.0)
        self._conn.execute(SCHEMA)

    def get_many(self, keys: Sequence[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        unique = list(dict.fromkeys(keys))
        with self._lock:
            for start in range(0, len(unique), 500):
                part = unique[start : start + 500]
                marks = ",".join("?" * len(part))
                rows = self._conn.execute(f"SELECT key, result FROM results WHERE key IN ({marks})", part)
                for key, result in rows:
                    found[key] = json.loads(result)
        return found

    def put_many(self, rows: Sequence[tuple[str, str, str, dict]]) -> None:
        """Insert (key, kind, model, result) rows in ONE transaction; an existing key keeps its first value."""
        if not rows:
            return
        now = time.time()
        with self._lock, immediate_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO results (key, kind, model, result, created) VALUES (?, ?, ?, ?, ?)",
                [(k, kind, model, json.dumps(res, ensure_ascii=False), now) for k, kind, model, res in rows],
            )

    def count(self, kind: str | None = None) -> int:
        with self._lock:
            if kind is None:
                return int(self._conn.execute("SELECT COUNT(*) FROM results").fetchone()[0])
            return int(self._conn.execute("SELECT COUNT(*) FROM results WHERE kind = ?", (kind,)).fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def result_to_json(result: Completion | ChoiceScores) -> dict:
    """A result as the cache stores it: every field but `cached`, which only says where a copy came from."""
    data = asdict(result)
    data.pop("cached", None)
    return data


def result_from_json(kind: str, data: dict) -> Completion | ChoiceScores:
    """The inverse of `result_to_json` for a call of `kind` ("generate" | "score")."""
    return Completion(**data) if kind == "generate" else ChoiceScores(**data)


class CachedLLM(ForwardingLLM):
    """Wraps any `LLM`: hits come from the cache (`cached=True`), misses go to the backend in batches."""

    def __init__(self, llm: LLM, cache: LLMCache, *, batch_size: int = 16,
                 generate_batch_size: int | None = None) -> None:
        """`batch_size` / `generate_batch_size` (default: the same): misses per backend call and per cache commit
        when scoring / generating (a backend that decodes many rows per step needs them together)."""
        self.llm = llm
        self.cache = cache
        self.batch_size = max(1, batch_size)
        self.generate_batch_size = max(1, generate_batch_size or batch_size)

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Completion]:
        return self._run("generate", requests, self.llm.generate,
                         lambda c: c.error is None and c.finish_reason != "error", self.generate_batch_size)

    def score(self, requests: Sequence[ScoreRequest]) -> list[ChoiceScores]:
        return self._run("score", requests, self.llm.score, lambda s: s.error is None, self.batch_size)

    def _run(
        self,
        kind: str,
        requests: Sequence,
        compute: Callable[[Sequence], list[T]],
        cacheable: Callable[[T], bool],
        batch_size: int,
    ) -> list[T]:
        identity = self.llm.identity
        model_key = identity.key()
        keys = [request_key(identity, kind, r.payload()) for r in requests]
        hits = self.cache.get_many(keys)
        results: dict[str, T] = {k: replace(result_from_json(kind, v), cached=True) for k, v in hits.items()}
        # Identical requests inside one call are computed once.
        pending: dict[str, object] = {}
        for key, req in zip(keys, requests, strict=True):
            if key not in results and key not in pending:
                pending[key] = req
        todo = list(pending.items())
        for start in range(0, len(todo), batch_size):
            chunk = todo[start : start + batch_size]
            outs = compute([req for _, req in chunk])
            if len(outs) != len(chunk):
                raise RuntimeError(f"backend returned {len(outs)} results for {len(chunk)} requests")
            rows = []
            for (key, _), out in zip(chunk, outs, strict=True):
                results[key] = out
                if cacheable(out):
                    rows.append((key, kind, model_key, result_to_json(out)))
            self.cache.put_many(rows)  # commit this batch now: a kill loses at most the next one
        return [results[k] for k in keys]
