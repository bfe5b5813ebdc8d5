"""A robust seasonal norm (time of day x day of week) for many series at once.

For every series (a row of a 2-D array series x time on a regular grid) and every slot of the
week, the norm is the *median* of the values at that slot and its neighbours (+-`spread`
slots) in the previous weeks, and the scale is 1.4826 x their median absolute deviation
(a robust standard deviation; Rousseeuw & Croux 1993). Medians ignore outliers and gaps
(missing values are NaN and simply not counted), so an incident or an outage in the history
does not poison the norm. With less than `min_weeks` weeks of history for a slot, the norm
falls back to time of day only (every day of the history at that time).

Everything is vectorised: values are laid out as (series, week, slot-of-week) and the medians
are taken along the week axis with one sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEEK_SECONDS = 7 * 86_400
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Norm:
    """Norm and robust scale per (series, time) of the requested times."""

    level: np.ndarray  # (S, T)
    scale: np.ndarray  # (S, T)
    samples: np.ndarray  # (S, T) number of history values behind each norm


def nan_median_mad(stack: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD and count of the finite values along `axis` (NaN where none)."""
    s = np.sort(stack, axis=axis)  # NaN sort last
    count = np.isfinite(stack).sum(axis=axis)
    med = _pick_median(s, count, axis)
    dev = np.sort(np.abs(stack - np.expand_dims(med, axis)), axis=axis)
    mad = _pick_median(dev, count, axis)
    return med, mad, count


def _pick_median(sorted_stack: np.ndarray, count: np.ndarray, axis: int) -> np.ndarray:
    lo = np.expand_dims(np.maximum((count - 1) // 2, 0), axis)
    hi = np.expand_dims(np.maximum(count // 2, 0), axis)
    a = np.take_along_axis(sorted_stack, lo, axis=axis).squeeze(axis)
    b = np.take_along_axis(sorted_stack, hi, axis=axis).squeeze(axis)
    return np.where(count > 0, (a + b) / 2.0, np.nan)


def seasonal_norm(history: np.ndarray, history_epoch: np.ndarray, target_epoch: np.ndarray,
                  step: int, spread: int = 1, min_weeks: int = 2) -> Norm:
    """Norm of `history` (S, Th) at epoch seconds `history_epoch` (Th,), for times `target_epoch`.

    `step` is the grid spacing in seconds; times are UTC epoch seconds on that grid."""
    week = _profile(history, history_epoch, step, WEEK_SECONDS, spread)
    w_slot = (target_epoch % WEEK_SECONDS) // step
    use_week = week[2][:, w_slot] >= min_weeks * (2 * spread + 1) * 0.75  # some gaps allowed
    if use_week.all():
        return Norm(week[0][:, w_slot], 1.4826 * week[1][:, w_slot], week[2][:, w_slot])
    day = _profile(history, history_epoch, step, DAY_SECONDS, spread)
    d_slot = (target_epoch % DAY_SECONDS) // step
    level = np.where(use_week, week[0][:, w_slot], day[0][:, d_slot])
    scale = np.where(use_week, week[1][:, w_slot], day[1][:, d_slot])
    samples = np.where(use_week, week[2][:, w_slot], day[2][:, d_slot])
    return Norm(level, 1.4826 * scale, samples)


def _profile(history: np.ndarray, epoch: np.ndarray, step: int, cycle: int,
             spread: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Median, MAD and count per (series, slot of the cycle), over cycles and +-spread slots."""
    slots = cycle // step
    s = history.shape[0]
    index = (epoch // step).astype(np.int64)
    first = int(index.min()) - int(index.min()) % slots if index.size else 0
    cycle_no = (index - first) // slots
    n_cycles = int(cycle_no.max()) + 1 if index.size else 1
    grid = np.full((s, n_cycles, slots), np.nan, dtype=np.float32)  # float32: half the sort cost
    grid[:, cycle_no, index % slots] = history
    stacked = np.concatenate([np.roll(grid, k, axis=2) for k in range(-spread, spread + 1)], axis=1)
    med, mad, count = nan_median_mad(stacked, axis=1)
    return med.astype(float), mad.astype(float), count
