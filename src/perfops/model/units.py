"""Durations and other units people write by hand: `28d`, `60s`, `1h`, `7d`."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float) -> timedelta:
    """'28d' -> 28 days. A bare number is seconds. Raises ValueError with what was expected."""
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(f"'{text}' is not a duration; expected a number and a unit, e.g. 30s, 5m, 1h, 7d, 2w")
    value, unit = match.groups()
    return timedelta(seconds=float(value) * _SECONDS[unit])


def format_duration(delta: timedelta) -> str:
    """Shortest exact form: 7 days -> '7d', 90 s -> '90s'."""
    seconds = int(delta.total_seconds())
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
