"""Records: a step beyond everything the series has done before.

On real data (NAB, bench/real_domain.py) many labelled incidents are short, sharp excursions
that a time-of-week norm rates as ordinary noise or misses because they last a few steps: a
latency of 99 ms on an API whose history never passed 52 ms, a CPU at 68 % on a host that never
passed 62 %, a tweet volume at twice its all-time high. What makes them unusual is that the
series has never been there. A step is a record when it lies beyond the range of everything the
series reported up to `MERGE` (an hour) before it, by a margin of that range (`UP_MARGIN` above
the maximum, `DOWN_MARGIN` below the minimum, in the directions that are bad for the metric),
once there are `MIN_HISTORY` (7 days) of data behind that range (a p95 latency for at least
10 minutes, `MIN_RUN`: one step's percentile is a noisy estimate). Comparing with the data up to
an hour before lets a burst that climbs for an hour stay one record, while the next burst of a
new regime hours later must go further still: by the margin, or beyond a record set within
`ESCALATION` (7 days) at all (a fault that broke the history comes back worse: a road's speed
falls to 15 mph one morning, a record low, and to 11 the next). A record step needs a norm at
its time of week, as every finding tells its steps against their norm. A floor at zero is never beaten downwards, so a
count or a gauge that drops to 0 is judged by the outage rules, not here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from perfops.analysis.grid import Grid
from perfops.analysis.trends.signals import GAUGES, Signal

UP_MARGIN = 0.2  # of the history's range, above its maximum
DOWN_MARGIN = 0.2  # of the range, below its minimum (0.1 let Gaussian noise of 1,000 series through)
MIN_HISTORY = 7 * 86_400  # seconds of history before the period
# A step's p95 latency is one order statistic of that step's requests: a few slow requests move
# it, and on the null domain one 5-minute p95 of lognormal noise passed its five-week range by
# 28 % of it. A latency record must last this long (two 5-minute steps); a count, a utilisation
# or a gauge is a total or an average over its step, and one step of it beyond the range counts.
MIN_RUN = {"latency": 600}  # seconds of consecutive record steps, per role
MERGE = 3_600  # seconds: a step is compared with the data up to this long before it
# seconds: a step beyond a record set this recently is a record too (the fault is back, worse)
ESCALATION = 7 * 86_400

# the directions in which a record is bad, per built-in role (gauges: their catalog direction)
DIRECTIONS = {"latency": "up", "traffic": "both", "cpu": "both", "memory": "both"}


def record_mask(values: np.ndarray, epoch: np.ndarray, split: int, direction: str, min_run: float = 0) -> np.ndarray:
    """(S, T - split) bool: the period's record steps of each row (module docstring), in
    `direction` ("up", "down" or "both"), in runs of at least `min_run` seconds. All rows at
    once (each test is elementwise: a row's answer does not depend on the others); the range
    up to each compared step is the history's extreme (one reduction) carried through the period,
    and the recent-record test runs only on the rows with a step beyond that range."""
    out = np.zeros((values.shape[0], values.shape[1] - split), dtype=bool)
    if split >= values.shape[1] or epoch.size < 2:
        return out
    step = float(epoch[1] - epoch[0])
    lag = max(int(MERGE // step), 0) + 1
    if values.shape[1] <= lag:
        return out
    cols = np.arange(split, values.shape[1])
    known = cols - lag  # the last step each one is compared with
    usable = known >= 0
    at = np.where(usable, known, 0)
    rows = np.flatnonzero(np.isfinite(values).any(axis=1))
    if not rows.size:
        return out
    raw = values if rows.size == values.shape[0] else values[rows]
    # the range is of finite values: an infinite one counts as missing there (fmax and fmin skip
    # NaN), while the step itself is still compared as it is
    v = np.where(np.isfinite(raw), raw, np.nan) if np.isinf(raw).any() else raw
    history = epoch[np.argmax(~np.isnan(v), axis=1)][:, None]  # each row's first value
    top = _running(np.fmax, v, at, -np.inf)
    bottom = _running(np.fmin, v, at, np.inf)
    spread = top - bottom
    ok = usable & (epoch[at] - history >= MIN_HISTORY) & np.isfinite(spread) & (spread > 0)
    x = raw[:, split:]
    found = np.zeros((rows.size, cols.size), dtype=bool)
    with np.errstate(invalid="ignore"):
        if direction in ("up", "both"):
            found |= ok & (x > top + UP_MARGIN * spread)
            found |= _recent_record_steps(ok & (x > top), v, epoch, lag, history, at, up=True)
        if direction in ("down", "both"):
            floor = bottom - DOWN_MARGIN * spread
            found |= ok & (floor > 0) & (x < floor)
            found |= _recent_record_steps(ok & (x < bottom), v, epoch, lag, history, at, up=False)
    out[rows] = lasting_rows(found, max(-(-int(min_run) // int(step)), 1))
    return out


def _running(extreme: np.ufunc, v: np.ndarray, at: np.ndarray, none: float) -> np.ndarray:
    """(R, len(at)): the running `extreme` (np.fmax or np.fmin, which skip missing values) of
    each row up to each column of `at` (ascending), `none` before any value: the extreme of the
    columns before `at[0]` in one reduction, then accumulated over the columns `at` spans."""
    first, last = int(at[0]), int(at[-1])
    head = extreme.reduce(v[:, :first], axis=1, initial=none) if first else np.full(v.shape[0], none)
    running = extreme.accumulate(np.concatenate([head[:, None], v[:, first : last + 1]], axis=1), axis=1)
    return running[:, 1 + at - first]


def _recent_record_steps(candidates: np.ndarray, v: np.ndarray, epoch: np.ndarray, lag: int,
                         history: np.ndarray, at: np.ndarray, up: bool) -> np.ndarray:
    """`candidates` (R, P) kept where `_set_by_recent_record` holds, computed on the rows that
    have a candidate only."""
    rows = np.flatnonzero(candidates.any(axis=1))
    out = np.zeros_like(candidates)
    if rows.size:
        out[rows] = candidates[rows] & _set_by_recent_record(v[rows], epoch, lag, history[rows], at, up)
    return out


def _set_by_recent_record(v: np.ndarray, epoch: np.ndarray, lag: int, history: np.ndarray, at: np.ndarray,
                          up: bool) -> np.ndarray:
    """For each compared step `at` of each row: the extreme it holds (maximum if `up`, else
    minimum) was itself a record (beyond the range before it by the margin) set at most
    `ESCALATION` before. A step beyond such an extreme goes further than a fault that has just
    broken the series' history: the fault is back and worse, a record however small the extra
    step. `history`: (R, 1) epoch of each row's first value. Only the steps that set the
    extremes held at `at` are tested."""
    index = np.arange(v.shape[1])
    seen = np.isfinite(v)
    hi = np.fmax.accumulate(np.where(seen, v, -np.inf), axis=1)
    lo = np.fmin.accumulate(np.where(seen, v, np.inf), axis=1)
    extreme = hi if up else lo
    setter = np.maximum.accumulate(np.where(seen & (v == extreme), index, 0), axis=1)  # where it was reached
    k = setter[:, at]
    before = np.clip(k - lag, 0, None)
    top, bottom = np.take_along_axis(hi, before, axis=1), np.take_along_axis(lo, before, axis=1)
    value = np.take_along_axis(v, k, axis=1)
    spread = top - bottom
    with np.errstate(invalid="ignore"):
        beyond = value > top + UP_MARGIN * spread if up else \
            (bottom - DOWN_MARGIN * spread > 0) & (value < bottom - DOWN_MARGIN * spread)
    was_record = (k >= lag) & (epoch[before] - history >= MIN_HISTORY) & (spread > 0) & beyond
    return was_record & (epoch[at] - epoch[k] <= ESCALATION)


def lasting(mask: np.ndarray, steps: int) -> np.ndarray:
    """`mask` without its runs shorter than `steps` consecutive steps."""
    if steps <= 1 or not mask.any():
        return mask
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    out = np.zeros_like(mask)
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        if b - a >= steps:
            out[a:b] = True
    return out


def lasting_rows(mask: np.ndarray, steps: int) -> np.ndarray:
    """`lasting` of each row of a 2-D mask: the rows laid end to end with a False between them,
    so that no run crosses from one row into the next."""
    if steps <= 1 or not mask.any():
        return mask
    rows, width = mask.shape
    padded = np.zeros((rows, width + 1), dtype=bool)
    padded[:, :width] = mask
    return lasting(padded.ravel(), steps).reshape(rows, width + 1)[:, :width]


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
    records = record_mask(grid.values[name], grid.epoch, split, way, MIN_RUN.get(signal.role, 0))
    if rows is not None:
        records &= rows[:, None]
    # a finding tells its steps against their norm: a step at a time of week with no history has none
    records &= np.isfinite(signal.norm)
    if not records.any():
        return signal, severe
    return replace(signal, flagged=signal.flagged | records), records if severe is None else severe | records
