"""LoRA training through TRL on the real embedded model: completion-only labels, adapter written and effective."""

from __future__ import annotations

import json

import pytest
from datafiles import require_data
from train_fixtures import SMALL

from reasonrec.train.lora import LoRAConfig, build_trainer, train_lora
from reasonrec.train.sft_data import build_reasoningrec_sft, load_tokenizer


@pytest.fixture(scope="module")
def tiny(shared_data):
    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "reasoningrec-beauty", "processed", "user_train.json")
    ds = load_dataset("reasoningrec-beauty", shared_data)
    tok = load_tokenizer("embedded")
    a = ds.artefacts
    train = build_reasoningrec_sft(ds.splits["release_windows_train"], ds.items, None, None,
                                   a["teacher_reasoning"], tok, SMALL)
    valid_rows = ds.splits["release_windows_valid"].filter(ds.splits["release_windows_valid"]["user_id"].is_in(
        ["0", "1", "25", "33"]))
    valid = build_reasoningrec_sft(valid_rows, ds.items, None, None, a["teacher_reasoning"], tok, SMALL,
                                   split="valid", sample=False)
    return train, valid


def test_labels_mask_only_the_completion(tiny, tmp_path):
    train, _ = tiny
    trainer = build_trainer(train, None, LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no"), tmp_path)
    assert len(trainer.train_dataset) == len(train)  # TRL dropped nothing
    tok = trainer.processing_class
    for example, row in zip(trainer.train_dataset, train.table.iter_rows(named=True), strict=True):
        labels = example["labels"]
        supervised = [i for i, lab in enumerate(labels) if lab != -100]
        assert len(supervised) == row["completion_tokens"]
        assert supervised[0] == row["prompt_tokens"] and supervised[-1] == len(labels) - 1  # one contiguous tail
        text = tok.decode([example["input_ids"][i] for i in supervised])
        assert text.startswith(row["completion"][:15])  # "Prediction: Yes"
        assert tok.decode(example["input_ids"][: row["prompt_tokens"]]).endswith("<|im_start|>assistant\n")


@pytest.mark.slow
def test_two_step_lora_writes_an_adapter_that_changes_scores(tiny, tmp_path):
    from reasonrec.llm.base import Message, ScoreRequest
    from reasonrec.llm.hf import HFBackend

    train, valid = tiny
    cfg = LoRAConfig(max_steps=2, batch_size=1, learning_rate=2e-3, max_seq_length=512, eval_strategy="steps",
                     eval_steps=2, valid_limit=4, eval_batch_size=4, n_threads=2)
    result = train_lora(train, valid, cfg, tmp_path / "run")
    run = tmp_path / "run"
    for name in ("adapter/adapter_config.json", "trainer_log.jsonl", "curves.png", "config.yaml", "manifest.json"):
        assert (run / name).is_file(), name
    log = [json.loads(line) for line in (run / "trainer_log.jsonl").read_text().splitlines()]
    assert any("loss" in r for r in log) and any("eval_auc" in r for r in log)
    assert result.global_step == 2
    messages = tuple(Message(m["role"], m["content"]) for m in valid.messages()[0])
    req = ScoreRequest(choices=(" Yes", " No"), messages=messages, assistant_prefix="Prediction:")
    base = HFBackend("embedded").score([req])[0]
    tuned = HFBackend("embedded", adapter_path=result.adapter_dir).score([req])[0]
    assert base.error is None and tuned.error is None
    assert abs(base.logprobs[" Yes"] - tuned.logprobs[" Yes"]) > 1e-4


def test_validation_subset_is_seeded_and_keeps_both_labels():
    import polars as pl

    from reasonrec.train.lora import _limit
    from reasonrec.train.sft_data import SFTDataset

    labels = [1] * 93 + [0] * 7  # Beauty-like skew: the first rows are all "Yes"
    table = pl.DataFrame({"label": labels, "row": list(range(100))})
    ds = SFTDataset(table=table, stats={})
    a, b = _limit(ds, 16, seed=1), _limit(ds, 16, seed=1)
    assert a.table.equals(b.table) and len(a) == 16
    assert set(a.table["label"].to_list()) == {0, 1}
    assert a.table.filter(pl.col("label") == 0).height == 4  # min(7, 16 // 4)
    assert a.table["row"].is_sorted()  # original order kept
    assert _limit(ds, 200, seed=1) is ds


def test_validation_auc_scores_tallrec_where_the_test_path_does(shared_data, tmp_path):
    """Validation AUC must read P(yes) at the same position, with the same choices, as `predict` on test: TALLRec
    once used ReasoningRec's "Prediction:" prefix in validation (valid AUC 0.70 vs test 0.51 on Beauty)."""
    from reasonrec.data.loaders import load_dataset
    from reasonrec.llm.base import Message, ScoreRequest
    from reasonrec.llm.hf import HFBackend
    from reasonrec.stages.student import LABEL_SCORING
    from reasonrec.train.callbacks import label_scores

    require_data(shared_data, "reasoningrec-beauty", "processed", "user_train.json")
    ds = load_dataset("reasoningrec-beauty", shared_data)
    tok = load_tokenizer("embedded")
    cfg = SMALL.model_copy(update={"method": "tallrec"})
    rows = ds.splits["release_windows_valid"].head(6)
    train = build_reasoningrec_sft(rows, ds.items, None, None, None, tok, cfg)
    valid = build_reasoningrec_sft(rows, ds.items, None, None, None, tok, cfg, split="valid", sample=False)
    assert set(train.table["completion"]) <= {"Yes.", "No."}
    trainer = build_trainer(train, valid, LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="steps",
                                                     eval_steps=1, valid_limit=6), tmp_path)
    (callback,) = [c for c in trainer.callback_handler.callbacks if type(c).__name__ == "ValidationAUCCallback"]
    assert (callback.prefix, callback.choices) == LABEL_SCORING["tallrec"] == ("", ("Yes", "No"))

    prompts = valid.messages()[:2]
    backend = HFBackend("embedded", dtype="fp32")
    assert backend.model.training is False
    backend.model.train()  # as the trainer hands it over; scoring must not leave dropout on or switch it off
    val_scores = label_scores(backend.model, tok, callback.requests[:2])
    assert backend.model.training is True
    backend.model.eval()
    for messages, p_yes in zip(prompts, val_scores, strict=True):
        req = ScoreRequest(choices=callback.choices, messages=tuple(Message(m["role"], m["content"]) for m in messages),
                           assistant_prefix=callback.prefix)
        test_probs = backend.score([req])[0].probs
        # same scorer; only batch composition differs (2 prompts batched vs 1), which moves fp32 sums by ~1e-6
        assert p_yes == pytest.approx(test_probs["Yes"] / (test_probs["Yes"] + test_probs["No"]), abs=1e-5)


