"""From flagged steps to episodes: transient anomalies vs sustained level shifts.

A run is a stretch of flagged steps (gaps of up to `merge_gap` steps merged, at least
`min_points` flagged). For a series with runs, change points of its deseasonalised drift
(`perfops.analysis.changepoint`) cut the period into levels; consecutive levels that deviate
materially from the norm in the same direction form a shift. A shift that holds for at least
`sustain` and overlaps a run is a regression (worse) or an improvement (better); runs not inside
such a shift are anomalies. Start and end are period columns; `end` None = still ongoing.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from perfops.analysis.changepoint import find_change_points
from perfops.analysis.grid import Grid
from perfops.analysis.trends.signals import Signal

if TYPE_CHECKING:
    from perfops.analysis.trends import TrendParams


@dataclass(frozen=True)
class Episode:
    row: int
    kind: str  # anomaly | regression | improvement
    start: int  # first period column
    end: int | None  # exclusive period column; None = still ongoing at the end of the period
    before: float = 0.0  # drift level before (shifts)
    after: float = 0.0  # drift level after (shifts)
    p_value: float | None = None
    effect_size: float | None = None
    change_index: int | None = None  # period column of the change point (shifts)


def runs_of(mask: np.ndarray, min_points: int, merge_gap: int) -> list[tuple[int, int]]:
    """[start, end) of stretches of True, merging gaps <= merge_gap, keeping >= min_points True."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    merged: list[list[int]] = []
    for s, e in zip(map(int, starts), map(int, ends), strict=True):
        if merged and s - merged[-1][1] <= merge_gap:
            merged[-1][1] = e
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged if int(mask[s:e].sum()) >= min_points]


def trim_run(drift: np.ndarray, run: tuple[int, int], minimum: float, window: int) -> tuple[int, int]:
    """Narrow a run found on window sums to the steps that themselves exceed `minimum`
    (a window test flags late and lets go late by up to window - 1 steps)."""
    lo = max(run[0] - window + 1, 0)
    hits = np.flatnonzero(np.nan_to_num(drift[lo:run[1]]) >= minimum)
    if hits.size == 0:
        return run
    return lo + int(hits[0]), lo + int(hits[-1]) + 1


def material(signal: Signal, row: int | None = None) -> float:
    """The smallest deviation that matters, in drift units (log ratio, points or rate); for
    CPU and memory per series (a doubling of a low norm matters)."""
    if row is not None and signal.row_material is not None:
        return float(signal.row_material[row])
    return signal.material


def episodes_of(signal: Signal, grid: Grid, split: int, params: TrendParams,
                skip_rows: AbstractSet[int] = frozenset(),
                severe: np.ndarray | None = None) -> list[Episode]:
    """The episodes of every flagged series. `severe` marks steps so far out (latency above the
    SLO or several times its norm) that a burst of `params.burst` (5 minutes) is reported even
    though it is shorter than `min_points` steps."""
    rows = [r for r in map(int, np.flatnonzero(signal.flagged.any(axis=1))) if r not in skip_rows]
    sustain = max(int(params.sustain.total_seconds() // grid.step), 1)
    burst = max(-(-int(params.burst.total_seconds()) // grid.step), 1)
    out: list[Episode] = []
    for row in rows:
        runs = runs_of(signal.flagged[row], params.min_points, params.merge_gap)
        if severe is not None and severe[row].any():
            runs = _union(runs, runs_of(severe[row] & signal.flagged[row], burst, params.merge_gap))
        if signal.role == "errors":
            runs = [trim_run(signal.drift[row], r, material(signal), params.signal.error_window) for r in runs]
        if runs:
            out.extend(_row_episodes(signal, row, runs, sustain, params.cp_alpha))
    return out


def _union(runs: list[tuple[int, int]], extra: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """`runs` plus the `extra` runs that overlap none of them, in time order."""
    return sorted(runs + [e for e in extra if not any(e[0] < b and a < e[1] for a, b in runs)])


def _row_episodes(signal: Signal, row: int, runs: list[tuple[int, int]], sustain: int,
                  alpha: float) -> list[Episode]:
    # a sustained shift needs only half the size of a one-step alarm: its evidence is its length
    shifts = [_dead_is_worse(signal, s) for s in
              level_shifts(signal.drift[row], 0.5 * material(signal, row), alpha, sustain, row, signal.worse)
              if any(_overlap(s, r) for r in runs)]
    episodes = [s for s in shifts if _reportable(signal.role, s)]  # the others still absorb their runs
    for start, end in runs:
        if not any(_overlap(s, (start, end)) for s in shifts):
            n = signal.drift.shape[1]
            episodes.append(Episode(row, "anomaly", start, None if end >= n else end))
    return episodes


def _dead_is_worse(signal: Signal, shift: Episode) -> Episode:
    """Less CPU or memory is no gain when it falls to near zero: the process died or idles, a
    regression (issue 13: drops to zero are findings in both directions)."""
    if shift.kind != "improvement" or signal.outage is None or signal.role not in ("cpu", "memory"):
        return shift
    span = signal.outage[shift.row, shift.start: shift.end]
    return replace(shift, kind="regression") if span.size and span.mean() >= 0.5 else shift


def _reportable(role: str, shift: Episode) -> bool:
    """More traffic is not better, and less CPU or memory after a traffic dip is no gain: those
    sustained shifts are capacity's to judge (volume_growth), not improvements."""
    return not (shift.kind == "improvement" and role in ("traffic", "cpu", "memory"))


def _overlap(shift: Episode, run: tuple[int, int]) -> bool:
    end = shift.end if shift.end is not None else 1 << 60
    return shift.start < run[1] and run[0] < end


def level_shifts(drift: np.ndarray, minimum: float, alpha: float, sustain: int, row: int,
                 worse: int) -> list[Episode]:
    """Sustained material shifts of `drift` away from 0 (the norm), from its change points."""
    valid = np.flatnonzero(np.isfinite(drift))
    if valid.size < 12:
        return []
    x = drift[valid]
    cps = find_change_points(x, alpha=alpha, min_size=6, max_points=20)
    bounds = [0] + [c.index for c in cps] + [x.size]
    levels = [float(np.median(x[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    out = []
    i = 0
    while i < len(levels):
        sign = int(np.sign(levels[i])) if abs(levels[i]) >= minimum else 0
        j = i
        while j + 1 < len(levels) and sign and abs(levels[j + 1]) >= minimum and np.sign(levels[j + 1]) == sign:
            j += 1
        if sign and i > 0:
            out.append(_shift(x, valid, cps[i - 1], bounds[i], bounds[j + 1], levels, i, sign, worse,
                              sustain, row, drift.size))
        i = j + 1
    return [s for s in out if s is not None]


def _shift(x, valid, cp, a: int, b: int, levels, i: int, sign: int, worse: int, sustain: int,
           row: int, n: int) -> Episode | None:
    start = int(valid[a])
    end = None if b >= x.size else int(valid[b])
    # sustained: still on at the end of the period after `sustain`, or over but 3 x as long
    if (end is None and n - start < sustain) or (end is not None and end - start < 3 * sustain):
        return None
    kind = "regression" if sign * worse > 0 else "improvement"
    return Episode(row, kind, start, end, before=levels[i - 1], after=float(np.median(x[a:b])),
                   p_value=float(cp.p_value), effect_size=float(cp.effect_size), change_index=start)
