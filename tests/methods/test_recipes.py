"""Recipe composition: stage order, release substitution without LLM calls, run directory, CLI; real-model runs."""

from __future__ import annotations

import json

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.errors import ConfigError
from reasonrec.llm.base import Completion, ScoreRequest
from reasonrec.llm.testing import ScriptedLLM
from reasonrec.methods import METHODS, get_recipe
from reasonrec.methods.exp3rt.recipe import Exp3rtConfig
from reasonrec.methods.reasoningrec.recipe import ReasoningRecConfig
from reasonrec.methods.reasoningrec.recipe import run as run_reasoningrec
from reasonrec.methods.recipe import StudentStep, limit_targets
from reasonrec.stages.common.base import messages_json

# Beauty release test users: 0, 1, 2 liked their target; 13, 28 did not (both classes → AUC defined).
USERS = ["0", "1", "2", "13", "28"]
RELEASED = {"item_descriptions": "release", "user_profiles": "release", "teacher_reasoning": "release"}


def _length_probs(request: ScoreRequest) -> dict[str, float]:
    """P(first choice) a deterministic function of the prompt length, so scores differ between rows."""
    p = 0.2 + 0.6 * ((len(request.messages[-1].content) % 97) / 97)
    return {request.choices[0]: p, **{c: (1 - p) / (len(request.choices) - 1) for c in request.choices[1:]}}


def scripted() -> ScriptedLLM:
    """Control flow only: a fixed teacher-style answer; scores vary with the prompt length."""
    return ScriptedLLM(text=lambda r: Completion("1. Fits the user's taste.\nPrediction: Yes", "stop",
                                                 prompt_tokens=10, completion_tokens=8), probs=_length_probs)


def calls(llm: ScriptedLLM) -> list[tuple[str, str]]:
    """(kind, messages JSON) of every request, in call order."""
    return [(kind, messages_json(r.messages)) for kind, batch in llm.batches for r in batch]


@pytest.fixture(scope="module")
def beauty_root(shared_data):
    require_data(shared_data, "reasoningrec-beauty", "processed", "ratings.csv")
    return shared_data


def _config(**extra) -> ReasoningRecConfig:
    base = {"targets": "release", "user_ids": USERS, "eval": {"bootstrap": 50}, "show_progress": False,
            "describe": {"show_progress": False}, "profile": {"show_progress": False},
            "reason": {"show_progress": False}, "zeroshot": {"show_progress": False}}
    return ReasoningRecConfig.from_dict({**base, **extra})


def test_registry_is_explicit_and_configs_carry_paper_defaults():
    assert set(METHODS) == {"reasoningrec", "exp3rt", "recsaver", "tallrec", "hybrid"}
    hy = METHODS["hybrid"].recipe.config()
    assert hy.split_prefix == "release_windows_" and hy.student.completion == "label" and hy.use_student
    rr = METHODS["reasoningrec"].recipe.config()
    assert (rr.prepare.r_threshold, rr.describe.p_reviews, rr.describe.n_words) == (3.0, 10, 25)
    assert (rr.profile.m_items, rr.profile.q_words, rr.prepare.split.k_history) == (15, 100, 5)
    ex = METHODS["exp3rt"].recipe.config()
    assert ex.prepare.filters.k_core == 5 and ex.prepare.split.strategy == "temporal_ratio"
    assert tuple(ex.prepare.split.ratios) == (0.8, 0.1, 0.1) and ex.predict.include_bias
    rs = METHODS["recsaver"].recipe.config()
    assert (rs.prepare.split.min_history, rs.prepare.split.max_history) == (4, 10)
    assert rs.teacher.n_samples == 8 and rs.prepare.split.strategy == "user_disjoint_balanced"
    assert not rr.student.enabled
    with pytest.raises(ConfigError, match="unknown method"):
        get_recipe("nope")


