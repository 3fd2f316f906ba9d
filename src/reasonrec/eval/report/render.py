"""Writing a report: Markdown, one self-contained HTML page (inline CSS, figures as data URIs, no scripts),
report.json and the PNGs. Extra sections render after the per-dataset tables, before the notes."""

from __future__ import annotations

import base64
import html
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonrec.eval.report.entries import build_report
from reasonrec.eval.report.figures import Plot, plot_data, render_plots
from reasonrec.eval.report.model import Entry, Report, ReportConfig, Section, json_safe
from reasonrec.eval.report.table import (
    Cell,
    best_values,
    cell_for,
    identity_titles,
    parse_text,
    row_identity,
    table_layout,
)
from reasonrec.io import write_bytes, write_json, write_text


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_cell(cell: Cell, best: float | None) -> str:
    if cell.value is None:
        return "—" if cell.reason is None else f"— ({_md_escape(cell.reason)})"
    text = cell.text()
    if best is not None and round(cell.value, 3) == best:
        text = f"**{text}**"
    if cell.ci is not None:
        text += f" [{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]"
    return text + f" (n={cell.n if cell.n is not None else '?'})"


def markdown_table(entries: Sequence[Entry]) -> str:
    show_k, show_split, columns = table_layout(entries)
    best = best_values(entries, columns)
    header = [*identity_titles(show_k, show_split), "n", "Parse failures", *[c.title for c in columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for entry in entries:
        n = entry.result.get("n")
        row = [
            *(_md_escape(c) for c in row_identity(entry, show_k, show_split)),
            "?" if n is None else str(n),
            parse_text(entry.result),
            *(_md_cell(cell_for(entry, c), best.get(c)) for c in columns),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _section_cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def section_markdown(section: Section) -> str:
    lines = [f"## {section.title}", ""]
    if section.note:
        lines += [section.note, ""]
    lines.append("| " + " | ".join(section.header) + " |")
    lines.append("|" + "---|" * len(section.header))
    lines += ["| " + " | ".join(_md_escape(_section_cell(v)).replace("\n", " ") for v in row) + " |"
              for row in section.rows]
    for figure in section.figures:
        lines += ["", f"![{figure.caption}]({figure.filename})"]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report, plot_list: Sequence[Plot]) -> str:
    parts = [f"# {report.config.title}", ""]
    parts.append(
        "Rows are sorted by AUC on all rows; AUC is not bolded: the paired comparison with the best baseline "
        "below ranks methods where its CI excludes 0 and says \"cannot rank\" where it does not. The best value "
        "of every other column is **bold**. Every number carries its n; AUC shows its bootstrap CI."
    )
    for dataset in report.datasets():
        entries = report.table(dataset)
        parts += ["", f"## Dataset: {dataset}", "", markdown_table(entries), ""]
        for plot in (p for p in plot_list if p.dataset == dataset):
            parts += [f"![{plot.caption}]({plot.filename})", ""]
    parts += [line for section in report.sections for line in ("", section_markdown(section).rstrip())]
    parts += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    parts += ["", "## Sources", ""] + [f"- `{s['path']}`" for s in report.sources]
    return "\n".join(parts).rstrip() + "\n"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 2rem auto;
       max-width: 1400px; padding: 0 1rem; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
p.lead { color: #555; margin-top: 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; font-size: .88rem; margin: 1rem 0; }
th, td { border: 1px solid #d8d8d8; padding: .35rem .55rem; text-align: right; vertical-align: top; }
th { background: #f3f4f6; position: sticky; top: 0; }
td.method, th.method { text-align: left; min-width: 12rem; max-width: 26rem; }
tr:nth-child(even) td { background: #fafafa; }
th.sorted::after { content: " ▼"; color: #888; }
.ci, .n, .reason { display: block; color: #666; font-size: .75rem; white-space: nowrap; }
.kind { color: #8a6d00; font-size: .75rem; }
strong { color: #0b5394; }
figure { display: inline-block; margin: .8rem 1.2rem .8rem 0; vertical-align: top; }
figure img { max-width: 100%; width: 640px; border: 1px solid #e5e5e5; }
figcaption { font-size: .85rem; color: #444; }
ul.notes li { margin-bottom: .3rem; }
code { background: #f3f4f6; padding: 0 .25rem; }
"""


def _html_cell(cell: Cell, best: float | None) -> str:
    if cell.value is None:
        reason = f'<span class="reason">{html.escape(cell.reason)}</span>' if cell.reason else ""
        return f"<td>—{reason}</td>"
    text = cell.text()
    if best is not None and round(cell.value, 3) == best:
        text = f"<strong>{text}</strong>"
    ci = f'<span class="ci">[{cell.ci[0]:.3f}, {cell.ci[1]:.3f}]</span>' if cell.ci is not None else ""
    n = f'<span class="n">n={cell.n if cell.n is not None else "?"}</span>'
    return f"<td>{text}{ci}{n}</td>"


def html_table(entries: Sequence[Entry], dataset: str) -> str:
    show_k, show_split, columns = table_layout(entries)
    best = best_values(entries, columns)
    heads = [
        '<th class="method">Method</th>',
        *(["<th>K</th>"] if show_k else []),
        *(["<th>Split</th>"] if show_split else []),
        "<th>n</th>",
        "<th>Parse failures</th>",
    ]
    for column in columns:
        sorted_class = ' class="sorted"' if column.key == "auc" and column.part == "all" else ""
        heads.append(f"<th{sorted_class}>{html.escape(column.title)}</th>")
    rows = []
    for entry in entries:
        kind = {"baseline": "baseline", "reported": "reported only"}.get(entry.kind)
        # Let long run names wrap at their separators rather than mid-token.
        name = re.sub(r"([_:/-])", r"\1<wbr>", html.escape(entry.method))
        method = name + (f' <span class="kind">({kind})</span>' if kind else "")
        cells = [f'<td class="method">{method}</td>']
        if show_k:
            cells.append(f"<td>{'—' if entry.k is None else entry.k}</td>")
        if show_split:
            cells.append(f"<td>{html.escape(entry.split or '—')}</td>")
        n = entry.result.get("n")
        cells.append(f"<td>{'?' if n is None else n}</td>")
        cells.append(f"<td>{html.escape(parse_text(entry.result))}</td>")
        cells += [_html_cell(cell_for(entry, c), best.get(c)) for c in columns]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<div class="table-wrap"><table data-dataset="{html.escape(dataset)}">'
        f"<thead><tr>{''.join(heads)}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def section_html(section: Section) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in section.header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_section_cell(v))}</td>" for v in row) + "</tr>"
                   for row in section.rows)
    note = f"<p>{html.escape(section.note)}</p>" if section.note else ""
    figures = "".join(_figure_html(f.png, f.caption, f.filename) for f in section.figures)
    return (f"<h2>{html.escape(section.title)}</h2>{note}"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{figures}")


def _figure_html(png: bytes, caption: str, filename: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)} (<code>{html.escape(filename)}</code>)</figcaption></figure>")


def render_html(report: Report, plot_list: Sequence[Plot]) -> str:
    """One self-contained page: inline CSS, figures as base64 data URIs, no scripts, no external links."""
    title = html.escape(report.config.title)
    body = [
        f"<h1>{title}</h1>",
        ('<p class="lead">Rows sorted by AUC on all rows (▼); AUC is not bolded: the paired comparison with the best '
        "baseline below ranks methods where its CI excludes 0 and says &ldquo;cannot rank&rdquo; where it does not. "
        "The best value of every other column is <strong>bold</strong>. Every number carries its n; AUC shows its "
        "bootstrap 95% CI.</p>"),
    ]
    for dataset in report.datasets():
        body.append(f"<h2>Dataset: {html.escape(dataset)}</h2>")
        body.append(html_table(report.table(dataset), dataset))
        body += [_figure_html(plot.png, plot.caption, plot.filename) for plot in plot_list if plot.dataset == dataset]
    body += [section_html(section) for section in report.sections]
    body.append('<h2>Notes</h2><ul class="notes">')
    body += [f"<li>{html.escape(note)}</li>" for note in report.notes]
    body.append("</ul><h2>Sources</h2><ul>")
    body += [f"<li><code>{html.escape(s['path'])}</code></li>" for s in report.sources]
    body.append(f'</ul><p class="lead">Built in {report.elapsed_seconds:.1f} s.</p>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>'
        f"<style>{_CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )


@dataclass(frozen=True)
class ReportFiles:
    """Paths written by `write_report`."""

    markdown: Path
    html: Path
    json: Path
    plots: list[Path]


def write_report(report: Report, out_dir: str | Path) -> ReportFiles:
    """Render plots once and write report.md, report.html (self-contained), report.json and the PNGs."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    plot_list = render_plots(report)
    plot_paths = [write_bytes(out / plot.filename, plot.png) for plot in plot_list]
    plot_paths += [write_bytes(out / f.filename, f.png) for section in report.sections for f in section.figures]
    report.elapsed_seconds += time.perf_counter() - started
    payload = report.to_json()
    payload["plots"] = [{"file": p.filename, "caption": p.caption, "dataset": p.dataset} for p in plot_list]
    payload["plot_data"] = json_safe(plot_data(report))
    return ReportFiles(
        markdown=write_text(out / "report.md", render_markdown(report, plot_list)),
        html=write_text(out / "report.html", render_html(report, plot_list)),
        json=write_json(out / "report.json", payload),
        plots=plot_paths,
    )


def generate_report(
    inputs: Iterable[str | Path], out_dir: str | Path, config: ReportConfig | None = None, fmt: str = "auto",
    sections: Sequence[Section] = (),
) -> tuple[Report, ReportFiles]:
    """Build and write a report in one call (what `reasonrec report` runs)."""
    report = build_report(inputs, config, fmt, sections)
    return report, write_report(report, out_dir)


__all__ = ["ReportFiles", "generate_report", "markdown_table", "render_html", "render_markdown", "write_report"]
