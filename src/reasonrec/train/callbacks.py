"""The Trainer callbacks of a LoRA run, and validation scoring through the LLM protocol.

- `ValidationAUCCallback` adds `eval_auc` at every evaluation: P(yes) from `HFBackend.score` over the model being
  trained (`label_scores`), at the assistant prefix and with the choices `predict` uses on test (`LABEL_SCORING`),
  so early stopping ranks adapters by the number the test path computes, with the same code.
- `JsonlLogCallback` appends every log record as it happens (a killed run still leaves its curve).
- `ThreadGovernorCallback` re-sizes torch's thread pool between (micro-)steps (`llm.cpu.ThreadGovernor`).
transformers is imported only when `trainer_callbacks()` is called: this module is imported with the configs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reasonrec.auc import roc_auc
from reasonrec.errors import LLMError
from reasonrec.llm.base import Message, ModelIdentity, ScoreRequest
from reasonrec.llm.cpu import ThreadGovernor
from reasonrec.stages.student import LABEL_SCORING

# ------------------------------------------------------------------------------------------------ scoring


def label_scores(model: Any, tokenizer: Any, requests: Sequence[ScoreRequest], batch_size: int = 4) -> list[float]:
    """P(first choice) per request from the model being trained, through the LLM protocol's one scorer.

    `HFBackend.wrap` puts `HFBackend.score` over the in-memory (PEFT) model, so validation AUC is computed by the
    same code, with the same tokenisation, prefix reuse and multi-token rules, as `predict` on test."""
    from reasonrec.llm.hf import HFBackend  # heavy (torch, transformers): only when a model is being scored

    backend = HFBackend.wrap(model, tokenizer, ModelIdentity("hf", "in-training", ""), batch_size=batch_size)
    was_training = model.training
    model.eval()
    try:
        out = backend.score(requests)
    finally:
        if was_training:
            model.train()
    failed = [(i, o.error) for i, o in enumerate(out) if o.error]
    if failed:
        raise LLMError(f"validation scoring failed for {len(failed)} prompts; first (row {failed[0][0]}): "
                       f"{failed[0][1]}")
    return [o.probs[r.choices[0]] for o, r in zip(out, requests, strict=True)]


def score_requests(prompts: Sequence[Sequence[dict[str, str]]], assistant_prefix: str,
                   choices: tuple[str, str]) -> list[ScoreRequest]:
    """Validation prompts (SFT chat messages) as the `ScoreRequest`s `predict` would send for them."""
    return [ScoreRequest(choices=choices, messages=tuple(Message(m["role"], m["content"]) for m in messages),
                         assistant_prefix=assistant_prefix) for messages in prompts]


# ------------------------------------------------------------------------------------------------ callbacks


def trainer_callbacks():
    """(ValidationAUCCallback, JsonlLogCallback, ThreadGovernorCallback) classes."""
    from transformers import TrainerCallback

    class ValidationAUCCallback(TrainerCallback):
        """Adds `eval_auc` to the evaluation metrics (before early stopping / best-model selection read them)."""

        def __init__(self, tokenizer: Any, prompts: list, labels: list[int], batch_size: int, method: str) -> None:
            self.tokenizer, self.labels, self.batch_size = tokenizer, labels, batch_size
            self.prefix, self.choices = LABEL_SCORING[method]
            self.requests = score_requests(prompts, self.prefix, self.choices)

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):
            if model is None or metrics is None:
                return
            scores = label_scores(model, self.tokenizer, self.requests, self.batch_size)
            auc = roc_auc(self.labels, scores)
            metrics["eval_auc"] = auc if auc is not None else float("nan")
            state.log_history.append({"eval_auc": metrics["eval_auc"], "step": state.global_step,
                                      "epoch": state.epoch})

    class JsonlLogCallback(TrainerCallback):
        """Appends every log record to trainer_log.jsonl as it happens (a killed run still leaves its curve)."""

        def __init__(self, path: Path) -> None:
            self.path = path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

        def _write(self, record: dict) -> None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(_jsonable(record)) + "\n")

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs:
                self._write({"step": state.global_step, "epoch": state.epoch, **logs})

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            if metrics and "eval_auc" in metrics:
                self._write({"step": state.global_step, "epoch": state.epoch, "eval_auc": metrics["eval_auc"]})

    class ThreadGovernorCallback(TrainerCallback):
        """Re-sizes torch's thread pool between (micro-)steps from the cores other processes leave free."""

        def __init__(self, governor: ThreadGovernor) -> None:
            self.governor = governor

        def on_step_begin(self, args, state, control, **kwargs):
            self.governor.adjust()

        def on_substep_end(self, args, state, control, **kwargs):
            self.governor.adjust()

    return ValidationAUCCallback, JsonlLogCallback, ThreadGovernorCallback


def _jsonable(record: dict) -> dict:
    out = {}
    for k, v in record.items():
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None
        else:
            out[k] = v
    return out


__all__ = ["label_scores", "score_requests", "trainer_callbacks"]
