"""PDF from the same HTML, printed by headless Chromium (`--print-to-pdf`).

Chromium comes from the system (Debian: `apt-get install chromium`); set PERFOPS_CHROMIUM to
use another binary. No network is touched: the HTML is self-contained.

Two prints of one stored run are the same bytes: the page is printed from beside the PDF (its
relative links resolve where the PDF lives, not in a temporary folder of a random name) and the
creation and modification dates Chromium stamps are the report's own time, not the clock.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
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


def html_to_pdf(html: str, pdf_path: Path, created: datetime | None = None) -> Path:
    """Print `html` to `pdf_path`; `created` (the report's time) becomes the PDF's dates."""
    binary = find_chromium()
    if binary is None:
        raise PerfopsError(
            "PDF output needs Chromium, which was not found",
            hint="install it (Debian/Ubuntu: apt-get install chromium), set PERFOPS_CHROMIUM to its path, "
                 "or use --format html and print from a browser",
        )
    pdf_path.parent.mkdir(parents=True, exist_ok=True)
    page = pdf_path.resolve().with_name(f".{pdf_path.name}.html")  # a file URI needs an absolute path
    with tempfile.TemporaryDirectory(prefix="perfops-pdf-") as tmp:
        page.write_text(html, encoding="utf-8")
        out = Path(tmp) / "report.pdf"
        env = {**os.environ, "HOME": tmp}
        try:
            done = subprocess.run(chromium_args(binary, page, out), capture_output=True, text=True,
                                  timeout=TIMEOUT_SECONDS, env=env, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PerfopsError(f"Chromium could not print the PDF ({exc})") from exc
        finally:
            page.unlink(missing_ok=True)
        if not out.exists() or out.stat().st_size == 0:
            raise PerfopsError(f"Chromium did not write a PDF (exit {done.returncode}): {done.stderr.strip()[-300:]}")
        if created is not None:
            out.write_bytes(stamp_dates(out.read_bytes(), created))
        shutil.move(str(out), pdf_path)
    return pdf_path


_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) \(D:\d{14}[+-]\d\d'\d\d'\)")


def stamp_dates(pdf: bytes, moment: datetime) -> bytes:
    """The PDF's creation and modification dates set to `moment` (naive = UTC). The new date
    has the length of Chromium's, so the cross-reference offsets stay right."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    date = utc.strftime("D:%Y%m%d%H%M%S+00'00'").encode()
    return _PDF_DATE.sub(lambda m: b"/" + m.group(1) + b" (" + date + b")", pdf)
