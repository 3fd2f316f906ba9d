"""What the machine can do and what else ran on it: roofline peaks, the neighbours' load, a competing process.

Shared by the throughput benchmarks (`llm_throughput.py`, `sft_throughput.py`):
- `LoadMonitor` records the load average and, exactly, how many cores *other* processes kept busy during a section
  (`/proc/stat` busy time minus this process's and its children's CPU time). A ratio between two timings is only
  printed when both ran on an idle machine (`IDLE_OTHER_CORES`); otherwise the table says why not.
- `gemm_peaks` times torch matmuls at SmolLM2's Linear shapes in fp32, bf16 and dynamic int8, 1 and 2 threads;
  `copy_bandwidth` times a large tensor copy (decode is bound by reading the weights once per step).
- `competing_process` runs a synthetic CPU-heavy neighbour (a busy loop per core asked for) around a block.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Self

import torch

from reasonrec.llm.cpu import read_cpu_sample
from reasonrec.llm.kernels import quantize_int8

IDLE_OTHER_CORES = 0.15  # other processes' mean busy cores during a section for it to count as idle
SMOLLM2_SHAPES = ((576, 576), (576, 192), (576, 192), (576, 576), (576, 1536), (576, 1536), (1536, 576))


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class LoadRecord:
    loadavg_start: tuple[float, float, float]
    loadavg_end: tuple[float, float, float]
    other_busy_cores: float | None

    @property
    def idle(self) -> bool:
        return self.other_busy_cores is not None and self.other_busy_cores <= IDLE_OTHER_CORES

    def as_dict(self) -> dict:
        return {"loadavg_start": self.loadavg_start, "loadavg_end": self.loadavg_end,
                "other_busy_cores": None if self.other_busy_cores is None else round(self.other_busy_cores, 3),
                "idle": self.idle}


class LoadMonitor:
    """`with LoadMonitor() as m: ...` then `m.record`: the load average around the block and the cores other
    processes used during it (this process and its waited-for children excluded)."""

    def __enter__(self) -> Self:
        self._load = os.getloadavg()
        self._sample = read_cpu_sample()
        self._own = _own_cpu_s()
        return self

    def __exit__(self, *exc) -> None:
        end = read_cpu_sample()
        other = None
        if self._sample is not None and end is not None:
            window = end.wall - self._sample.wall
            own = _own_cpu_s() - self._own
            other = max(0.0, ((end.busy_s - self._sample.busy_s) - own) / window) if window > 0 else None
        self.record = LoadRecord(self._load, os.getloadavg(), other)


def ratio_or_reason(num: float, den: float, *records: LoadRecord) -> tuple[float | None, str]:
    """num/den when every section ran idle, else None and the reason (a ratio under load is not a result)."""
    busy = [r.other_busy_cores for r in records if not r.idle]
    if busy:
        worst = max((b for b in busy if b is not None), default=None)
        return None, (f"not idle: other processes used {worst:.2f} cores" if worst is not None
                      else "not idle: load unknown")
    return num / den, ""


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



# ------------------------------------------------------------------------------------------------ roofline


def _linear_shapes(model: torch.nn.Module) -> dict[str, tuple[int, int, bool]]:
    """name → (in, out, int8) of every Linear layer, float or dynamically quantised (whose weights are packed, so
    neither `isinstance(nn.Linear)` nor `parameters()` sees them)."""
    shapes = {}
    for name, m in model.named_modules():
        quantised = type(m).__module__.startswith("torch.ao.nn.quantized")
        if isinstance(m, torch.nn.Linear) or (quantised and hasattr(m, "in_features")):
            shapes[name] = (m.in_features, m.out_features, quantised)
    return shapes


def linear_flops_per_token(model: torch.nn.Module) -> float:
    """2 × the weights of every Linear layer except the LM head (logits are computed for the last token only)."""
    return 2.0 * sum(i * o for name, (i, o, _) in _linear_shapes(model).items() if not name.endswith("lm_head"))


def weight_bytes(model: torch.nn.Module) -> int:
    """Bytes of weights one decode step reads: the parameters plus the packed int8 weights of quantised layers."""
    return sum(p.numel() * p.element_size() for p in model.parameters()) + sum(
        i * o for i, o, int8 in _linear_shapes(model).values() if int8)


def attention_flops_per_token(model: torch.nn.Module, mean_context: float) -> float:
    """QKᵀ and AV: 2 matmuls × 2 FLOPs × context × (heads × head_dim) per layer."""
    cfg = model.config
    return 4.0 * mean_context * cfg.num_attention_heads * (cfg.hidden_size // cfg.num_attention_heads) \
        * cfg.num_hidden_layers


def _time_best(fn, reps: int) -> float:
    fn()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_peak(kind: str, threads: int, tokens: int = 512, reps: int = 5) -> float:
    """GFLOP/s of one prefill's Linear layers (SmolLM2 shapes, `tokens` rows) in fp32, bf16 or dynamic int8."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        layers = torch.nn.Sequential(*(torch.nn.Linear(i, o, bias=False) for i, o in SMOLLM2_SHAPES)).eval()
        x = torch.randn(tokens, SMOLLM2_SHAPES[0][0])
        if kind == "int8":
            xs = {576: x, 1536: torch.randn(tokens, 1536)}
            run = [lambda m=m: m(xs[m.in_features]) for m in quantize_int8(layers)]
        else:
            dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[kind]
            weights = [layer.weight.detach().t().contiguous().to(dtype) for layer in layers]
            xs = {576: x.to(dtype), 1536: torch.randn(tokens, 1536, dtype=dtype)}
            run = [lambda w=w: xs[w.shape[0]] @ w for w in weights]
        flops = sum(2.0 * tokens * i * o for i, o in SMOLLM2_SHAPES)
        with torch.inference_mode():
            seconds = _time_best(lambda: [f() for f in run], reps)
        return flops / seconds / 1e9
    finally:
        torch.set_num_threads(previous)


def gemm_peaks(thread_counts: tuple[int, ...] = (1, 2)) -> dict[str, float]:
    """{"fp32@2": GFLOP/s, ...} for every kind and thread count."""
    return {f"{kind}@{t}": round(gemm_peak(kind, t), 1) for kind in ("fp32", "bf16", "int8") for t in thread_counts}


def copy_bandwidth(threads: int, megabytes: int = 256, reps: int = 5) -> float:
    """GB/s of a large tensor copy (read + write counted), the ceiling for reading weights once per decode step."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        src = torch.ones(megabytes * 2**20 // 4)
        dst = torch.empty_like(src)
        seconds = _time_best(lambda: dst.copy_(src), reps)
        return 2 * src.numel() * 4 / seconds / 1e9
    finally:
        torch.set_num_threads(previous)


# ------------------------------------------------------------------------------------------------ neighbours


def _spin(stop: mp.Event) -> None:  # type: ignore[valid-type]
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@contextmanager
def competing_process(cores: int = 1) -> Iterator[None]:
    """`cores` busy-loop processes for the duration of the block (a CPU-heavy neighbour, reproducibly)."""
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    procs = [ctx.Process(target=_spin, args=(stop,), daemon=True) for _ in range(cores)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # let them reach full speed
    try:
        yield
    finally:
        stop.set()
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()


__all__ = [
    "IDLE_OTHER_CORES",
    "LoadMonitor",
    "LoadRecord",
    "PeakRSS",
    "attention_flops_per_token",
    "competing_process",
    "copy_bandwidth",
    "gemm_peak",
    "gemm_peaks",
    "linear_flops_per_token",
    "ratio_or_reason",
    "weight_bytes",
]
