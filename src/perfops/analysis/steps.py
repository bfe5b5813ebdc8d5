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

DEFAULT_STEP = 300  # seconds, when a series has too few points to tell
SAMPLE = 200_000  # distinct timestamps enough to know a step


def infer_step_seconds(stamps: np.ndarray, default: int | None = DEFAULT_STEP) -> int | None:
    """The usual spacing, in whole seconds, of timestamps (datetime64 or epoch seconds, any
    order, repeats allowed); `default` when fewer than two distinct values."""
    values = np.asarray(stamps)
    if values.dtype.kind == "M":
        values = values.astype("datetime64[s]").astype(np.int64)
    distinct = np.unique(values[:SAMPLE])
    if distinct.size < 2:
        return default
    gaps = np.diff(distinct)
    gaps = gaps[gaps > 0]
    return int(np.median(gaps)) if gaps.size else default


def series_steps(frame: pd.DataFrame, keys: tuple[str, ...] = ("service", "endpoint", "metric")) -> pd.Series:
    """The step (s) of every series of a long telemetry frame, indexed by `keys`."""
    if frame.empty:
        return pd.Series(dtype=np.int64)
    epoch = frame["timestamp"].to_numpy(dtype="datetime64[s]").astype(np.int64)
    codes = [pd.factorize(frame[k])[0].astype(np.int64) for k in keys]
    key = np.zeros(len(frame), dtype=np.int64)
    for c in codes:
        key = key * (int(c.max()) + 2) + c + 1
    order = np.lexsort((epoch, key))
    k, t = key[order], epoch[order]
    same = np.diff(k) == 0
    gaps = np.diff(t)
    ok = same & (gaps > 0)
    # per series: the median of its positive gaps (DEFAULT_STEP for a series of one point)
    starts = np.flatnonzero(np.concatenate(([True], k[1:] != k[:-1])))
    steps = np.full(starts.size, DEFAULT_STEP, dtype=np.int64)
    series_of_gap = np.searchsorted(starts, np.arange(gaps.size), side="right") - 1
    gap_series, gap_values = series_of_gap[ok], gaps[ok]
    if gap_values.size:
        sorter = np.lexsort((gap_values, gap_series))
        gs, gv = gap_series[sorter], gap_values[sorter]
        bounds = np.flatnonzero(np.concatenate(([True], gs[1:] != gs[:-1], [True])))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            steps[gs[a]] = int(np.median(gv[a:b]))
    first_rows = frame.iloc[order[starts]]
    index = pd.MultiIndex.from_arrays([first_rows[k].astype(str).to_numpy() for k in keys], names=list(keys))
    return pd.Series(steps, index=index, name="step")


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
