"""Reproduction pieces: Rec-SAVER student specs and the extra report tables."""

from __future__ import annotations

import json
import os

import pytest
from datafiles import require_data

from reasonrec.eval.report import ReportConfig, Section, generate_report
from reasonrec.methods.recsaver import reproduction as recsaver_repro

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_recsaver_student_specs_are_validated():
    cfg = recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "quick", ["students=[1:none,M:1off]"])
    assert cfg.students == ["1:none", "M:1off"] and cfg.n_paths == 2 and cfg.lora.max_steps == 1
    assert recsaver_repro.student_name("M:1off", cfg.n_paths) == "recsaver-student-2path-1off"
    full = recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "full")
    assert full.students == recsaver_repro.PAPER_STUDENTS and full.n_paths == 8 and full.split.per_class_test == 100
    from reasonrec.errors import ConfigError

    with pytest.raises(ConfigError):
        recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "quick", ["students=[3:none]"])
    with pytest.raises(ConfigError):
        recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "quick", ["students=[M:strict]"])


def test_sections_land_before_notes_in_markdown_and_html(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"method": "m", "dataset": "d", "auc": 0.6, "n": 10,
                                                  "notes": ["n"]}))
    section = Section("Reranking", ["k", "recall"], [[5, 0.25], [10, None]], note="why")
    _, files = generate_report([run], tmp_path / "out", ReportConfig(bootstrap=0), sections=[section])
    md = files.markdown.read_text()
    assert md.index("## Reranking") < md.index("## Notes") and "| 5 | 0.250 |" in md and "| 10 | — |" in md
    page = files.html.read_text()
    assert page.index("<h2>Reranking</h2>") < page.index("</body>") and "<td>0.250</td>" in page
    assert json.loads(files.json.read_text())["sections"][0]["rows"] == [[5, 0.25], [10, None]]


def test_partial_split_sections_keep_the_papers_strategy():
    quick = recsaver_repro.REPRODUCTION.resolve("movielens-100k", "quick")
    assert quick.split.strategy == "user_disjoint_balanced" and quick.split.per_class_train == 2
    full = recsaver_repro.REPRODUCTION.resolve("movielens-100k", "full", ["split.per_class_test=7"])
    assert full.split.strategy == "user_disjoint_balanced" and full.split.per_class_test == 7
    other = recsaver_repro.REPRODUCTION.resolve("movielens-100k", "quick", ["split.strategy=temporal_ratio"])
    assert other.split.strategy == "temporal_ratio"


def test_no_reasoning_student_and_readout_specs():
    cfg = recsaver_repro.REPRODUCTION.resolve("movielens-100k", "quick", ["students=[0:none,1:none]"])
    assert cfg.domain == "movies" and cfg.split.max_per_user is None
    assert recsaver_repro.student_name("0:none", cfg.n_paths) == "recsaver-student-no-reasoning"
    assert cfg.rating_readout == "argmax" and cfg.scrub_rules == ["ours", "paper"]
    from reasonrec.errors import ConfigError

    with pytest.raises(ConfigError):
        recsaver_repro.REPRODUCTION.resolve("movielens-100k", "quick", ["students=[0:binary]"])


def test_one_rating_readout_per_table_keeps_expected_rating_beside_it():
    import polars as pl

    from reasonrec.methods.reproduction import expected_rating_errors, rating_readout
    from reasonrec.predictions import conform_predictions

    probs = json.dumps({"1": 0.1, "2": 0.1, "3": 0.2, "4": 0.5, "5": 0.1})
    preds = conform_predictions(pl.DataFrame({
        "method": ["m", "m"], "dataset": ["d", "d"], "split": ["test", "test"], "user_id": ["u1", "u2"],
        "item_id": ["i1", "i2"], "rating": [5.0, 2.0], "pred_rating": [3.5, 2.0], "probs": [probs, None]}))
    argmax = rating_readout(preds, "argmax")
    assert argmax["pred_rating"].to_list() == [4.0, 2.0]  # the row without a distribution keeps its rating
    assert argmax["expected_rating"][0] == pytest.approx(3.4) and argmax["expected_rating"][1] is None
    assert rating_readout(preds, "expected")["pred_rating"][0] == pytest.approx(3.4)
    errors = expected_rating_errors(argmax)
    assert errors["mae_expected"] == pytest.approx(1.6) and errors["rmse_expected"] == pytest.approx(1.6)


def test_recsaver_split_on_movielens_fills_more_than_800_training_pairs(shared_data, tmp_path):
    """The paper's split rule on a dataset without reviews: user-disjoint, several pairs per user, balanced, and
    the shortfall against 800 / 100 per class reported."""
    from reasonrec.data.prepare import PrepareConfig, prepare

    require_data(shared_data, "movielens-100k", "u.data")
    cfg = recsaver_repro.REPRODUCTION.resolve("movielens-100k", "full", [f"data_dir={shared_data}"])
    prepared = prepare(PrepareConfig(dataset=cfg.dataset, data_dir=cfg.data_dir, r_threshold=3.0, seed=cfg.seed,
                                     split=cfg.split), tmp_path / "data")
    split, stats = prepared.split, prepared.split.stats
    assert split.train.height >= 800 and split.test.height == 500
    assert not set(split.train["user_id"]) & set(split.test["user_id"])
    assert stats["per_class"]["test"] == dict.fromkeys(("1.0", "2.0", "3.0", "4.0", "5.0"), 100)
    train_counts = set(stats["per_class"]["train"].values())
    assert len(train_counts) == 1 and train_counts.pop() * 5 == split.train.height
    assert stats["shortfall"]["train"] and not stats["shortfall"]["test"]
    assert split.train["history_item_ids"].list.len().is_between(4, 10).all()
