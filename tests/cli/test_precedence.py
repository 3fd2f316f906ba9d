"""One precedence for every command: config defaults ← dataset defaults ← budget preset ← --config YAML ← flags ←
--set, checked through the real commands with --print-config (nothing runs, nothing is written)."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from reasonrec.cli import app


def _printed(args: list[str]) -> dict:
    result = CliRunner().invoke(app, [*args, "--print-config"])
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.stdout)


def test_reproduction_layers_stack_in_the_documented_order(tmp_path) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("k: 64\ntest_users: 10\nlora:\n  max_seq_length: 900\n  r: 4\n")
    base = ["reproduce", "reasoningrec", "--dataset", "reasoningrec-ml1m", "--budget", "quick",
            "--out", str(tmp_path / "never")]
    plain = _printed(base)
    assert plain["k"] == 16 and plain["test_users"] == 48  # the quick preset over the paper's 256 / all users
    assert plain["lora"]["max_seq_length"] == 1280  # ML-1M's adjustment of the quick preset (768)
    assert plain["lora"]["learning_rate"] == 3e-5  # ML-1M's dataset default over the paper's 1e-4
    layered = _printed([*base, "--config", str(settings), "--k", "32", "--set", "lora.r=16"])
    assert layered["k"] == 32  # the flag beats the YAML (64) and the preset (16)
    assert layered["test_users"] == 10 and layered["lora"]["max_seq_length"] == 900  # YAML beats the preset
    assert layered["lora"]["r"] == 16  # --set beats the YAML
    assert layered["lora"]["learning_rate"] == 3e-5 and layered["lora"]["num_train_epochs"] == 1  # lower layers stay
    assert layered["budget"] == "quick" and layered["dataset"] == "reasoningrec-ml1m"
    assert _printed([*base, "--config", str(settings)])["k"] == 64  # a YAML value is not undone by the preset
    assert not (tmp_path / "never").exists()


def test_recipe_flags_beat_the_yaml_and_set_beats_flags(tmp_path) -> None:
    settings = tmp_path / "recipe.yaml"
    settings.write_text("dataset: reasoningrec-ml1m\nlimit_users: 7\n")
    base = ["run", "tallrec", "--out", str(tmp_path / "never"), "--config", str(settings)]
    assert _printed(base)["limit_users"] == 7 and _printed(base)["dataset"] == "reasoningrec-ml1m"
    flagged = _printed([*base, "--limit-users", "3", "--dataset", "reasoningrec-beauty"])
    assert flagged["limit_users"] == 3 and flagged["dataset"] == "reasoningrec-beauty"
    assert _printed([*base, "--limit-users", "3", "--set", "limit_users=2"])["limit_users"] == 2


def test_stage_commands_take_the_model_from_llm_config_and_set(tmp_path) -> None:
    llm = tmp_path / "llm.yaml"
    llm.write_text("backend: scripted\nmodel: from-yaml\ncache: false\n")
    printed = _printed(["reasoningrec", "describe", "--dataset", "reasoningrec-beauty", "--out", str(tmp_path / "o"),
                        "--llm-config", str(llm), "--set", "n_words=7", "--set", "llm.model=from-set"])
    assert printed["config"]["n_words"] == 7 and printed["config"]["p_reviews"] == 10
    assert printed["llm"]["backend"] == "scripted" and printed["llm"]["model"] == "from-set"
    assert printed["llm"]["cache"] is False


def test_reproductions_take_teacher_and_student_from_separate_configs(tmp_path) -> None:
    teacher = tmp_path / "teacher.yaml"
    teacher.write_text("backend: openai\nmodel: Qwen2.5-72B-Instruct\nbase_url: http://127.0.0.1:8000/v1\n")
    student = tmp_path / "student.yaml"
    student.write_text("model: /models/qwen2.5-0.5b\n")
    for paper in ("recsaver", "exp3rt", "reasoningrec"):
        base = ["reproduce", paper, "--budget", "quick", "--out", str(tmp_path / "never")]
        default = _printed(base)
        assert default["teacher_llm"]["model"] == default["llm"]["model"] == "embedded"
        printed = _printed([*base, "--teacher-llm-config", str(teacher), "--llm-config", str(student),
                            "--set", "teacher_llm.concurrency=16"])
        assert printed["teacher_llm"]["backend"] == "openai" and printed["teacher_llm"]["concurrency"] == 16
        assert printed["teacher_llm"]["model"] == "Qwen2.5-72B-Instruct"
        assert printed["llm"]["backend"] == "hf" and printed["llm"]["model"] == "/models/qwen2.5-0.5b"


def test_ablation_presets_sit_above_the_budget_and_below_the_yaml(tmp_path) -> None:
    base = ["reproduce", "recsaver", "--budget", "quick", "--out", str(tmp_path / "never")]
    printed = _printed([*base, "--ablation", "finetune-reasoning"])
    assert printed["students"] == ["1:none", "0:none"] and printed["variants"] == []
    assert printed["ablation"] == "finetune-reasoning" and printed["split"]["per_class_train"] == 2  # quick stays
    settings = tmp_path / "settings.yaml"
    settings.write_text("variants: [cot]\n")
    assert _printed([*base, "--ablation", "finetune-reasoning", "--config", str(settings)])["variants"] == ["cot"]
    rr = _printed(["reproduce", "reasoningrec", "--budget", "quick", "--out", str(tmp_path / "never"),
                   "--ablation", "wo-profile"])
    assert rr["include_profile"] is False and rr["include_descriptions"] is True and rr["tallrec"] is False
    unknown = CliRunner().invoke(app, [*base, "--ablation", "nope", "--print-config"])
    assert unknown.exit_code != 0 and "finetune-reasoning" in unknown.output


def test_any_llm_stage_moves_to_ray_through_set(tmp_path) -> None:
    printed = _printed(["reasoningrec", "reason", "--dataset", "reasoningrec-beauty", "--out", str(tmp_path / "o"),
                        "--set", "llm.executor.kind=ray", "--set", "llm.executor.workers=2",
                        "--set", "llm.executor.shard_size=8"])
    assert printed["llm"]["executor"]["kind"] == "ray"
    assert printed["llm"]["executor"]["workers"] == 2 and printed["llm"]["executor"]["shard_size"] == 8
    assert not (tmp_path / "o").exists()
