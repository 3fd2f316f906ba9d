"""LLM throughput on the embedded SmolLM2: naive one-at-a-time HF loop vs reasonrec's HF backend.

Three workloads, same prompts for both paths, built from the ReasoningRec Beauty release files
(instruction + user profile + 5 history items with descriptions and like/dislike + target item):
  score-1:  Yes/No scoring, one target per user (only the instruction block is shared between prompts);
  score-rr: Yes/No scoring while reranking C candidate targets per user (instruction + profile + history shared);
  gen:      greedy generation of up to 200 tokens.
Naive = `model(input_ids)` per prompt (all-position logits) / `model.generate` per prompt, batch 1.
Ours  = `HFBackend` (length/prefix-sorted batches, prefix KV reuse, last-position logits, batched decoding).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/llm_throughput.py --users 16 --rerank-users 3 --candidates 8 --gen 8

Prints a table and writes bench/results/llm_throughput.json.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import threading
import time
from pathlib import Path

import polars as pl
import torch

from reasonrec.io import write_json
from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.hf import HFBackend

INSTRUCTION = (
    "You are an expert beauty product recommender. You are given a user's profile, the user's five most "
    "recent purchases with a short description of each product and whether the user liked or disliked it, and "
    "a target product with its description. Think about which properties of the purchased products the user "
    "valued (ingredients, scent, brand, price, texture, effect on skin or hair) and which ones made the user "
    "dislike a product. Then decide whether the user will like the target product. A user likes a product when "
    "they would rate it above 3 out of 5. Answer with 'Prediction: Yes' or 'Prediction: No' and then explain "
    "your reasoning in a numbered list of short points that refer to the user's history and profile."
)


class PeakRSS:
    """Samples this process's resident set size (from /proc) while a block runs."""

    def __enter__(self) -> PeakRSS:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


def load_release(root: Path) -> dict:
    proc = root / "reasoningrec-beauty" / "processed"
    info = json.loads((proc / "processed_item_information.json").read_text())
    items = {k: ast.literal_eval(v) if isinstance(v, str) else v for k, v in info.items()}
    ratings = pl.read_csv(proc / "ratings.csv")
    rating = {(str(r["user"]), str(r["item"])): r["rating"] for r in ratings.iter_rows(named=True)}
    return {
        "items": items,
        "rating": rating,
        "profiles": json.loads((proc / "user_profile_summary.json").read_text()),
        "windows": json.loads((proc / "user_test.json").read_text()),
    }


def _item_text(item: dict, words: int = 60) -> str:
    desc = " ".join(str(item.get("description", "")).split()[:words])
    price = str(item.get("price", ""))
    price = price if price.startswith("$") and len(price) < 12 else "unknown"  # some release prices are scraped CSS
    title = " ".join(str(item.get("title", "?")).split()[:25])
    return f"{title} (brand: {item.get('brand') or 'unknown'}, price: {price}). {desc}"


def build_prompt(data: dict, user: str, target: str) -> str:
    window = [str(i) for i in data["windows"][user]]
    history = []
    for n, item_id in enumerate(window[-6:-1], 1):
        liked = data["rating"].get((user, item_id), 5.0) > 3
        history.append(f"{n}. {_item_text(data['items'].get(item_id, {}))} -> {'liked' if liked else 'disliked'}")
    profile = " ".join(data["profiles"][user].split())
    return (
        f"{INSTRUCTION}\n\nUser profile: {profile}\n\nRecent purchases:\n" + "\n".join(history)
        + f"\n\nTarget product: {_item_text(data['items'].get(target, {}))}\n\nWill the user like the target product?"
    )


def prompts(data: dict, users: int, rerank_users: int, candidates: int) -> tuple[list[str], list[str]]:
    usable = [u for u in data["profiles"] if u in data["windows"] and len(data["windows"][u]) >= 6]
    one = [build_prompt(data, u, str(data["windows"][u][-1])) for u in usable[:users]]
    all_items = sorted(data["items"])
    rerank = []
    for k, u in enumerate(usable[users : users + rerank_users]):
        cands = [str(data["windows"][u][-1])] + all_items[k * candidates : k * candidates + candidates - 1]
        rerank.extend(build_prompt(data, u, c) for c in cands)
    return one, rerank


@torch.inference_mode()
def naive_score(backend: HFBackend, reqs: list[ScoreRequest]) -> list[dict[str, float]]:
    """What a first script does: one full forward per prompt, read the next-token distribution."""
    model, out = backend.model, []
    for r in reqs:
        ids = backend.encode(backend.render(r.messages, r.prompt, r.assistant_prefix))
        logits = model(input_ids=torch.tensor([ids])).logits[0, -1].float()
        lp = torch.log_softmax(logits, dim=-1)
        out.append({c: float(lp[backend.encode(c)[0]]) for c in r.choices})
    return out


@torch.inference_mode()
def naive_generate(backend: HFBackend, reqs: list[GenerationRequest]) -> tuple[list[str], int]:
    model, tok, texts, produced = backend.model, backend.tokenizer, [], 0
    for r in reqs:
        ids = torch.tensor([backend.encode(backend.render(r.messages, r.prompt, r.assistant_prefix))])
        gen = model.generate(
            input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=r.params.max_new_tokens,
            do_sample=False, pad_token_id=backend.pad_id,
        )[0, ids.shape[1] :]
        produced += int(gen.shape[0])
        texts.append(tok.decode(gen, skip_special_tokens=True))
    return texts, produced


