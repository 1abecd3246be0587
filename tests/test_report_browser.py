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
            # what a reader sees at 1,280 px: no sideways scrolling
            page.set_viewport_size({"width": 1280, "height": 800})
            overflow = page.evaluate("document.documentElement.scrollWidth - "
                                     "document.documentElement.clientWidth")
            # every link in the report leads to an anchor that exists
            dangling = page.evaluate("""() => [...document.querySelectorAll('a[href^="#"]')]
                .map(a => a.getAttribute('href').slice(1))
                .filter(id => !document.getElementById(id))""")
            row_links = page.eval_on_selector_all("#scorecard tbody tr a.go", "els => els.length")
            # the scorecard as shown (details closed): its words, and its height per paper
            words = len(page.inner_text("#scorecard").split())
            heights = page.evaluate("""() => [...document.querySelectorAll('#scorecard table.sc')]
                .map(t => t.getBoundingClientRect().height)""")
            # details open without script: a click shows the rule
            page.click("#scorecard table.sc tbody tr summary")
            rule_shown = page.is_visible("#scorecard table.sc tbody tr .more")
            page.screenshot(path=str(artifacts_dir / "report.png"), full_page=True)
        finally:
            browser.close()
    assert not console_errors, console_errors
    assert not failed, failed
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert widths and all(w > 0 for w in widths), widths
    assert "nnde" in title
    assert scorecard_rows >= 4
    assert overflow <= 0, f"the page scrolls sideways by {overflow} px at 1,280 px"
    assert not dangling, f"links to missing anchors: {dangling}"
    assert row_links == scorecard_rows  # every row links to its claim's evidence
    # word budget of the scorecard as shown: 40 words per claim row (claim, paper, ours,
    # verdict) plus 250 for the totals and headings
    assert words <= 40 * scorecard_rows + 250, (words, scorecard_rows)
    # a paper's claims fit about one 800-px screen
    assert heights and max(heights) <= 1.5 * 800, heights
    assert rule_shown
