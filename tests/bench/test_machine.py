"""The benchmarks' own arithmetic: idle gating of ratios, the neighbour's load, FLOPs per token, decode steps."""

from __future__ import annotations

import time
from types import SimpleNamespace

import torch
from machine import (
    LoadMonitor,
    LoadRecord,
    competing_process,
    linear_flops_per_token,
    ratio_or_reason,
    weight_bytes,
)


def _record(other: float | None) -> LoadRecord:
    return LoadRecord((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), other)


def test_a_ratio_is_refused_unless_every_section_ran_idle():
    assert ratio_or_reason(3.0, 2.0, _record(0.05), _record(0.0)) == (1.5, "")
    value, why = ratio_or_reason(3.0, 2.0, _record(0.05), _record(0.8))
    assert value is None and "0.80 cores" in why
    value, why = ratio_or_reason(3.0, 2.0, _record(None))
    assert value is None and "unknown" in why


def test_load_monitor_subtracts_this_process_and_its_children(monkeypatch):
    import machine

    from reasonrec.llm.cpu import CPUSample

    samples = iter([CPUSample(wall=0.0, busy_s=10.0, own_s=0.0), CPUSample(wall=2.0, busy_s=14.0, own_s=0.0)])
    own = iter([1.0, 4.0])  # this process + children used 3 of the 4 busy core-seconds
    monkeypatch.setattr(machine, "read_cpu_sample", lambda: next(samples))
    monkeypatch.setattr(machine, "_own_cpu_s", lambda: next(own))
    with LoadMonitor() as monitor:
        pass
    assert monitor.record.other_busy_cores == 0.5 and not monitor.record.idle


def test_load_monitor_sees_a_real_busy_neighbour():
    with competing_process(1), LoadMonitor() as busy:
        time.sleep(1.5)
    # the neighbour spins on one core (on a shared machine others may add to it; we only sleep)
    assert busy.record.other_busy_cores is not None and busy.record.other_busy_cores >= 0.5
    assert not busy.record.idle and len(busy.record.as_dict()["loadavg_start"]) == 3


def test_linear_flops_skip_the_lm_head():
    model = torch.nn.Module()
    model.layer = torch.nn.Linear(8, 4)
    model.lm_head = torch.nn.Linear(4, 100)
    assert linear_flops_per_token(model) == 2 * 8 * 4
    assert weight_bytes(model) == (8 * 4 + 4 + 4 * 100 + 100) * 4


def test_int8_layers_count_their_flops_and_packed_weights():
    from reasonrec.llm.kernels import quantize_int8

    model = torch.nn.Module()
    model.layer = torch.nn.Linear(8, 4, bias=False)
    model.lm_head = torch.nn.Linear(4, 100, bias=False)
    quantised = quantize_int8(model)  # no output embeddings on this module: every Linear is quantised
    assert not any(isinstance(m, torch.nn.Linear) for m in quantised.modules())
    assert linear_flops_per_token(quantised) == 2 * 8 * 4
    assert weight_bytes(quantised) == 8 * 4 + 4 * 100  # one byte per int8 weight


def test_decode_steps_follow_length_sorted_batches():
    from llm_workloads import decode_steps

    outs = [SimpleNamespace(prompt_tokens=p, completion_tokens=c) for p, c in ((10, 5), (30, 2), (20, 9), (40, 1))]
    assert decode_steps(outs, 2) == 9 + 2  # batches by prompt length: (10, 20) → 9 steps, (30, 40) → 2
    assert decode_steps(outs, 1) == 5 + 2 + 9 + 1
