"""The executive report printed: at most two A4 pages for the demo domain, numbered, the answer
first. Needs Chromium (PDF) and pdftotext (poppler-utils), both installed by
scripts/install-system-deps.sh; skips with the reason when either is missing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from perfops.reports.render_pdf import find_chromium
from perfops.usecases.reports import render_reports

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(find_chromium() is None or shutil.which("pdftotext") is None,
                                 reason="needs chromium and poppler-utils (make system-deps)")]


def test_the_demo_executive_prints_on_two_numbered_pages(demo_run, tmp_path: Path) -> None:
    _, workspace, _ = demo_run
    (pdf,) = render_reports(workspace, audience="executive", fmt="pdf", output=tmp_path / "exec.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")
    pages = [p for p in pages if p.strip()]
    assert len(pages) <= 2, f"{len(pages)} pages"
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in page
    first = pages[0]
    assert first.index("Domain status") < first.index("Anything out of the ordinary")
    assert "need you" in first or "Nothing needs you" in first
    # no section title is the last line of a page
    for page in pages[:-1]:
        body = [line.strip() for line in page.splitlines() if line.strip() and not line.strip().startswith("page ")]
        assert body[-1] not in ("Domain status", "Anything out of the ordinary", "Incidents caused by a dependency",
                                "Capacity: which services run out, and when", "Savings"), body[-1]
