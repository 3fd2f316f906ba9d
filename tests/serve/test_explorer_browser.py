"""The web explorer in headless Debian chromium (Playwright) against the real service and model: pick a user, see
the history, compare two methods side by side, open an explanation, rate it, reload and find the rating again.
Screenshots are saved in the test's tmp directory. Skips locally without chromium; fails under $CI."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from browser import CHROMIUM_ARGS, require_browser
from rec_service import KEY, RecService

pytestmark = [pytest.mark.browser, pytest.mark.model]

USER = "user03"
RATING = {"persuasiveness": "5", "transparency": "4", "accuracy": "2", "satisfaction": "3"}


def _open_user(page, root: str) -> None:
    page.goto(root + "/explorer/")
    page.locator(f"#user-list button[data-user='{USER}']").click()
    page.locator("#history tbody tr").first.wait_for()


def _first_llm_item(page):
    column = page.locator(".column[data-side='a']")
    column.locator(".method").select_option("llm")
    column.locator(".load").click()
    item = column.locator(".rec").first
    item.wait_for()
    return item


def test_pick_explain_rate_reload(rec_service: RecService, tmp_path: Path) -> None:
    executable = require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=180_000)  # explanations are generated on a shared CPU
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(180_000)
            urls: list[str] = []
            page.on("request", lambda request: urls.append(request.url))
            page.goto(rec_service.root + "/explorer/")
            expect(page.locator("#status")).to_contain_text("401")  # no key yet: the API refuses
            page.fill("#api-key", KEY)
            page.fill("#annotator", "browser-annotator")
            page.click("#settings button[type=submit]")
            expect(page.locator("#bundle-name")).to_contain_text("shop")

            _open_user(page, rec_service.root)
            expect(page.locator("#user-title")).to_contain_text(USER)
            assert page.locator("#history tbody tr").count() >= 5
            item = _first_llm_item(page)
            expect(item.locator(".meta")).to_contain_text("P(like)")
            right = page.locator(".column[data-side='b']")
            right.locator(".method").select_option("cf")
            right.locator(".load").click()
            expect(right.locator(".rec")).to_have_count(5)
            page.screenshot(path=str(tmp_path / "explorer_compare.png"), full_page=True)

            item.locator(".explain-one").click()
            expect(item.locator(".why")).not_to_be_empty()
            for name, value in RATING.items():
                item.locator(f"select[name={name}]").select_option(value)
            item.locator("textarea[name=comment]").fill("mentions the right product line")
            item.locator(".rating button[type=submit]").click()
            expect(item.locator(".saved")).to_have_text("saved")
            item_id = item.get_attribute("data-item")
            page.screenshot(path=str(tmp_path / "explorer_rated.png"), full_page=True)

            page.reload()
            _open_user(page, rec_service.root)
            again = _first_llm_item(page)
            assert again.get_attribute("data-item") == item_id
            again.locator(".explain-one").click()
            expect(again.locator(".saved")).to_have_text("saved")
            for name, value in RATING.items():
                expect(again.locator(f"select[name={name}]")).to_have_value(value)
            expect(again.locator("textarea[name=comment]")).to_have_value("mentions the right product line")
            page.screenshot(path=str(tmp_path / "explorer_reloaded.png"), full_page=True)
        finally:
            browser.close()

    assert all(url.startswith(rec_service.root) for url in urls), [u for u in urls if rec_service.root not in u]
    with sqlite3.connect(f"file:{rec_service.feedback_db}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT persuasiveness, transparency, accuracy, satisfaction, comment, explanation "
                           "FROM annotations WHERE annotator='browser-annotator' AND user_id=?", (USER,)).fetchone()
    assert row[:5] == (5, 4, 2, 3, "mentions the right product line") and row[5]
    assert (tmp_path / "explorer_reloaded.png").stat().st_size > 10_000
