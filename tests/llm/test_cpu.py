"""CPU capability detection and the thread governor's policy (no model: the policy is plain arithmetic on samples)."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from reasonrec.llm.cpu import (
    CPUCapability,
    CPUSample,
    ThreadGovernor,
    cpu_flags,
    other_busy_cores,
    read_cpu_sample,
    thread_governor,
    threads_for,
    usable_cores,
)

AMX = frozenset({"avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni"})


def test_cpu_flags_reads_the_flags_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_flags(info) == frozenset({"fpu", "avx2", "avx512_bf16"})
    assert cpu_flags(tmp_path / "absent") == frozenset()


def test_bf16_kernels_need_the_flag_and_torch_dispatching_avx512():
    assert CPUCapability(AMX, "AVX512").bf16_kernels == "amx_bf16"
    assert CPUCapability(frozenset({"avx512_bf16"}), "AVX512").bf16_kernels == "avx512_bf16"
    assert CPUCapability(AMX, "AVX2").bf16_kernels is None  # torch would not use the AVX-512 kernels
    assert CPUCapability(frozenset({"avx2", "fma"}), "AVX2").bf16_kernels is None
    assert CPUCapability(AMX, "AVX512").int8_kernels == "amx_int8"


def test_this_machines_capability_is_detected_not_assumed():
    from reasonrec.llm.cpu import cpu_capability

    cap = cpu_capability()
    flags = cpu_flags()
    expected = next((f for f in ("amx_bf16", "avx512_bf16") if f in flags), None)
    assert cap.bf16_kernels == (expected if cap.torch_capability.startswith("AVX512") else None)
    assert 1 <= usable_cores() == len(os.sched_getaffinity(0))


def test_other_busy_cores_subtracts_this_process():
    before = CPUSample(wall=10.0, busy_s=100.0, own_s=5.0)
    after = CPUSample(wall=12.0, busy_s=103.0, own_s=7.0)  # 3 busy core-seconds, 2 of them ours
    assert other_busy_cores(before, after) == 0.5
    assert other_busy_cores(after, after) == 0.0
    assert other_busy_cores(before, CPUSample(12.0, 101.0, 7.5)) == 0.0  # never negative (tick rounding)


@given(cores=st.integers(1, 64), other=st.floats(0, 128), cap=st.none() | st.integers(1, 64))
def test_threads_for_stays_within_one_and_the_cap(cores, other, cap):
    n = threads_for(cores, other, cap)
    assert 1 <= n <= min(cap or cores, cores)
    if other == 0:
        assert n == min(cap or cores, cores)


def test_threads_for_gives_up_a_core_to_a_busy_neighbour():
    assert threads_for(2, 0.1) == 2
    assert threads_for(2, 0.9) == 1  # one spinning neighbour: a second thread would spin-wait on it
    assert threads_for(2, 3.0) == 1
    assert threads_for(16, 4.0) == 12


class _FakeProc:
    """A scripted /proc/stat + clock: `other` busy cores for each window."""

    def __init__(self) -> None:
        self.wall, self.busy, self.own = 0.0, 0.0, 0.0

    def advance(self, seconds: float, other_cores: float, own_cores: float = 1.0) -> None:
        self.wall += seconds
        self.busy += seconds * (other_cores + own_cores)
        self.own += seconds * own_cores

    def sample(self) -> CPUSample:
        return CPUSample(self.wall, self.busy, self.own)


def _governor(proc: _FakeProc, applied: list, first_other: float, **kwargs) -> ThreadGovernor:
    return ThreadGovernor(applied.append, sample=proc.sample, clock=lambda: proc.wall,
                          sleep=lambda s: proc.advance(s, other_cores=first_other, own_cores=0.0), **kwargs)


def test_governor_decides_before_the_first_batch(monkeypatch):
    monkeypatch.setattr("reasonrec.llm.cpu.usable_cores", lambda: 2)
    applied: list[int] = []
    gov = _governor(_FakeProc(), applied, first_other=1.0)  # a neighbour is already spinning
    assert applied == [1] and gov.threads == 1


def test_governor_follows_the_neighbours_load(monkeypatch):
    monkeypatch.setattr("reasonrec.llm.cpu.usable_cores", lambda: 2)
    proc, applied = _FakeProc(), []
    gov = _governor(proc, applied, first_other=0.0)
    assert applied == [2] and gov.threads == 2
    proc.advance(0.1, other_cores=1.0)
    assert gov.adjust() == 2 and applied == [2]  # window too short: no decision, no /proc read
    proc.advance(1.0, other_cores=1.0)
    assert gov.adjust() == 1 and applied == [2, 1]
    proc.advance(1.0, other_cores=1.0)
    assert gov.adjust() == 1 and applied == [2, 1]  # unchanged: torch is not called again
    proc.advance(2.0, other_cores=0.0)
    assert gov.adjust() == 2 and applied == [2, 1, 2]  # the neighbour ended: both cores again


def test_governor_respects_the_cap_and_fixed_policy_sets_once(monkeypatch):
    monkeypatch.setattr("reasonrec.llm.cpu.usable_cores", lambda: 8)
    proc, applied = _FakeProc(), []
    gov = _governor(proc, applied, first_other=0.0, cap=3)
    assert gov.threads == 3 and applied == [3]
    real = thread_governor("adaptive", 1, applied.append)  # the real /proc look: capped at 1 whatever the load
    assert real is not None and real.threads == 1 and applied == [3, 1]
    fixed: list[int] = []
    assert thread_governor("fixed", 2, fixed.append) is None and fixed == [2]
    assert thread_governor("fixed", None, fixed.append) is None and fixed == [2]  # None: torch's default


def test_read_cpu_sample_on_this_machine():
    first = read_cpu_sample()
    assert first is not None and first.busy_s > 0 and first.own_s > 0
    sum(i * i for i in range(200_000))
    second = read_cpu_sample()
    assert second.own_s > first.own_s and second.busy_s >= first.busy_s and second.wall > first.wall


def test_no_proc_stat_means_no_sample_and_a_governor_that_keeps_its_choice(tmp_path, monkeypatch):
    assert read_cpu_sample(stat=tmp_path / "absent") is None
    monkeypatch.setattr("reasonrec.llm.cpu.usable_cores", lambda: 2)
    applied: list[int] = []
    gov = ThreadGovernor(applied.append, sample=lambda: None, sleep=lambda s: None)
    assert gov.adjust() == 2 and applied == [2]
