"""Screenshots of the executive report for the README: desktop (1400 px) and phone (390 px).

    .venv/bin/perfops demo --workspace /tmp/perfops-demo
    .venv/bin/python scripts/screenshots.py /tmp/perfops-demo/reports/executive.html docs/img

Drives Debian's /usr/bin/chromium through Playwright (never `playwright install`).
"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

SHOTS = (("executive.png", 1400, 1100, 1), ("executive-phone.png", 390, 844, 2))


def main(report: str, folder: str) -> None:
    out = Path(folder)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"])
        for name, width, height, scale in SHOTS:
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
            page.goto(Path(report).resolve().as_uri())
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                raise SystemExit(f"{name}: the page is {scroll} px wide at {width} px")
            page.screenshot(path=str(out / name))
            page.close()
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
