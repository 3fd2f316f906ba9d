"""Extra report tables a reproduction needs beyond the per-method metrics table (reranking, paths × filters).

`eval.report` renders one row per (method, dataset, split, K) from metrics.json/predictions; tables whose rows are
not methods (Recall/NDCG at several cut-offs, filter counts) are appended here as their own sections, in both
report.md and report.html, from the same numbers that metrics.json holds.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonrec.io import write_text


@dataclass(frozen=True)
class Section:
    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Any]]
    note: str = ""


def _cell(value: Any) -> str:
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
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in section.rows]
    return "\n".join(lines) + "\n"


def section_html(section: Section) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in section.header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in section.rows)
    note = f"<p>{html.escape(section.note)}</p>" if section.note else ""
    return f"<h2>{html.escape(section.title)}</h2>{note}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def append_sections(out_dir: str | Path, sections: Sequence[Section]) -> None:
    """Insert the sections before the report's Notes (Markdown) / at the end of <body> (HTML)."""
    if not sections:
        return
    out = Path(out_dir)
    md_path, html_path = out / "report.md", out / "report.html"
    if md_path.exists():
        md = md_path.read_text(encoding="utf-8")
        extra = "\n".join(section_markdown(s) for s in sections)
        at = md.find("\n## Notes")
        md = md + "\n" + extra if at < 0 else md[:at] + "\n" + extra + md[at:]
        write_text(md_path, md)
    if html_path.exists():
        page = html_path.read_text(encoding="utf-8")
        extra = "".join(section_html(s) for s in sections)
        at = page.rfind("</body>")
        page = page + extra if at < 0 else page[:at] + extra + page[at:]
        write_text(html_path, page)


__all__ = ["Section", "append_sections", "section_html", "section_markdown"]
