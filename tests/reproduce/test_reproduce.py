"""Reproduction commands: config resolution, leak-free CF rows, the authors' figures, the written run directory,
and (slow) the three quick paths end-to-end on the real embedded model."""

from __future__ import annotations

import json
import os
import time

import pytest
from datafiles import require_data

from reasonrec.data.splits import from_target_tables
from reasonrec.errors import ConfigError
from reasonrec.methods import METHODS, get_reproduction
from reasonrec.methods.reasoningrec import reproduction as rr
from reasonrec.methods.reproduction import finish_reproduction, metrics_table

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_registry_names_every_paper():
    assert {name for name, m in METHODS.items() if m.reproduction} == {"reasoningrec", "exp3rt", "recsaver"}
    with pytest.raises(ConfigError, match="unknown reproduction"):
        get_reproduction("nope")


def test_budget_presets_stack_under_overrides():
    full = rr.REPRODUCTION.resolve("reasoningrec-beauty", "full")
    assert (full.k, full.lora.max_seq_length, full.lora.patience, full.test_users) == (256, 2048, 5, None)
    quick = rr.REPRODUCTION.resolve("reasoningrec-beauty", "quick", ["k=32", "lora.r=16"])
    assert (quick.k, quick.lora.r, quick.lora.max_seq_length, quick.budget) == (32, 16, 768, "quick")
    ml = rr.REPRODUCTION.resolve("reasoningrec-ml1m", "full")
    assert ml.lora.learning_rate == 3e-5 and ml.require_test_reference and ml.test_split == "seq_ctr_test"
    with pytest.raises(ConfigError):
        rr.REPRODUCTION.resolve("movielens-100k", "quick")
    with pytest.raises(ConfigError):
        rr.REPRODUCTION.resolve("reasoningrec-beauty", "medium")


@pytest.fixture(scope="module")
def beauty(shared_data):
    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "reasoningrec-beauty")
    return load_dataset("reasoningrec-beauty", shared_data)


def test_cf_rows_hold_out_valid_and_test_targets(beauty):
    cfg = rr.REPRODUCTION.resolve("reasoningrec-beauty", "full")
    split = from_target_tables(beauty.interactions, *(beauty.splits[s] for s in (cfg.train_split, cfg.valid_split,
                                                                               cfg.test_split)))
    train = split.train_interactions
    test = beauty.splits[cfg.test_split].select("user_id", "item_id")
    assert train.join(test, on=["user_id", "item_id"], how="semi").height == 0
    assert 0 < train.height < beauty.interactions.height


def test_authors_figures_recompute_all_rows_and_distinct(beauty):
    cfg = rr.REPRODUCTION.resolve("reasoningrec-beauty", "full", ["bootstrap=0"])
    records = {r["k"]: r for r in rr.authors_figures(beauty, cfg)}
    assert set(records) == {64, 128, 256}
    k256 = records[256]
    assert k256["auc"] == pytest.approx(0.768, abs=1e-3)  # their results.json
    assert k256["n"] == 600 and k256["n_distinct_prompts"] == 283  # repeated prompts, as the README says
    assert k256["auc_recomputed_all_rows"] == pytest.approx(k256["auc"], abs=0.02)


def test_baselines_and_authors_write_metrics_and_report(beauty, tmp_path):
    """The non-LLM half of the reproduction for real: baselines on real rows → metrics.json + report.md/html."""
    cfg = rr.REPRODUCTION.resolve("reasoningrec-beauty", "quick", ["test_users=80", "baselines=[user-mean,user-like-share]",
                                                      "bootstrap=50"])
    rows = rr.test_rows(beauty, cfg)
    assert rows["user_id"].n_unique() == 80
    baselines, _ = rr.run_baselines(beauty, cfg, rows, tmp_path)
    metrics = {"method": "user-like-share", "dataset": cfg.dataset, "split": "test",
               "auc": baselines["user-like-share"]["auc"], "n": rows.height, "baselines": baselines,
               "authors": rr.authors_figures(beauty, cfg), "notes": ["test"]}
    written = finish_reproduction(tmp_path, config=cfg, command="test", predictions=None, metrics=metrics,
                                  started_at=time.time(), title="test")
    saved = json.loads(written["metrics"].read_text())
    assert saved["baselines"]["user-mean"]["n"] == rows.height
    assert saved["baselines"]["user-like-share"]["auc"] > 0.6  # the like-share bar is real on Beauty
    md = (tmp_path / "report.md").read_text()
    assert "user-mean" in md and "Llama-2-7B" in md  # baselines and the authors' reported rows
    assert (tmp_path / "report.html").stat().st_size > 1000
    assert "user-mean" in metrics_table(saved)


