"""LoRA fine-tuning of the student with TRL's SFTTrainer + PEFT (no hand-written training loop).

What we add around TRL, and why:
- **Completion-only loss** comes from TRL itself: prompt-completion datasets are masked to the completion by
  default (`completion_only_loss=None` → on); `tests/train` checks the labels mask.
- **Nothing is dropped by TRL**: our SFT builder already trimmed every example to `max_seq_length` (oldest
  history first), TRL's own truncation is a no-op, and we assert the processed dataset kept every example.
- **The LM head runs only where the completion is supervised** (`completion_loss.SupervisedLogitsTrainer`): off
  CUDA, TRL's fused head also projects every prompt position; skipping them is 1.29x the supervised tokens/s here,
  at the same loss. The label-weighted loss goes through it too, in one forward.
- **Early stopping on the metric the paper used** (`auc`, the authors' `valauc` runs) or `eval_loss`: the AUC is
  P(" Yes") vs P(" No") after the assistant prefix "Prediction:" from ONE forward pass per validation prompt,
  computed by a TrainerCallback at every evaluation and fed to `EarlyStoppingCallback` and
  `load_best_model_at_end`, so the adapter written is the best one seen.
- **Precision is the hardware's**: bf16 mixed precision on a CUDA GPU that supports it, and on request on CPUs with
  AMX/AVX512-BF16 (detected at run time; fp32 weights, bf16 matmuls); QLoRA (4-bit base) only on CUDA with
  bitsandbytes — asking for either where the hardware lacks it is a ConfigError.
- **Threads follow the machine**: `thread_policy=adaptive` gives torch the cores other processes leave free, so a
  CPU-heavy neighbour does not make two spinning OpenMP threads collapse a step from ~20 s to ~80 s.

A run directory holds `adapter/`, `config.yaml` (resolved), `trainer_log.jsonl`, `curves.png`, `sft_stats.json`
and `manifest.json`.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl
from pydantic import Field

from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.llm.cpu import ThreadPolicy, cpu_capability, thread_governor
from reasonrec.stages.student import LABEL_SCORING
from reasonrec.train.callbacks import trainer_callbacks
from reasonrec.train.sft_data import SFTDataset


class LoRAConfig(Config):
    """Paper defaults (ReasoningRec App. A.4.2): r=8, alpha=16, dropout 0.05 on q/v, lr 1e-4 (ML-1M: 3e-5),
    max 100 epochs with early stopping (patience 5) on validation AUC, max sequence length 2048."""

    model: str = Field("embedded", description="'embedded' (converted SmolLM2) or a local HF model directory")
    r: int = Field(8, ge=1)
    alpha: int = Field(16, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "v_proj"])
    learning_rate: float = Field(1e-4, gt=0)
    num_train_epochs: float = Field(100.0, gt=0)
    max_steps: int = Field(-1, description="> 0 overrides epochs (smoke runs, benchmarks)")
    batch_size: int = Field(1, ge=1, description="micro-batch; 1 x 4 accumulation = the effective batch of 4 "
                            "without padding (1.44x the supervised tokens/s of padded batches of 4 on this CPU, "
                            "bench/sft_throughput.py)")
    gradient_accumulation_steps: int = Field(4, ge=1)
    eval_batch_size: int = Field(4, ge=1)
    warmup_steps: float = Field(0, ge=0, description="int = steps; float < 1 = fraction of training")
    weight_decay: float = 0.0
    max_seq_length: int = Field(2048, ge=32)
    eval_metric: Literal["auc", "eval_loss"] = "auc"
    eval_strategy: Literal["epoch", "steps", "no"] = "epoch"
    eval_steps: int | None = Field(None, ge=1, description="with eval_strategy=steps")
    patience: int = Field(5, ge=1, description="early-stopping patience in evaluations")
    valid_limit: int | None = Field(200, ge=1, description="validation examples used for loss/AUC (cost control)")
    group_by_length: bool = Field(False, description="length-grouped batches (less padding on CPU)")
    padding_free: bool = Field(False, description="TRL padding-free batches (needs flash-attention: GPU only)")
    qlora: bool = Field(False, description="4-bit base model (CUDA + bitsandbytes only)")
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="bf16 = mixed precision (fp32 weights, bf16 matmuls): on CUDA with bf16, or on CPUs with "
        "AMX/AVX512-BF16; auto picks it on CUDA only (CPU: see bench/sft_throughput.py)")
    gradient_checkpointing: bool = Field(False, description="recompute activations in backward: less memory, "
                                         "slower steps (bench/sft_throughput.py bs1_ckpt)")
    optim: Literal["adamw_torch", "adamw_torch_fused"] = Field(
        "adamw_torch_fused", description="TRL's default; LoRA's few weights make the optimizer a tiny share of a step")
    label_weight: float = Field(1.0, gt=0, le=1000, description="loss weight of the label token (1 = plain "
                                "completion loss; train.label_loss)")
    supervised_logits_only: bool = Field(
        True, description="one forward whose LM head runs only where the completion is supervised (train."
        "completion_loss): TRL's fused head projects every prompt position too off CUDA, and label_weight != 1 "
        "would need full logits and a second forward; false = TRL's own loss")
    logging_steps: int = Field(1, ge=1)
    seed: int = 42
    n_threads: int | None = Field(None, ge=1, description="torch CPU threads: cap (adaptive) or exact count (fixed)")
    thread_policy: ThreadPolicy = Field(
        "adaptive", description="adaptive: torch threads follow the cores other processes leave free, re-decided "
        "every optimizer step; fixed: n_threads (or torch's default) for the whole run")
    keep_checkpoints: bool = Field(False, description="keep trainer checkpoints after the best adapter is saved")


@dataclass
class LoRAResult:
    out_dir: Path
    adapter_dir: Path
    best_metric: float | None
    best_step: int | None
    global_step: int
    train_examples: int
    wall_s: float
    log: list[dict[str, Any]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ training


def _precision(config: LoRAConfig) -> tuple[bool, Any]:
    """(bf16 mixed precision on, torch dtype to load the base in).

    On CUDA the base loads in bf16 when bf16 is used; on CPU it stays fp32 and the Trainer autocasts the matmuls
    to bf16, so the weights (and validation scoring through them) keep full precision."""
    import torch

    cuda = torch.cuda.is_available()
    if config.qlora and not cuda:
        raise ConfigError("lora.qlora=true needs a CUDA GPU (4-bit bitsandbytes); this machine has none")
    if cuda:
        bf16_ok = torch.cuda.is_bf16_supported()
        if config.precision == "bf16" and not bf16_ok:
            raise ConfigError("lora.precision=bf16: this CUDA GPU has no bf16 support; use fp32 or auto")
        use_bf16 = config.precision == "bf16" or (config.precision == "auto" and bf16_ok)
        return use_bf16, (torch.bfloat16 if use_bf16 else torch.float32)
    if config.precision == "bf16" and not cpu_capability().bf16_kernels:
        raise ConfigError("lora.precision=bf16 on CPU needs AMX or AVX512-BF16 (this CPU has neither, so bf16 "
                          "would be emulated and slower); use fp32 or auto")
    return config.precision == "bf16", torch.float32


def load_base_model(config: LoRAConfig):
    """(model, tokenizer, model_dir) for training; QLoRA loads the base in 4 bit (CUDA only)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from reasonrec.llm.hf import resolve_model_path

    model_dir, _ = resolve_model_path(config.model)
    _, dtype = _precision(config)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if config.qlora:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, model_dir


