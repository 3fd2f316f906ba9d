"""The prompts and the reference ("naive") paths of the LLM throughput benchmark, and its llama.cpp rows.

Prompts are built from the ReasoningRec Beauty release files: instruction + user profile + 5 history items with
descriptions and like/dislike + target item (~800 tokens). Naive = what a first script does: `model(input_ids)` per
prompt (all-position logits), `model.generate` per prompt, batch 1.
"""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import polars as pl
import torch

from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.hf import HFBackend
from reasonrec.llm.kv_cache import decode_groups

INSTRUCTION = (
    "You are an expert beauty product recommender. You are given a user's profile, the user's five most "
    "recent purchases with a short description of each product and whether the user liked or disliked it, and "
    "a target product with its description. Think about which properties of the purchased products the user "
    "valued (ingredients, scent, brand, price, texture, effect on skin or hair) and which ones made the user "
    "dislike a product. Then decide whether the user will like the target product. A user likes a product when "
    "they would rate it above 3 out of 5. Answer with 'Prediction: Yes' or 'Prediction: No' and then explain "
    "your reasoning in a numbered list of short points that refer to the user's history and profile."
)


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


def decode_steps(outs: list, batch_size: int, max_new_tokens: list[int] | None = None) -> int:
    """Forward passes a batched decoder ran: per length-sorted batch, its longest completion. Given each request's
    `max_new_tokens`, the batches are the hf backend's decode groups (`kv_cache.decode_groups`, up to `batch_size`
    rows) instead of fixed chunks."""
    order = sorted(range(len(outs)), key=lambda i: outs[i].prompt_tokens)
    if max_new_tokens is None:
        chunks = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    else:
        sizes = [(outs[i].prompt_tokens, max_new_tokens[i]) for i in order]
        chunks = [[order[g] for g in group] for group in decode_groups(sizes, batch_size)]
    return sum(max(outs[i].completion_tokens for i in chunk) for chunk in chunks)


def score_requests(texts: list[str]) -> list[ScoreRequest]:
    return [ScoreRequest(choices=(" Yes", " No"), messages=(Message("user", t),), assistant_prefix="Prediction:")
            for t in texts]


def gen_requests(data: dict, one: list[str], args: argparse.Namespace) -> list[GenerationRequest]:
    if args.gen_prompts == "items":
        texts = [f"Write a detailed description of this beauty product for a shop page: {_item_text(it, 40)}"
                 for it in list(data["items"].values())[: args.gen]]
    else:
        texts = one[: args.gen]
    return [GenerationRequest(messages=(Message("user", t),), params=SamplingParams(max_new_tokens=args.max_new_tokens))
            for t in texts]


def bench_llamacpp(args: argparse.Namespace, score_sets: dict[str, list[ScoreRequest]],
                   greqs: list[GenerationRequest], identities: dict, timed, row, outputs: dict) -> list[dict]:
    """llama.cpp rows on the same requests: `--batch-size` server slots, `--threads` llama.cpp threads; its
    outputs go to `outputs[workload]` for the agreement checks against the hf backend. Generation rows carry the
    decode steps and the GGUF's size (the weight bytes one step reads) for the bandwidth roofline."""
    from reasonrec.llm.llamacpp import LlamaCppBackend

    llama = LlamaCppBackend(n_ctx=2048, n_threads=args.threads, n_parallel=args.batch_size, n_batch=args.llama_batch,
                            poll=args.llama_poll)
    identities["llamacpp"] = json.loads(llama.identity.key())
    rows = []
    for name, reqs in score_sets.items():
        tokens = sum(len(llama.encode(llama.render(r.messages, None, r.assistant_prefix))) for r in reqs)
        out, wall, rss, load = timed(lambda reqs=reqs: llama.score(reqs))
        errors = [o.error for o in out if o.error]
        if errors:
            raise SystemExit(f"llamacpp {name}: {len(errors)} errors, first: {errors[0]}")
        outputs[name] = out
        rows.append(row(name, "llamacpp", len(reqs), tokens, wall, rss, load, kernel="q4_1",
                        n_batch=args.llama_batch, poll=args.llama_poll))
    if greqs:
        out, wall, rss, load = timed(lambda: llama.generate(greqs))
        errors = [o.error for o in out if o.error]
        if errors:
            raise SystemExit(f"llamacpp gen: {len(errors)} errors, first: {errors[0]}")
        outputs["gen"] = out
        rows.append(row("gen", "llamacpp", len(greqs), sum(o.completion_tokens for o in out), wall, rss, load,
                        kernel="q4_1", n_batch=args.llama_batch, poll=args.llama_poll,
                        steps=decode_steps(out, args.batch_size), weight_bytes=llama.gguf_path.stat().st_size))
    llama.close()
    return rows


def score_agreement(llama: list, hf: list) -> dict:
    """How far the Q4_1 GGUF's Yes/No probabilities are from the HF backend's on the same prompts."""
    diffs = [abs(a.probs[" Yes"] - b.probs[" Yes"]) for a, b in zip(llama, hf, strict=True)]
    return {"max_abs_p_yes_diff_vs_hf": max(diffs), "mean_abs_p_yes_diff_vs_hf": sum(diffs) / len(diffs),
            "same_best_choice": sum(a.best() == b.best() for a, b in zip(llama, hf, strict=True)), "of": len(diffs)}
