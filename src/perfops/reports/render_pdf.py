"""PDF from the same HTML, printed by headless Chromium (`--print-to-pdf`).

Chromium comes from the system (Debian: `apt-get install chromium`); set PERFOPS_CHROMIUM to
use another binary. No network is touched: the HTML is self-contained.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from perfops.errors import PerfopsError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_SECONDS = 120


def find_chromium() -> str | None:
    override = os.environ.get("PERFOPS_CHROMIUM")
    if override:
        return override if Path(override).exists() or shutil.which(override) else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_args(binary: str, html_path: Path, pdf_path: Path) -> list[str]:
    return [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.as_uri(),
    ]


def html_to_pdf(html: str, pdf_path: Path) -> Path:
    binary = find_chromium()
    if binary is None:
        raise PerfopsError(
            "PDF output needs Chromium, which was not found",
            hint="install it (Debian/Ubuntu: apt-get install chromium), set PERFOPS_CHROMIUM to its path, "
                 "or use --format html and print from a browser",
        )
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="perfops-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        out = Path(tmp) / "report.pdf"
        env = {**os.environ, "HOME": tmp}
        try:
            done = subprocess.run(chromium_args(binary, page, out), capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS, env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PerfopsError(f"Chromium could not print the PDF ({exc})") from exc
        if not out.exists() or out.stat().st_size == 0:
            raise PerfopsError(f"Chromium did not write a PDF (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        shutil.move(str(out), pdf_path)
    return pdf_path