@pytest.mark.slow
def test_quick_reasoningrec_end_to_end_tiny(shared_data, tmp_path):
    require_data(shared_data, "reasoningrec-beauty")
    cfg = rr.REPRODUCTION.resolve("reasoningrec-beauty", "quick", [
        f"data_dir={shared_data}", "k=4", "test_users=16", "lora.max_steps=1", "lora.valid_limit=8",
        "reasoning_rows=1", "max_new_tokens=24", "bootstrap=50", "baselines=[user-mean,user-like-share,mf]",
        "zeroshot=[vanilla]"])
    metrics = rr.run(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["n"] == 16 and "auc" in saved  # the first 16 test users are the fewest with a negative (AUC defined)
    assert {"user-mean", "user-like-share", "mf"} <= set(saved["baselines"])
    assert {r["k"] for r in saved["authors"]} == {64, 128, 256}
    methods = {r["method"] for r in saved["runs"]}
    assert {"reasoningrec-student", "tallrec-student", "zeroshot-vanilla"} <= methods
    student = next(r for r in saved["runs"] if r["method"] == "reasoningrec-student")
    assert student.get("bertscore") is not None  # generated reasoning vs the released test reasoning
    assert (tmp_path / "report.md").exists() and (tmp_path / "report.html").exists()
    assert metrics["training"]["reasoningrec-student"]["global_step"] == 1
    assert saved["grounding"]["reasoningrec-student"]["explanations"] == 1  # the demo's path marks explanations
    md = (tmp_path / "report.md").read_text()
    assert "## Explanation grounding" in md and "## Explanations, with grounding marks" in md


@pytest.mark.slow
def test_quick_exp3rt_end_to_end_tiny(shared_data, tmp_path):
    require_data(shared_data, "exp3rt-imdb")
    from reasonrec.methods.exp3rt import reproduction as exp3rt_repro

    cfg = exp3rt_repro.REPRODUCTION.resolve("exp3rt-imdb", "quick", [
        f"data_dir={shared_data}", "train_pairs=4", "test_pairs=4", "lora.max_steps=1", "rerank_users=1",
        "n_candidates=3", "bootstrap=0", "lora.n_threads=1", "llm.n_threads=1", "teacher_llm.n_threads=1",
        "show_progress=false"])
    exp3rt_repro.run(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["n"] == 4 and saved["rmse"] is not None and saved["mae"] is not None
    assert "user-average (authors' printed)" in saved["baselines"]
    assert saved["rerank"]["bpr"]["users"] == 1
    assert set(saved["rerank"]["bpr"]["reranked"]) >= {"recall@5", "ndcg@20"}
    assert "Top-k reranking" in (tmp_path / "report.md").read_text()
    assert (tmp_path / "report.html").exists()


@pytest.mark.slow
def test_quick_recsaver_end_to_end_tiny(shared_data, tmp_path):
    from reasonrec.methods.recsaver import reproduction as recsaver

    require_data(shared_data, "reasoningrec-beauty", "raw")
    cfg = recsaver.REPRODUCTION.resolve("amazon-beauty-raw", "quick", [
        f"data_dir={shared_data}", "split.per_class_train=1", "n_paths=2", "n_explanations=1", "max_new_tokens=16",
        "students=[1:none,M:binary]", "text_metrics=[bleu,rouge1]", "lora.n_threads=1", "llm.n_threads=1",
        "teacher_llm.n_threads=1", "show_progress=false"])
    recsaver.run(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    methods = {r["method"] for r in saved["runs"]}
    assert {"recsaver-zeroshot-cot", "recsaver-zeroshot-no_reasoning", "recsaver-student-1path-none"} <= methods
    assert all(r["n"] == 5 for r in saved["runs"])  # 1 test pair per rating class
    assert saved["filter_counts"]["samples"] == 10 and saved["filter_counts"]["unparseable"] == 0
    assert saved["students"]["recsaver-student-1path-none"]["global_step"] == 1
    assert saved["verification"]["pairs"] == 5
    assert saved["models"] == {"teacher": "embedded (hf)", "student_base": "embedded (hf)"}
    md = (tmp_path / "report.md").read_text()
    assert "1 vs M paths" in md and "correct vs incorrect" in md


@pytest.mark.parametrize("field", ["student_adapter", "tallrec_adapter"])
def test_reused_adapters_must_exist(tmp_path, field):
    cfg = rr.REPRODUCTION.resolve("reasoningrec-beauty", "quick", [f"{field}={tmp_path}"])
    assert getattr(cfg, field) == tmp_path
    with pytest.raises(ConfigError, match=f"{field}=.*adapter_config.json"):
        rr.run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_ml1m_quick_budget_holds_every_test_prompt(shared_data):
    """ML-1M prompts carry long profiles (an empty-history prompt needs ~540 tokens): every selected test prompt
    must fit the quick preset's resolved scoring budget."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.llm.chat import LocalTokenizer
    from reasonrec.stages.common.base import token_counter
    from reasonrec.stages.common.context import target_rows
    from reasonrec.stages.student import label_prompts
    from reasonrec.train.sft_data import load_tokenizer

    require_data(shared_data, "reasoningrec-ml1m")
    config = rr.REPRODUCTION.resolve("reasoningrec-ml1m", "quick")
    budget = rr.scoring_budget(config)
    ds = load_dataset("reasoningrec-ml1m", shared_data)
    rows = rr.test_rows(ds, config)
    for check in rr.scoring_checks(ds, rows, config):  # the students' pre-flight: every family of test prompts
        check()
    tokenizer = LocalTokenizer(load_tokenizer())
    a = ds.artefacts
    prompts = label_prompts(target_rows(rows), ds.items, a.get("item_descriptions"), a.get("user_profiles"), tokenizer,
                            rr.student_predict_config(config, "reasoningrec", rr.STUDENT, 0))
    count = token_counter(tokenizer, "Prediction:")
    sizes = [count(messages) for messages in prompts]
    assert len(sizes) == rows.height == config.test_users
    assert max(sizes) <= budget
