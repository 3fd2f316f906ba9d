"""Rec-SAVER recipe composition on the real Amazon Beauty reviews with a control-flow fake LLM."""

from __future__ import annotations

import json

from datafiles import require_data
from test_recipes import calls, scripted

from reasonrec.methods.recsaver.recipe import RecSaverConfig, run


def test_recsaver_stages_in_order_with_filters_and_metrics(shared_data, tmp_path):
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    quiet = {"show_progress": False}
    cfg = RecSaverConfig.from_dict({
        "limit_users": 2, "eval": {"bootstrap": 0},
        "prepare": {"split": {"strategy": "user_disjoint_balanced", "per_class_train": 2, "per_class_test": 2}},
        "explain": {"n_samples": 2, **quiet}, "verify": quiet, "teacher": {"n_samples": 2, **quiet},
        "zeroshot": {"variant": "no_reasoning", **quiet}, "data_dir": str(shared_data),
    })
    llm = scripted()
    result = run(cfg, tmp_path, llm)
    assert [s.name for s in result.stages] == ["explanations", "verification", "reference_pool", "teacher_paths",
                                               "predictions"]
    kinds = [k for k, _ in calls(llm)]
    n_expl = result.tables["explanations"].height
    assert kinds[:n_expl] == ["generate"] * n_expl  # explanations come first
    paths = result.tables["teacher_paths"]
    assert {"keep_none", "keep_5class", "keep_binary", "keep_1off"} <= set(paths.columns)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["filter"] == "none" and manifest["filter_counts"]["samples"] == paths.height
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == result.predictions.height > 0


def test_recsaver_with_zero_explanations_writes_empty_typed_verification(shared_data, tmp_path):
    """An empty explanations table flows through verification (empty, typed tables) instead of a special case."""
    import polars as pl

    from reasonrec.stages.recsaver.verify import POOL_SCHEMA, VERIFICATION_SCHEMA

    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    empty = tmp_path / "no_explanations.parquet"
    pl.DataFrame(schema={"user_id": pl.String, "item_id": pl.String, "split": pl.String,
                         "sample_index": pl.Int64, "rating": pl.Float64, "text": pl.String,
                         "error": pl.String}).write_parquet(empty)
    quiet = {"show_progress": False}
    cfg = RecSaverConfig.from_dict({
        "limit_users": 2, "eval": {"bootstrap": 0}, "artefacts": {"explanations": str(empty)},
        "prepare": {"split": {"strategy": "user_disjoint_balanced", "per_class_train": 2, "per_class_test": 2}},
        "verify": quiet, "teacher": {"n_samples": 1, **quiet}, "zeroshot": {"variant": "no_reasoning", **quiet},
        "data_dir": str(shared_data),
    })
    result = run(cfg, tmp_path / "run", scripted())
    assert [s.name for s in result.stages][:3] == ["explanations", "verification", "reference_pool"]
    assert result.tables["verification"].height == 0 and result.tables["verification"].schema == VERIFICATION_SCHEMA
    assert result.tables["reference_pool"].height == 0 and result.tables["reference_pool"].schema == POOL_SCHEMA
