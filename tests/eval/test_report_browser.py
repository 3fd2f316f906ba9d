"""Open the report built from the authors' three release runs in headless Debian chromium (Playwright).

Checks what a reader sees: the three runs with their AUCs in the table, every figure decoded, and a
screenshot saved next to the report. Skips locally without chromium; fails under $CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, require_browser
from datafiles import require_data

from reasonrec.eval.report import ReportConfig, generate_report

pytestmark = pytest.mark.browser

RELEASE_RUNS = {
    64: "sample64_valsample600_lr1e-4_valauc",
    128: "sample128_valsample600_lr1e-4_valauc",
    256: "sample256_valsample600_lr1e-4_valauc",
}


def test_report_html_in_chromium(shared_data: Path, tmp_path: Path) -> None:
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    root = shared_data / "reasoningrec-beauty" / "student_reference_outputs"
    runs = [require_data(root, name, "test_outputs.json").parent for name in RELEASE_RUNS.values()]
    _, files = generate_report(runs, tmp_path / "report", ReportConfig(title="ReasoningRec release — Beauty"))
    screenshot = tmp_path / "report_screenshot.png"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(files.html.as_uri())
            page.wait_for_load_state("load")

            rows = page.locator("table tbody tr")
            assert rows.count() == 3
            texts = [rows.nth(i).inner_text() for i in range(3)]
            for k, name in RELEASE_RUNS.items():
                (row,) = [t for t in texts if name in t]
                expected = {64: "0.741", 128: "0.768", 256: "0.768"}[k]
                cells = row.split("\t")
                assert cells[1].strip() == str(k)
                assert cells[5].strip().startswith(expected), cells
            # Sorted by AUC, best first: the K=64 run (0.741) is last.
            assert RELEASE_RUNS[64] in texts[2]

            images = page.locator("img")
            assert images.count() >= 3
            widths = page.eval_on_selector_all(
                "img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)"
            )
            assert all(w > 0 for w in widths), widths
            # Self-contained: nothing but the page itself and its data: URIs were requested.
            assert [u for u in requests if not u.startswith(("file://", "data:"))] == []

            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    assert screenshot.read_bytes().startswith(b"\x89PNG") and screenshot.stat().st_size > 50_000
