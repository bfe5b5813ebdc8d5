"""The streaming detector: scores in [0, 1], strictly causal, alarms on real surprises."""

from __future__ import annotations

import numpy as np
import pytest

from perfops.analysis.detector import (
    DetectorParams,
    fill_forward,
    rolling_max_before,
    score_series,
    window_stats,
)


def noisy(n: int = 3000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, n)


def test_scores_lie_in_unit_interval_one_per_row():
    s = score_series(noisy(), step_seconds=300)
    assert s.shape == (3000,)
    assert np.all((s >= 0) & (s <= 1))


def test_no_look_ahead_prefix_scores_do_not_change():
    x = noisy()
    x[2500] += 40
    full = score_series(x, step_seconds=300)
    for k in (100, 1200, 2500, 2501):
        assert np.array_equal(score_series(x[:k], step_seconds=300), full[:k])


def test_a_spike_scores_highest():
    x = noisy()
    x[2600] += 30
    s = score_series(x, step_seconds=300)
    assert int(np.argmax(s[500:])) + 500 == 2600
    assert s[2600] > 0.9


def test_a_level_shift_is_detected_within_a_few_rows():
    x = 50 + np.random.default_rng(4).normal(size=3000)
    x[2000:] += 5
    s = score_series(x, step_seconds=300)
    first = 2000 + int(np.argmax(s[2000:] > 0.8))
    assert s[2000:].max() > 0.8 and first - 2000 <= 5


def test_missing_values_are_carried_forward():
    x = noisy()
    x[100:110] = np.nan
    s = score_series(x, step_seconds=300)
    assert np.all(np.isfinite(s))
    assert np.array_equal(fill_forward(np.array([np.nan, 1.0, np.nan, 3.0])), [0.0, 1.0, 1.0, 3.0])


@pytest.mark.parametrize("w", [1, 3, 7, 50])
def test_rolling_max_before_matches_a_plain_loop(w):
    a = np.random.default_rng(w).normal(size=137)
    got = rolling_max_before(a, w)
    want = [-np.inf] + [a[max(0, t - w):t].max() for t in range(1, a.size)]
    assert np.allclose(got, want)


def test_window_stats_match_numpy():
    a = np.random.default_rng(2).normal(5, 2, 500)
    m, s = window_stats(a, 40, lag=1)
    assert m[100] == pytest.approx(a[60:100].mean())
    assert s[100] == pytest.approx(a[60:100].std())


def test_suppression_keeps_one_alarm_per_burst():
    x = noisy()
    x[2600:2603] += 30
    s = score_series(x, step_seconds=300, params=DetectorParams(suppress=100))
    assert (s[2600:2700] > 0.5).sum() == 1


def test_recent_max_before_covers_the_last_w_rows_at_least():
    from perfops.analysis.detector import recent_max_before

    a = np.random.default_rng(9).normal(size=1000)
    got = recent_max_before(a, 100, blocks=10)
    for t in range(1, 1000):
        exact = a[max(0, t - 100):t].max()
        wider = a[max(0, t - 110):t].max()
        assert exact <= got[t] <= wider
    assert got[0] == -np.inf
