"""Rec-SAVER recipe composition on the real Amazon Beauty reviews with a control-flow fake LLM."""

from __future__ import annotations

import json

from datafiles import require_data
from test_recipes import FakeLLMForControlFlow

from reasonrec.methods.recsaver import RecSaverConfig, run


def test_recsaver_stages_in_order_with_filters_and_metrics(shared_data, tmp_path):
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    quiet = {"show_progress": False}
    cfg = RecSaverConfig.from_dict({
        "limit_users": 2, "eval": {"bootstrap": 0},
        "prepare": {"split": {"strategy": "user_disjoint_balanced", "per_class_train": 2, "per_class_test": 2}},
        "explain": {"n_samples": 2, **quiet}, "verify": quiet, "teacher": {"n_samples": 2, **quiet},
        "zeroshot": {"variant": "no_reasoning", **quiet},
    })
    llm = FakeLLMForControlFlow()
    result = run(cfg, shared_data, tmp_path, llm)
    assert [s.name for s in result.stages] == ["explanations", "verification", "reference_pool", "teacher_paths",
                                               "predictions"]
    kinds = [k for k, _ in llm.calls]
    n_expl = result.tables["explanations"].height
    assert kinds[:n_expl] == ["generate"] * n_expl  # explanations come first
    paths = result.tables["teacher_paths"]
    assert {"keep_none", "keep_5class", "keep_binary", "keep_1off"} <= set(paths.columns)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["filter"] == "none" and manifest["filter_counts"]["samples"] == paths.height
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == result.predictions.height > 0
