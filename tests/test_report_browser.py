"""The report as a person sees it: headless Chromium, offline, from file://."""

from __future__ import annotations

import os
import shutil

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def _require_browser():
    if CHROMIUM is None:
        if os.environ.get("NNDE_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required (NNDE_REQUIRE_BROWSER is set) but not installed: "
                        "apt-get install chromium")
        pytest.skip("Chromium not installed (apt-get install chromium)")


def test_report_renders_offline_without_errors(pipeline_repo, artifacts_dir):
    _require_browser()
    sync_api = pytest.importorskip("playwright.sync_api")
    report = pipeline_repo / "reports/index.html"
    console_errors, failed, requests = [], [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = browser.new_context(offline=True, viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.on("console", lambda m: console_errors.append(m.text)
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: console_errors.append(str(e)))
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
            title = page.title()
            scorecard_rows = page.eval_on_selector_all("#scorecard tbody tr", "els => els.length")
            page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
        finally:
            browser.close()
    assert not console_errors, console_errors
    assert not failed, failed
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert widths and all(w > 0 for w in widths), widths
    assert "nnde" in title
    assert scorecard_rows >= 4
