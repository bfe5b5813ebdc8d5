"""The bounds on what perfops reads: one owner for every input limit (docs/reliability.md, "Limits").

A file past a limit is refused with exit 1 and a message naming the limit and the environment
variable that raises it; nothing is read past the limit, so a small hostile file (a gzip bomb, a
header of a million commas, a YAML alias bomb, 50,000 nested brackets) cannot exhaust memory.

Times: the store keeps naive-UTC microseconds, pandas nanoseconds end in 2262 and Python's
datetime in 9999, so a time before 1970 or from 2200 on is a corrupt value, not a measurement.
A time more than PERFOPS_MAX_FUTURE_HOURS (24) after the moment of ingest is refused too: Grafana Mimir and
Cortex refuse samples "too far in the future" by the same rule (`-validation.create-grace-period`,
10 minutes by default); perfops allows a day, for clocks and for local times written without their
offset, so that a typo year (2062 for 2026) cannot move every default period decades ahead.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)  # exclusive
TIME_RANGE = "1970-01-01 to 2200-01-01 UTC"

# name -> (environment variable, default, unit shown in messages)
_LIMITS: dict[str, tuple[str, int, str]] = {
    "future_hours": ("PERFOPS_MAX_FUTURE_HOURS", 24, "hours"),
    "decompressed_bytes": ("PERFOPS_MAX_DECOMPRESSED_BYTES", 4 << 30, "bytes"),
    "document_bytes": ("PERFOPS_MAX_DOCUMENT_BYTES", 1 << 30, "bytes"),
    "columns": ("PERFOPS_MAX_COLUMNS", 10_000, "columns"),
    "header_bytes": ("PERFOPS_MAX_HEADER_BYTES", 1 << 20, "bytes"),
    "yaml_depth": ("PERFOPS_MAX_YAML_DEPTH", 100, "levels"),
    "yaml_nodes": ("PERFOPS_MAX_YAML_NODES", 1_000_000, "nodes"),
}


def limit(name: str) -> int:
    """The limit's value: its environment variable when set to a positive whole number, else the default."""
    variable, default, _ = _LIMITS[name]
    text = os.environ.get(variable, "").strip().replace("_", "")
    return int(text) if text.isdigit() and int(text) > 0 else default


def described(name: str) -> str:
    """'the limit of 10,000 columns (PERFOPS_MAX_COLUMNS)', for messages."""
    variable, _, unit = _LIMITS[name]
    return f"the limit of {limit(name):,} {unit} ({variable})"


def latest_accepted(now: datetime) -> datetime:
    """The first time refused at ingest: `now` (naive UTC) plus the future margin, at most LATEST."""
    return min(LATEST, now + timedelta(hours=limit("future_hours")))


def defaults() -> dict[str, tuple[str, int, str]]:
    """Every limit: name -> (environment variable, default, unit); the docs table is checked against it."""
    return dict(_LIMITS)
