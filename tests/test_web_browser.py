"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright):
drill down domain → squad → service → endpoint, acknowledge a finding, see it in the history.

Needs `pip install playwright` and `apt-get install chromium`; never `playwright install`.
Skips with the reason when either is missing.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from reports_fixture import build_workspace

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "browser-token"

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    uvicorn = pytest.importorskip("uvicorn")
    from perfops.web.app import create_app

    app = create_app(build_workspace(tmp_path / "ws"), token=TOKEN)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_drill_down_acknowledge_and_history(server: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(server + "/")
        assert "need action now" in page.inner_text(".headline")
        page.click("table.squads >> text=checkout")
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
        browser.close()
