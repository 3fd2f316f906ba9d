from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.errors import DataError
from reasonrec.eval.evaluate import EvalConfig, evaluate_predictions
from reasonrec.eval.readers import read_predictions
from reasonrec.predictions import PREDICTIONS_SCHEMA

RUNS = {
    64: "sample64_valsample600_lr1e-4_valauc",
    128: "sample128_valsample600_lr1e-4_valauc",
    256: "sample256_valsample600_lr1e-4_valauc",
}
PAPER_AUC = {64: 0.741, 128: 0.768, 256: 0.768}


def _release(tmp_path: Path, records: list[dict]) -> Path:
    path = tmp_path / "run" / "test_outputs.json"
    path.parent.mkdir()
    path.write_text(json.dumps(records), encoding="utf-8")
    return path


def test_release_reader_small_fixture(tmp_path: Path) -> None:
    path = _release(
        tmp_path,
        [
            {
                "instruction": "i",
                "input": "p1",
                "output": "Prediction: Yes \n r",
                "generated_output": "Prediction: No",
                "logits": 0.3,
            },
            {
                "instruction": "i",
                "input": "p1",
                "output": "Prediction: No \n r",
                "generated_output": "rambling",
                "logits": 0.6,
            },
            {
                "instruction": "i",
                "input": "p2",
                "output": "Prediction: Yes",
                "generated_output": "Prediction: Yes",
                "logits": 0.9,
            },
        ],
    )
    df = read_predictions(path.parent, "reasoningrec-release")
    assert list(df.columns[: len(PREDICTIONS_SCHEMA)]) == list(PREDICTIONS_SCHEMA)
    assert df["label"].to_list() == [1, 0, 1]
    assert df["pred_label"].to_list() == [0, None, 1]
    assert df["parse_ok"].to_list() == [True, False, True]
    assert df["input"].to_list() == ["p1", "p1", "p2"]


def test_release_reader_names_missing_field(tmp_path: Path) -> None:
    path = _release(tmp_path, [{"input": "p", "output": "Prediction: Yes", "generated_output": "x"}])
    with pytest.raises(DataError, match="logits"):
        read_predictions(path, "reasoningrec-release")


def test_canonical_jsonl_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    pl.DataFrame(
        {"user_id": ["u", "v"], "item_id": ["i", "j"], "label": [1, 0], "score": [0.7, 0.2]}
    ).write_ndjson(path)
    df = read_predictions(path)
    assert df["parse_ok"].to_list() == [True, True] and df["score"].to_list() == [0.7, 0.2]
    with pytest.raises(DataError, match="unknown predictions format"):
        read_predictions(path, "nope")


@pytest.mark.parametrize("k", sorted(RUNS))
def test_authors_auc_reproduced(shared_data: Path, k: int) -> None:
    run = require_data(shared_data, "reasoningrec-beauty", "student_reference_outputs", RUNS[k])
    expected = json.loads((run / "results.json").read_text())["beauty"]["beauty"][RUNS[k]]["42"][str(k)][
        "auc"
    ]
    result = evaluate_predictions(
        read_predictions(run / "test_outputs.json", "reasoningrec-release"),
        EvalConfig(bootstrap=0, dedupe=True),
    )
    assert result["n"] == 600
    assert result["auc"] == pytest.approx(expected, abs=1e-6)
    assert round(result["auc"], 3) == PAPER_AUC[k]
    assert result["n_distinct"] == 283
    assert result["distinct"]["n"] == 283 and result["distinct"]["auc"] is not None
