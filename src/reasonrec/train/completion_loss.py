"""The completion loss from one forward that projects only the supervised positions through the LM head.

A LoRA example is a ~650-token prompt and a completion of 1 to ~230 tokens, and only the completion is supervised.
TRL 1.16's fused LM head skips the other positions only on Triton devices: elsewhere it projects every position
through the 49k-word head and takes its log-softmax, entropy and arg-max, to keep tile shapes static for graph
compilers. A CPU runs eagerly, so nothing recompiles, and that work is waste: skipping it gave 1.29x the
supervised tokens/s on this CPU (`bench/sft_throughput.py`, `bs1_accum` vs `bs1_trl_head`), with the same loss.
The label-weighted loss (`lora.label_weight`) went through TRL's `compute_loss_func` hook instead, which needs the
full logits and then runs a second, no-grad forward for TRL's token metrics.

`SupervisedLogitsTrainer` asks the model for logits only at the positions whose next token is supervised
(transformers' `logits_to_keep` as an index tensor: the model applies its own head, soft-capping and scaling). A
model whose forward lacks `logits_to_keep` keeps TRL's own loss.
Its loss is TRL's: the summed completion cross-entropy over `num_items_in_batch`, and optionally the label token
weighted (`label_loss.completion_loss`, which TRL's `compute_loss_func` hook uses too). It logs the entropy and token
accuracy TRL logs.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from trl import SFTTrainer

from reasonrec.errors import ConfigError
from reasonrec.train.label_loss import IGNORE_INDEX, completion_loss, label_positions


def supervised_positions(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(positions, targets): the positions t whose next token t+1 is supervised in any row, ascending, and the
    (batch, len(positions)) targets there (IGNORE_INDEX where a row's own t+1 is not supervised)."""
    shifted = labels[:, 1:]
    positions = (shifted != IGNORE_INDEX).any(dim=0).nonzero().squeeze(1)
    return positions, shifted[:, positions]


@torch.no_grad()
def token_statistics(log_probs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Summed entropy, correct arg-max and count over the supervised targets: what TRL's token metrics average."""
    supervised = targets != IGNORE_INDEX
    entropy = -(log_probs.exp() * log_probs).sum(dim=-1)
    correct = (log_probs.argmax(-1) == targets) & supervised
    return {"entropy": (entropy * supervised).sum(), "correct": correct.sum(), "count": supervised.sum()}


def accepts_logits_to_keep(model: Any) -> bool:
    """Whether the causal LM under any PEFT wrapper takes `logits_to_keep` (transformers' own models do)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(type(base).forward).parameters


class SupervisedLogitsTrainer(SFTTrainer):
    """TRL's SFTTrainer whose loss reads logits at the supervised positions only (see the module docstring)."""

    def __init__(self, *args: Any, label_token_ids: Sequence[int] = (), label_weight: float = 1.0,
                 **kwargs: Any) -> None:
        if label_weight != 1.0 and not label_token_ids:
            raise ConfigError("lora.label_weight != 1 needs the label choices' token ids")
        super().__init__(*args, **kwargs)
        self.label_token_ids = list(label_token_ids)
        self.label_weight = label_weight
        self.keeps_logits = accepts_logits_to_keep(self.model)

    def _supported(self, inputs: dict[str, Any], return_outputs: bool) -> bool:
        return not (return_outputs or not self.keeps_logits or "attention_mask" not in inputs or self.aux_loss_enabled
                    or self.label_smoother is not None or self.compute_loss_func is not None
                    or self.args.loss_type != "nll")

    def compute_loss(self, model: Any, inputs: dict[str, Any], return_outputs: bool = False,
                     num_items_in_batch: Any = None) -> Any:
        if not self._supported(inputs, return_outputs):
            if self.label_weight != 1.0:
                raise ConfigError("lora.label_weight != 1 needs a model that takes logits_to_keep, plain "
                                  "attention-masked batches and TRL's nll loss")
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        positions, targets = supervised_positions(inputs["labels"])
        model_inputs = {k: v for k, v in inputs.items() if k != "labels"}
        outputs = model(**model_inputs, use_cache=False, logits_to_keep=positions)
        targets = targets.to(outputs.logits.device)
        weights = None
        if self.label_weight != 1.0:
            weights = torch.where(label_positions(targets, self.label_token_ids), self.label_weight, 1.0)
        log_probs = outputs.logits.float().log_softmax(dim=-1)
        loss = completion_loss(log_probs, targets, num_items_in_batch, weights)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        self._log_token_metrics(inputs, token_statistics(log_probs, targets))
        return loss

    def _log_token_metrics(self, inputs: dict[str, Any], stats: dict[str, torch.Tensor]) -> None:
        """The entropy, token accuracy and token count TRL's own `compute_loss` logs."""
        mode = "train" if self.model.training else "eval"
        gathered = {k: self.accelerator.gather_for_metrics(v).sum() for k, v in stats.items()}
        count = gathered["count"]
        metrics = self._metrics[mode]
        metrics["entropy"].append((gathered["entropy"] / count).item() if count > 0 else 0.0)
        metrics["mean_token_accuracy"].append((gathered["correct"] / count).item() if count > 0 else 0.0)
        if mode == "train":
            self._total_train_tokens += self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
        metrics["num_tokens"] = [self._total_train_tokens]


__all__ = ["SupervisedLogitsTrainer", "accepts_logits_to_keep", "supervised_positions", "token_statistics"]
