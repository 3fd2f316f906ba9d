"""`reasoningrec-release` on another category's naming: Beauty's files re-spelt the Fashion way, raw reviews dropped.

The copy is built at test time from the real data (`datafiles.category_release`); nothing is committed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from datafiles import category_release, require_data, writable_copy

from reasonrec.data.loaders import LOADERS, LoadOptions, load_dataset
from reasonrec.data.loaders.reasoningrec import release_notes
from reasonrec.data.loaders.reasoningrec.layout import MAX_DEPTH, ReleaseFiles, list_release
from reasonrec.errors import DataError

REVIEW_COLUMNS = ("review", "helpful_votes", "summary")


@pytest.fixture(scope="module")
def beauty(shared_data: Path):
    require_data(shared_data, "reasoningrec-beauty", "processed", "ratings.csv")
    return load_dataset("reasoningrec-beauty", shared_data)


@pytest.fixture(scope="module")
def fashion_root(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("categories")
    category_release(shared_data, root, "fashion")
    return root


@pytest.fixture(scope="module")
def fashion(fashion_root: Path):
    return load_dataset("reasoningrec-release", fashion_root, LoadOptions(domain="fashion"))


def test_registered_with_the_presets() -> None:
    assert {"reasoningrec-release", "reasoningrec-beauty", "reasoningrec-ml1m"} <= set(LOADERS)


def test_renamed_release_gives_beauty_tables_without_reviews(fashion, beauty) -> None:
    assert fashion.name == "reasoningrec-release" and fashion.info["domain"] == "fashion"
    assert fashion.info["raw_reviews"] is None
    assert fashion.info["raw_review_records"] == fashion.info["review_text_matched_rows"] == 0
    assert beauty.info["raw_reviews"] == "All_Beauty_5.json" and beauty.info["review_text_matched_rows"] == 1975
    assert fashion.interactions["review"].null_count() == fashion.interactions.height
    assert fashion.interactions.drop(REVIEW_COLUMNS).equals(beauty.interactions.drop(REVIEW_COLUMNS))
    assert fashion.items.equals(beauty.items) and fashion.users.equals(beauty.users)
    assert set(fashion.splits) == set(beauty.splits)
    for name, table in beauty.splits.items():
        assert fashion.splits[name].equals(table), name


def test_renamed_artefacts_are_found_by_pattern(fashion, beauty) -> None:
    art = fashion.artefacts
    assert art["user_profiles_wo_description"].equals(beauty.artefacts["user_profiles_wo_description"])
    assert art["teacher_reasoning"].equals(beauty.artefacts["teacher_reasoning"])
    assert not any(name.startswith("finetune_ablation") for name in art)  # only the main variant was shipped
    assert {"finetune_reasoningrec_test", "tallrec_test", "zeroshot_outputs"} <= set(art)
    students = art["student_reference_outputs"]
    assert students.height == 1800 and students["run"].str.contains("valsample800").all()
    assert students["user_id"].to_list() == beauty.artefacts["student_reference_outputs"]["user_id"].to_list()
    results = art["authors_results"]
    assert set(results["dataset"]) == {"fashion"} and results["k"].to_list() == [64, 128, 256]


def test_sources_are_the_files_read(fashion, fashion_root: Path) -> None:
    sources = [Path(p) for p in fashion.info["sources"]]
    release = fashion_root / "reasoningrec-fashion"
    assert all(p.is_file() and release in p.parents for p in sources)
    names = {p.name for p in sources}
    assert "user_profile_summary_wo_item_description.json" in names
    assert not any("prompt" in name for name in names)  # the profile PROMPT dicts are not profiles
    assert len(sources) == len(set(sources))


def test_facts_are_counted_on_the_data_at_hand(fashion, beauty) -> None:
    facts = fashion.info["facts"]
    assert facts["splits"] == beauty.info["facts"]["splits"]
    test = facts["splits"]["release_windows_test"]
    assert (test["targets"], test["labelled"], test["liked"], test["not_liked"]) == (624, 622, 575, 47)
    assert test["target_in_history"] == 77  # data README: 77 of the 622 labelled test windows
    assert 0 < test["cold_targets"] < test["targets"]
    for run in facts["authors"]["outputs"].values():
        assert (run["rows"], run["distinct_prompts"], run["repeated_rows"]) == (600, 283, 317)
    assert facts["finetune_test_prompts"]["finetune_reasoningrec_test"]["also_in_train"] == 603
    assert any("603 of 604" in note for note in fashion.info["notes"])


def test_report_notes_follow_the_facts(fashion, shared_data: Path) -> None:
    notes = release_notes(fashion.info, "release_windows_test")
    assert "600 rows with repeated prompts (283 distinct)" in notes[0]
    assert any("77 of 624" in n for n in notes) and any("cold items" in n for n in notes)
    require_data(shared_data, "reasoningrec-ml1m", "splits_seq_ctr_csv", "test.csv")
    ml1m = load_dataset("reasoningrec-ml1m", shared_data)
    ml_notes = release_notes(ml1m.info, "seq_ctr_test")
    assert "results.json" in ml_notes[0] and "600" not in ml_notes[0]  # ML-1M ships AUCs, not outputs


def test_release_folder_by_path_root_or_domain(fashion_root: Path, tmp_path: Path) -> None:
    release = fashion_root / "reasoningrec-fashion"
    by_root = load_dataset("reasoningrec-release", release)
    assert by_root.info["domain"] == "fashion"  # from results.json
    by_path = load_dataset("reasoningrec-release", tmp_path, LoadOptions(path=release))
    assert by_path.info["release_folder"] == str(release) == by_root.info["release_folder"]
    with pytest.raises(DataError) as err:
        load_dataset("reasoningrec-release", tmp_path, LoadOptions(domain="sports"))
    assert "reasoningrec-sports" in str(err.value) and str(tmp_path) in str(err.value)
    with pytest.raises(ValueError):
        LoadOptions(domain="../beauty")


def test_two_files_for_one_part_is_an_error(fashion_root: Path, tmp_path: Path) -> None:
    release = writable_copy(fashion_root / "reasoningrec-fashion", tmp_path / "reasoningrec-fashion")
    processed = release / "processed"
    shutil.copyfile(processed / "user_profile_summary_wo_item_description.json",
                    processed / "user_profile_summary_wo_description.json")
    with pytest.raises(DataError, match="two files match"):
        load_dataset("reasoningrec-release", release)


def test_preset_requires_what_its_release_ships(shared_data: Path, tmp_path: Path) -> None:
    src = require_data(shared_data, "reasoningrec-beauty")
    copy = writable_copy(src, tmp_path / "reasoningrec-beauty", ignore=shutil.ignore_patterns("zeroshot_outputs"))
    with pytest.raises(DataError, match="zero-shot output"):
        load_dataset("reasoningrec-beauty", tmp_path)
    assert "zeroshot_outputs" not in load_dataset("reasoningrec-release", copy).artefacts


def test_listing_is_bounded_and_patterns_pick_the_right_files(tmp_path: Path) -> None:
    files = {
        "processed/user_profile_summary_wo_item_description.json": {"0": "p"},
        "processed/user_profile_summary_prompt_wo_item_description_dict.json": {"0": "prompt"},
        "teacher_reasoning_partial/reasoning_test_dict_1880users.json": {"0": "x Prediction: Yes"},
        "student_reference_outputs/sample64_valsample800_lr1e-4_valauc/results.json": {},
        "student_reference_outputs/run/deeper/results.json": {},
    }
    for rel, value in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(json.dumps(value))
    listed = list_release(tmp_path)
    assert "student_reference_outputs/run/deeper/results.json" not in listed  # deeper than MAX_DEPTH
    assert all(len(Path(rel).parts) <= MAX_DEPTH for rel in listed)
    found = ReleaseFiles(tmp_path).found
    assert [p.name for p in found["user_profiles_wo_description"].values()] == [
        "user_profile_summary_wo_item_description.json"]
    assert list(found["teacher_reasoning"]) == [("test",)]
    assert list(found["authors_results"]) == [("sample64_valsample800_lr1e-4_valauc",)]
    assert not found["user_profiles"]