def _sft_args(config: LoRAConfig, out_dir: Path, *, do_eval: bool, use_bf16: bool) -> Any:
    """TRL's SFTConfig from ours: evaluation/saving only when there is validation data, best model by our metric."""
    import torch
    from trl import SFTConfig

    metric = "eval_auc" if config.eval_metric == "auc" else "eval_loss"
    return SFTConfig(
        output_dir=str(out_dir / "checkpoints"),
        learning_rate=config.learning_rate,
        num_train_epochs=config.num_train_epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.eval_batch_size,
        gradient_accumulation_steps=config.gradient_accumulation_steps,
        warmup_steps=config.warmup_steps,
        weight_decay=config.weight_decay,
        max_length=config.max_seq_length,
        padding_free=config.padding_free,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        eval_strategy=config.eval_strategy if do_eval else "no",
        eval_steps=config.eval_steps,
        save_strategy=config.eval_strategy if do_eval else "no",
        save_steps=config.eval_steps,
        save_total_limit=2 if do_eval else None,
        load_best_model_at_end=do_eval,
        metric_for_best_model=metric if do_eval else None,
        greater_is_better=(config.eval_metric == "auc") if do_eval else None,
        logging_steps=config.logging_steps,
        bf16=use_bf16,
        use_cpu=not torch.cuda.is_available(),
        # Always explicit: TRL turns checkpointing on by default (recomputing every layer's forward in backward).
        activation_checkpointing=config.gradient_checkpointing,
        optim=config.optim,
        seed=config.seed,
        data_seed=config.seed,
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
    )


