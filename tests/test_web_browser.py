"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
drill down domain → squad → service → endpoint, acknowledge a finding, see it in the history.

Needs `pip install playwright` and `apt-get install chromium`; never `playwright install`.
Skips with the reason when either is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from live_server import serve
from reports_fixture import build_workspace

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "browser-token"

pytestmark = pytest.mark.slow


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.fixture
def server(tmp_path):
    pytest.importorskip("uvicorn")
    from perfops.web.app import create_app

    app = create_app(build_workspace(tmp_path / "ws"), token=TOKEN)
    with serve(app) as base:
        yield base


def test_drill_down_acknowledge_and_history(server: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server + "/")
    assert "need action now" in page.inner_text(".headline")
    page.click(".squad-strips a:text-is(\"checkout\")")  # the squad strip's name links to the squad
    assert page.inner_text("h1").startswith("Squad checkout")
    page.click("table.services >> text=checkout-api")
    page.wait_for_selector(".chart[data-ready='1'] canvas", timeout=10_000)  # uPlot drew the chart
    page.click("ul.endpoints >> text=POST /checkout")
    assert "POST /checkout" in page.inner_text("h1")
    page.click("table.findings a >> nth=0")
    finding_url = page.url
    assert page.inner_text("#status") == "open"
    page.fill("#token", TOKEN)
    page.fill("#by", "Priya Shah")
    page.fill("#note", "rolling back 2.3.1")
    page.click("#do-acknowledge")
    page.wait_for_selector(".flash")
    assert page.url.startswith(finding_url.split("?")[0])
    assert page.inner_text("#status") == "acknowledged"
    history = page.inner_text("#history")
    assert "acknowledged" in history and "Priya Shah" in history and "rolling back 2.3.1" in history
    page.close()


def test_token_once_per_session_and_a_wrong_token_keeps_the_note(server: str, browser: Any) -> None:
    page = browser.new_page()
    page.goto(server + "/findings?status=all")
    page.click("table.findings a >> nth=0")
    finding_url = page.url
    page.fill("#token", "wrong")
    page.fill("#note", "paging the payments team")
    page.click("#do-comment")
    assert "not saved" in page.inner_text("#form-error")
    assert page.input_value("#note") == "paging the payments team"  # kept: fix the token, send again
    page.fill("#token", TOKEN)
    page.click("#do-comment")
    page.wait_for_selector(".flash")
    page.goto(finding_url)  # a later visit in the same browser session: no token asked
    assert page.query_selector("#token") is None and page.query_selector("#signed-in") is not None
    page.fill("#note", "second note, no token typed")
    page.click("#do-comment")
    page.wait_for_selector(".flash")
    history = page.inner_text("#history")
    assert "paging the payments team" in history and "second note, no token typed" in history
    page.close()
