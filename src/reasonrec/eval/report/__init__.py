"""Comparison reports across runs: one Markdown table per dataset, a self-contained HTML page, JSON and PNG plots.

Reading inputs (`load`) → evaluating each (method, dataset, split, K) group into table rows (`entries`) → the
report model (`model`: config, entries, extra sections) → the table model (`table`) → figures (`figures`) →
Markdown / HTML / JSON files (`render`). `generate_report(inputs, out_dir, config, sections=...)` runs it all.
"""

from reasonrec.eval.report.entries import build_report
from reasonrec.eval.report.load import INPUT_FORMATS, load_run
from reasonrec.eval.report.model import Entry, Report, ReportConfig, Section
from reasonrec.eval.report.render import ReportFiles, generate_report, markdown_table, write_report

__all__ = [
    "INPUT_FORMATS", "Entry", "Report", "ReportConfig", "ReportFiles", "Section", "build_report", "generate_report",
    "load_run", "markdown_table", "write_report",
]
