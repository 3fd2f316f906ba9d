"""The supervised-positions completion loss equals the full-logits loss, in value and gradient, and is what training
uses on CPU: TRL's own loss and metrics on the real embedded model's collated batches."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
import train_fixtures
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers import LlamaConfig, LlamaForCausalLM
from trl import SFTTrainer

from reasonrec.train.completion_loss import (
    SupervisedLogitsTrainer,
    accepts_logits_to_keep,
    supervised_positions,
    token_statistics,
)
from reasonrec.train.label_loss import IGNORE_INDEX, completion_loss, label_weighted_loss
from reasonrec.train.lora import LoRAConfig, build_trainer

VOCAB = 48
LABEL_IDS = [5, 7]


@pytest.fixture(scope="module")
def small_model():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return LlamaForCausalLM(config).eval()


@st.composite
def batches(draw):
    """Right-padded rows, each a prompt then a supervised completion (label tokens may occur in it)."""
    rows, width = draw(st.integers(1, 3)), draw(st.integers(3, 14))
    ids, mask, labels = [], [], []
    for _ in range(rows):
        length = draw(st.integers(2, width))
        prompt = draw(st.integers(1, length - 1))
        tokens = draw(st.lists(st.integers(0, VOCAB - 1), min_size=length, max_size=length))
        ids.append(tokens + [0] * (width - length))
        mask.append([1] * length + [0] * (width - length))
        labels.append([IGNORE_INDEX] * prompt + tokens[prompt:] + [IGNORE_INDEX] * (width - length))
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(labels)


def _reference(model, ids, mask, labels, weight):
    """The full-logits loss: every position through the head, cross-entropy per token, the first supervised label
    token of each row weighted (written out here, apart from `label_loss`)."""
    out = model(input_ids=ids, attention_mask=mask)
    logits = out.logits[:, :-1].float()
    targets = labels[:, 1:]
    per_token = F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1), ignore_index=IGNORE_INDEX,
                                reduction="none").view_as(targets)
    weights = torch.ones_like(per_token)
    for row in range(targets.shape[0]):
        first = next((t for t in range(targets.shape[1]) if int(targets[row, t]) in LABEL_IDS), None)
        if first is not None:
            weights[row, first] = weight
    return (per_token * weights).sum() / (targets != IGNORE_INDEX).sum().clamp(min=1)


@settings(max_examples=25, deadline=None)
@given(batch=batches(), weight=st.sampled_from([1.0, 4.0]))
def test_supervised_positions_give_the_full_logits_loss_and_gradients(small_model, batch, weight):
    from reasonrec.train.label_loss import label_positions

    ids, mask, labels = batch
    positions, targets = supervised_positions(labels)
    assert positions.tolist() == sorted({t for r in range(labels.shape[0]) for t in range(labels.shape[1] - 1)
                                         if labels[r, t + 1] != IGNORE_INDEX})
    small_model.zero_grad()
    expected = _reference(small_model, ids, mask, labels, weight)
    expected.backward()
    expected_grads = [p.grad.clone() for p in small_model.parameters()]
    small_model.zero_grad()
    logits = small_model(input_ids=ids, attention_mask=mask, logits_to_keep=positions).logits
    weights = torch.where(label_positions(targets, LABEL_IDS), weight, 1.0) if weight != 1.0 else None
    log_probs = logits.float().log_softmax(dim=-1)
    loss = completion_loss(log_probs, targets, weights=weights)
    loss.backward()
    assert loss.item() == pytest.approx(float(expected), rel=1e-5, abs=1e-6)
    for got, want in zip((p.grad for p in small_model.parameters()), expected_grads, strict=True):
        assert torch.allclose(got, want, rtol=1e-4, atol=1e-6)
    assert int(token_statistics(log_probs, targets)["count"]) == int((labels[:, 1:] != IGNORE_INDEX).sum())


def test_only_models_that_take_logits_to_keep_use_it(small_model):
    from peft import LoraConfig, get_peft_model

    class NoKeep(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            return input_ids

    assert accepts_logits_to_keep(small_model)
    assert accepts_logits_to_keep(get_peft_model(LlamaForCausalLM(small_model.config), LoraConfig(r=2)))
    assert not accepts_logits_to_keep(NoKeep())


def test_num_items_in_batch_is_the_denominator_when_given():
    log_probs = torch.zeros(1, 2, 4).log_softmax(dim=-1)
    targets = torch.tensor([[1, IGNORE_INDEX]])
    alone = completion_loss(log_probs, targets)
    assert float(alone) == pytest.approx(torch.log(torch.tensor(4.0)).item())
    assert float(completion_loss(log_probs, targets, num_items_in_batch=4)) == pytest.approx(float(alone) / 4)


@pytest.fixture(scope="module")
def label_only_train(shared_data):
    return train_fixtures.label_only_train(shared_data)


def test_cpu_training_uses_it_with_trls_loss_and_metrics(label_only_train, tmp_path):
    config = LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no", batch_size=2, dropout=0.0)
    trainer = build_trainer(label_only_train, None, config, tmp_path)
    assert isinstance(trainer, SupervisedLogitsTrainer) and trainer.keeps_logits  # not TRL's loss by fallback
    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    assert batch["attention_mask"].sum(1).unique().numel() == 2  # padded: the rows' completions end apart
    trainer.model.train()  # the train-mode bookkeeping (no dropout: both losses see the same network)
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, dict(batch))
        ours_metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
        trl = SFTTrainer.compute_loss(trainer, trainer.model, dict(batch))
        trl_metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    assert float(ours) == pytest.approx(float(trl), rel=1e-5)
    assert ours_metrics["entropy"] == pytest.approx(trl_metrics["entropy"], rel=1e-4)
    assert ours_metrics["mean_token_accuracy"] == trl_metrics["mean_token_accuracy"]
    assert trl_metrics["num_tokens"] == 2 * ours_metrics["num_tokens"] == 2 * int(batch["attention_mask"].sum())
    trainer.model.eval()
    with torch.no_grad():
        assert float(trainer.compute_loss(trainer.model, dict(batch))) == pytest.approx(float(trl), rel=1e-5)
    assert trainer._metrics["eval"]["num_tokens"] == [trl_metrics["num_tokens"]]  # evaluation counts no tokens


def test_label_weight_goes_through_it_and_false_keeps_trls_own_loss(label_only_train, tmp_path):
    weighted = LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no", label_weight=5.0, dropout=0.0)
    trainer = build_trainer(label_only_train, None, weighted, tmp_path / "ours")
    assert isinstance(trainer, SupervisedLogitsTrainer) and trainer.compute_loss_func is None
    tok = trainer.processing_class
    ids = [tok.encode(c, add_special_tokens=False)[0] for c in (" Yes", " No")]
    batch = trainer.data_collator([trainer.train_dataset[0]])
    with torch.no_grad():
        ours = trainer.compute_loss(trainer.model, dict(batch))
        full = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    assert float(ours) == pytest.approx(float(label_weighted_loss(ids, 5.0)(full, batch["labels"])), rel=1e-5)

    hook = build_trainer(label_only_train, None, weighted.model_copy(update={"supervised_logits_only": False}),
                         tmp_path / "hook")
    assert type(hook) is SFTTrainer and hook.compute_loss_func is not None
    plain = build_trainer(label_only_train, None, LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no",
                                                             supervised_logits_only=False), tmp_path / "plain")
    assert type(plain) is SFTTrainer and plain.compute_loss_func is None
