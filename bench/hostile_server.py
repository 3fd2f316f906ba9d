"""Hostile and load targets of `reasonrec llm serve` (issue 10), against a real server on 127.0.0.1.

    HF_HUB_OFFLINE=1 PYTHONPATH=src .venv/bin/python bench/hostile_server.py [--requests-per-client 3]

1. Probes: every case of `tests/serve/server_probes.py` (≥ 60 hostile/careless requests) → 0 unexpected
   statuses, 0 bodies with internals (tracebacks, paths, exception names), 0 tracebacks in the server log.
2. Fairness: 16 concurrent short clients (chat, 16 tokens, R requests each) alone, then again while 2 clients
   stream the maximum tokens the server allows, then alone again (drift check). Target: short p95 with the long
   clients ≤ 3 × short p95 without them (measured just before).
3. Disconnect: the long streams are closed, and a long non-streamed request's client times out; the seconds
   until the server runs no generation any more (its /metrics) must be ≤ 2.

The machine is shared (other sessions run on the same 2 cores): every phase records the load average.
Prints a table and writes bench/results/hostile_server.json. `run()` returns the same dict for bench/hostile.py.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from reasonrec.io import write_json

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "serve"))
from serve_helpers import llm_serve_process
from server_probes import MAX_TOKENS, SERVER_LIMIT_ARGS, problems, send, server_probes

KEY_ENV, KEY = "REASONREC_BENCH_SERVER_KEY", "bench-key-not-secret"
RESULTS = ROOT / "bench" / "results" / "hostile_server.json"
P95_RATIO_TARGET = 3.0
STOP_TARGET_S = 2.0
LONG_PROMPTS = ("1, 2, 3, 4, 5, 6,", "10, 20, 30, 40, 50,")  # greedy SmolLM2 keeps counting until max_tokens


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


@contextmanager
def started_server(log_path: Path) -> Iterator[dict[str, str]]:
    """`reasonrec llm serve` with the probe table's limits, one torch thread, a time budget longer than the
    fairness phase, on a free loopback port."""
    args = [
        "--api-key-env",
        KEY_ENV,
        *SERVER_LIMIT_ARGS,
        "--request-timeout",
        "900",
        "--threads",
        "1",
        "--log-level",
        "info",
    ]
    with llm_serve_process(args, {KEY_ENV: KEY, "HF_HUB_OFFLINE": "1"}, log_path) as (root, model):
        yield {"root": root, "model": model, "log": str(log_path)}


def metric(root: str, name: str) -> float:
    text = httpx.get(root + "/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))


# ----------------------------------------------------------------------------------------------- probes


def run_probes(server: dict[str, str]) -> dict[str, Any]:
    probes = server_probes(server["model"])
    failures: dict[str, list[str]] = {}
    statuses: dict[int, int] = {}
    with httpx.Client(timeout=60) as client:
        for probe in probes:
            response = send(client, server["root"], KEY, probe)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            found = problems(probe, response)
            if found:
                failures[probe.name] = found
    log = Path(server["log"]).read_text()
    return {
        "probes": len(probes),
        "passed": len(probes) - len(failures),
        "unexpected_status": sum(any(f.startswith("status") for f in v) for v in failures.values()),
        "leaked_internals": sum(any(f.startswith("internals") for f in v) for v in failures.values()),
        "server_errors_5xx": sum(n for status, n in statuses.items() if status >= 500),
        "tracebacks_in_server_log": log.count("Traceback"),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "failures": failures,
    }


# ----------------------------------------------------------------------------------------------- fairness


def short_clients(server: dict[str, str], clients: int, requests: int, max_tokens: int) -> dict[str, Any]:
    """`clients` threads, each sending `requests` short chat requests one after another; latencies in s."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()

    def client(c: int) -> None:
        with httpx.Client(timeout=300, headers={"Authorization": f"Bearer {KEY}"}) as http:
            for r in range(requests):
                body = {
                    "model": server["model"],
                    "max_tokens": max_tokens,
                    "temperature": 0,
                    "messages": [{"role": "user", "content": f"Say one word about topic {c}-{r}."}],
                }
                start = time.monotonic()
                status = http.post(server["root"] + "/v1/chat/completions", json=body).status_code
                with lock:
                    latencies.append(time.monotonic() - start)
                    if status != 200:
                        errors.append(status)

    load_before = load_average()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "p50_s": round(statistics.median(ordered), 3),
        "p95_s": round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 3),
        "max_s": round(ordered[-1], 3),
        "load_average_before": load_before,
        "load_average_after": load_average(),
    }


