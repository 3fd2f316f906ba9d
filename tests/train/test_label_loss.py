"""The label-weighted completion loss on the real embedded model and TRL's own collated batch."""

from __future__ import annotations

import pytest
import train_fixtures

from reasonrec.errors import ConfigError
from reasonrec.train.label_loss import label_positions, label_weighted_loss
from reasonrec.train.lora import LoRAConfig, build_trainer


@pytest.fixture(scope="module")
def label_only_train(shared_data):
    return train_fixtures.label_only_train(shared_data)


def test_weight_one_is_the_plain_loss_and_a_larger_weight_targets_the_label_token(label_only_train, tmp_path):
    import torch

    config = LoRAConfig(max_steps=1, max_seq_length=512, eval_strategy="no", label_weight=5.0,
                        supervised_logits_only=False)  # TRL's compute_loss_func hook
    trainer = build_trainer(label_only_train, None, config, tmp_path)
    assert trainer.compute_loss_func is not None
    tok = trainer.processing_class
    batch = trainer.data_collator([trainer.train_dataset[0]])
    ids = [tok.encode(c, add_special_tokens=False)[0] for c in (" Yes", " No")]
    with torch.no_grad():
        out = trainer.model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"))
        plain = trainer.model(**{k: v for k, v in batch.items() if k in ("input_ids", "attention_mask", "labels")})
    targets = batch["labels"][:, 1:]
    mask = label_positions(targets, ids)
    assert int(mask.sum()) == 1
    assert tok.decode(targets[mask]) in (" Yes", " No")
    one = label_weighted_loss(ids, 1.0)(out, batch["labels"])
    five = label_weighted_loss(ids, 5.0)(out, batch["labels"])
    assert float(one) == pytest.approx(float(plain.loss), rel=1e-4)
    assert float(five) > float(one)


def test_label_weight_is_refused_for_rating_methods_and_non_positive():
    with pytest.raises(ValueError, match="> 0"):
        label_weighted_loss([1, 2], 0.0)
    with pytest.raises(ConfigError):
        LoRAConfig.from_dict({"label_weight": -1})
