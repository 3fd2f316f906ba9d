"""The report's explanation sections: grounding metrics beside AUC, samples with their marks, the plot, rendered
in Markdown, HTML and JSON by the one report writer."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from reasonrec.eval.grounding.marks import GROUNDING_DTYPE
from reasonrec.eval.report import ReportConfig, generate_report
from reasonrec.eval.report.explanations import explanation_sections


def _cell(flags: list[bool]) -> dict:
    sentences = [{"text": f"Sentence {i}.", "mark": "unsupported" if f else "supported", "flagged": f}
                 for i, f in enumerate(flags)]
    supported = flags.count(False)
    return {"claims": len(flags), "checkable": len(flags), "supported": supported, "contradicted": 0,
            "unsupported": len(flags) - supported, "named_items": 1, "hallucinated_items": 0,
            "supported_precision": supported / len(flags), "contradiction_rate": 0.0, "coverage": 1.0,
            "hallucinated_item_rate": 0.0, "label_consistency": 1.0, "sentences": sentences}


def _predictions() -> pl.DataFrame:
    return pl.DataFrame({
        "method": ["grounded", "grounded", "free", "free"], "dataset": ["toy"] * 4, "split": ["test"] * 4,
        "user_id": ["u1", "u2", "u1", "u2"], "item_id": ["a", "b", "a", "b"], "label": [1, 0, 1, 0],
        "score": [0.9, 0.2, 0.4, 0.6], "pred_label": [1, 0, 0, 1],
        "reasoning": ["Sentence 0. Sentence 1.", "Sentence 0.", "Sentence 0. Sentence 1.", None],
        "evidence": ['{"similar": [{"title": "Rose &amp; Soap", "rating": 5.0, "liked": true}]}', None, None, None],
        "grounding": [_cell([False, False]), _cell([False]), _cell([False, True]), None],
    }, schema_overrides={"grounding": GROUNDING_DTYPE})


def test_sections_put_grounding_beside_auc_and_show_marked_samples(tmp_path: Path) -> None:
    preds = _predictions()
    sections = explanation_sections(preds, {"grounded": {"auc": 1.0}, "free": {"auc": 0.0, "rmse": None}},
                                     title="toy")
    metrics, samples = sections
    rows = {r[0]: r for r in metrics.rows}
    assert rows["grounded"][1] == 1.0 and rows["grounded"][6] == 1.0  # AUC, supported precision (3/3)
    assert rows["free"][6] == 0.5 and rows["free"][3] == 1  # one explained row
    assert [f.filename for f in metrics.figures] == ["grounding_vs_auc.png"]
    assert metrics.figures[0].png.startswith(b"\x89PNG")
    flagged = next(r for r in samples.rows if r[0] == "free")
    assert flagged[4] == "Sentence 0. ⚑[unsupported] Sentence 1." and flagged[3] == "not like (P=0.40)"
    assert next(r for r in samples.rows if r[0] == "grounded")[5] == "Rose & Soap (rated 5)"  # entities decoded for reading
    preds.write_parquet(tmp_path / "predictions.parquet")
    report, files = generate_report([tmp_path / "predictions.parquet"], tmp_path / "report",
                                    ReportConfig(bootstrap=0))  # marked predictions bring their sections
    assert [s.rows for s in report.sections] == [s.rows for s in sections]
    md = files.markdown.read_text()
    assert "## Explanation grounding — toy" in md and "![Supported-claim precision vs AUC — toy]" in md
    assert (tmp_path / "report" / "grounding_vs_auc.png").exists()
    assert "data:image/png;base64" in files.html.read_text()
    titles = [s["title"] for s in json.loads(files.json.read_text())["sections"]]
    assert titles == ["Explanation grounding — toy", "Explanations, with grounding marks — toy"]


def test_no_marks_no_sections() -> None:
    assert explanation_sections(_predictions().drop("grounding"), {}) == []