class LongStream(threading.Thread):
    """A client streaming the server's maximum tokens over a raw socket until told to leave; then it closes the
    socket within 0.2 s (whether or not a chunk is arriving) and records when."""

    def __init__(self, server: dict[str, str], prompt: str) -> None:
        super().__init__(daemon=True)
        self.server, self.prompt = server, prompt
        self.first_chunk, self.leave = threading.Event(), threading.Event()
        self.chunks, self.finished, self.closed_at = 0, False, None

    def _request(self) -> bytes:
        body = json.dumps(
            {
                "model": self.server["model"],
                "prompt": self.prompt,
                "max_tokens": MAX_TOKENS,
                "temperature": 0,
                "stream": True,
            }
        ).encode()
        head = (
            f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body

    def run(self) -> None:
        url = httpx.URL(self.server["root"])
        with socket.create_connection((url.host, url.port), timeout=30) as sock:
            sock.sendall(self._request())
            sock.settimeout(0.2)
            tail = b""
            while not self.leave.is_set():
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                window = tail + data
                self.chunks += window.count(b"data: {") - tail.count(b"data: {")
                self.finished = self.finished or b"data: [DONE]" in window
                tail = window[-16:]
                if self.chunks:
                    self.first_chunk.set()
        self.closed_at = time.monotonic()


def seconds_until_idle(root: str, since: float, timeout_s: float = 60) -> float:
    while metric(root, "reasonrec_running_jobs") > 0:
        if time.monotonic() - since > timeout_s:
            return float("inf")
        time.sleep(0.05)
    return round(time.monotonic() - since, 3)


def run_fairness(
    server: dict[str, str], clients: int, requests: int, max_tokens: int, long_clients: int
) -> dict[str, Any]:
    alone = short_clients(server, clients, requests, max_tokens)
    longs = [LongStream(server, LONG_PROMPTS[i % len(LONG_PROMPTS)]) for i in range(long_clients)]
    for stream in longs:
        stream.start()
    for stream in longs:
        stream.first_chunk.wait(120)
    running_at_start = metric(server["root"], "reasonrec_running_jobs")
    chunks_before = [s.chunks for s in longs]
    with_long = short_clients(server, clients, requests, max_tokens)
    long_tokens = [s.chunks - before for s, before in zip(longs, chunks_before, strict=True)]
    still_running = (
        all(not s.finished for s in longs) and metric(server["root"], "reasonrec_running_jobs") > 0
    )
    tokens_at_close = metric(server["root"], "reasonrec_tokens_generated_total")
    for stream in longs:
        stream.leave.set()
    for stream in longs:
        stream.join(60)
    closed = max(s.closed_at or time.monotonic() for s in longs)
    stop_s = seconds_until_idle(server["root"], closed)
    tokens_after = metric(server["root"], "reasonrec_tokens_generated_total") - tokens_at_close
    again = short_clients(server, clients, requests, max_tokens)
    ratio = round(with_long["p95_s"] / alone["p95_s"], 2)
    return {
        "short_clients": clients,
        "requests_per_client": requests,
        "short_max_tokens": max_tokens,
        "long_clients": long_clients,
        "long_max_tokens": MAX_TOKENS,
        "alone": alone,
        "with_long": with_long,
        "alone_after": again,
        "p95_ratio": ratio,
        "p95_ratio_target": P95_RATIO_TARGET,
        "long_jobs_running_when_short_phase_began": running_at_start,
        "long_still_generating_after_short_phase": still_running,
        "long_tokens_during_short_phase": long_tokens,
        "stream_disconnect_stop_s": stop_s,
        "tokens_generated_after_disconnect": tokens_after,
    }


def run_nonstream_disconnect(server: dict[str, str]) -> dict[str, Any]:
    body = {"model": server["model"], "prompt": LONG_PROMPTS[0], "max_tokens": MAX_TOKENS, "temperature": 0}
    try:
        httpx.post(
            server["root"] + "/v1/completions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=httpx.Timeout(60, read=3.0),
        )
    except httpx.ReadTimeout:
        pass
    closed = time.monotonic()
    return {
        "nonstream_disconnect_stop_s": seconds_until_idle(server["root"], closed),
        "load_average": load_average(),
    }


# ----------------------------------------------------------------------------------------------- report


def run(
    requests_per_client: int = 3,
    short_clients_n: int = 16,
    long_clients: int = 2,
    short_max_tokens: int = 16,
    log_path: Path | None = None,
) -> dict[str, Any]:
    """All three sections against one fresh server; the dict written to bench/results/hostile_server.json."""
    started = time.time()
    result: dict[str, Any] = {"load_average_start": load_average()}
    with started_server(log_path or ROOT / "runs" / "bench_hostile_server" / "server.log") as server:
        result["probes"] = run_probes(server)
        result["fairness"] = run_fairness(
            server, short_clients_n, requests_per_client, short_max_tokens, long_clients
        )
        result["disconnect"] = run_nonstream_disconnect(server)
    fair, probes = result["fairness"], result["probes"]
    stops = [fair["stream_disconnect_stop_s"], result["disconnect"]["nonstream_disconnect_stop_s"]]
    result["targets"] = {
        "probes_at_least_60": probes["probes"] >= 60,
        "probes_0_unexpected_0_leaks_0_tracebacks": probes["passed"] == probes["probes"]
        and probes["tracebacks_in_server_log"] == 0,
        "short_p95_within_3x": fair["p95_ratio"] <= P95_RATIO_TARGET
        and fair["with_long"]["errors"] == 0
        and fair["long_jobs_running_when_short_phase_began"] >= long_clients
        and fair["long_still_generating_after_short_phase"],
        "disconnect_stops_within_2s": max(stops) <= STOP_TARGET_S,
    }
    result.update(
        load_average_end=load_average(),
        wall_s=round(time.time() - started, 1),
        note="shared 2-core machine: timings include other sessions' load (see load averages)",
    )
    return result


def table(result: dict[str, Any]) -> str:
    p, f, d = result["probes"], result["fairness"], result["disconnect"]
    rows = [
        ("server probes", f"{p['probes']} probes, {p['passed']} as expected", "≥ 60, all"),
        (
            "leaked internals / tracebacks",
            f"{p['leaked_internals']} / {p['tracebacks_in_server_log']}",
            "0 / 0",
        ),
        ("5xx answers to probes", str(p["server_errors_5xx"]), "0"),
        ("short p95 alone", f"{f['alone']['p95_s']} s (load {f['alone']['load_average_before'][0]})", ""),
        (
            "short p95 with 2 max-token clients",
            f"{f['with_long']['p95_s']} s (load {f['with_long']['load_average_before'][0]})",
            "",
        ),
        ("short p95 alone, afterwards", f"{f['alone_after']['p95_s']} s", ""),
        ("p95 ratio", f"{f['p95_ratio']}×", f"≤ {P95_RATIO_TARGET}×"),
        ("short errors with long clients", str(f["with_long"]["errors"]), "0"),
        ("tokens each long client got meanwhile", str(f["long_tokens_during_short_phase"]), "> 0"),
        (
            "long jobs running at start / still at end",
            f"{f['long_jobs_running_when_short_phase_began']:g} / {f['long_still_generating_after_short_phase']}",
            f"{f['long_clients']} / True",
        ),
        ("stream disconnect → stopped", f"{f['stream_disconnect_stop_s']} s", f"≤ {STOP_TARGET_S} s"),
        ("non-stream disconnect → stopped", f"{d['nonstream_disconnect_stop_s']} s", f"≤ {STOP_TARGET_S} s"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'target'.ljust(width)}  {'measured':42}  goal", "-" * (width + 56)]
    lines += [f"{name.ljust(width)}  {got:42}  {goal}" for name, got, goal in rows]
    lines.append(f"targets met: {result['targets']}")
    lines.append(f"load average start/end: {result['load_average_start']} / {result['load_average_end']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests-per-client", type=int, default=3)
    ap.add_argument("--short-clients", type=int, default=16)
    ap.add_argument("--long-clients", type=int, default=2)
    ap.add_argument("--short-max-tokens", type=int, default=16)
    args = ap.parse_args()
    result = run(args.requests_per_client, args.short_clients, args.long_clients, args.short_max_tokens)
    print(table(result))
    write_json(RESULTS, result)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
