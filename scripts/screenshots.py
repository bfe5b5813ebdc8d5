"""Screenshots for the README: the executive report and, given the URL of a running dashboard,
its domain page, each on a desktop (1400 px) and a phone (390 px).

    .venv/bin/perfops demo --workspace /tmp/perfops-demo
    # a previous run to compare with: the week before, then this week again (the newest run shown)
    .venv/bin/perfops analyze -w /tmp/perfops-demo --period 7d --at <the demo's end - 7 days>
    .venv/bin/perfops analyze -w /tmp/perfops-demo --period 7d --at <the demo's end>
    .venv/bin/perfops report -w /tmp/perfops-demo --format html
    .venv/bin/perfops serve --workspace /tmp/perfops-demo --port 8090 &
    .venv/bin/python scripts/screenshots.py /tmp/perfops-demo/reports/executive.html docs/img http://127.0.0.1:8090/

Drives Debian's /usr/bin/chromium through Playwright (never `playwright install`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

SHOTS = (("{}.png", 1400, 1100, 1), ("{}-phone.png", 390, 844, 2))


def main(report: str, folder: str, dashboard: str | None = None) -> None:
    out = Path(folder)
    pages = [("executive", Path(report).resolve().as_uri())] + ([("dashboard", dashboard)] if dashboard else [])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for stem, url in pages:
            for pattern, width, height, scale in SHOTS:
                name = pattern.format(stem)
                page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
                page.goto(url, wait_until="networkidle")
                scroll = page.evaluate("document.documentElement.scrollWidth")
                if scroll > width:
                    raise SystemExit(f"{name}: the page is {scroll} px wide at {width} px")
                page.screenshot(path=str(out / name))
                page.close()
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