def test_generated_stages_run_in_order_and_write_the_run_directory(beauty_root, tmp_path):
    llm = scripted()
    result = run_reasoningrec(_config(limit_items=6, data_dir=beauty_root), tmp_path, llm)
    assert [s.name for s in result.stages] == ["item_descriptions", "user_profiles", "teacher_reasoning",
                                               "predictions"]
    assert all(s.source == "generate" for s in result.stages)
    # The LLM saw exactly each stage's prompts, one stage after the other in recipe order (the runner may
    # reorder requests WITHIN a stage, e.g. by length, so each stage's segment is compared as a multiset).
    offset = 0
    for name, kind in (("item_descriptions", "generate"), ("user_profiles", "generate"),
                       ("teacher_reasoning", "generate"), ("predictions", "score")):
        table = result.tables[name]
        prompts = table["prompt"].drop_nulls().to_list() if name != "predictions" else None
        n = table.height if prompts is None else len(prompts)
        segment = calls(llm)[offset: offset + n]
        assert n > 0 and {k for k, _ in segment} == {kind}, name
        if prompts is not None:
            assert sorted(p for _, p in segment) == sorted(prompts), name
        offset += n
    assert offset == len(calls(llm))
    assert result.tables["item_descriptions"].height == 6  # limit_items
    assert result.tables["teacher_reasoning"].height == len(USERS)  # train targets of the 5 users
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["n"] == len(USERS) and metrics["auc"] is not None
    assert pl.read_parquet(tmp_path / "predictions.parquet").height == len(USERS)
    for name in ("item_descriptions", "user_profiles", "teacher_reasoning", "predictions"):
        assert (tmp_path / "stages" / name / f"{name}.parquet").exists()
        assert (tmp_path / "stages" / name / "manifest.json").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [s["name"] for s in manifest["stages"]] == [s.name for s in result.stages]
    assert manifest["student"] == {"enabled": False}


def test_release_artefacts_replace_stages_without_llm_generation(beauty_root, tmp_path):
    llm = scripted()
    result = run_reasoningrec(_config(artefacts=RELEASED, data_dir=beauty_root), tmp_path, llm)
    assert [s.source for s in result.stages] == ["release", "release", "release", "generate"]
    assert [k for k, _ in calls(llm)] == ["score"] * len(USERS)  # no generation at all
    from reasonrec.data.loaders import load_dataset

    ds = load_dataset("reasoningrec-beauty", beauty_root)
    released = ds.artefacts["teacher_reasoning"].filter(pl.col("split") == "train")
    teacher = result.tables["teacher_reasoning"]
    assert sorted(teacher["user_id"]) == sorted(USERS)
    for user, text in teacher.select("user_id", "text").iter_rows():
        assert text == released.filter(pl.col("user_id") == user)["text"].item()
    truth = ds.splits["release_windows_train"].filter(pl.col("user_id").is_in(USERS))
    assert dict(teacher.select("user_id", "label").iter_rows()) == dict(truth.select("user_id", "label").iter_rows())
    assert result.tables["user_profiles"].height == ds.artefacts["user_profiles"].height
    # the released description reached the zero-shot prompt
    some = result.tables["item_descriptions"].row(0, named=True)
    assert some["text"] and some["source"].startswith("mixtral")
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"n", "auc"} <= set(metrics) and metrics["n"] == len(USERS)


def test_skip_and_file_sources(beauty_root, tmp_path):
    first = run_reasoningrec(_config(artefacts=RELEASED, data_dir=beauty_root), tmp_path / "a", scripted())
    path = first.stages[0].path
    llm = scripted()
    result = run_reasoningrec(_config(artefacts={"item_descriptions": path, "user_profiles": "skip",
                                                 "teacher_reasoning": "skip"}, data_dir=beauty_root),
                              tmp_path / "b", llm)
    assert [s.source for s in result.stages][:3] == [path, "skip", "skip"]
    assert result.tables["user_profiles"] is None and not (tmp_path / "b" / "stages" / "user_profiles").exists()
    assert [k for k, _ in calls(llm)] == ["score"] * len(USERS)
    with pytest.raises(ConfigError, match="no such file"):
        run_reasoningrec(_config(artefacts={"item_descriptions": "nowhere.parquet"}, data_dir=beauty_root),
                         tmp_path / "c", llm)


def test_prepare_targets_and_limit_users(beauty_root, tmp_path):
    llm = scripted()
    cfg = ReasoningRecConfig.from_dict({"limit_users": 3, "artefacts": RELEASED, "eval": {"bootstrap": 0},
                                        "zeroshot": {"show_progress": False}, "data_dir": str(beauty_root)})
    result = run_reasoningrec(cfg, tmp_path, llm)
    assert (tmp_path / "data" / "splits" / "test.parquet").exists()
    assert result.predictions["user_id"].n_unique() == 3
    assert json.loads((tmp_path / "manifest.json").read_text())["targets"] == "prepare"


