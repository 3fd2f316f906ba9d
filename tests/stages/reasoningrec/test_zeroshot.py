from __future__ import annotations

import json

import polars as pl
import pytest
from stage_fixtures import teacher_echo_llm

from reasonrec.predictions import PREDICTIONS_SCHEMA
from reasonrec.stages.reasoningrec.zeroshot import VARIANTS, ZeroShotConfig, zeroshot_predict

ITEMS = pl.DataFrame({"item_id": ["a", "b", "c"], "title": ["Soap", "Cream", "Mascara"]})
DESC = pl.DataFrame({"item_id": ["a", "b", "c"], "text": ["DESC-a", "DESC-b", "DESC-c"]})
PROFILES = pl.DataFrame({"user_id": ["u1"], "text": ["PROFILE-u1"]})
TARGETS = pl.DataFrame({
    "user_id": ["u1", "u2"], "item_id": ["c", "c"], "rating": [5.0, 1.0], "label": [1, 0],
    "history_item_ids": [["a", "b"], ["b"]], "history_labels": [[1, 0], [1]], "split": ["test", "test"],
})


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variants_flags_and_predictions_schema(variant: str) -> None:
    llm = teacher_echo_llm()
    out = zeroshot_predict(TARGETS, ITEMS, DESC, PROFILES, llm,
                           ZeroShotConfig(variant=variant, dataset="toy", show_progress=False))
    assert list(out.columns)[: len(PREDICTIONS_SCHEMA)] == list(PREDICTIONS_SCHEMA)
    assert out["score"].to_list() == pytest.approx([0.7, 0.7])
    assert out["label"].to_list() == [1, 0] and out["method"][0] == f"zeroshot-{variant}"
    assert json.loads(out["probs"][0]) == pytest.approx({"Yes": 0.7, "No": 0.3})
    spec = VARIANTS[variant]
    prompt = next(r.messages[-1].content for r in llm.score_requests if "Soap" in r.messages[-1].content)
    assert ("PROFILE-u1" in prompt) == spec.profile
    assert ("DESC-a" in prompt) == spec.descriptions
    assert {r.choices for r in llm.score_requests} == {spec.choices}
    assert {r.assistant_prefix for r in llm.score_requests} == {spec.assistant_prefix}
