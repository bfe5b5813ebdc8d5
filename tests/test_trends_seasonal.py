"""The seasonal norm: time of week, robust to outliers and gaps."""

from __future__ import annotations

import numpy as np

from perfops.analysis.seasonal import nan_median_mad, seasonal_norm

STEP = 3600
WEEK = 7 * 24


def weekly(weeks: int) -> tuple[np.ndarray, np.ndarray]:
    epoch = np.arange(weeks * WEEK) * STEP + 4 * 86400  # start on a Monday 00:00 UTC
    hour = (epoch // 3600) % 24
    value = 100 + 50 * (hour >= 9) * (hour < 18)
    return value[None, :].astype(float), epoch


def test_norm_follows_the_time_of_day():
    hist, epoch = weekly(4)
    target = epoch[-WEEK:] + 4 * WEEK * STEP
    norm = seasonal_norm(hist, epoch, target, STEP, spread=0)
    assert np.array_equal(norm.level[0], hist[0, -WEEK:])


def test_outliers_and_gaps_do_not_poison_the_norm():
    hist, epoch = weekly(4)
    hist[0, 10:14] = 10_000  # an incident in week one
    hist[0, WEEK + 10: WEEK + 14] = np.nan  # a gap in week two
    target = epoch[:WEEK] + 4 * WEEK * STEP
    norm = seasonal_norm(hist, epoch, target, STEP, spread=0)
    assert np.array_equal(norm.level[0, 10:14], hist[0, 2 * WEEK + 10: 2 * WEEK + 14])
    assert np.all(norm.samples[0, 10:14] == 3)


def test_short_history_falls_back_to_time_of_day():
    hist, epoch = weekly(1)
    target = epoch[:24] + WEEK * STEP
    norm = seasonal_norm(hist[:, :72], epoch[:72], target, STEP, spread=0)
    assert norm.level[0, 12] == 150 and norm.samples[0, 12] == 3


def test_nan_median_mad():
    a = np.array([[1.0, 2.0, np.nan, 100.0], [np.nan] * 4])
    med, mad, n = nan_median_mad(a, axis=1)
    assert med[0] == 2.0 and mad[0] == 1.0 and n[0] == 3
    assert np.isnan(med[1]) and n[1] == 0