def timed(fn):
    with PeakRSS() as rss:
        start = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - start
    return result, wall, rss.peak


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("REASONREC_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data")))
    ap.add_argument("--users", type=int, default=16)
    ap.add_argument("--rerank-users", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=8)
    ap.add_argument("--gen", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--workloads", default="score-1,score-rr,gen", help="comma list; results merge into --out")
    ap.add_argument("--gen-prompts", choices=["items", "reasoning"], default="items",
                    help="items: ~150-token 'describe this product' prompts (decode-bound); reasoning: the ~800-token "
                    "ReasoningRec prompts (prefill-heavy)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared box avoids spin-wait collapse)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "llm_throughput.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    data = load_release(Path(args.data))
    one, rerank = prompts(data, args.users, args.rerank_users, args.candidates)
    backend = HFBackend("embedded", batch_size=args.batch_size)

    def score_reqs(texts: list[str]) -> list[ScoreRequest]:
        return [ScoreRequest(choices=(" Yes", " No"), messages=(Message("user", t),), assistant_prefix="Prediction:")
                for t in texts]

    workloads = set(args.workloads.split(","))
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    rows = [r for r in previous.get("rows", []) if r["workload"] not in workloads]
    checks = {k: v for k, v in previous.get("checks", {}).items() if k not in workloads}
    for name, texts in (("score-1", one), ("score-rr", rerank)):
        if name not in workloads:
            continue
        reqs = score_reqs(texts)
        tokens = sum(len(backend.encode(backend.render(r.messages, None, r.assistant_prefix))) for r in reqs)
        naive, t_naive, rss_naive = timed(lambda reqs=reqs: naive_score(backend, reqs))
        ours, t_ours, rss_ours = timed(lambda reqs=reqs: backend.score(reqs))
        diff = max(abs(n[c] - o.logprobs[c]) for n, o in zip(naive, ours, strict=True) for c in n)
        checks[name] = {"max_abs_logprob_diff_vs_naive": diff, "mean_prompt_tokens": tokens / len(reqs)}
        for path, wall, rss in (("naive", t_naive, rss_naive), ("reasonrec", t_ours, rss_ours)):
            rows.append({"workload": name, "path": path, "prompts": len(reqs), "tokens": tokens, "wall_s": wall,
                         "prompts_per_s": len(reqs) / wall, "tokens_per_s": tokens / wall, "peak_rss_mb": rss / 2**20})

    if args.gen_prompts == "items":
        gen_texts = [f"Write a detailed description of this beauty product for a shop page: {_item_text(it, 40)}"
                     for it in list(data["items"].values())[: args.gen]]
    else:
        gen_texts = one[: args.gen]
    greqs = [GenerationRequest(messages=(Message("user", t),), params=SamplingParams(max_new_tokens=args.max_new_tokens))
             for t in gen_texts]
    if "gen" in workloads:
        rows.extend(bench_generation(backend, greqs, checks))
    write_results(args, backend, rows, checks)


def bench_generation(backend: HFBackend, greqs: list[GenerationRequest], checks: dict) -> list[dict]:
    rows = []
    (ntexts, nprod), t_naive, rss_naive = timed(lambda: naive_generate(backend, greqs))
    outs, t_ours, rss_ours = timed(lambda: backend.generate(greqs))
    oprod = sum(o.completion_tokens for o in outs)
    checks["gen"] = {"identical_texts": sum(a == o.text for a, o in zip(ntexts, outs, strict=True)), "of": len(outs),
                     "mean_prompt_tokens": sum(o.prompt_tokens for o in outs) / len(outs)}
    for path, wall, rss, produced in (("naive", t_naive, rss_naive, nprod), ("reasonrec", t_ours, rss_ours, oprod)):
        rows.append({"workload": "gen", "path": path, "prompts": len(greqs), "tokens": produced, "wall_s": wall,
                     "prompts_per_s": len(greqs) / wall, "tokens_per_s": produced / wall, "peak_rss_mb": rss / 2**20})
    return rows


def write_results(args: argparse.Namespace, backend: HFBackend, rows: list[dict], checks: dict) -> None:
    ratios = {}
    for w in sorted({r["workload"] for r in rows}):
        n = next(r for r in rows if r["workload"] == w and r["path"] == "naive")
        o = next(r for r in rows if r["workload"] == w and r["path"] == "reasonrec")
        ratios[w] = o["prompts_per_s"] / n["prompts_per_s"]

    print(f"{'workload':9} {'path':10} {'prompts':>7} {'tokens':>7} {'wall s':>8} {'prompt/s':>9} {'tok/s':>8} {'peakRSS MB':>10}")
    for r in rows:
        print(f"{r['workload']:9} {r['path']:10} {r['prompts']:7d} {r['tokens']:7d} {r['wall_s']:8.1f} "
              f"{r['prompts_per_s']:9.2f} {r['tokens_per_s']:8.1f} {r['peak_rss_mb']:10.0f}")
    print("speed-up (reasonrec / naive): " + ", ".join(f"{w} {x:.2f}x" for w, x in ratios.items()))
    print("checks: " + json.dumps(checks))
    write_json(args.out, {
        "config": vars(args), "identity": json.loads(backend.identity.key()), "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(), "rows": rows, "speedup": ratios, "checks": checks,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
