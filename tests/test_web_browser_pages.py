"""Every report and every dashboard page in a real headless Chromium (Debian's /usr/bin/chromium
driven by Playwright, never `playwright install`), at a phone's 390 px and a desktop's 1400 px:

- no horizontal page overflow (tables may scroll inside their own box, the page may not);
- no console error (a 404 favicon, a CSP refusal, a script error all log one);
- no request to another host than 127.0.0.1 (the dashboard and the reports work offline);
- every finding id shown is a link that resolves: a dashboard page answering 200, or an
  element with that id in the static report it points to.

One browser and one server for the whole module. Skips with the reason when Playwright or
Chromium is missing.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from live_server import serve
from reports_fixture import build_two_runs, findings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "browser-token"
WIDTHS = (390, 1400)
AT = "2026-11-23T00:00:00Z"
LOCAL_SCHEMES = ("file", "data", "blob", "about")

pytestmark = pytest.mark.slow

# every text node holding a finding id, with the link around it (if any)
FINDING_IDS_JS = r"""() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const re = /\bF-[0-9a-f]{10}\b/g;
  let node;
  while ((node = walker.nextNode())) {
    const parent = node.parentElement;
    if (!parent || parent.closest("script, style, template, input, textarea, option, .swagger-ui")) continue;
    if (parent.getClientRects().length === 0) continue;  // not shown (print-only, display: none)
    const ids = node.textContent.match(re);
    if (!ids) continue;
    const link = parent.closest("a[href]");
    for (const id of ids) out.push({id: id, href: link ? link.href : null});
  }
  return out;
}"""



@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(dashboard base URL, reports folder) of the reports fixture workspace."""
    pytest.importorskip("uvicorn")
    from perfops.usecases.reports import render_reports
    from perfops.web.app import create_app
    from perfops.workspace import Workspace

    # two stored runs, so the reports of AT show the movement against the run before and the
    # dashboard's picker has a choice (run 1 ends at AT; run 2, the week before, is the newest made)
    root = build_two_runs(tmp_path_factory.mktemp("browser") / "ws")
    render_reports(Workspace(root), fmt="html", at=AT)
    app = create_app(root, token=TOKEN)
    with serve(app) as base:
        yield base, Workspace(root).reports_dir


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname == "127.0.0.1"


def visit(browser: Any, urls: list[str]) -> dict[str, list[str]]:
    """Load each URL at each width; {problem kind: ['url @ width: detail', ...]} and the finding
    links seen under 'links' as 'href'."""
    problems: dict[str, list[str]] = {"overflow": [], "console": [], "foreign": [], "unlinked": [], "links": []}
    at = {"where": ""}  # the page and width being loaded, for the listeners' messages

    def on_console(m: Any) -> None:
        if m.type == "error":
            problems["console"].append(f"{at['where']}: {m.text} {m.location.get('url', '')}")

    def on_request(r: Any) -> None:
        if not _local(r.url):
            problems["foreign"].append(f"{at['where']}: {r.url}")

    for width in WIDTHS:
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda e: problems["console"].append(f"{at['where']}: {e}"))
        page.on("request", on_request)
        for url in urls:
            at["where"] = f"{url} @ {width}"
            page.goto(url, wait_until="networkidle")
            if page.query_selector(".chart[data-series], .chart[data-band]"):
                page.wait_for_selector(".chart[data-ready='1'], .chart-failed", timeout=10_000)
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if scroll > inner:
                problems["overflow"].append(f"{url} @ {width}: page is {scroll} px wide")
            for item in page.evaluate(FINDING_IDS_JS):
                if item["href"] is None:
                    problems["unlinked"].append(f"{url} @ {width}: {item['id']}")
                else:
                    problems["links"].append(item["href"])
        context.close()
    return problems


def _anchor_exists(href: str) -> bool:
    parts = urlsplit(href)
    path = Path(unquote(parts.path))
    if not parts.fragment or not path.is_file():
        return False
    return re.search(rf'\bid="{re.escape(parts.fragment)}"', path.read_text(encoding="utf-8")) is not None


def test_every_report_fits_a_phone_and_links_its_finding_ids(site: tuple[str, Path], browser: Any) -> None:
    _, folder = site
    reports = sorted(folder.rglob("*.html"))
    names = {p.relative_to(folder).as_posix() for p in reports}
    assert {"index.html", "executive.html", "lead/checkout.html", "developer/checkout-api.html"} <= names
    problems = visit(browser, [p.as_uri() for p in reports])
    assert problems["overflow"] == []
    assert problems["console"] == []
    assert problems["foreign"] == []
    assert problems["unlinked"] == []
    broken = sorted({h for h in problems["links"] if not _anchor_exists(h)})
    assert broken == []
    # the developer report holds each open finding's evidence under its id
    assert {f.id for f in findings() if f.status != "resolved"} <= {urlsplit(h).fragment for h in problems["links"]}


def test_every_dashboard_page_fits_a_phone_and_links_its_finding_ids(site: tuple[str, Path], browser: Any) -> None:
    base, _ = site
    made = findings()
    paths = ["/", "/services", "/findings", "/findings?status=all", "/slo", "/capacity", "/cost", "/maturity", "/tests",
             "/docs", "/squads/checkout", "/squads/payments", "/squads/platform",
             *(f"/services/{s}" for s in ("checkout-api", "cart", "payments-api", "ledger", "auth", "reporting")),
             "/services/checkout-api/endpoint?name=POST%20/checkout",
             *(f"/findings/{f.id}" for f in made),
             # the run and range picker: another stored run, each range, a view carried into the pages
             "/?run=1", "/?run=1&range=28d", "/?range=7d", "/squads/checkout?run=1&range=28d",
             "/services/checkout-api?run=1&range=7d", "/services/checkout-api/endpoint?name=POST%20/checkout&range=28d",
             "/slo?run=1", "/cost?run=1&range=28d", f"/findings/{made[0].id}?run=1&range=28d"]
    problems = visit(browser, [base + p for p in paths])
    assert problems["overflow"] == []
    assert problems["console"] == []
    assert problems["foreign"] == []
    assert problems["unlinked"] == []
    import urllib.request

    for href in sorted(set(problems["links"])):
        assert urlsplit(href).hostname == "127.0.0.1", href
        with urllib.request.urlopen(href, timeout=10) as answer:
            assert answer.status == 200, href


def test_the_picker_form_puts_the_view_in_the_url_without_script(site: tuple[str, Path], browser: Any) -> None:
    base, _ = site
    context = browser.new_context(viewport={"width": 390, "height": 900}, java_script_enabled=False)
    page = context.new_page()
    page.goto(base + "/", wait_until="networkidle")
    page.select_option("form.picker select[name=run]", "1")
    page.select_option("form.picker select[name=range]", "28d")
    page.click("form.picker button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert urlsplit(page.url).query == "run=1&range=28d"
    assert "analysis run 1:" in page.content()
    context.close()
