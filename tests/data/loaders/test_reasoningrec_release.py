"""ReasoningRec release loaders on the real files: counts from data/README.md, split contract, error paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data
from hypothesis import given
from hypothesis import strategies as st

from reasonrec.data.loaders.base import LoadOptions
from reasonrec.data.loaders.reasoningrec import (
    leading_prediction_label,
    load_reasoningrec_beauty,
    load_reasoningrec_ml1m,
    trailing_prediction_label,
)
from reasonrec.data.schema import TARGET_SCHEMA
from reasonrec.errors import DataError


@pytest.fixture(scope="module")
def beauty(shared_data: Path):
    require_data(shared_data, "reasoningrec-beauty", "processed", "ratings.csv")
    return load_reasoningrec_beauty(shared_data, LoadOptions())


@pytest.fixture(scope="module")
def ml1m(shared_data: Path):
    require_data(shared_data, "reasoningrec-ml1m", "splits_seq_ctr_csv", "test.csv")
    return load_reasoningrec_ml1m(shared_data, LoadOptions())


def test_beauty_ratings_are_deduplicated_and_counted(beauty) -> None:
    assert beauty.info["ratings_rows_in_file"] == 4231
    assert beauty.info["exact_duplicate_rows_dropped"] == 594
    assert beauty.info["conflicting_rating_rows_dropped"] == 7
    assert beauty.interactions.height == 4231 - 594 - 7
    assert beauty.interactions.select(pl.struct("user_id", "item_id", "timestamp").is_duplicated().any()).item() is False
    assert beauty.interactions["user_id"].n_unique() == 624
    first = beauty.interactions.row(0, named=True)
    assert (first["user_id"], first["item_id"], first["asin"], first["reviewer_id"]) == ("0", "0", "B000CR4ER6", "A105A034ZG9EHO")
    assert beauty.info["review_text_matched_rows"] == 1975  # the raw 5-core file covers only 85 of the ASINs
    assert beauty.interactions["review"].is_not_null().sum() >= 1970  # a few matched reviews have no text


def test_beauty_items_parse_price_and_keep_metadata_description_null(beauty) -> None:
    assert beauty.items.height == 1216
    braun = beauty.items.filter(pl.col("item_id") == "882").row(0, named=True)
    assert braun["price"] == pytest.approx(27.19)
    assert braun["brand"] == "Braun"
    assert beauty.items["description"].null_count() == 1216
    assert beauty.info["item_descriptions"]["identical_copy_in_processed_item_information"] == 1168


def test_beauty_artefact_counts(beauty) -> None:
    art = beauty.artefacts
    assert art["item_descriptions"].height == 1168
    assert art["user_profiles"].height == 160
    assert art["user_profiles_wo_description"].height == 160
    assert art["profile_history"].height == 624
    counts = dict(art["teacher_reasoning"].group_by("split").len().iter_rows())
    assert counts == {"train": 616, "valid": 616, "test": 616}
    assert art["teacher_reasoning"]["label"].null_count() == 0
    assert art["finetune_reasoningrec_test"].height == 604
    assert art["tallrec_train"].height == 819
    assert set(art["zeroshot_outputs"]["run"]) >= {"mixtral_reasoningrec_zeroshot_test", "llama2_vanilla_zeroshot_test"}
    results = art["authors_results"].sort("k")
    assert results["k"].to_list() == [64, 128, 256]
    assert results["auc"].to_list() == pytest.approx([0.741, 0.768, 0.768], abs=1e-3)


def test_beauty_duplicate_prompt_statistics(beauty) -> None:
    stats = beauty.info["duplicate_prompts"]
    test = stats["finetune_reasoningrec_test"]
    assert (test["rows"], test["distinct_inputs"], test["yes"], test["no"]) == (604, 285, 560, 44)
    assert test["inputs_also_in_train"] == 603
    assert (stats["finetune_reasoningrec_train"]["yes"], stats["finetune_reasoningrec_train"]["no"]) == (560, 47)
    for run in ("sample64", "sample128", "sample256"):
        student = next(v for k, v in stats.items() if k.startswith(f"student_{run}_"))
        assert (student["rows"], student["distinct_inputs"]) == (600, 283)


def test_beauty_student_rows_map_to_one_user_each(beauty) -> None:
    students = beauty.artefacts["student_reference_outputs"]
    assert students.height == 1800
    teacher = beauty.artefacts["teacher_reasoning"].filter(pl.col("split") == "test")
    texts = dict(teacher.select("user_id", "text").iter_rows())
    for run, rows in students.group_by("run"):
        assert rows.height == 600
        assert rows["user_id"].null_count() == 0
        assert rows["user_id"].n_unique() == 600  # every row has its own user
        assert (rows["user_candidates"] == 1).sum() == 532  # the rest share a teacher text with other users
        for output, user in rows.select("output", "user_id").iter_rows():
            body = " ".join(output.split("\n", 1)[1].split()) if "\n" in output else ""
            assert " ".join(texts[user].split()).startswith(body[:200])
    assert (students["label"] == leading_prediction_label_series(students["output"])).all()


def leading_prediction_label_series(outputs: pl.Series) -> pl.Series:
    return pl.Series([leading_prediction_label(o) for o in outputs], dtype=pl.Int64)


def test_beauty_release_windows_follow_the_target_contract(beauty) -> None:
    for split in ("train", "valid", "test"):
        windows = beauty.splits[f"release_windows_{split}"]
        ctr = beauty.splits[f"seq_ctr_{split}"]
        assert dict(windows.schema) == TARGET_SCHEMA
        assert dict(ctr.schema) == TARGET_SCHEMA
        assert windows.height == ctr.height == 624
        assert (windows["split"] == split).all()
        joined = windows.join(ctr, on="user_id", suffix="_ctr")
        assert (joined["item_id"] == joined["item_id_ctr"]).all()
        assert (joined["history_item_ids"] == joined["history_item_ids_ctr"]).all()
        both = joined.filter(pl.col("label").is_not_null())
        assert (both["label"] == both["label_ctr"]).all()  # first-in-file lookup reproduces the authors' labels
        assert beauty.info["release_windows"][split]["seq_ctr_labels_disagreeing_with_ratings"] == 0
    test = beauty.splits["release_windows_test"]
    user0 = test.filter(pl.col("user_id") == "0").row(0, named=True)
    assert user0["item_id"] == "6" and user0["history_item_ids"] == ["2", "3", "4", "5", "5"]
    labelled = test.filter(pl.col("label").is_not_null())
    assert (labelled["label"] == (labelled["rating"] > 3).cast(pl.Int64)).all()


def test_ml1m_counts_and_notes(ml1m) -> None:
    assert ml1m.items.height == 3883
    assert ml1m.users.height == 6040
    assert ml1m.users.filter(pl.col("user_id") == "1")["profile_text"][0].startswith("female")
    assert any("BINARY" in note for note in ml1m.info["notes"])
    assert set(ml1m.interactions["rating"].unique()) <= {0.0, 1.0}
    counts = dict(ml1m.artefacts["teacher_reasoning"].group_by("split").len().iter_rows())
    assert counts == {"train": 3200, "valid": 3200, "test": 1880}
    assert ml1m.artefacts["user_profiles"].height == 4500
    assert ml1m.artefacts["item_descriptions"].height == 3883
    assert ml1m.artefacts["tallrec_valid"].height == 3624
    assert ml1m.artefacts["authors_results"].sort("k")["auc"].to_list() == pytest.approx([0.604, 0.690, 0.744], abs=1e-3)
    assert ml1m.info["ml1m_history_inconsistencies"] == 0
    assert ml1m.info["release_targets_agreeing_with_seq_ctr"] == {"valid": 6040, "test": 6040}


def test_ml1m_ctr_splits_are_target_tables(ml1m) -> None:
    for split in ("train", "valid", "test"):
        table = ml1m.splits[f"seq_ctr_{split}"]
        assert dict(table.schema) == TARGET_SCHEMA
        assert table.height == 6040
        assert table["history_item_ids"].list.len().max() == 20
        assert (table["rating"] == table["label"].cast(pl.Float64)).all()
    test = ml1m.splits["seq_ctr_test"].filter(pl.col("user_id") == "1").row(0, named=True)
    assert test["item_id"] == "48" and test["history_item_ids"][-1] == "1566"
    # the derived interactions contain every target at the timestamp the target table gives it
    keyed = ml1m.interactions.select("user_id", "item_id", "timestamp")
    targets = ml1m.splits["seq_ctr_test"].select("user_id", "item_id", "timestamp")
    assert targets.join(keyed, on=["user_id", "item_id", "timestamp"]).height == 6040


@given(st.sampled_from(["Yes", "No"]), st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40))
def test_trailing_label_parses_last_prediction(answer: str, prefix: str) -> None:
    text = f"{prefix}\nPrediction: {answer}"
    assert trailing_prediction_label(text) == (1 if answer == "Yes" else 0)


def test_labels_are_null_when_absent() -> None:
    assert trailing_prediction_label("1. The user likes it.") is None
    assert leading_prediction_label("The user likes it") is None
    assert leading_prediction_label("Yes.") == 1
    assert leading_prediction_label("Prediction: No \n 1. …") == 0


def _copy_beauty(shared_data: Path, tmp_path: Path) -> Path:
    src = require_data(shared_data, "reasoningrec-beauty")
    dst = tmp_path / "reasoningrec-beauty"
    shutil.copytree(src, dst)
    return dst


def test_missing_file_names_path_and_expectation(shared_data: Path, tmp_path: Path) -> None:
    root = _copy_beauty(shared_data, tmp_path)
    (root / "processed" / "user_test.json").unlink()
    with pytest.raises(DataError) as err:
        load_reasoningrec_beauty(tmp_path, LoadOptions())
    assert "user_test.json" in str(err.value) and "target" in str(err.value)


def test_malformed_json_names_the_file(shared_data: Path, tmp_path: Path) -> None:
    root = _copy_beauty(shared_data, tmp_path)
    (root / "processed" / "user_profile_summary.json").write_text('{"0": "text",\n "1": ', encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_reasoningrec_beauty(tmp_path, LoadOptions())
    assert err.value.path is not None and err.value.path.endswith("user_profile_summary.json")
    assert "malformed JSON" in str(err.value)


def test_missing_dataset_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="reasoningrec-ml1m"):
        load_reasoningrec_ml1m(tmp_path, LoadOptions())


def test_ml1m_bad_history_list_names_line(shared_data: Path, tmp_path: Path) -> None:
    src = require_data(shared_data, "reasoningrec-ml1m")
    dst = tmp_path / "reasoningrec-ml1m"
    shutil.copytree(src, dst)
    path = dst / "splits_seq_ctr_csv" / "valid.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = '5,"[1, 2,","[1]",10,1,0'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_reasoningrec_ml1m(tmp_path, LoadOptions())
    assert err.value.line == 4 and err.value.field == "history_item_id"
    assert json.dumps(str(err.value))  # message is plain text
