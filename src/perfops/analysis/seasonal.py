"""A robust seasonal norm (time of day x day of week) for many series at once.

For every series (a row of a 2-D array series x time on a regular grid) and every slot of the
week, the norm is the *median* of the values at that slot and its neighbours (+-`spread`
slots) in the previous weeks, and the scale is 1.4826 x their median absolute deviation
(a robust standard deviation; Rousseeuw & Croux 1993). Medians ignore outliers and gaps
(missing values are NaN and simply not counted), so an incident or an outage in the history
does not poison the norm. With less than `min_weeks` weeks of history for a slot, the norm
is a young one: time of day over the days of the same kind (weekdays for a weekday, weekend
days for a weekend day), with a tolerance widened by how few days there are (`young_norm`).

Everything is vectorised: values are laid out as (series, week, slot-of-week) and the medians
are taken along the week axis with one sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
                  step: int, spread: int = 1, min_weeks: int = 2, timezone: str = "UTC") -> Norm:
    """Norm of `history` (S, Th) at epoch seconds `history_epoch` (Th,), for times `target_epoch`.

    `step` is the grid spacing in seconds; times are UTC epoch seconds on that grid. Where a
    slot has less than `min_weeks` weeks of history, the norm is a young one (`young_norm`).

    Each series' norm depends on its own history only, so the profiles are taken over the
    series that have a history (a series without one has no norm: NaN, no samples), and the
    young norm over the series that need it (a chunk's endpoint rows carry no CPU metric, and
    a whole-service row no young slot once it has weeks of history)."""
    known = np.isfinite(history).any(axis=1)
    if not known.all():
        blank = Norm(np.full((history.shape[0], target_epoch.size), np.nan),
                     np.full((history.shape[0], target_epoch.size), np.nan),
                     np.zeros((history.shape[0], target_epoch.size), dtype=np.intp))
        if known.any():
            part = seasonal_norm(history[known], history_epoch, target_epoch, step, spread, min_weeks, timezone)
            blank.level[known], blank.scale[known], blank.samples[known] = part.level, part.scale, part.samples
        return blank
    week = _profile(history, history_epoch, step, WEEK_SECONDS, spread)
    w_slot = (target_epoch % WEEK_SECONDS) // step
    use_week = week[2][:, w_slot] >= min_weeks * (2 * spread + 1) * 0.75  # some gaps allowed
    level, scale, samples = week[0][:, w_slot], 1.4826 * week[1][:, w_slot], week[2][:, w_slot]
    young_rows = ~use_week.all(axis=1)
    if young_rows.any():
        young = young_norm(history[young_rows], history_epoch, target_epoch, step, spread, timezone)
        use = use_week[young_rows]
        level[young_rows] = np.where(use, level[young_rows], young.level)
        scale[young_rows] = np.where(use, scale[young_rows], young.scale)
        samples[young_rows] = np.where(use, samples[young_rows], young.samples)
    return Norm(level, scale, samples)


def is_weekend(epoch: np.ndarray, timezone: str = "UTC") -> np.ndarray:
    """Saturday or Sunday of epoch seconds in `timezone` (1970-01-01 was a Thursday): the
    catalog's, so that Friday evening in New York (Saturday in UTC) is a weekday."""
    epoch = np.asarray(epoch, dtype=np.int64)
    if timezone != "UTC" and epoch.size:
        local = pd.to_datetime(epoch, unit="s", utc=True).tz_convert(timezone)
        epoch = local.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64)
    return ((epoch // DAY_SECONDS + 3) % 7) >= 5


def young_norm(history: np.ndarray, history_epoch: np.ndarray, target_epoch: np.ndarray, step: int,
               spread: int = 1, timezone: str = "UTC") -> Norm:
    """A norm from less than two weeks of history, like with like (issue 13 item 6).

    A weekday is compared with the weekdays there are, a weekend day with the weekend days, at
    the same time of day; when the history has no day of the target's kind, with every day.
    The tolerance widens with how few days are behind the norm: the scale is multiplied by
    sqrt(1 + (pi/2)/n), n = the days behind it, because the norm itself is then uncertain: a
    median of n days has a standard error of about sqrt(pi/2) x sigma / sqrt(n) (its asymptotic
    efficiency against the mean), added in quadrature to the spread of one day."""
    d_slot = (target_epoch % DAY_SECONDS) // step
    weekend_h, weekend_t = is_weekend(history_epoch, timezone), is_weekend(target_epoch, timezone)
    every = _profile(history, history_epoch, step, DAY_SECONDS, spread)
    level, scale, samples = every[0][:, d_slot], every[1][:, d_slot], every[2][:, d_slot]
    for kind in (False, True):
        targets = weekend_t == kind
        days = weekend_h == kind
        if not targets.any() or not days.any():
            continue
        own = _profile(np.where(days, history, np.nan), history_epoch, step, DAY_SECONDS, spread)
        has = own[2][:, d_slot[targets]] > 0
        level[:, targets] = np.where(has, own[0][:, d_slot[targets]], level[:, targets])
        scale[:, targets] = np.where(has, own[1][:, d_slot[targets]], scale[:, targets])
        samples[:, targets] = np.where(has, own[2][:, d_slot[targets]], samples[:, targets])
    n_days = np.maximum(samples / (2 * spread + 1), 1.0)
    return Norm(level, 1.4826 * scale * np.sqrt(1 + (np.pi / 2) / n_days), samples)


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