def _callbacks(train: SFTDataset, valid: SFTDataset | None, config: LoRAConfig, tokenizer: Any, out_dir: Path,
               governor: Any) -> list[Any]:
    """The JSONL log, the thread governor, and with validation data: validation AUC (label methods) and early
    stopping."""
    from transformers import EarlyStoppingCallback

    auc_cls, log_cls, threads_cls = trainer_callbacks()
    callbacks: list[Any] = [log_cls(out_dir / "trainer_log.jsonl")]
    if governor is not None:
        callbacks.append(threads_cls(governor))
    if valid is None:
        return callbacks
    method = str(train.stats.get("method", "reasoningrec"))
    if method not in LABEL_SCORING or "label" not in valid.table.columns:
        if config.eval_metric == "auc":
            raise ConfigError(f"lora.eval_metric=auc needs a like/dislike method ({', '.join(LABEL_SCORING)})"
                              f"; {method!r} training data has no labels to rank: use eval_metric=eval_loss")
    elif config.eval_metric == "auc" or valid.table["label"].n_unique() > 1:
        callbacks.insert(0, auc_cls(tokenizer, valid.messages(), valid.table["label"].to_list(),
                                    config.eval_batch_size, method))
    callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    return callbacks


def build_trainer(
    train: SFTDataset,
    valid: SFTDataset | None,
    config: LoRAConfig,
    out_dir: str | Path,
    *,
    model: Any = None,
    tokenizer: Any = None,
):
    """An SFTTrainer wired with our callbacks; asserts TRL kept every example. Exposed for tests/benchmarks."""
    import torch
    from peft import LoraConfig as PeftLoraConfig
    from trl import SFTTrainer

    out_dir = Path(out_dir)
    governor = thread_governor(config.thread_policy, config.n_threads, torch.set_num_threads)
    if model is None or tokenizer is None:
        model, tokenizer, _ = load_base_model(config)
    if config.qlora:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
    use_bf16, _ = _precision(config)
    too_long = train.table.filter(
        (train.table["prompt_tokens"] + train.table["completion_tokens"]) > config.max_seq_length
    )
    if too_long.height:
        raise ConfigError(
            f"{too_long.height} training examples exceed lora.max_seq_length={config.max_seq_length}; build the SFT "
            "data with the same (or smaller) sft.max_seq_length so they are trimmed, not truncated by TRL"
        )
    valid = _limit(valid, config.valid_limit, config.seed)
    do_eval = valid is not None and len(valid) > 0 and config.eval_strategy != "no"
    args = _sft_args(config, out_dir, do_eval=do_eval, use_bf16=use_bf16)
    peft_config = PeftLoraConfig(
        r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM",
    )
    callbacks = _callbacks(train, valid if do_eval else None, config, tokenizer, out_dir, governor)
    common: dict[str, Any] = {
        "model": model, "args": args, "train_dataset": train.to_hf(), "processing_class": tokenizer,
        "eval_dataset": valid.to_hf() if do_eval and valid is not None else None, "peft_config": peft_config,
        "callbacks": callbacks,
    }
    label_ids = _label_token_ids(tokenizer, str(train.stats.get("method", "reasoningrec")), config)
    if config.supervised_logits_only and (config.label_weight != 1.0 or not torch.cuda.is_available()):
        from reasonrec.train.completion_loss import SupervisedLogitsTrainer

        trainer = SupervisedLogitsTrainer(label_token_ids=label_ids, label_weight=config.label_weight, **common)
    else:
        from reasonrec.train.label_loss import label_weighted_loss

        loss_func = label_weighted_loss(label_ids, config.label_weight) if config.label_weight != 1.0 else None
        trainer = SFTTrainer(compute_loss_func=loss_func, **common)
    if len(trainer.train_dataset) != len(train):
        raise RuntimeError(
            f"TRL dropped examples: {len(train)} built, {len(trainer.train_dataset)} after processing "
            "(an over-long prompt left no completion tokens?)"
        )
    return trainer


