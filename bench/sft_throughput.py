"""SFT throughput: supervised (completion) tokens per second for batching strategies on the same examples.

Strategies (same K examples, same LoRA config, `--steps` optimizer steps each, first step discarded as warm-up):
  padded        TRL defaults: random batches of `--batch` padded to the longest
  grouped       length-grouped batches (`train_sampling_strategy="group_by_length"`): less padding
  bs1_accum     batch size 1 × gradient accumulation `--batch` (no padding at all)
  padding_free  TRL padding_free=True (flash-attention on GPU; on CPU it is reported, not trusted — see notes)
Prints a table and writes JSON (default bench/results/sft_throughput.json). Run:
  HF_HUB_OFFLINE=1 REASONREC_DATA_DIR=../shared/data .venv/bin/python bench/sft_throughput.py --steps 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

from transformers import TrainerCallback


class StepTimer(TrainerCallback):
    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(self, args, state, control, **kwargs):
        self.times.append(time.perf_counter())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--max-seq-length", type=int, default=1024)
    parser.add_argument("--strategies", default="padded,grouped,bs1_accum")
    parser.add_argument("--out", default="bench/results/sft_throughput.json")
    args = parser.parse_args()

    import torch

    from reasonrec.data.loaders import load_dataset
    from reasonrec.train.lora import LoRAConfig, build_trainer
    from reasonrec.train.sft_data import SFTDataConfig, build_reasoningrec_sft, load_tokenizer

    torch.set_num_threads(2)
    ds = load_dataset("reasoningrec-beauty")
    tok = load_tokenizer()
    a = ds.artefacts
    data = build_reasoningrec_sft(
        ds.splits["release_windows_train"], ds.items, a["item_descriptions"], a["user_profiles"],
        a["teacher_reasoning"], tok, SFTDataConfig(k=args.k, seed=0, max_seq_length=args.max_seq_length),
    )
    lengths = (data.table["prompt_tokens"] + data.table["completion_tokens"]).to_list()
    results = []
    for name in args.strategies.split(","):
        batch, accum = (1, args.batch) if name == "bs1_accum" else (args.batch, 1)
        cfg = LoRAConfig(max_steps=args.steps, batch_size=batch, gradient_accumulation_steps=accum,
                         max_seq_length=args.max_seq_length, eval_strategy="no", logging_steps=1,
                         group_by_length=name == "grouped", padding_free=name == "padding_free", seed=0)
        out = Path("/tmp") / f"sft_bench_{name}_{os.getpid()}"
        trainer = build_trainer(data, None, cfg, out)
        timer = StepTimer()
        trainer.add_callback(timer)
        supervised: list[int] = []
        collate = trainer.data_collator

        def counting_collator(features, _collate=collate, _sink=supervised):
            batch_out = _collate(features)
            _sink.append(int((batch_out["labels"] != -100).sum()))
            return batch_out

        trainer.data_collator = counting_collator
        start = time.perf_counter()
        trainer.train()
        steps = [start, *timer.times]
        durations = [b - a for a, b in itertools.pairwise(steps)]
        logs = [r for r in trainer.state.log_history if "num_tokens" in r]
        n_tokens = [r["num_tokens"] for r in logs]
        input_per_step = [b - a for a, b in itertools.pairwise([0.0, *n_tokens])]
        sup_per_step = [sum(supervised[i * accum : (i + 1) * accum]) for i in range(len(durations))]
        # the first step carries warm-up costs: time steps 2.. when there are several
        skip = 1 if len(durations) > 1 else 0
        secs = sum(durations[skip:])
        toks = sum(input_per_step[skip:])
        sup = sum(sup_per_step[skip:])
        timed = durations[skip:]
        results.append({"strategy": name, "batch": batch, "accum": accum, "timed_steps": len(timed),
                        "seconds": round(secs, 2), "input_tokens_per_s": round(toks / secs, 1),
                        "supervised_tokens_per_s": round(sup / secs, 1)})
        print(results[-1], flush=True)
    base = next((r for r in results if r["strategy"] == "padded"), None)
    for r in results:
        r["speedup_vs_padded"] = round(r["supervised_tokens_per_s"] / base["supervised_tokens_per_s"], 2) if base \
            else None
    print(f"{'strategy':<14}{'batch':>6}{'accum':>6}{'s':>8}{'in tok/s':>10}{'sup tok/s':>11}{'x padded':>10}")
    for r in results:
        print(f"{r['strategy']:<14}{r['batch']:>6}{r['accum']:>6}{r['seconds']:>8}{r['input_tokens_per_s']:>10}"
              f"{r['supervised_tokens_per_s']:>11}{r['speedup_vs_padded']!s:>10}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "lengths": lengths, "load": os.getloadavg(),
                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
