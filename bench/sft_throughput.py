"""LoRA SFT speed: supervised (completion) tokens per second and validation loss after the same steps, per recipe.

Every strategy trains the same K examples with the same LoRA config for `--steps` optimizer steps (the first step
is discarded as warm-up), then reports the loss on the same `--valid` validation examples, so a faster recipe is
only faster "at equal validation loss" when its loss matches:
  trl_defaults   TRL's SFTConfig defaults (batch 8 padded, bf16 autocast, gradient checkpointing, fused AdamW)
  padded         batches of `--batch` padded to the longest, fp32, no checkpointing (reasonrec's options)
  grouped        length-grouped batches of `--batch`: less padding
  bs1_accum      batch 1 × gradient accumulation `--batch`: no padding at all (the LoRAConfig default), the LM head
                 only at the supervised positions (train.completion_loss)
  bs1_trl_head   bs1_accum with TRL's own loss, whose fused head projects every position off CUDA
  bs1_ckpt       bs1_accum + gradient checkpointing (memory for compute)
  bs1_bf16       bs1_accum + bf16 autocast (fp32 weights, bf16 matmuls; needs AMX/AVX512-BF16 to pay off)
  bs1_bf16_adamw bs1_bf16 with the unfused AdamW (fused AdamW is the default)
The JSON also records how many prompt tokens the examples share as a common prefix (the instruction), the
upper bound of what reusing a prompt prefix across examples could save. Load is recorded per strategy (`machine`);
speed-ups are printed only when every strategy ran on an idle machine.

    HF_HUB_OFFLINE=1 REASONREC_DATA_DIR=../shared/data .venv/bin/python bench/sft_throughput.py --steps 3
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from pathlib import Path

import torch
from machine import LoadMonitor, ratio_or_reason
from transformers import TrainerCallback

from reasonrec.data.loaders import load_dataset
from reasonrec.io import write_json
from reasonrec.llm.base import common_prefix_len
from reasonrec.llm.cpu import cpu_capability
from reasonrec.train.lora import LoRAConfig, build_trainer, load_base_model
from reasonrec.train.sft_data import SFTDataConfig, build_reasoningrec_sft, load_tokenizer

STRATEGIES: dict[str, dict] = {  # name → LoRAConfig overrides (batch sizes filled in from --batch)
    "padded": {},
    "grouped": {"group_by_length": True},
    "bs1_accum": {"bs1": True},
    "bs1_trl_head": {"bs1": True, "supervised_logits_only": False},
    "bs1_ckpt": {"bs1": True, "gradient_checkpointing": True},
    "bs1_bf16": {"bs1": True, "precision": "bf16"},
    "bs1_bf16_adamw": {"bs1": True, "precision": "bf16", "optim": "adamw_torch"},
}


class StepTimer(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())


def trl_defaults_trainer(data, cfg: LoRAConfig, out: Path):
    """TRL's own defaults: only what a run needs (steps, output, CPU, length, seed) and the same LoRA adapter."""
    from peft import LoraConfig as PeftLoraConfig
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(out), max_steps=cfg.max_steps, use_cpu=not torch.cuda.is_available(),
                     max_length=cfg.max_seq_length, seed=cfg.seed, data_seed=cfg.seed, report_to="none",
                     learning_rate=cfg.learning_rate, logging_steps=1, save_strategy="no")
    peft = PeftLoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                          target_modules=list(cfg.target_modules), bias="none", task_type="CAUSAL_LM")
    return SFTTrainer(model=load_base_model(cfg)[0], args=args, train_dataset=data.to_hf(), peft_config=peft)


