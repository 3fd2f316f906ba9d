"""`reproduce exp3rt` on raw reviews (the paper's temporal protocol): the split on the real Beauty reviews, no
valid/test review reaching a profile or prompt, the warm/cold/unseen tables, MF chosen on valid; a scripted LLM
runs the control flow (the real model runs in the slow end-to-end test and the reported run)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.baselines import TrainData
from reasonrec.data.segments import SEGMENTS
from reasonrec.data.splits import temporal_ratio
from reasonrec.data.synthetic import random_interactions
from reasonrec.errors import ConfigError
from reasonrec.llm.base import GenerationRequest
from reasonrec.llm.testing import ScriptedLLM, prompt_text
from reasonrec.methods.exp3rt import reproduction as exp3rt_repro
from reasonrec.methods.exp3rt.reviews import segment_errors, segment_section, temporal_split
from reasonrec.methods.reproduction import tune_on_valid

SCRIPTED = ["llm.backend=scripted", "llm.model=scripted", "llm.cache=false", "student=zeroshot",
            "show_progress=false", "bootstrap=0"]
_REVIEW = re.compile(r"Review:\n(.*?)\n\nAnswer in this format", re.DOTALL)


def beauty_config(shared_data: Path, *overrides: str):
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    return exp3rt_repro.REPRODUCTION.resolve("reasoningrec-beauty", "quick",
                                             [f"data_dir={shared_data}", *SCRIPTED, *overrides])


def test_beauty_reviews_split_8_1_1_by_time_after_the_5_core(shared_data: Path, tmp_path: Path) -> None:
    split, items, stats = temporal_split(beauty_config(shared_data), tmp_path, "test")
    n = stats["after_filters"]
    assert stats["loaded"] == 3630 and n == 768  # 5-core of the deduplicated reviews (docs/fidelity.md)
    parts = [split.train, split.valid, split.test]
    assert [p.height for p in parts] == [round(0.8 * n), round(0.9 * n) - round(0.8 * n), n - round(0.9 * n)]
    for earlier, later in itertools.pairwise(parts):
        assert earlier["timestamp"].max() <= later["timestamp"].min()
    assert split.train_interactions.height == split.train.height  # CF and profiles see the train part only
    assert items.height > 0


def echo_reviews(request: GenerationRequest) -> str:
    """Extraction copies the review into a [Like] note and profiles copy their notes: any review that reached a
    prompt would show up in every later prompt and profile."""
    text = prompt_text(request)
    found = _REVIEW.search(text)
    body = found.group(1) if found else text
    return "[Like]\n- " + " ".join(body.split()) + "\n[Dislike]\nNone."


def test_no_valid_or_test_review_reaches_a_profile_or_a_prompt(shared_data: Path, tmp_path: Path) -> None:
    cfg = beauty_config(shared_data, "filters.k_core=null", "train_pairs=20", "test_pairs=40",
                        "reviews_per_user=null", "reviews_per_item=3", "rationale=teacher",
                        "profiles.max_prompt_tokens=8000")
    teacher = ScriptedLLM(text=echo_reviews)
    exp3rt_repro.run(cfg, tmp_path, llm=teacher)
    split = pl.read_parquet(tmp_path / "data" / "splits" / "train_interactions.parquet")
    everything = pl.read_parquet(tmp_path / "data" / "interactions.parquet")
    train_texts = [" ".join(t.split()) for t in split["review"].drop_nulls().to_list()]
    held_out = everything.join(split.select("user_id", "item_id", "timestamp"),
                               on=["user_id", "item_id", "timestamp"], how="anti")
    snippets = [" ".join(t.split())[:60] for t in held_out["review"].drop_nulls().to_list() if len(t) > 60]
    snippets = [s for s in snippets if not any(s in t for t in train_texts)]  # reposted in train: not a leak
    assert len(snippets) > 20
    prompts = [prompt_text(r) for r in teacher.generate_requests]
    profiles = [t for name in ("user_profiles", "item_profiles")
                for t in pl.read_parquet(tmp_path / "stages" / f"{name}.parquet")["text"].drop_nulls().to_list()]
    seen = "\n".join(prompts + profiles)
    assert [s for s in snippets if s in seen] == []
    # the echo path works: training reviews do reach the profiles and the teacher's prompts
    assert sum(t[:60] in seen for t in train_texts if len(t) > 60) > 20


def test_reproduction_reports_segments_and_mf_on_the_same_rows(shared_data: Path, tmp_path: Path) -> None:
    cfg = beauty_config(shared_data, "filters.k_core=null", "test_pairs=30")
    metrics = exp3rt_repro.run(cfg, tmp_path, llm=ScriptedLLM())
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["protocol"] == "temporal" and saved["method"] == "exp3rt-zeroshot"
    assert set(saved["baselines"]) == {"global-mean", "user-mean", "item-mean", "mf"}
    scored = saved["mf_selection"]["valid_rmse"]
    assert len(scored) == len(cfg.mf_grid) == 4
    assert saved["mf_selection"]["chosen"] == cfg.mf_grid[min(range(4), key=lambda i: scored[i]["valid_rmse"])]
    counts = saved["segment_counts"]["scored"]
    assert sum(counts.values()) == 30 and counts["warm"] and counts["cold"] and counts["unseen"]
    for method in ("exp3rt-zeroshot", "global-mean", "user-mean", "item-mean", "mf"):
        seg = saved["segments"][method]
        assert {s: seg[s]["n"] for s in SEGMENTS} == counts and seg["total"]["n"] == 30
        assert seg["total"]["rmse"] == pytest.approx((saved["baselines"].get(method) or saved)["rmse"])
    report = (tmp_path / "report.md").read_text()
    assert "## Warm / cold / unseen users (EXP3RT Table 3)" in report and "| mf |" in report
    every_pair = sum(saved["segment_counts"]["all_test"].values())
    assert metrics["segments_all_test_rows"]["mf"]["total"]["n"] == every_pair >= 30


def test_segment_errors_and_table() -> None:
    segmented = pl.DataFrame({"user_id": ["a", "b", "c", "d"], "item_id": ["x", "y", "z", "x"],
                              "rating": [5.0, 3.0, 1.0, 4.0], "segment": ["warm", "warm", "cold", "unseen"]})
    preds = pl.DataFrame({"user_id": ["a", "b", "c", "d"], "item_id": ["x", "y", "z", "x"],
                          "pred_rating": [4.0, 3.0, 3.0, None]})
    errors = segment_errors(preds, segmented)
    assert errors["warm"] == {"n": 2, "rmse": pytest.approx((0.5) ** 0.5), "mae": pytest.approx(0.5)}
    assert errors["cold"] == {"n": 1, "rmse": pytest.approx(2.0), "mae": pytest.approx(2.0)}
    assert errors["unseen"] == {"n": 0, "rmse": None, "mae": None}  # a missing prediction is not a zero error
    assert errors["total"]["n"] == 3 and errors["total"]["mae"] == pytest.approx(1.0)
    section = segment_section("T", {"m": errors}, "note")
    assert section.header[:4] == ["Method", "Total n", "Total RMSE", "Total MAE"]
    assert section.rows[0][:2] == ["m", 3] and len(section.rows[0]) == len(section.header)


def test_mf_setting_is_chosen_on_the_valid_rmse() -> None:
    split = temporal_ratio(random_interactions(40, 30, per_user=(4, 12), seed=3), k_history=None)
    data = TrainData(split.train_interactions, split.train, split.valid, 3.0)
    grid = [{"k": 2, "lambda_reg": 50.0, "max_iter": 5}, {"k": 8, "lambda_reg": 0.02, "max_iter": 100}]
    chosen, scored = tune_on_valid("mf", data, grid, seed=0)
    assert [{k: v for k, v in s.items() if k != "valid_rmse"} for s in scored] == grid
    assert chosen == grid[min(range(2), key=lambda i: scored[i]["valid_rmse"])]
    assert scored[0]["valid_rmse"] != scored[1]["valid_rmse"]
    assert tune_on_valid("mf", data, grid, seed=0) == (chosen, scored)  # deterministic
    with pytest.raises(ConfigError):
        tune_on_valid("mf", TrainData(data.interactions, data.train, None), grid, seed=0)


def test_cli_reproduce_exp3rt_on_beauty_reviews_with_a_scripted_llm(shared_data: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reasonrec.cli import app

    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    scripted = tmp_path / "scripted.yaml"
    scripted.write_text("backend: scripted\nmodel: scripted\ncache: false\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "reproduce", "exp3rt", "--dataset", "reasoningrec-beauty", "--budget", "quick", "--data-dir",
        str(shared_data), "--llm-config", str(scripted), "--teacher-llm-config", str(scripted), "--out", str(out),
        "--set", "student=zeroshot", "--set", "show_progress=false"])
    assert result.exit_code == 0, result.output
    assert "mf " in result.stdout and "global-mean" in result.stdout
    assert "5-core (3630 → 768 interactions)" in result.stdout
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["n"] == 16 and "mf" in saved["segments"]
    assert json.loads((out / "manifest.json").read_text())["command"].startswith("reasonrec reproduce exp3rt")
    assert "Warm / cold / unseen users" in (out / "report.md").read_text()


def test_cli_refuses_to_train_a_student_on_a_served_base(shared_data: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from reasonrec.cli import app

    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    scripted = tmp_path / "scripted.yaml"
    scripted.write_text("backend: scripted\nmodel: scripted\ncache: false\n")
    result = CliRunner().invoke(app, [
        "reproduce", "exp3rt", "--dataset", "reasoningrec-beauty", "--budget", "quick", "--data-dir",
        str(shared_data), "--llm-config", str(scripted), "--teacher-llm-config", str(scripted),
        "--out", str(tmp_path / "run"), "--set", "show_progress=false"])
    assert result.exit_code != 0
    assert "llm.backend must be 'hf'" in result.output and "Traceback" not in result.output


def test_beauty_reviews_take_the_temporal_protocol_and_the_papers_amazon_lora() -> None:
    full = exp3rt_repro.REPRODUCTION.resolve("reasoningrec-beauty", "full")
    assert full.protocol == "temporal" and full.filters.k_core == 5 and full.ratios == (0.8, 0.1, 0.1)
    assert full.scale.prompt_range() == (1, 5) and full.domain == "beauty" and full.like_cutoff == 3.0
    assert (full.lora.r, full.lora.alpha, full.lora.dropout, full.lora.learning_rate) == (128, 32, 0.1, 2e-4)
    imdb = exp3rt_repro.REPRODUCTION.resolve("exp3rt-imdb", "full")
    assert (imdb.lora.r, imdb.lora.alpha) == (512, 128) and imdb.protocol == "auto"


def test_movielens_runs_the_temporal_protocol_without_reviews(shared_data: Path, tmp_path: Path) -> None:
    require_data(shared_data, "movielens-100k", "u.data")
    cfg = exp3rt_repro.REPRODUCTION.resolve("movielens-100k", "quick", [f"data_dir={shared_data}", *SCRIPTED])
    teacher = ScriptedLLM()
    metrics = exp3rt_repro.run(cfg, tmp_path, llm=teacher)
    assert metrics["split_stats"]["after_filters"] == 99287  # 5-core of the 100,000 ratings
    assert metrics["profiles"]["reviews_extracted"] == 0 and not any(
        "Review:" in prompt_text(r) for r in teacher.generate_requests)  # no review text: nothing to extract
    assert metrics["segments"]["mf"]["total"]["n"] == 16 and "mf" in metrics["segments_all_test_rows"]


@pytest.mark.slow
def test_beauty_reviews_end_to_end_with_the_embedded_model(shared_data: Path, tmp_path: Path) -> None:
    require_data(shared_data, "reasoningrec-beauty", "raw", "All_Beauty_5.json")
    cfg = exp3rt_repro.REPRODUCTION.resolve("reasoningrec-beauty", "quick", [
        f"data_dir={shared_data}", "filters.k_core=null", "train_pairs=2", "test_pairs=4", "lora.max_steps=1",
        "extract.max_new_tokens=16", "profiles.max_new_tokens=16", "bootstrap=0", "lora.n_threads=1",
        "llm.n_threads=1", "teacher_llm.n_threads=1", "show_progress=false"])
    metrics = exp3rt_repro.run(cfg, tmp_path)
    assert metrics["method"] == "exp3rt-student" and metrics["training"]["global_step"] == 1
    assert metrics["segments"]["exp3rt-student"]["total"]["n"] == 4
    assert 0.0 <= metrics["segments"]["exp3rt-student"]["total"]["mae"] <= 4.0  # E[rating] on the 1–5 scale
    assert (tmp_path / "student").is_dir() and (tmp_path / "stages" / "preferences.parquet").exists()
