"""LLM throughput on the embedded SmolLM2: naive one-at-a-time HF loop vs reasonrec's HF backend.

Three workloads, same prompts for both paths, built from the ReasoningRec Beauty release files
(instruction + user profile + 5 history items with descriptions and like/dislike + target item):
  score-1:  Yes/No scoring, one target per user (only the instruction block is shared between prompts);
  score-rr: Yes/No scoring while reranking C candidate targets per user (instruction + profile + history shared);
  gen:      greedy generation of up to 200 tokens.
Naive = `model(input_ids)` per prompt (all-position logits) / `model.generate` per prompt, batch 1.
Ours  = `HFBackend` (length/prefix-sorted batches, prefix KV reuse, last-position logits, batched decoding).
llamacpp (with `--backends hf,llamacpp`) = `LlamaCppBackend` on the Q4_1 GGUF, `--batch-size` server slots fed
concurrently, same prompts and threads; it runs first, before the HF model is loaded, so its peak RSS is its own.

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
from typing import Self

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

    def __enter__(self) -> Self:
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
    ap.add_argument("--backends", default="hf", help="comma list of hf (naive + reasonrec rows), llamacpp")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "llm_throughput.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    backends = set(args.backends.split(","))
    if not backends <= {"hf", "llamacpp"}:
        ap.error(f"--backends: unknown {sorted(backends - {'hf', 'llamacpp'})}")
    data = load_release(Path(args.data))
    one, rerank = prompts(data, args.users, args.rerank_users, args.candidates)

    def score_reqs(texts: list[str]) -> list[ScoreRequest]:
        return [ScoreRequest(choices=(" Yes", " No"), messages=(Message("user", t),), assistant_prefix="Prediction:")
                for t in texts]

    if args.gen_prompts == "items":
        gen_texts = [f"Write a detailed description of this beauty product for a shop page: {_item_text(it, 40)}"
                     for it in list(data["items"].values())[: args.gen]]
    else:
        gen_texts = one[: args.gen]
    greqs = [GenerationRequest(messages=(Message("user", t),), params=SamplingParams(max_new_tokens=args.max_new_tokens))
             for t in gen_texts]

    workloads = set(args.workloads.split(","))
    running = ({"naive", "reasonrec"} if "hf" in backends else set()) | ({"llamacpp"} if "llamacpp" in backends else set())
    previous = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    rows = [r for r in previous.get("rows", []) if not (r["workload"] in workloads and r["path"] in running)]
    checks = {k: v for k, v in previous.get("checks", {}).items()
              if k.split(":")[0] not in workloads or ("llamacpp" if k.endswith(":llamacpp") else "reasonrec") not in running}
    identities = previous.get("identities", {"hf": previous["identity"]} if previous.get("identity") else {})
    llama_out: dict[str, list] = {}
    if "llamacpp" in backends:
        rows.extend(bench_llamacpp(args, workloads, {"score-1": score_reqs(one), "score-rr": score_reqs(rerank)},
                                   greqs, llama_out, identities))
    if "hf" not in backends:
        write_results(args, identities, rows, checks)
        return
    backend = HFBackend("embedded", batch_size=args.batch_size)
    identities["hf"] = json.loads(backend.identity.key())
    for name, texts in (("score-1", one), ("score-rr", rerank)):
        if name not in workloads:
            continue
        reqs = score_reqs(texts)
        tokens = sum(len(backend.encode(backend.render(r.messages, None, r.assistant_prefix))) for r in reqs)
        naive, t_naive, rss_naive = timed(lambda reqs=reqs: naive_score(backend, reqs))
        ours, t_ours, rss_ours = timed(lambda reqs=reqs: backend.score(reqs))
        diff = max(abs(n[c] - o.logprobs[c]) for n, o in zip(naive, ours, strict=True) for c in n)
        checks[name] = {"max_abs_logprob_diff_vs_naive": diff, "mean_prompt_tokens": tokens / len(reqs)}
        if name in llama_out:
            checks[f"{name}:llamacpp"] = score_agreement(llama_out[name], ours)
        for path, wall, rss in (("naive", t_naive, rss_naive), ("reasonrec", t_ours, rss_ours)):
            rows.append({"workload": name, "path": path, "prompts": len(reqs), "tokens": tokens, "wall_s": wall,
                         "prompts_per_s": len(reqs) / wall, "tokens_per_s": tokens / wall, "peak_rss_mb": rss / 2**20})

    if "gen" in workloads:
        hf_gen: list = []
        rows.extend(bench_generation(backend, greqs, checks, hf_gen))
        if "gen" in llama_out:
            same = sum(a.text == b.text for a, b in zip(llama_out["gen"], hf_gen, strict=True))
            checks["gen:llamacpp"] = {**checks.get("gen:llamacpp", {}), "identical_texts_vs_hf": same, "of": len(greqs)}
    write_results(args, identities, rows, checks)


def _row(workload: str, path: str, prompts_n: int, tokens: int, wall: float, rss: int) -> dict:
    return {"workload": workload, "path": path, "prompts": prompts_n, "tokens": tokens, "wall_s": wall,
            "prompts_per_s": prompts_n / wall, "tokens_per_s": tokens / wall, "peak_rss_mb": rss / 2**20}


def bench_llamacpp(args: argparse.Namespace, workloads: set[str], score_sets: dict[str, list[ScoreRequest]],
                   greqs: list[GenerationRequest], outputs: dict[str, list], identities: dict) -> list[dict]:
    """llama.cpp rows on the same requests; `--batch-size` server slots, `--threads` llama.cpp threads."""
    from reasonrec.llm.llamacpp import LlamaCppBackend

    llama = LlamaCppBackend(n_ctx=2048, n_threads=args.threads, n_parallel=args.batch_size)
    identities["llamacpp"] = json.loads(llama.identity.key())
    rows = []
    for name, reqs in score_sets.items():
        if name not in workloads:
            continue
        tokens = sum(len(llama.encode(llama.render(r.messages, None, r.assistant_prefix))) for r in reqs)
        out, wall, rss = timed(lambda reqs=reqs: llama.score(reqs))
        errors = [o.error for o in out if o.error]
        if errors:
            raise SystemExit(f"llamacpp {name}: {len(errors)} errors, first: {errors[0]}")
        outputs[name] = out
        rows.append(_row(name, "llamacpp", len(reqs), tokens, wall, rss))
    if "gen" in workloads:
        out, wall, rss = timed(lambda: llama.generate(greqs))
        errors = [o.error for o in out if o.error]
        if errors:
            raise SystemExit(f"llamacpp gen: {len(errors)} errors, first: {errors[0]}")
        outputs["gen"] = out
        rows.append(_row("gen", "llamacpp", len(greqs), sum(o.completion_tokens for o in out), wall, rss))
    llama.close()
    return rows


def score_agreement(llama: list, hf: list) -> dict:
    """How far the Q4_1 GGUF's Yes/No probabilities are from the fp32 HF backend's on the same prompts."""
    diffs = [abs(a.probs[" Yes"] - b.probs[" Yes"]) for a, b in zip(llama, hf, strict=True)]
    return {"max_abs_p_yes_diff_vs_hf": max(diffs), "mean_abs_p_yes_diff_vs_hf": sum(diffs) / len(diffs),
            "same_best_choice": sum(a.best() == b.best() for a, b in zip(llama, hf, strict=True)), "of": len(diffs)}


def bench_generation(backend: HFBackend, greqs: list[GenerationRequest], checks: dict,
                     outputs: list | None = None) -> list[dict]:
    rows = []
    (ntexts, nprod), t_naive, rss_naive = timed(lambda: naive_generate(backend, greqs))
    outs, t_ours, rss_ours = timed(lambda: backend.generate(greqs))
    oprod = sum(o.completion_tokens for o in outs)
    if outputs is not None:
        outputs.extend(outs)
    checks["gen"] = {"identical_texts": sum(a == o.text for a, o in zip(ntexts, outs, strict=True)), "of": len(outs),
                     "mean_prompt_tokens": sum(o.prompt_tokens for o in outs) / len(outs)}
    for path, wall, rss, produced in (("naive", t_naive, rss_naive, nprod), ("reasonrec", t_ours, rss_ours, oprod)):
        rows.append({"workload": "gen", "path": path, "prompts": len(greqs), "tokens": produced, "wall_s": wall,
                     "prompts_per_s": len(greqs) / wall, "tokens_per_s": produced / wall, "peak_rss_mb": rss / 2**20})
    return rows


def write_results(args: argparse.Namespace, identities: dict, rows: list[dict], checks: dict) -> None:
    ratios, llama_ratios = {}, {}
    for w in sorted({r["workload"] for r in rows}):
        by_path = {r["path"]: r for r in rows if r["workload"] == w}
        if "naive" in by_path and "reasonrec" in by_path:
            ratios[w] = by_path["reasonrec"]["prompts_per_s"] / by_path["naive"]["prompts_per_s"]
        if "llamacpp" in by_path and "reasonrec" in by_path:
            llama_ratios[w] = by_path["llamacpp"]["prompts_per_s"] / by_path["reasonrec"]["prompts_per_s"]

    print(f"{'workload':9} {'path':10} {'prompts':>7} {'tokens':>7} {'wall s':>8} {'prompt/s':>9} {'tok/s':>8} {'peakRSS MB':>10}")
    for r in rows:
        print(f"{r['workload']:9} {r['path']:10} {r['prompts']:7d} {r['tokens']:7d} {r['wall_s']:8.1f} "
              f"{r['prompts_per_s']:9.2f} {r['tokens_per_s']:8.1f} {r['peak_rss_mb']:10.0f}")
    print("speed-up (reasonrec / naive): " + ", ".join(f"{w} {x:.2f}x" for w, x in ratios.items()))
    if llama_ratios:
        print("llamacpp / reasonrec (prompts/s): " + ", ".join(f"{w} {x:.2f}x" for w, x in llama_ratios.items()))
    print("checks: " + json.dumps(checks))
    write_json(args.out, {
        "config": vars(args), "identity": identities.get("hf"), "identities": identities,
        "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg(), "rows": rows, "speedup": ratios,
        "llamacpp_vs_reasonrec": llama_ratios, "checks": checks,
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
