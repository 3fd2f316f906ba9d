"""The own-data path as a practitioner walks it, with commands only: ratings.csv + items.csv → `data prepare` →
`baselines run bpr` → `reasoningrec reason` (the embedded model as a tiny teacher) → `train lora` (a tiny
ReasoningRec student on that reasoning) → `bundle` → `serve` → recommendations with
explanations over HTTP and from `reasonrec recommend`. Every step is the real `reasonrec` executable in a
subprocess (the server on 127.0.0.1, the real embedded model); the README's "Your own data" section is the same
commands. Used by `tests/test_own_data_cli.py` (slow) and `bench/own_data_e2e.py` (timings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from own_data import column_map_setting, write_shop

SERVE_DIR = Path(__file__).resolve().parent / "serve"
if str(SERVE_DIR) not in sys.path:
    sys.path.insert(0, str(SERVE_DIR))
from serve_helpers import command_server

KEY_ENV, KEY = "REASONREC_E2E_KEY", "e2e-key-not-secret"
STEP_TIMEOUT_S = 2400  # one step (2 LoRA steps took >15 min at load 17 on 2 cores)
USER = "user00"


def reasonrec() -> list[str]:
    """The installed `reasonrec` executable of this interpreter's environment (it imports from PYTHONPATH)."""
    exe = Path(sys.executable).with_name("reasonrec")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "import sys; from reasonrec.cli import app; sys.argv[0] = 'reasonrec'; app()"]


def cli_env() -> dict[str, str]:
    src = str(Path(__file__).resolve().parents[1] / "src")
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": src + (os.pathsep + path if path else ""), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "COLUMNS": "200", KEY_ENV: KEY}


def commands(work: Path, files: dict[str, Path]) -> dict[str, list[str]]:
    """The steps before the service, as typed (paths relative to `work`)."""
    ratings, items = (files[k].relative_to(work) for k in ("ratings", "items"))
    return {
        "prepare": ["data", "prepare", str(ratings), "--out", "shop", "--set", column_map_setting(),
                    "--set", f"load.items_path={items}"],
        "baselines": ["baselines", "run", "bpr", "--split-dir", "shop", "--out", "shop_bpr", "--set", "max_iter=60",
                      "--set", "min_rating=4"],
        "teacher": ["reasoningrec", "reason", "--dataset", "shop", "--targets", "prepared_train", "--out",
                    "shop_teacher", "--limit", "6", "--set", "max_new_tokens=48",
                    "--set", "llm.cache_path=llm_cache.sqlite"],
        "student": ["train", "lora", "--dataset", "shop", "--out", "shop_student",
                    "--set", "train_split=prepared_train", "--set", "valid_split=null",
                    "--set", "teacher_reasoning=shop_teacher/teacher_reasoning.parquet", "--set", "sft.k=all",
                    "--set", "sft.include_profile=false", "--set", "sft.include_descriptions=false",
                    "--set", "lora.max_steps=2", "--set", "lora.max_seq_length=768", "--set", "sft.max_seq_length=768"],
        "bundle": ["bundle", "shop_student", "--cf", "shop_bpr", "--out", "shop_bundle",
                   "--set", "explanation_tokens=32", "--set", "llm.cache_path=llm_cache.sqlite"],
        "recommend": ["recommend", "shop_bundle", "--user", USER, "--set", "n=3", "--set", "explain=true",
                      "--set", "explain_top=2", "--set", "n_candidates=6", "--out", "recs"],
    }


SERVE_ARGS = ["--set", "port={port}", "--set", f"api_key_env={KEY_ENV}", "--set", "threads=1",
              "--set", "n_candidates=6", "--set", "explain_top=2", "--set", "llm_cache=llm_cache.sqlite"]


@dataclass
class ChainResult:
    work: Path
    seconds: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    stdout: dict[str, str] = field(default_factory=dict)
    served: dict[str, Any] = field(default_factory=dict)
    explained: dict[str, Any] = field(default_factory=dict)


def _run(step: str, argv: list[str], work: Path, result: ChainResult) -> None:
    started = time.perf_counter()
    done = subprocess.run([*reasonrec(), *argv], cwd=work, env=cli_env(), capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S, check=False)
    result.seconds[step] = round(time.perf_counter() - started, 2)
    result.outputs[step] = done.stdout + done.stderr
    result.stdout[step] = done.stdout
    if done.returncode != 0:
        raise AssertionError(f"`reasonrec {' '.join(argv)}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}")


def run_chain(work: Path, on_step: Callable[[str, float], None] | None = None) -> ChainResult:
    """Write the CSVs, run every step in `work`, query the running service, then `recommend`; raises
    AssertionError naming the first step that failed. `on_step(step, seconds)` after each step."""
    files = write_shop(work / "csv")
    result = ChainResult(work)
    steps = commands(work, files)
    for step in ("prepare", "baselines", "teacher", "student", "bundle"):
        _run(step, steps[step], work, result)
        if on_step:
            on_step(step, result.seconds[step])
    started = time.perf_counter()
    with command_server([*reasonrec(), "serve", "shop_bundle", *SERVE_ARGS], cli_env(), work / "serve.log",
                        STEP_TIMEOUT_S, health="/health/ready", cwd=work) as (root, _):
        headers = {"X-API-Key": KEY}
        result.served = httpx.get(f"{root}/api/recommend/{USER}", params={"n": 3, "explain": "true"},
                                  headers=headers, timeout=STEP_TIMEOUT_S).json()
        first = result.served["items"][0]["item_id"]
        result.explained = httpx.post(f"{root}/api/explain", json={"user_id": USER, "item_id": first},
                                      headers=headers, timeout=STEP_TIMEOUT_S).json()
    result.seconds["serve"] = round(time.perf_counter() - started, 2)
    if on_step:
        on_step("serve", result.seconds["serve"])
    _run("recommend", steps["recommend"], work, result)
    if on_step:
        on_step("recommend", result.seconds["recommend"])
    return result


def read_recommendations(work: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (work / "recs" / "recommendations.jsonl").read_text().splitlines()]


__all__ = ["ChainResult", "commands", "read_recommendations", "run_chain"]
