"""The one student-training path: pre-flight refuses, before anything trains, a run whose examples or scoring
prompts cannot fit — in one line naming the prompt, the row and the token counts."""

from __future__ import annotations

import polars as pl
import pytest
from datafiles import require_data

from reasonrec.errors import ConfigError
from reasonrec.methods.reasoningrec import reproduction as rr
from reasonrec.train.lora import LoRAConfig
from reasonrec.train.sft_data import SFT_SCHEMA, SFTDataset
from reasonrec.train.student import preflight, train_student


def _examples(prompt_tokens: list[int]) -> SFTDataset:
    n = len(prompt_tokens)
    table = pl.DataFrame({
        "user_id": [f"u{i}" for i in range(n)], "item_id": [f"i{i}" for i in range(n)], "split": ["train"] * n,
        "label": [1] * n, "rating": [5.0] * n, "prompt": ["[]"] * n, "completion": ["Yes."] * n,
        "prompt_tokens": prompt_tokens, "completion_tokens": [4] * n, "history_dropped": [0] * n,
        "path_index": [0] * n,
    }, schema=SFT_SCHEMA)
    return SFTDataset(table=table)


def test_an_example_over_the_window_is_refused_naming_its_row() -> None:
    with pytest.raises(ConfigError, match=r"pre-flight: 1 SFT example.*user u1 item i1 \(train\): 700 prompt \+ 4"):
        preflight(_examples([100, 700]), None, LoRAConfig(max_seq_length=512))
    preflight(_examples([100, 200]), None, LoRAConfig(max_seq_length=512))


def test_a_failing_scoring_check_stops_training_before_anything_is_written(tmp_path) -> None:
    def scoring() -> None:
        raise ConfigError("user 7 item 9 (test): prompt 'reasoningrec/predict' does not fit in 64 tokens (80 tokens)")

    with pytest.raises(ConfigError, match=r"pre-flight: user 7 item 9 \(test\).*; nothing was trained"):
        train_student(_examples([10]), None, LoRAConfig(max_seq_length=512), tmp_path / "run", scoring=[scoring])
    assert not (tmp_path / "run").exists()


def test_reproduction_refuses_a_scoring_budget_its_test_prompts_cannot_fit(shared_data, tmp_path) -> None:
    """Real Beauty rows and tokenizer: a 100-token scoring budget cannot hold a student prompt even with an empty
    history, so the run stops before the first training step instead of after it."""
    require_data(shared_data, "reasoningrec-beauty")
    cfg = rr.REPRODUCTION.resolve("reasoningrec-beauty", "quick", [
        f"data_dir={shared_data}", "k=2", "test_users=2", "max_prompt_tokens=100", "show_progress=false"])
    with pytest.raises(ConfigError, match=r"pre-flight: user \S+ item \S+ \(test\): prompt 'reasoningrec/predict' "
                                          r"does not fit in 100 tokens.*\(\d+ tokens\); nothing was trained"):
        rr.run(cfg, tmp_path)
    assert not (tmp_path / "student" / "adapter").exists()
