"""The shared P(like) frame builder: the zero-shot stage and the student predictor emit the same rows."""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from stage_fixtures import teacher_echo_llm

from reasonrec.predict import PredictConfig, predict_labels
from reasonrec.predictions import PREDICTIONS_SCHEMA
from reasonrec.stages.common.label_rows import label_prediction_frame, target_columns
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

ITEMS = pl.DataFrame({"item_id": ["a", "b", "c"], "title": ["Soap", "Cream", "Mascara"]})
DESC = pl.DataFrame({"item_id": ["a", "b", "c"], "text": ["DESC-a", "DESC-b", "DESC-c"]})
PROFILES = pl.DataFrame({"user_id": ["u1"], "text": ["PROFILE-u1"]})
TARGETS = pl.DataFrame({
    "user_id": ["u1", "u2"], "item_id": ["c", "a"], "rating": [5.0, 1.0], "label": [1, 0],
    "history_item_ids": [["a", "b"], ["b"]], "history_labels": [[1, 0], [1]], "split": ["test", "test"],
})


@pytest.mark.parametrize(("variant", "method", "reasoning"),
                         [("full", "reasoningrec", True), ("full", "reasoningrec", False), ("tallrec", "tallrec", False)])
def test_zeroshot_and_student_paths_build_equal_frames(variant: str, method: str, reasoning: bool) -> None:
    zs_llm, st_llm = teacher_echo_llm(), teacher_echo_llm()
    zs = zeroshot_predict(TARGETS, ITEMS, DESC, PROFILES, zs_llm,
                          ZeroShotConfig(variant=variant, method="m", dataset="toy", generate_reasoning=reasoning,
                                         show_progress=False))
    st = predict_labels(TARGETS, ITEMS, DESC, PROFILES, st_llm,
                        PredictConfig(method=method, method_name="m", dataset="toy", generate_reasoning=reasoning,
                                      show_progress=False))
    assert_frame_equal(zs, st)
    assert {k: zs.schema[k] for k in PREDICTIONS_SCHEMA} == PREDICTIONS_SCHEMA
    assert zs["reasoning"].is_not_null().all() == reasoning
    assert len(zs_llm.score_requests) == len(st_llm.score_requests) == 2


def test_frame_maps_generated_subset_by_row_key_and_parse_ok_flag() -> None:
    rows = TARGETS.to_dicts()
    scored = pl.DataFrame({"row": [0, 1], "probs": ['{" Yes": 0.8, " No": 0.2}', None],
                           "prompt_tokens": [12, None], "cached": [False, False], "error": [None, "boom"]})
    generated = pl.DataFrame({"row": [0], "text": ["no verdict here"]})
    loose = label_prediction_frame(rows, scored, generated, method="m", dataset="d", choice=" Yes",
                                   references=["ref", None])
    strict = label_prediction_frame(rows, scored, generated, method="m", dataset="d", choice=" Yes",
                                    parse_ok_needs_text=True)
    assert loose["score"].to_list() == [0.8, None] and loose["pred_label"].to_list() == [1, None]
    assert loose["reasoning"].to_list() == ["no verdict here", None]
    assert loose["reference"].to_list() == ["ref", None] and strict["reference"].null_count() == 2
    assert loose["parse_ok"].to_list() == [True, False] and strict["parse_ok"].to_list() == [False, False]
    assert target_columns(rows, method="m", dataset="d")["user_id"] == ["u1", "u2"]
