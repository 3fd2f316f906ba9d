"""The same stage calls through the OpenAI-compatible server (`openai` backend) and the in-process `hf` backend.

    REASONREC_DATA_DIR=/work/shared/data HF_HUB_OFFLINE=1 .venv/bin/python bench/stages_backends.py \
        --slice runs/stages_slice --out runs/stages_backends

Starts `python -m reasonrec.cli.llm_serve --port <free> --threads 1` on 127.0.0.1, then runs
  describe (greedy) on --items items, ReasoningRec zero-shot (vanilla, P(Yes) scoring) on --users users,
  Rec-SAVER verify (digit scoring) on --explanations explanations taken from the slice run,
through build_llm(LLMConfig(backend="openai", base_url=..., model=<served name>)) and through the hf backend, and
reports: greedy texts equal?, max |ΔP| of the scores, and the cache semantics — a second openai run is 100 % cache
hits with identical tables (same keys → same results), and the openai and hf identities (hence keys) differ.
The server is stopped at the end (also on failure). Writes <out>/summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import polars as pl

from reasonrec.data.loaders import load_dataset
from reasonrec.io import write_json
from reasonrec.llm.base import LLM, ScoreRequest, request_key
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.runner import RunSummary
from reasonrec.stages.reasoningrec.describe import DescribeConfig, describe_items, reviews_by_item
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict
from reasonrec.stages.recsaver.verify import VerifyConfig, self_verify

DATASET = "reasoningrec-beauty"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "reasonrec.cli.llm_serve", "--host", "127.0.0.1", "--port", str(port),
           "--threads", "1"]
    return subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)


def wait_ready(base: str, proc: subprocess.Popen, timeout_s: float = 300.0) -> str:
    """Poll /v1/models until the server answers; returns the served model id."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode} before it was ready")
        try:
            data = httpx.get(f"{base}/models", timeout=5).json()
            return str(data["data"][0]["id"])
        except (httpx.HTTPError, KeyError, IndexError, ValueError):
            time.sleep(2)
    raise RuntimeError(f"server at {base} not ready after {timeout_s:.0f} s")


def run_subset(llm: LLM, data: dict[str, Any]) -> tuple[dict[str, pl.DataFrame], list[RunSummary], float]:
    started = time.time()
    s: list[RunSummary] = []
    ds = data["ds"]
    out = {
        "describe": describe_items(ds.items, ds.interactions, llm, data["dcfg"], item_ids=data["item_ids"],
                                   summaries=s),
        "zeroshot": zeroshot_predict(data["targets"], ds.items, data["descriptions"], None, llm, data["zcfg"],
                                     summaries=s),
        "verify": self_verify(data["explanations"], data["train"], ds.items, ds.interactions, llm, data["vcfg"],
                              summaries=s).table,
    }
    return out, s, time.time() - started


def _probs(cell: str | None) -> dict[str, float]:
    return json.loads(cell) if cell else {}


