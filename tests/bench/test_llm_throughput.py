"""The throughput table's ratios: printed only between rows measured on an idle machine."""

from __future__ import annotations

from llm_throughput import add_roofline, print_rows, ratios
from machine import LoadRecord


def _row(workload: str, path: str, tokens_per_s: float, other: float, **extra) -> dict:
    load = LoadRecord((0.0, 0.0, 0.0), (0.0, 0.0, 0.0), other)
    return {"workload": workload, "path": path, "prompts": 2, "tokens": 100, "wall_s": 100 / tokens_per_s,
            "prompts_per_s": 2 * tokens_per_s / 100, "tokens_per_s": tokens_per_s, "peak_rss_mb": 500.0,
            "load": load.as_dict(), "_load": load, **extra}


def test_ratios_need_both_rows_idle(capsys):
    rows = [_row("score-1", "naive", 100.0, 0.0), _row("score-1", "reasonrec[fp32]", 150.0, 0.05),
            _row("score-1", "reasonrec[bf16]", 450.0, 0.9, fraction_of_peak=0.5),
            _row("score-1", "threads:adaptive", 140.0, 0.0), _row("score-1", "threads:adaptive", 100.0, 1.0,
                                                                   neighbour=True)]
    found = ratios(rows)
    assert found["score-1: reasonrec[fp32] / naive"] == 1.5
    assert found["score-1: reasonrec[bf16] / naive"].startswith("refused (not idle: other processes used 0.90")
    assert found["score-1: adaptive with a neighbour / adaptive idle"] == 0.71  # the loaded row may be loaded
    print_rows(rows)
    table = capsys.readouterr().out
    assert "reasonrec[bf16]" in table and "0.50" in table and " - " in table


def test_every_row_gets_a_fraction_of_its_ceiling():
    rows = [_row("score-1", "reasonrec[bf16]", 1000.0, 0.0, kernel="bf16", flops_per_token=2e8),
            _row("score-1", "llamacpp", 500.0, 0.0, kernel="q4_1"),
            _row("gen", "llamacpp", 50.0, 0.0, kernel="q4_1", steps=10, weight_bytes=10**8)]
    add_roofline(rows, {"bf16@2": 1000.0, "int8@2": 400.0}, bandwidth=20.0, threads=2)
    assert rows[0]["gflops"] == 200.0 and rows[0]["fraction_of_peak"] == 0.2
    # llama.cpp borrows the workload's FLOPs per token and is measured against the int8 peak
    assert rows[1]["gflops"] == 100.0 and rows[1]["fraction_of_peak"] == 0.25
    wall = rows[2]["wall_s"]  # 100 tokens at 50 tok/s: 10 steps × 0.1 GB in 2 s = 0.5 GB/s
    assert rows[2]["weight_gb_per_s"] == 10 * 10**8 / wall / 1e9 == 0.5 and rows[2]["fraction_of_copy_bw"] == 0.025
