"""Reproduction pieces: Rec-SAVER student specs and the extra report tables."""

from __future__ import annotations

import json
import os

import pytest

from reasonrec.eval.report import ReportConfig, Section, generate_report
from reasonrec.methods.recsaver import reproduction as recsaver_repro

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_recsaver_student_specs_are_validated():
    cfg = recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "quick", ["students=[1:none,M:1off]"])
    assert cfg.students == ["1:none", "M:1off"] and cfg.n_paths == 2 and cfg.lora.max_steps == 1
    assert recsaver_repro.student_name("M:1off", cfg.n_paths) == "recsaver-student-2path-1off"
    full = recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "full")
    assert full.students == recsaver_repro.PAPER_STUDENTS and full.n_paths == 8 and full.split.per_class_test == 100
    from reasonrec.errors import ConfigError

    with pytest.raises(ConfigError):
        recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "quick", ["students=[3:none]"])
    with pytest.raises(ConfigError):
        recsaver_repro.REPRODUCTION.resolve("amazon-beauty-raw", "quick", ["students=[M:strict]"])


def test_sections_land_before_notes_in_markdown_and_html(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps({"method": "m", "dataset": "d", "auc": 0.6, "n": 10,
                                                  "notes": ["n"]}))
    section = Section("Reranking", ["k", "recall"], [[5, 0.25], [10, None]], note="why")
    _, files = generate_report([run], tmp_path / "out", ReportConfig(bootstrap=0), sections=[section])
    md = files.markdown.read_text()
    assert md.index("## Reranking") < md.index("## Notes") and "| 5 | 0.250 |" in md and "| 10 | — |" in md
    page = files.html.read_text()
    assert page.index("<h2>Reranking</h2>") < page.index("</body>") and "<td>0.250</td>" in page
    assert json.loads(files.json.read_text())["sections"][0]["rows"] == [[5, 0.25], [10, None]]
