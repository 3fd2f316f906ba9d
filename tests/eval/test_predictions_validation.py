"""The one gate every predictions table passes before scoring: readers and in-memory callers alike."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.errors import ConfigError, DataError
from reasonrec.eval.bootstrap import MAX_RESAMPLES, bootstrap_ci
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.eval.readers import read_predictions
from reasonrec.predictions import PROBS_TOLERANCE, probs_problem


def test_in_memory_tables_are_validated_too() -> None:
    bad = pl.DataFrame({"rating": [4.0, 2.0], "probs": [json.dumps({"1": -1.0, "5": 2.0}), None]})
    with pytest.raises(DataError) as exc:
        evaluate_predictions(bad, EvalConfig(bootstrap=0))
    assert (exc.value.line, exc.value.field) == (1, "probs") and "[0, 1]" in str(exc.value)
    with pytest.raises(DataError, match="not a label"):
        evaluate_predictions(pl.DataFrame({"label": [1, 3], "score": [0.1, 0.2]}), EvalConfig(bootstrap=0))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.001, 1.0), min_size=1, max_size=10))
def test_any_normalised_distribution_passes_and_a_scaled_one_does_not(weights: list[float]) -> None:
    total = sum(weights)
    probs = {str(k + 1): w / total for k, w in enumerate(weights)}
    assert probs_problem(json.dumps(probs)) is None
    scaled = {k: v * (1 + 10 * PROBS_TOLERANCE) for k, v in probs.items()}
    if all(v <= 1 for v in scaled.values()):
        assert "sum to" in probs_problem(json.dumps(scaled))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"threshold": float("nan")}, "threshold"), ({"threshold": float("inf")}, "threshold"),
     ({"bootstrap": -5}, "bootstrap"), ({"bootstrap": MAX_RESAMPLES + 1}, "bootstrap"), ({"seed": -1}, "seed"),
     ({"like_cutoff": float("nan")}, "like_cutoff")],
)
def test_eval_config_bounds(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        EvalConfig.from_dict(overrides)


def test_bootstrap_refuses_unbounded_resamples() -> None:
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_ci([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], n_resamples=MAX_RESAMPLES + 1)


def test_jsonl_errors_name_the_line_even_after_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"label": 1, "score": 0.9}\n\n\n{"label": 0, "score": 0.1, "rating": NaN}\n')
    with pytest.raises(DataError) as exc:
        read_predictions(path)
    assert exc.value.line == 4
    path.write_text('{"label": 1, "score": 0.9}\n\n{"label": 5, "score": 0.1}\n')
    with pytest.raises(DataError) as exc:
        read_predictions(path)
    assert (exc.value.line, exc.value.field) == (3, "label")


def test_probs_given_as_objects_read_like_their_text(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"rating": 4, "probs": {"4": 0.75, "5": 0.25}}\n')
    assert json.loads(read_predictions(path)["probs"][0]) == {"4": 0.75, "5": 0.25}


def test_a_line_separator_inside_a_json_string_is_not_a_line_break(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"label": 1, "score": 0.9, "reasoning": "a\u2028b"}\n{"label": 0, "score": 0.1}\n')
    assert read_predictions(path)["reasoning"].to_list() == ["a\u2028b", None]