def test_validation_auc_is_refused_for_rating_methods(tiny, tmp_path):
    import polars as pl

    from reasonrec.errors import ConfigError
    from reasonrec.train.sft_data import SFTDataset

    train, valid = tiny
    rating_train = SFTDataset(table=train.table, stats={**train.stats, "method": "exp3rt"})
    rating_valid = SFTDataset(table=valid.table.drop("label"), stats=valid.stats)
    assert isinstance(rating_valid.table, pl.DataFrame)
    with pytest.raises(ConfigError, match="eval_metric=eval_loss"):
        build_trainer(rating_train, rating_valid, LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="steps",
                                                             eval_steps=1), tmp_path)


def test_trainer_does_not_inherit_trls_checkpointing_and_follows_free_cores(tiny, tmp_path):
    train, _ = tiny
    trainer = build_trainer(train, None, LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no", n_threads=1),
                            tmp_path)
    assert trainer.args.activation_checkpointing is False  # TRL 1.16 defaults it to True
    assert trainer.args.bf16 is False and str(trainer.args.optim.value) == "adamw_torch_fused"
    (governor,) = [c for c in trainer.callback_handler.callbacks if type(c).__name__ == "ThreadGovernorCallback"]
    assert governor.governor.cap == 1
    checkpointed = build_trainer(train, None, LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no",
                                                         gradient_checkpointing=True, thread_policy="fixed"),
                                 tmp_path / "ckpt")
    assert checkpointed.args.activation_checkpointing is True
    assert not [c for c in checkpointed.callback_handler.callbacks if type(c).__name__ == "ThreadGovernorCallback"]


def test_bf16_on_cpu_follows_the_detected_capability(monkeypatch):
    import torch

    from reasonrec.errors import ConfigError
    from reasonrec.llm.cpu import CPUCapability
    from reasonrec.train import lora

    if torch.cuda.is_available():
        pytest.skip("the CPU rule applies where there is no CUDA device")
    monkeypatch.setattr(lora, "cpu_capability", lambda: CPUCapability(frozenset({"avx2"}), "AVX2"))
    with pytest.raises(ConfigError, match="AMX or AVX512-BF16"):
        lora._precision(LoRAConfig(precision="bf16"))
    assert lora._precision(LoRAConfig()) == (False, torch.float32)  # auto stays fp32 on CPU
    monkeypatch.setattr(lora, "cpu_capability", lambda: CPUCapability(frozenset({"avx512_bf16"}), "AVX512"))
    assert lora._precision(LoRAConfig(precision="bf16")) == (True, torch.float32)  # autocast over fp32 weights