def _label_token_ids(tokenizer: Any, method: str, config: LoRAConfig) -> list[int]:
    """The label choices' token ids when `label_weight` != 1 (empty for the plain completion loss)."""
    if config.label_weight == 1.0:
        return []
    if method not in LABEL_SCORING:
        raise ConfigError(f"lora.label_weight needs a like/dislike method ({', '.join(LABEL_SCORING)}), "
                          f"not {method!r}")
    ids = [tokenizer.encode(c, add_special_tokens=False) for c in LABEL_SCORING[method][1]]
    if any(len(i) != 1 for i in ids):
        raise ConfigError(f"lora.label_weight: the {method} label choices are not single tokens for this model")
    return [i[0] for i in ids]


def _limit(ds: SFTDataset | None, n: int | None, seed: int = 0) -> SFTDataset | None:
    """A seeded validation subset of `n` rows in which both labels appear whenever the split has both.

    Taking the first n rows (user order) gave an all-"Yes" subset on Beauty (93% liked), so validation AUC was
    undefined and early stopping had nothing to go on. Each class gets at least min(its count, max(1, n // 4))
    rows; the rest is a seeded uniform sample. AUC does not depend on the class ratio, only its variance does.
    """
    if ds is None or n is None or len(ds) <= n:
        return ds
    table = ds.table.with_row_index("_i").sample(fraction=1.0, shuffle=True, seed=seed)
    if "label" in table.columns:
        floor = max(1, n // 4)
        picked = [table.filter(pl.col("label") == lab).head(floor) for lab in (0, 1)]
        chosen = pl.concat(picked)
        rest = table.filter(~pl.col("_i").is_in(chosen["_i"].implode())).head(max(0, n - chosen.height))
        table = pl.concat([chosen, rest])
    subset = table.head(n).sort("_i").drop("_i")
    return SFTDataset(table=subset, stats={**ds.stats, "limited_to": n, "limited_seed": seed})


def train_lora(
    train: SFTDataset,
    valid: SFTDataset | None,
    config: LoRAConfig,
    out_dir: str | Path,
    *,
    run_config: Config | None = None,
    inputs: Sequence[str | Path] = (),
    command: str = "train lora",
) -> LoRAResult:
    """Train, keep the best adapter, write adapter/ + trainer_log.jsonl + curves.png + config.yaml + manifest."""
    from reasonrec.io import write_json
    from reasonrec.runs import write_manifest
    from reasonrec.train.curves import plot_curves, read_log

    started = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    trainer = build_trainer(train, valid, config, out_dir)
    trainer.train()
    adapter_dir = out_dir / "adapter"
    if adapter_dir.exists():
        shutil.rmtree(adapter_dir)
    trainer.model.save_pretrained(str(adapter_dir))
    trainer.processing_class.save_pretrained(str(adapter_dir))
    state = trainer.state
    if not config.keep_checkpoints:
        shutil.rmtree(out_dir / "checkpoints", ignore_errors=True)
    log = read_log(out_dir / "trainer_log.jsonl")
    plot_curves(log, out_dir / "curves.png", title=f"LoRA r={config.r} lr={config.learning_rate:g} "
                f"n={len(train)}")
    write_json(out_dir / "sft_stats.json", {"train": train.stats, "valid": valid.stats if valid else None})
    best_step = None
    if state.best_model_checkpoint:
        try:
            best_step = int(Path(state.best_model_checkpoint).name.split("-")[-1])
        except ValueError:
            best_step = None
    wall = time.time() - started
    write_manifest(
        out_dir,
        command=command,
        config=run_config or config,
        seeds={"seed": config.seed},
        inputs=inputs,
        outputs=None,
        extra={
            "train_examples": len(train),
            "valid_examples": len(valid) if valid is not None else 0,
            "global_step": state.global_step,
            "best_metric": state.best_metric,
            "best_step": best_step,
            "metric_for_best_model": trainer.args.metric_for_best_model,
            "wall_s": round(wall, 1),
            "precision": "bf16" if trainer.args.bf16 else "fp32",
        },
        started_at=started,
    )
    return LoRAResult(
        out_dir=out_dir, adapter_dir=adapter_dir, best_metric=state.best_metric, best_step=best_step,
        global_step=state.global_step, train_examples=len(train), wall_s=wall, log=log,
    )


__all__ = [
    "LoRAConfig", "LoRAResult", "build_trainer", "load_base_model", "train_lora",
]
