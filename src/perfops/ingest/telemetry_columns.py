"""Which header names a telemetry file may have (docs/formats/telemetry.md): the one check of the
columns, so that a misspelt column (`endpiont`) is refused with the nearest known name instead of
being dropped silently (which stored one row where the file had two: the endpoint was lost).

`telemetry.canonical_names` maps names other tools write to ours (each one used is said in the
ingest notes); `check_names` then sees canonical names only, so a new header convention (unit
suffixes, another tool's names) is a change to `canonical_names` (and `ALIASES`, for suggestions).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from perfops.errors import InputError
from perfops.ingest.common import check_columns_limit
from perfops.model.tables import METRICS

KEY_COLUMNS = ("timestamp", "service", "endpoint", "consumer")
LONG_COLUMNS = ("metric", "value")

# another tool's name -> ours (Grafana and Datadog: `time`): the mapping itself is
# `telemetry.canonical_names`; here the names are offered as suggestions for a misspelt column.
ALIASES = {"time": "timestamp"}


def alias_notes(raw: list[str], names: list[str]) -> list[str]:
    """One note per column read under another name."""
    return [f"column '{r.strip()}' read as '{n}'" for r, n in zip(raw, names, strict=True)
            if r.strip().lower() != n]


def check_column_count(count: int, path: Path | str) -> None:
    """A header of a million commas is refused before any reader allocates a column for each."""
    check_columns_limit(count, path, "a telemetry CSV of a few columns")


def check_names(names: list[str], path: Path | str, metrics: Sequence[str] = tuple(METRICS)) -> None:
    """Refuse a column perfops does not read, naming the nearest known one. Long form (`metric`
    and `value` present): the key columns and those two; wide form: the key columns and `metrics`
    (perfops' own and the gauges the catalog declares)."""
    check_column_count(len(names), path)
    long = set(LONG_COLUMNS) <= set(names)
    half = [c for c in LONG_COLUMNS if c in names]
    if half and not long:
        missing = next(c for c in LONG_COLUMNS if c not in names)
        raise InputError(f"unknown metric column(s) {half[0]}; the long form needs both 'metric' and 'value', "
                         f"and '{missing}' is missing", path=str(path), line=1, field="header")
    known = KEY_COLUMNS + (LONG_COLUMNS if long else tuple(metrics))
    for position, name in enumerate(names, start=1):
        if name in known:
            continue
        if not name:
            raise InputError(f"column {position} has no name; expected one of {', '.join(known)}",
                             path=str(path), line=1, field="header")
        raise InputError(_unknown(name[:60], known, long), path=str(path), line=1, field="header")


def _unknown(name: str, known: tuple[str, ...], long: bool) -> str:
    near = difflib.get_close_matches(name, list(known) + list(ALIASES), n=1, cutoff=0.6)
    suggestion = f"did you mean '{ALIASES.get(near[0], near[0])}'?" if near else ""
    if long:
        return f"unknown column '{name}'; " + (suggestion or "expected timestamp, service, endpoint, consumer, "
                                                              "metric, value")
    return f"unknown metric column(s) {name}; " + (suggestion or (
        f"expected long form (metric, value) or wide columns named after metrics: {', '.join(METRICS)}"))