@torch.no_grad()
def completion_loss(model, tok, valid) -> float:
    """Mean cross-entropy over the completion tokens of the validation examples (same for every strategy)."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for messages, completion in zip(valid.messages(), valid.table["completion"].to_list(), strict=True):
        prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template([*messages, {"role": "assistant", "content": completion}], tokenize=False)
        ids = tok(full, add_special_tokens=False, return_tensors="pt").input_ids
        start = len(tok(prompt, add_special_tokens=False).input_ids)
        logits = model(input_ids=ids).logits[0, start - 1 : -1].float()
        total += float(torch.nn.functional.cross_entropy(logits, ids[0, start:], reduction="sum"))
        count += ids.shape[1] - start
    if was_training:
        model.train()
    return total / count


def shared_prefix_tokens(data, tok) -> tuple[int, float]:
    """Tokens every prompt shares at its start, and their share of all prompt tokens."""
    texts = [tok.apply_chat_template(m, tokenize=False, add_generation_prompt=True) for m in data.messages()]
    prompts = [tok(t, add_special_tokens=False).input_ids for t in texts]
    shared = min(common_prefix_len(prompts[0], p) for p in prompts)
    return shared, shared * len(prompts) / sum(len(p) for p in prompts)


def run_strategy(name: str, data, valid, args) -> dict:
    spec = dict(STRATEGIES.get(name, {}))
    bs1 = spec.pop("bs1", False)
    batch, accum = (1, args.batch) if bs1 else (args.batch, 1)
    cfg = LoRAConfig(max_steps=args.steps, batch_size=batch, gradient_accumulation_steps=accum,
                     max_seq_length=args.max_seq_length, eval_strategy="no", logging_steps=1, seed=0,
                     learning_rate=args.lr, thread_policy="fixed", n_threads=args.threads, **spec)
    out = Path("/tmp") / f"sft_bench_{name}_{os.getpid()}"
    torch.set_num_threads(args.threads)
    trainer = trl_defaults_trainer(data, cfg, out) if name == "trl_defaults" else build_trainer(data, None, cfg, out)
    timer = StepTimer()
    trainer.add_callback(timer)
    supervised: list[int] = []
    collate = trainer.data_collator

    def counting_collator(features, _collate=collate, _sink=supervised):
        batch_out = _collate(features)
        _sink.append(int((batch_out["labels"] != -100).sum()))
        return batch_out

    trainer.data_collator = counting_collator
    with LoadMonitor() as load:
        start = time.perf_counter()
        trainer.train()
    per_step = trainer.args.gradient_accumulation_steps
    durations = [b - a for a, b in itertools.pairwise([start, *timer.times])]
    sup_per_step = [sum(supervised[i * per_step : (i + 1) * per_step]) for i in range(len(durations))]
    skip = 1 if len(durations) > 1 else 0  # the first step carries warm-up costs
    secs, sup = sum(durations[skip:]), sum(sup_per_step[skip:])
    eval_loss = completion_loss(trainer.model, trainer.processing_class, valid)
    return {"strategy": name, "batch": trainer.args.per_device_train_batch_size, "accum": per_step,
            "bf16": bool(trainer.args.bf16), "gradient_checkpointing": bool(trainer.args.gradient_checkpointing),
            "optim": str(trainer.args.optim.value), "timed_steps": len(durations) - skip, "seconds": round(secs, 2),
            "supervised_tokens_per_s": round(sup / secs, 1), "eval_loss": round(float(eval_loss), 4),
            "load": load.record.as_dict(), "_record": load.record}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--valid", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-seq-length", type=int, default=1024)
    parser.add_argument("--strategies", default="trl_defaults,padded,bs1_accum,bs1_ckpt,bs1_bf16")
    parser.add_argument("--baseline", default="bs1_accum", help="the row speed-ups are relative to")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "sft_throughput.json"))
    args = parser.parse_args()

    ds = load_dataset("reasoningrec-beauty")
    tok = load_tokenizer()
    a = ds.artefacts
    sft = SFTDataConfig(k=args.k, seed=0, max_seq_length=args.max_seq_length)
    data = build_reasoningrec_sft(ds.splits["release_windows_train"], ds.items, a["item_descriptions"],
                                  a["user_profiles"], a["teacher_reasoning"], tok, sft)
    valid = build_reasoningrec_sft(ds.splits["release_windows_valid"], ds.items, a["item_descriptions"],
                                   a["user_profiles"], a["teacher_reasoning"], tok,
                                   sft.model_copy(update={"k": args.valid}), split="valid")
    shared, shared_frac = shared_prefix_tokens(data, tok)
    results = []
    for name in args.strategies.split(","):
        results.append(run_strategy(name, data, valid, args))
        print({k: v for k, v in results[-1].items() if k != "_record"}, flush=True)
    base = next((r for r in results if r["strategy"] == args.baseline), None)
    for r in results:
        ratio, why = ratio_or_reason(r["supervised_tokens_per_s"], base["supervised_tokens_per_s"], r["_record"],
                                     base["_record"]) if base else (None, "no baseline row")
        r["speedup_vs_baseline"], r["speedup_refused"] = (round(ratio, 2) if ratio else None), why
    print(f"{'strategy':<15}{'batch':>6}{'accum':>6}{'bf16':>6}{'ckpt':>6}{'s':>8}{'sup tok/s':>11}{'eval loss':>10} "
          f"{'x ' + args.baseline:>14}  load (other cores)")
    for r in results:
        speed = f"{r['speedup_vs_baseline']}" if r["speedup_vs_baseline"] else "refused"
        print(f"{r['strategy']:<15}{r['batch']:>6}{r['accum']:>6}{r['bf16']!s:>6}{r['gradient_checkpointing']!s:>6}"
              f"{r['seconds']:>8}{r['supervised_tokens_per_s']:>11}{r['eval_loss']:>10}{speed:>14}  "
              f"{r['load']['other_busy_cores']}")
    print(f"shared prompt prefix: {shared} tokens = {shared_frac:.1%} of prompt tokens (the most prefix reuse saves)")
    for r in results:
        r.pop("_record")
    write_json(args.out, {"args": vars(args), "cpu": cpu_capability().as_dict(), "shared_prefix_tokens": shared,
                          "shared_prefix_fraction": shared_frac,
                          "lengths": (data.table["prompt_tokens"] + data.table["completion_tokens"]).to_list(),
                          "load_average": os.getloadavg(), "results": results})


if __name__ == "__main__":
    main()
