"""predict on the real Beauty release with the real embedded model: conforming rows, resumable through the cache."""

from __future__ import annotations

import json

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.predict import PredictConfig, predict_labels, write_predictions
from reasonrec.predictions import PREDICTIONS_SCHEMA
from reasonrec.stages.student import rating_prefix


@pytest.fixture(scope="module")
def beauty(shared_data):
    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "reasoningrec-beauty", "processed", "user_test.json")
    return load_dataset("reasoningrec-beauty", shared_data)


def test_predict_writes_conforming_rows(beauty, tmp_path):
    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), n_threads=2))
    cfg = PredictConfig(dataset="reasoningrec-beauty", include_profile=False, max_prompt_tokens=700,
                        show_progress=False)
    a = beauty.artefacts
    args = (beauty.splits["release_windows_test"], beauty.items, a["item_descriptions"], None, llm, cfg)
    table = predict_labels(*args, teacher_reasoning=a["teacher_reasoning"], limit=3)
    assert table.height == 3
    assert {k: table.schema[k] for k in PREDICTIONS_SCHEMA} == PREDICTIONS_SCHEMA
    assert table["score"].is_between(0, 1).all() and table["parse_ok"].all()
    assert table["reference"].null_count() == 0 and not table["reference"][0].rstrip().endswith("Yes")
    probs = json.loads(table["probs"][0])
    assert abs(probs["Yes"] + probs["No"] - 1) < 1e-9
    path = write_predictions(tmp_path / "out", table, cfg, llm=llm, jsonl=True)
    back = pl.read_parquet(path)
    assert back["score"].to_list() == table["score"].to_list()
    assert (tmp_path / "out" / "predictions.jsonl").read_text().count("\n") == 3
    assert (tmp_path / "out" / "manifest.json").is_file()
    again = predict_labels(*args, teacher_reasoning=a["teacher_reasoning"], limit=3)  # resumed from the cache
    assert again["cached"].all() and again["score"].to_list() == table["score"].to_list()


def test_rating_prefix_cuts_at_the_header():
    gen = "### Reason ###\nLikes it.\n\n### Rating ###\n4"
    assert rating_prefix("recsaver", gen) == "### Reason ###\nLikes it.\n\n### Rating ###\n"
    assert rating_prefix("exp3rt", "Reasoning: ok.\n\nPredicted User Rating: 7") == \
        "Reasoning: ok.\n\nPredicted User Rating: "
    assert rating_prefix("exp3rt", None) == "Predicted User Rating: "
    assert rating_prefix("recsaver", "no header here") == "no header here\n\n### Rating ###\n"