def test_limit_targets_keeps_users_across_splits():
    t = pl.DataFrame({"user_id": ["a", "b", "c"], "item_id": ["1", "2", "3"]})
    out = limit_targets({"train": t, "test": t.reverse()}, 2)
    assert out["test"]["user_id"].to_list() == ["c", "b"] and sorted(out["train"]["user_id"]) == ["b", "c"]
    assert limit_targets({"test": t}, None, ["a"])["test"].height == 1


def test_student_step_is_off_by_default():
    assert StudentStep().enabled is False


def test_exp3rt_release_context_with_fake_llm(shared_data, tmp_path):
    require_data(shared_data, "exp3rt-imdb", "rating_bias", "test_helpful.json")
    from reasonrec.methods.exp3rt.recipe import run

    llm = scripted()
    cfg = Exp3rtConfig.from_dict({"limit_pairs": 3, "predict": {"reasoning": False, "show_progress": False},
                                  "eval": {"bootstrap": 0}, "data_dir": str(shared_data)})
    result = run(cfg, tmp_path, llm)
    assert [(s.name, s.source) for s in result.stages] == [
        ("preferences", "skip"), ("user_profiles", "skip"), ("item_profiles", "skip"),
        ("pair_context", "release"), ("teacher_reasoning", "skip"), ("predictions", "generate")]
    assert [k for k, _ in calls(llm)] == ["score"] * 3
    assert "Average" in calls(llm)[0][1] or "average" in calls(llm)[0][1]  # rating bias is in the prompt
    assert result.predictions["pred_rating"].is_between(1, 10).all()
    assert json.loads((tmp_path / "metrics.json").read_text())["n"] == 3


def test_run_cli(beauty_root, tmp_path):
    import typer
    from typer.testing import CliRunner

    import reasonrec.cli.run as run_cli

    app = typer.Typer()
    app.command()(run_cli.run_command)
    llm_config = tmp_path / "llm.yaml"
    llm_config.write_text("backend: scripted\ncache: false\n")
    args = ["reasoningrec", "--out", str(tmp_path / "run"), "--data-dir", str(beauty_root), "--llm-config",
            str(llm_config), "--set", "targets=release",
            "--set", "user_ids=[0,1,2,13,28]", "--set", "eval.bootstrap=0", "--set", "zeroshot.show_progress=false"]
    for stage in RELEASED:
        args += ["--set", f"artefacts.{stage}=release"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["n"] == len(USERS)
    help_text = CliRunner().invoke(app, ["--help"]).output
    for opt in ("--dataset", "--data-dir", "--out", "--llm-config", "--config", "--set", "--limit-users"):
        assert opt in help_text


@pytest.mark.slow  # ~50 s on the shared 2-core machine (model load + 5 full-context scoring passes)
def test_real_reasoningrec_recipe_on_embedded_model_with_released_artefacts(beauty_root, tmp_path):
    """Real SmolLM2 zero-shot P(like) on 5 Beauty test users from the Mixtral descriptions/profiles/reasoning."""
    from reasonrec.llm.registry import LLMConfig, build_llm

    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), n_threads=1))
    result = run_reasoningrec(_config(artefacts=RELEASED, data_dir=beauty_root), tmp_path / "run", llm)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == len(USERS) and metrics["auc"] is not None
    scores = result.predictions["score"]
    assert scores.is_not_null().all() and scores.is_between(0, 1).all()
    assert result.stages[-1].llm_calls == len(USERS)


def test_real_exp3rt_recipe_on_imdb_two_pairs(shared_data, tmp_path):
    """Real SmolLM2: bias prompt + one rating scoring pass per pair (no generation), E[rating] on the 1–10 scale."""
    require_data(shared_data, "exp3rt-imdb", "rating_bias", "test_helpful.json")
    from reasonrec.llm.registry import LLMConfig, build_llm
    from reasonrec.methods.exp3rt.recipe import run

    llm = build_llm(LLMConfig(cache_path=str(tmp_path / "cache.sqlite"), n_threads=1))
    cfg = Exp3rtConfig.from_dict({"limit_pairs": 2, "predict": {"reasoning": False}, "eval": {"bootstrap": 0},
                                  "data_dir": str(shared_data)})
    result = run(cfg, tmp_path / "run", llm)
    preds = result.predictions
    assert preds.height == 2 and preds["pred_rating"].is_between(1, 10).all()
    probs = json.loads(preds["probs"][0])
    assert set(probs) == {str(r) for r in range(1, 11)} and sum(probs.values()) == pytest.approx(1.0)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n"] == 2 and metrics["mae"] is not None
