"""A completion loss that weighs the label token: the decision is one token of a ~230-token completion.

With the ReasoningRec completion "Prediction: Yes|No\\n1. …", the cross-entropy is averaged over every completion
token, so the student mostly learns the teacher's style; the one token that decides like/dislike carries 1/230
of the gradient. `label_weighted_loss` multiplies that token's loss by `weight` (the first completion position
whose target is one of the label tokens); every other completion token keeps weight 1. The sum is divided by
the number of completion tokens in the batch (TRL/transformers' `num_items_in_batch`), so weight 1 equals the
default loss.

Training weighs the label through `completion_loss.SupervisedLogitsTrainer` (logits at the supervised positions
only). `label_weighted_loss` is the same loss as TRL's `compute_loss_func` hook, used only with
`lora.supervised_logits_only=false`: that hook needs the full logits, and TRL then runs a second, no-grad forward
for its token metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

IGNORE_INDEX = -100


def label_positions(targets: Any, label_token_ids: Sequence[int]) -> Any:
    """Bool mask (batch, seq): per row, the first supervised position whose target is a label token."""
    import torch

    is_label = torch.isin(targets, torch.tensor(list(label_token_ids), device=targets.device))
    is_label &= targets != IGNORE_INDEX
    first = is_label & (is_label.long().cumsum(dim=1) == 1)
    return first


def completion_loss(log_probs: Any, targets: Any, num_items_in_batch: Any = None, weights: Any = None) -> Any:
    """Σ weight × cross-entropy over the supervised targets / (`num_items_in_batch`, else their count): TRL's loss
    when every weight is 1. `log_probs` (batch, positions, vocab) are the log-softmax predicting `targets`."""
    import torch

    supervised = targets != IGNORE_INDEX
    token_log_probs = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    weight = supervised.to(log_probs.dtype) if weights is None else weights * supervised
    denominator = num_items_in_batch if num_items_in_batch is not None else supervised.sum()
    return -(token_log_probs * weight).sum() / torch.as_tensor(denominator, device=log_probs.device).clamp(min=1)


def label_weighted_loss(label_token_ids: Sequence[int], weight: float) -> Callable[..., Any]:
    """A `compute_loss_func(outputs, labels, num_items_in_batch=None)` for transformers/TRL trainers."""
    if weight <= 0:
        raise ValueError(f"label weight must be > 0, got {weight}")

    def loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
        import torch

        log_probs = outputs.logits[:, :-1, :].float().log_softmax(dim=-1)
        targets = labels[:, 1:].to(log_probs.device)
        weights = torch.where(label_positions(targets, label_token_ids), weight, 1.0)
        return completion_loss(log_probs, targets, num_items_in_batch, weights)

    return loss


__all__ = ["IGNORE_INDEX", "completion_loss", "label_positions", "label_weighted_loss"]
