"""The feedback store: validated rows, a rating replaced by the same annotator's later one, and every answered
write still there after the writing process is killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from reasonrec.errors import DataError
from reasonrec.serve.feedback import Annotation, FeedbackStore, read_annotations

WRITER = """
import sys
from reasonrec.serve.feedback import FeedbackStore
store = FeedbackStore(sys.argv[1])
n = 0
while True:
    store.add_feedback("u", f"i{n}", "click")
    n += 1
    print(n, flush=True)
"""


def _annotation(**overrides) -> Annotation:
    values = {"annotator": "a", "user_id": "u", "item_id": "i", "method": "llm", "persuasiveness": 4,
              "transparency": 3, "accuracy": 5, "satisfaction": 2}
    return Annotation(**{**values, **overrides})


def test_rows_are_validated_and_ratings_replaced(tmp_path) -> None:
    store = FeedbackStore(tmp_path / "f.sqlite")
    store.annotate(_annotation())
    store.annotate(_annotation(accuracy=1, comment="changed my mind"))
    store.annotate(_annotation(annotator="b"))
    rows = store.annotations(user_id="u")
    assert [(r["annotator"], r["accuracy"]) for r in rows] == [("a", 1), ("b", 5)]
    with pytest.raises(DataError, match="persuasiveness"):
        store.annotate(_annotation(persuasiveness=6))
    with pytest.raises(DataError, match="accuracy"):
        store.annotate(_annotation(accuracy=True))
    with pytest.raises(DataError, match="kind"):
        store.add_feedback("u", "i", "stare")
    with pytest.raises(DataError, match="value"):
        store.add_feedback("u", "i", "rating")
    store.add_feedback("u", "i", "rating", 4.0)
    assert store.feedback("u")[0]["value"] == 4.0
    store.close()
    assert [r["annotator"] for r in read_annotations(tmp_path / "f.sqlite")] == ["a", "b"]
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(DataError, match="not a feedback store"):
        read_annotations(tmp_path / "junk.sqlite")


def test_answered_writes_survive_sigkill(tmp_path) -> None:
    path = tmp_path / "killed.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    acknowledged = 0
    deadline = time.monotonic() + 60
    while acknowledged < 50 and time.monotonic() < deadline:
        acknowledged = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    store = FeedbackStore(path)
    stored = len(store.feedback("u", limit=100_000))
    assert acknowledged >= 50
    assert stored >= acknowledged  # every write acknowledged before the kill is there (one more may be)
    assert stored <= acknowledged + 1