def compare(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> dict[str, Any]:
    da, db = a["describe"]["text"].to_list(), b["describe"]["text"].to_list()
    za, zb = a["zeroshot"]["score"].to_list(), b["zeroshot"]["score"].to_list()
    va = [_probs(p) for p in a["verify"]["re_probs"].to_list()]
    vb = [_probs(p) for p in b["verify"]["re_probs"].to_list()]
    verify_diff = max((abs(x[k] - y[k]) for x, y in zip(va, vb, strict=True) for k in x), default=None)
    return {
        "describe_greedy_texts_equal": sum(x == y for x, y in zip(da, db, strict=True)),
        "describe_items": len(da),
        "zeroshot_p_yes_max_abs_diff": max(abs(x - y) for x, y in zip(za, zb, strict=True)),
        "verify_digit_probs_max_abs_diff": verify_diff,
        "verify_re_rating_equal": a["verify"]["re_rating"].to_list() == b["verify"]["re_rating"].to_list(),
    }


def same_tables(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> bool:
    return all(a[k].drop("cached", strict=False).equals(b[k].drop("cached", strict=False)) for k in a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--slice", type=Path, default=Path("runs/stages_slice"), help="a stages_slice.py run dir")
    ap.add_argument("--out", type=Path, default=Path("runs/stages_backends"))
    ap.add_argument("--items", type=int, default=4)
    ap.add_argument("--users", type=int, default=4)
    ap.add_argument("--explanations", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("openai_cache.sqlite*"):
        old.unlink()  # a fresh cache: run 1 computes, run 2 must hit

    ds = load_dataset(DATASET)
    slice_summary = json.loads((args.slice / "summary.json").read_text())
    users = slice_summary["slice"]["users"][: args.users]
    test = ds.splits["release_windows_test"]
    train = ds.splits["release_windows_train"]
    explanations = pl.read_parquet(args.slice / "recsaver_explain" / "recsaver_explain.parquet").head(
        args.explanations)
    reviewed = reviews_by_item(ds.interactions)
    item_ids = [i for i in pl.read_parquet(args.slice / "rr_describe" / "rr_describe.parquet")["item_id"]
                if i in reviewed][: args.items]
    data = {
        "ds": ds, "item_ids": item_ids, "train": train, "explanations": explanations,
        "targets": test.filter(pl.col("user_id").is_in(users)),
        "descriptions": ds.artefacts["item_descriptions"],
        "dcfg": DescribeConfig(max_new_tokens=args.max_new_tokens, show_progress=False),
        "zcfg": ZeroShotConfig(variant="vanilla", dataset=DATASET, show_progress=False),
        "vcfg": VerifyConfig(show_progress=False),
    }

    port = free_port()
    base = f"http://127.0.0.1:{port}/v1"
    proc = start_server(port, args.out / "server.log")
    report: dict[str, Any] = {"sizes": {"describe_items": len(item_ids), "zeroshot_users": len(users),
                                        "verify_explanations": explanations.height,
                                        "max_new_tokens": args.max_new_tokens}}
    try:
        t0 = time.time()
        served = wait_ready(base, proc)
        report["server"] = {"base_url": base, "model": served, "ready_s": round(time.time() - t0, 1)}
        print(f"server ready: {served} at {base} ({report['server']['ready_s']} s)", flush=True)
        ocfg = LLMConfig(backend="openai", base_url=base, model=served, concurrency=4,
                         cache_path=str(args.out / "openai_cache.sqlite"))
        openai1 = build_llm(ocfg)
        o1, s1, w1 = run_subset(openai1, data)
        openai2 = build_llm(ocfg)  # a new client + cache handle: nothing shared in memory with run 1
        o2, s2, w2 = run_subset(openai2, data)
        hf = build_llm(LLMConfig(backend="hf", model="embedded", cache=False, n_threads=1))
        h, sh, wh = run_subset(hf, data)

        def totals(s: list[RunSummary], wall: float) -> dict[str, Any]:
            return {"calls": sum(x.prompts for x in s), "cache_hits": sum(x.cache_hits for x in s),
                    "failures": sum(x.failures for x in s), "wall_s": round(wall, 1)}

        probe = ScoreRequest(choices=(" Yes", " No"), prompt="probe")
        report["runs"] = {"openai_1": totals(s1, w1), "openai_2": totals(s2, w2), "hf": totals(sh, wh)}
        report["openai_vs_hf"] = compare(o1, h)
        report["cache"] = {
            "openai_run2_all_hits": report["runs"]["openai_2"]["cache_hits"] == report["runs"]["openai_2"]["calls"],
            "openai_run2_tables_identical": same_tables(o1, o2),
            "openai_identity": json.loads(openai1.identity.key()),
            "hf_identity": json.loads(hf.identity.key()),
            "identities_differ": openai1.identity.key() != hf.identity.key(),
            "probe_keys_differ": request_key(openai1.identity, "score", probe.payload())
            != request_key(hf.identity, "score", probe.payload()),
        }
        for name in ("describe", "zeroshot", "verify"):
            o1[name].write_parquet(args.out / f"openai_{name}.parquet")
            h[name].write_parquet(args.out / f"hf_{name}.parquet")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        report["server_stopped"] = {"returncode": proc.returncode}
    write_json(args.out / "summary.json", report)
    print(json.dumps(report, indent=2, default=str))
    assert report["cache"]["openai_run2_all_hits"] and report["cache"]["openai_run2_tables_identical"]
    assert report["cache"]["identities_differ"] and report["cache"]["probe_keys_differ"]


if __name__ == "__main__":
    main()
