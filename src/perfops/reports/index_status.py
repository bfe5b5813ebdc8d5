"""The status each HTML report states in its head (`<meta name="perfops-status"
content="level|word">`, written by render_html.py), read back for the index page."""

from __future__ import annotations

import re
from pathlib import Path

_META = re.compile(r'<meta name="perfops-status" content="(red|amber|grey|green)\|([^"<>]*)">')
_HEAD_BYTES = 4096  # the meta tag is in the first lines of the head


def report_status(path: Path) -> tuple[str, str] | None:
    """(level, word) of a written report, or None when it states none (an older file)."""
    try:
        with path.open(encoding="utf-8") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return None
    m = _META.search(head)
    return (m.group(1), m.group(2)) if m else None
