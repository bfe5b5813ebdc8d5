"""The step of a telemetry series: one inference for every analysis (issue 13 item 8).

A series' step is the median gap between its distinct timestamps: robust to a few gaps or a
few extra points, and exact for the regular exports monitoring tools write (1 minute from
Prometheus, 5 minutes from CloudWatch, 30 minutes, an hour, a day from billing). Analyses
judge each series at its own step (`series_steps`, `by_step`) rather than at the step of the
finest series beside it, so a coarse series is never dropped or misread for being coarse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from perfops.analysis.codes import codes_of

DEFAULT_STEP = 300  # seconds, when a series has too few points to tell
SAMPLE = 200_000  # distinct timestamps enough to know a step


def median_gap(stamps: np.ndarray) -> float | None:
    """The median positive gap between the distinct values of `stamps` (datetime64 in seconds,
    or numbers in their own unit: epoch seconds, grid cells), any order, repeats allowed; None
    with fewer than two distinct values. The one step inference every caller goes through."""
    values = np.asarray(stamps)
    if values.dtype.kind == "M":
        values = values.astype("datetime64[s]").astype(np.int64)
    distinct = np.unique(values[:SAMPLE])
    gaps = np.diff(distinct)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if gaps.size else None


def infer_step_seconds(stamps: np.ndarray, default: int | None = DEFAULT_STEP) -> int | None:
    """The usual spacing, in whole seconds, of timestamps (datetime64 or epoch seconds, any
    order, repeats allowed); `default` when fewer than two distinct values."""
    gap = median_gap(stamps)
    return default if gap is None else int(gap)


def series_steps(frame: pd.DataFrame, keys: tuple[str, ...] = ("service", "endpoint", "metric")) -> pd.Series:
    """The step (s) of every series of a long telemetry frame, indexed by `keys`.

    Linear in the rows when they come grouped by series in time order (as the store returns
    them); sorted first otherwise."""
    if frame.empty:
        return pd.Series(dtype=np.int64)
    epoch = frame["timestamp"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    key: np.ndarray = np.zeros(len(frame), dtype=np.int64)
    for k in keys:
        codes, names = codes_of(frame[k])
        key = key * (len(names) + 2) + codes.astype(np.int64) + 1
    dk, dt = np.diff(key), np.diff(epoch)
    if bool(((dk == 0) & (dt < 0)).any()) or _interleaved(key):
        order = np.lexsort((epoch, key))
        key, epoch = key[order], epoch[order]
        dk, dt = np.diff(key), np.diff(epoch)
    else:
        order = np.arange(len(frame))
    starts = np.flatnonzero(np.concatenate(([True], dk != 0)))
    ends = np.append(starts[1:], len(frame))
    steps = steps_of_runs(dt, dk, starts, ends)
    first_rows = frame.iloc[order[starts]]
    index = pd.MultiIndex.from_arrays([first_rows[k].astype(str).to_numpy() for k in keys], names=list(keys))
    steps_by_key = pd.Series(steps, index=index, name="step")
    return steps_by_key.groupby(level=list(range(len(keys)))).min() if index.has_duplicates else steps_by_key


def steps_of_runs(dt: np.ndarray, dk: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per run of rows [start, end) of one series, rows sorted by series then time: the median
    of its positive time gaps in seconds (`dt`, the diff of epoch seconds; `dk` != 0 where the
    next row starts another series), DEFAULT_STEP without any. A
    series whose positive gaps are all equal, every regular export, has that gap as its median:
    found for every series at once; only the others take a median of their own."""
    steps = np.full(starts.size, DEFAULT_STEP, dtype=np.int64)
    several = np.flatnonzero(ends - starts >= 2)
    if not several.size:
        return steps
    inside = (dt > 0) & (dk == 0)
    lows = np.minimum.reduceat(np.where(inside, dt, np.iinfo(np.int64).max), starts[several])
    highs = np.maximum.reduceat(np.where(inside, dt, -1), starts[several])
    regular = (highs >= 0) & (lows == highs)
    steps[several[regular]] = lows[regular]
    for i in several[(highs >= 0) & ~regular]:
        gaps = dt[starts[i]: ends[i] - 1]
        steps[i] = int(np.median(gaps[gaps > 0]))
    return steps


def _interleaved(key: np.ndarray) -> bool:
    """Whether a series' rows are not in one run (the frame is not grouped by series)."""
    heads = key[np.concatenate(([True], key[1:] != key[:-1]))]
    return np.unique(heads).size != heads.size


def by_step(frame: pd.DataFrame, keys: tuple[str, ...] = ("service", "endpoint", "metric")) -> dict[int, pd.DataFrame]:
    """The rows of `frame` split by the step of their series, finest step first."""
    if frame.empty:
        return {}
    steps = series_steps(frame, keys)
    if steps.nunique() <= 1:
        return {int(steps.iloc[0]): frame}
    lookup = pd.MultiIndex.from_arrays([frame[k].astype(str).to_numpy() for k in keys])
    row_steps = steps.reindex(lookup).to_numpy()
    return {int(s): frame.loc[row_steps == s] for s in sorted(np.unique(row_steps))}
