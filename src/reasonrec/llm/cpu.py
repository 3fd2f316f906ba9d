"""What this CPU can do fast, and how many threads to give torch while other processes share it.

Two facts shape the local backends and LoRA training on CPU:
- **bf16 kernels.** On CPUs with AMX (`amx_bf16`) or AVX512-BF16, oneDNN runs bf16 matmuls several times faster
  than fp32 (measured in `bench/llm_throughput.py`); without them bf16 is emulated and slower. Capability is read
  at run time from the CPU flags and torch's own dispatch level, never assumed: CI machines may lack it.
- **Spin-waiting threads.** torch's OpenMP workers spin between parallel regions. With every core in use and a
  second CPU-heavy process running, two spinning threads on two cores collapse throughput 5-10x. A fixed
  single thread avoids that but wastes half of an idle machine. `ThreadGovernor` instead measures how much CPU
  *other* processes used since its last look (`/proc/stat` minus this process's own CPU time) and gives torch
  the cores they left free; it re-decides between batches, so a job speeds up again when the neighbour ends.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CPUINFO = Path("/proc/cpuinfo")
PROC_STAT = Path("/proc/stat")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # best first
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
# How busy other processes may keep a core before torch gives it up: a thread pool only runs as fast as its
# slowest thread, so a second thread sharing a core with a neighbour that uses most of it is a loss.
FREE_CORE_SLACK = 0.3
MIN_WINDOW_S = 0.5  # shorter /proc/stat windows are dominated by 10 ms tick rounding
FIRST_LOOK_S = 0.25  # the one wait at construction (model loading takes seconds anyway)


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """The feature flags of the first CPU in `/proc/cpuinfo` (empty where the file is absent: not Linux)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return frozenset()


def torch_cpu_capability() -> str:
    """torch's kernel dispatch level on this CPU ("AVX512", "AVX2", "DEFAULT", ...)."""
    import torch  # heavy: only callers about to run a model need it

    return str(torch.backends.cpu.get_cpu_capability())


@dataclass(frozen=True)
class CPUCapability:
    """Which fast low-precision kernels the CPU offers, from its flags and torch's dispatch level."""

    flags: frozenset[str]
    torch_capability: str

    @property
    def bf16_kernels(self) -> str | None:
        """"amx_bf16" / "avx512_bf16" when native bf16 matmuls exist; None means bf16 would be emulated."""
        if not self.torch_capability.startswith("AVX512"):
            return None  # torch itself does not dispatch AVX-512 kernels here (old build, ATEN_CPU_CAPABILITY)
        return next((f for f in BF16_FLAGS if f in self.flags), None)

    @property
    def int8_kernels(self) -> str | None:
        return next((f for f in INT8_FLAGS if f in self.flags), None)

    def as_dict(self) -> dict:
        return {"torch_capability": self.torch_capability, "bf16_kernels": self.bf16_kernels,
                "int8_kernels": self.int8_kernels, "usable_cores": usable_cores()}


def cpu_capability() -> CPUCapability:
    return CPUCapability(flags=cpu_flags(), torch_capability=torch_cpu_capability())


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. a container's cpuset), not the host's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class CPUSample:
    """Busy seconds summed over `cpus` (from /proc/stat) and this process's own CPU seconds, at `wall`
    (`time.monotonic`)."""

    wall: float
    busy_s: float
    own_s: float


def read_cpu_sample(cpus: frozenset[int] | None = None, stat: Path = PROC_STAT) -> CPUSample | None:
    """A sample over the given CPUs (default: this process's affinity); None where there is no /proc (not Linux):
    the governor then keeps its first choice."""
    try:
        cpus = cpus if cpus is not None else frozenset(os.sched_getaffinity(0))
        tick = os.sysconf("SC_CLK_TCK")
        lines = stat.read_text(encoding="ascii").splitlines()
    except (AttributeError, OSError, ValueError):
        return None
    busy = 0
    for line in lines:
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu" or int(name[3:]) not in cpus:
            continue
        ticks = [int(v) for v in fields[:8]]  # user nice system idle iowait irq softirq steal
        busy += sum(ticks) - ticks[3] - ticks[4]
    return CPUSample(wall=time.monotonic(), busy_s=busy / tick, own_s=time.process_time())


def other_busy_cores(before: CPUSample, after: CPUSample) -> float:
    """Cores kept busy by *other* processes between two samples (ours subtracted; never below 0)."""
    window = after.wall - before.wall
    if window <= 0:
        return 0.0
    others = (after.busy_s - before.busy_s) - (after.own_s - before.own_s)
    return max(0.0, others / window)


def threads_for(cores: int, other_busy: float, cap: int | None = None) -> int:
    """Threads for the cores other processes leave free: at least 1, at most `cap` (default: all cores)."""
    free = math.floor(cores - other_busy + FREE_CORE_SLACK)
    return max(1, min(cap or cores, cores, free))


class ThreadGovernor:
    """Gives torch the cores other processes leave free, re-deciding at most every `min_window_s` seconds.

    Call `adjust()` between units of work (a scoring batch, a decode chunk, a training step). The first decision
    is made at construction from a short look (`first_look_s`, while this process waits), so the first batch does
    not start with a spinning pool next to a busy neighbour. `set_threads` is injected (`torch.set_num_threads`),
    so the policy is tested without a model and this module imports no torch.
    """

    def __init__(self, set_threads: Callable[[int], None], *, cap: int | None = None,
                 min_window_s: float = MIN_WINDOW_S, first_look_s: float = FIRST_LOOK_S,
                 sample: Callable[[], CPUSample | None] = read_cpu_sample,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._set_threads = set_threads
        self._sample = sample
        self._clock = clock
        self.cores = usable_cores()
        self.cap = cap
        self.min_window_s = min_window_s
        self.decisions = 0
        first = sample()
        sleep(first_look_s)
        self._last = sample()
        other = other_busy_cores(first, self._last) if first is not None and self._last is not None else 0.0
        self.threads = threads_for(self.cores, other, cap)
        set_threads(self.threads)

    def adjust(self) -> int:
        """Re-measure the neighbours' load when the window is long enough; set and return the thread count."""
        if self._last is not None and self._clock() - self._last.wall < self.min_window_s:
            return self.threads  # cheap path: called every decode step
        now = self._sample()
        if now is None or self._last is None:
            self._last = now
            return self.threads
        threads = threads_for(self.cores, other_busy_cores(self._last, now), self.cap)
        self._last = now
        if threads != self.threads:
            self._set_threads(threads)
            self.threads = threads
        self.decisions += 1
        return threads


ThreadPolicy = Literal["adaptive", "fixed"]


def thread_governor(policy: ThreadPolicy, n_threads: int | None,
                    set_threads: Callable[[int], None]) -> ThreadGovernor | None:
    """`adaptive` → a governor capped at `n_threads`; `fixed` → set `n_threads` once (None: torch's default)."""
    if policy == "adaptive":
        return ThreadGovernor(set_threads, cap=n_threads)
    if n_threads is not None:
        set_threads(n_threads)
    return None


__all__ = [
    "CPUCapability", "CPUSample", "ThreadGovernor", "cpu_capability", "cpu_flags", "other_busy_cores",
    "read_cpu_sample", "thread_governor", "threads_for", "usable_cores",
]
