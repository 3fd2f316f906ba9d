"""The throughput table's ratios: printed only between rows measured on an idle machine."""

from __future__ import annotations

from llm_throughput import print_rows, ratios
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
