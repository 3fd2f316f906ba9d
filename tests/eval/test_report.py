"""`reasonrec report`: tables with hand-computed numbers, n everywhere, distinct rows, metrics.json inputs,
plots, a self-contained HTML page, the CLI, and speed on the authors' three 600-row runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer
from datafiles import require_data
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from reasonrec.cli.report import report_command
from reasonrec.eval.report import (
    ReportConfig,
    build_report,
    generate_report,
    markdown_table,
    write_report,
)
from reasonrec.eval.text import TextMetricsConfig

RELEASE_RUNS = [f"sample{k}_valsample600_lr1e-4_valauc" for k in (64, 128, 256)]
FAST = ReportConfig(bootstrap=200)


def _toy_predictions() -> pl.DataFrame:
    """Two methods on 4 rows each with hand-computable numbers.

    good:  labels 1,1,0,0 scores .9,.8,.3,.1 → every positive above every negative: AUC 1.0, accuracy 4/4.
    mixed: labels 1,1,0,0 scores .9,.2,.6,.1 → positive-negative pairs ordered right: 3 of 4, AUC 0.75;
           hard labels (score >= .5) 1,0,1,0 → accuracy 2/4 = 0.5.
    """
    rows = []
    for method, scores in (("good", [0.9, 0.8, 0.3, 0.1]), ("mixed", [0.9, 0.2, 0.6, 0.1])):
        for i, (label, score) in enumerate(zip([1, 1, 0, 0], scores)):
            rows.append(
                {
                    "method": method,
                    "dataset": "toy",
                    "split": "test",
                    "user_id": f"u{i}",
                    "item_id": f"i{i}",
                    "label": label,
                    "score": score,
                }
            )
    return pl.DataFrame(rows)


def _run_dir(root: Path, name: str, df: pl.DataFrame, metrics: dict | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    df.write_parquet(folder / "predictions.parquet")
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def _table_rows(markdown: str) -> list[list[str]]:
    return [[c.strip() for c in line.strip("|").split("|")] for line in markdown.splitlines()[2:]]


def test_table_has_hand_computed_auc_and_accuracy_sorted_and_bold_except_auc(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, "toy-run", _toy_predictions())
    report = build_report([run], FAST)
    entries = report.table("toy")
    assert [e.method for e in entries] == ["good", "mixed"]  # sorted by AUC, best first
    table = markdown_table(entries)
    header = [c.strip() for c in table.splitlines()[0].strip("|").split("|")]
    good, mixed = _table_rows(table)
    auc, acc = header.index("AUC [95% CI]"), header.index("Accuracy")
    assert good[0] == "good" and good[header.index("n")] == "4"
    assert good[auc].startswith("1.000 [") and good[auc].endswith("(n=4)")  # AUC is ranked by the paired section
    assert mixed[auc].startswith("0.750 [") and mixed[auc].endswith("(n=4)")
    assert good[acc] == "**1.000** (n=4)"
    assert mixed[acc] == "0.500 (n=4)"
    assert good[header.index("Parse failures")] == "0/4 (0.0%)"
    assert entries[0].result["auc"] == 1.0 and entries[1].result["auc"] == 0.75


def test_parse_failures_shown_next_to_metrics(tmp_path: Path) -> None:
    df = (
        _toy_predictions()
        .filter(pl.col("method") == "mixed")
        .with_columns(
            pl.Series("pred_label", [1, 0, 0, None]), pl.Series("parse_ok", [True, True, True, False])
        )
    )
    report = build_report([_run_dir(tmp_path, "r", df)], FAST)
    (row,) = _table_rows(markdown_table(report.table("toy")))
    assert "1/4 (25.0%)" in row
    # Accuracy on the 3 parsed rows: predictions 1,0,0 vs labels 1,1,0 → 2/3; AUC still on all 4 scored rows.
    assert "0.667 (n=3)" in row
    assert any(cell.startswith("0.750 [") and cell.endswith("(n=4)") for cell in row)


def test_duplicates_give_all_rows_and_distinct_side_by_side(tmp_path: Path) -> None:
    base = _toy_predictions().filter(pl.col("method") == "good")
    duplicated = pl.concat([base, base.head(2)])  # two positives repeated: 6 rows, 4 distinct pairs
    report = build_report([_run_dir(tmp_path, "dup", duplicated)], FAST)
    (entry,) = report.entries
    assert entry.result["n"] == 6 and entry.result["n_distinct"] == 4
    table = markdown_table([entry])
    assert "AUC distinct [95% CI]" in table.splitlines()[0]
    assert "(n=4)" in table and "(n=6)" in table
    assert any("6 rows but 4 distinct" in note for note in report.notes)


def test_no_distinct_columns_without_duplicates(tmp_path: Path) -> None:
    report = build_report([_run_dir(tmp_path, "r", _toy_predictions())], FAST)
    assert "distinct" not in markdown_table(report.table("toy"))


def test_bootstrap_ci_is_seeded(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 80)
    df = pl.DataFrame(
        {
            "method": "m",
            "dataset": "toy",
            "label": labels,
            "score": np.clip(labels * 0.3 + rng.uniform(0, 0.7, 80), 0, 1),
        }
    )
    run = _run_dir(tmp_path, "r", df)

    def ci(seed: int) -> list[float]:
        return build_report([run], ReportConfig(bootstrap=300, seed=seed)).entries[0].result["auc_ci"]

    first = ci(7)
    assert first == ci(7)
    assert first != ci(8)
    auc = roc_auc_score(labels, df["score"].to_numpy())
    assert first[0] < auc < first[1]


def test_metrics_json_runs_baselines_authors_and_notes(tmp_path: Path) -> None:
    folder = tmp_path / "precomputed"
    folder.mkdir()
    metrics = {
        "method": "student",
        "dataset": "beauty",
        "k": 128,
        "n": 283,
        "auc": 0.61,
        "auc_ci": [0.52, 0.70],
        "accuracy": 0.8,
        "parse_failures": 2,
        "metrics": {"auc": {"value": 0.61, "n": 283}, "accuracy": {"value": 0.8, "n": 281}},
        "baselines": {
            "user-mean": {
                "dataset": "beauty",
                "n": 283,
                "auc": 0.868,
                "metrics": {"auc": {"value": 0.868, "n": 283}},
            }
        },
        "authors": {"auc": 0.768, "bertscore": 0.687},
        "notes": ["BERTScore model: MiniLM, not DeBERTa as in the paper"],
    }
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    report = build_report([folder], FAST)
    rows = report.table("beauty")
    assert [(e.method, e.kind) for e in rows] == [("user-mean", "baseline"), ("student", "run")]
    assert rows[1].authors["auc"] == 0.768 and rows[0].authors is None
    table = markdown_table(rows)
    assert "user-mean (baseline)" in table
    assert "0.868 (n=283)" in table and "**0.868**" not in table
    assert "0.610 [0.520, 0.700] (n=283)" in table and "0.800 (n=281)" in table
    assert "2/283 (0.7%)" in table
    assert any("MiniLM, not DeBERTa" in note for note in report.notes)


def test_metrics_json_and_predictions_in_one_directory(tmp_path: Path) -> None:
    """Predictions win for the groups they hold; metrics.json adds baselines and notes."""
    run = _run_dir(
        tmp_path,
        "both",
        _toy_predictions(),
        {
            "baselines": [{"method": "popularity", "dataset": "toy", "auc": 0.5, "n": 4}],
            "notes": "labels are skewed",
        },
    )
    report = build_report([run], FAST)
    assert [e.method for e in report.table("toy")] == ["good", "mixed", "popularity"]
    assert any(note.endswith("labels are skewed") for note in report.notes)


def test_full_report_files_plots_and_self_contained_html(tmp_path: Path) -> None:
    ratings = pl.DataFrame(
        {
            "method": ["rater"] * 6,
            "dataset": ["toy"] * 6,
            "user_id": [f"u{i}" for i in range(6)],
            "item_id": [f"i{i}" for i in range(6)],
            "rating": [5.0, 4.0, 2.0, 1.0, 5.0, 3.0],
            "pred_rating": [4.6, 4.1, 2.2, 2.4, 3.9, 3.0],
        }
    )
    k_runs = pl.concat(
        [
            _toy_predictions()
            .filter(pl.col("method") == "good")
            .with_columns(pl.lit(k).alias("k"), pl.lit("student").alias("method"))
            for k in (64, 128, 256)
        ]
    )
    runs = [
        _run_dir(tmp_path, "labels", _toy_predictions()),
        _run_dir(tmp_path, "ratings", ratings),
        _run_dir(tmp_path, "kshot", k_runs),
    ]
    out = tmp_path / "out"
    _, files = generate_report(runs, out, FAST)
    names = {p.name for p in files.plots}
    assert {"roc_toy.png", "calibration_toy.png", "auc_vs_k_toy.png", "confusion_toy_rater.png"} <= names
    for path in files.plots:
        assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and path.stat().st_size > 5_000

    page = files.html.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.IGNORECASE)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    images = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(images) == len(files.plots)
    assert all(src.startswith("data:image/png;base64,") for src in images)

    data = json.loads(files.json.read_text(encoding="utf-8"))
    toy = {(e["method"], e["k"]): e for e in data["datasets"]["toy"]}
    assert toy[("good", None)]["result"]["auc"] == 1.0
    assert toy[("mixed", None)]["result"]["accuracy"] == 0.5
    assert toy[("rater", None)]["result"]["mae"] == pytest.approx((0.4 + 0.1 + 0.2 + 1.4 + 1.1 + 0.0) / 6)
    assert {e["k"] for e in data["datasets"]["toy"] if e["method"] == "student"} == {64, 128, 256}
    assert data["plot_data"]["toy"]["rater"]["confusion"]["classes"] == [1, 2, 3, 4, 5]
    assert " MAE |" in files.markdown.read_text(encoding="utf-8")


def test_text_metrics_opt_in_draw_reasoning_quality(tmp_path: Path) -> None:
    df = (
        _toy_predictions()
        .filter(pl.col("method") == "mixed")
        .with_columns(
            pl.Series("pred_label", [1, 0, 1, 0]),
            pl.Series(
                "reasoning", ["the user likes red lipstick", "dislikes brand", "likes the price", "no"]
            ),
            pl.Series(
                "reference", ["the user likes red lipstick a lot", "user likes brand", "dislikes price", "no"]
            ),
        )
    )
    run = _run_dir(tmp_path, "text", df)
    cfg = ReportConfig(bootstrap=0, text=TextMetricsConfig(metrics=["bleu", "rouge1"]))
    report, files = generate_report([run], tmp_path / "out", cfg)
    assert "reasoning_quality_toy.png" in {p.name for p in files.plots}
    parts = report.entries[0].result["breakdowns"]["correctness"]
    assert parts["correct"]["n"] == 2 and parts["incorrect"]["n"] == 2
    assert "ROUGE-1" in files.markdown.read_text(encoding="utf-8")


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(report_command)
    return app


def test_cli_writes_files_and_prints_paths(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, "r", _toy_predictions())
    out = tmp_path / "out"
    result = CliRunner().invoke(_cli(), [str(run), "--out", str(out), "--bootstrap", "100"])
    assert result.exit_code == 0, result.output
    printed = result.stdout.split()
    assert str(out / "report.html") in printed and str(out / "report.md") in printed
    assert (out / "report.json").is_file()


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(_cli(), [str(empty), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "predictions.parquet" in result.output


def test_authors_release_three_runs_reproduce_their_aucs(shared_data: Path, tmp_path: Path) -> None:
    """The three 600-row release runs: their published AUCs reproduced (timed in bench/load_times.py)."""
    root = shared_data / "reasoningrec-beauty" / "student_reference_outputs"
    runs = [require_data(root, name, "test_outputs.json").parent for name in RELEASE_RUNS]
    report, files = generate_report(runs, tmp_path / "out")
    by_k = {e.k: e for e in report.entries}
    assert sorted(by_k) == [64, 128, 256]
    for k, expected in ((64, 0.741), (128, 0.768), (256, 0.768)):
        assert round(by_k[k].auc, 3) == expected
        assert by_k[k].authors["auc"] == pytest.approx(by_k[k].auc, abs=1e-9)
        assert by_k[k].result["n"] == 600 and by_k[k].result["n_distinct"] == 283
    assert "auc_vs_k_beauty.png" in {p.name for p in files.plots}


def test_runs_are_paired_with_the_best_baseline_and_unrankable_rows_say_so(tmp_path: Path) -> None:
    run = _run_dir(tmp_path, "paired", _toy_predictions())
    baseline = _toy_predictions().filter(pl.col("method") == "mixed").with_columns(pl.lit("user-mean").alias("method"))
    (run / "baselines").mkdir()
    baseline.write_parquet(run / "baselines" / "user-mean.parquet")
    report = build_report([run], FAST)
    assert [(e.method, e.kind) for e in report.table("toy")] == [("good", "run"), ("mixed", "run"),
                                                                 ("user-mean", "baseline")]
    (section,) = report.sections
    assert section.title == "Paired comparison with the best baseline — toy"
    rows = {row[0]: row for row in section.rows}
    assert set(rows) == {"good", "mixed"}
    assert rows["good"][3] == "+0.250" and rows["good"][-1] == "cannot rank"  # 4 rows cannot separate them
    assert rows["mixed"][3] == "+0.000" and rows["mixed"][-1] == "cannot rank"
    markdown = write_report(report, tmp_path / "out").markdown.read_text()
    assert "## Paired comparison with the best baseline — toy" in markdown and "cannot rank" in markdown
