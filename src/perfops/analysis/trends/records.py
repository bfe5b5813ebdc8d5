"""Records: a stretch that goes beyond everything the series has done before.

On real data (NAB, bench/real_domain.py) many labelled incidents are short, sharp excursions
that a time-of-week norm rates as ordinary noise or misses because they last a few steps: a
latency of 99 ms on an API whose history never passed 52 ms, a CPU at 68 % on a host that never
passed 62 %, a tweet volume at twice its all-time high. What makes them unusual is that the
series has never been there. A step is a record candidate when it lies beyond the range of the
history (at least `MIN_HISTORY` of it) by a margin of that range (`UP_MARGIN` above the
maximum, `DOWN_MARGIN` below the minimum, in the directions that are bad for the metric);
candidates a gap of up to `MERGE` apart form a run, and a run is a record only when its extreme
also beats everything before it, the period so far included (the second burst of a new regime
is not a record unless it goes further still). A floor at zero is never beaten downwards, so a
count or a gauge that drops to 0 is judged by the outage rules, not here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from perfops.analysis.grid import Grid
from perfops.analysis.trends.signals import GAUGES, Signal

UP_MARGIN = 0.2  # of the history's range, above its maximum
DOWN_MARGIN = 0.1  # of the history's range, below its minimum
MIN_HISTORY = 7 * 86_400  # seconds of history before the period
MERGE = 3_600  # seconds: candidate steps this close form one run

# the directions in which a record is bad, per built-in role (gauges: their catalog direction)
DIRECTIONS = {"latency": "up", "traffic": "both", "cpu": "both", "memory": "both"}


def record_mask(values: np.ndarray, epoch: np.ndarray, split: int, direction: str) -> np.ndarray:
    """(S, T - split) bool: the period's steps inside a record run (module docstring) of each row,
    in `direction` ("up", "down" or "both")."""
    out = np.zeros((values.shape[0], values.shape[1] - split), dtype=bool)
    if split <= 0 or split >= values.shape[1]:
        return out
    step = float(epoch[1] - epoch[0]) if epoch.size > 1 else 300.0
    merge = max(int(MERGE // step), 0)
    for row in range(values.shape[0]):
        history, period = values[row, :split], values[row, split:]
        seen = np.flatnonzero(np.isfinite(history))
        if seen.size < 2 or epoch[split] - epoch[seen[0]] < MIN_HISTORY:
            continue
        lo, hi = float(history[seen].min()), float(history[seen].max())
        spread = hi - lo
        if spread <= 0:
            continue
        with np.errstate(invalid="ignore"):
            if direction in ("up", "both"):
                out[row] |= _runs(period, history[seen], period > hi + UP_MARGIN * spread, merge,
                                  UP_MARGIN * spread, up=True)
            if direction in ("down", "both") and lo - DOWN_MARGIN * spread > 0:
                out[row] |= _runs(period, history[seen], period < lo - DOWN_MARGIN * spread, merge,
                                  DOWN_MARGIN * spread, up=False)
    return out


def _runs(period: np.ndarray, history: np.ndarray, candidate: np.ndarray, merge: int, margin: float,
          up: bool) -> np.ndarray:
    """The candidate runs whose extreme beats everything before the run by `margin`."""
    out = np.zeros(period.size, dtype=bool)
    hits = np.flatnonzero(candidate)
    if hits.size == 0:
        return out
    cuts = np.flatnonzero(np.diff(hits) > merge + 1) + 1
    for run in np.split(hits, cuts):
        a, b = int(run[0]), int(run[-1]) + 1
        before = np.concatenate([history, period[:a][np.isfinite(period[:a])]])
        extreme = float(np.nanmax(period[a:b])) if up else float(np.nanmin(period[a:b]))
        if (up and extreme > before.max() + margin) or (not up and extreme < before.min() - margin):
            out[a:b] = True
    return out


def direction_of(role: str, gauge_direction: str | None = None) -> str | None:
    """The direction a record of `role` is bad in; None: records are not judged (errors)."""
    return gauge_direction if gauge_direction else DIRECTIONS.get(role)


def with_records(signal: Signal, grid: Grid, split: int, severe: np.ndarray | None,
                 rows: np.ndarray | None = None, direction: str | None = None) -> tuple[Signal, np.ndarray | None]:
    """`signal` with its record runs (trends.records) flagged, and `severe` with them: a record
    is reported however short, as a severe latency burst is."""
    way = direction_of(signal.role, direction)
    name = GAUGES[signal.role][0] if signal.role in GAUGES else signal.role
    if way is None or name not in grid.values:
        return signal, severe
    records = record_mask(grid.values[name], grid.epoch, split, way)
    if rows is not None:
        records &= rows[:, None]
    if not records.any():
        return signal, severe
    return replace(signal, flagged=signal.flagged | records), records if severe is None else severe | records
