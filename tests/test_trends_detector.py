"""The streaming detector: scores in [0, 1], strictly causal, alarms on real surprises.

The window-statistics tests pin ``method="fast"`` (the default); the contextual detector is
tested on shorter series below (it is pure Python)."""

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
from perfops.analysis.detector_context import ContextDetector, causal_range, context_scores, quantise

FAST = DetectorParams(method="fast")
CONTEXT = DetectorParams(method="context")


def noisy(n: int = 3000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + 10 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 1, n)


def test_scores_lie_in_unit_interval_one_per_row():
    s = score_series(noisy(), step_seconds=300, params=FAST)
    assert s.shape == (3000,)
    assert np.all((s >= 0) & (s <= 1))


def test_no_look_ahead_prefix_scores_do_not_change():
    x = noisy()
    x[2500] += 40
    full = score_series(x, step_seconds=300, params=FAST)
    for k in (100, 1200, 2500, 2501):
        assert np.array_equal(score_series(x[:k], step_seconds=300, params=FAST), full[:k])


def test_a_spike_scores_highest():
    x = noisy()
    x[2600] += 30
    s = score_series(x, step_seconds=300, params=FAST)
    assert int(np.argmax(s[500:])) + 500 == 2600
    assert s[2600] > 0.8  # a clear alarm (NAB's optimal threshold is about 0.71)


def test_a_level_shift_is_detected_within_a_few_rows():
    x = 50 + np.random.default_rng(4).normal(size=3000)
    x[2000:] += 5
    s = score_series(x, step_seconds=300, params=FAST)
    first = 2000 + int(np.argmax(s[2000:] > 0.8))
    assert s[2000:].max() > 0.8 and first - 2000 <= 5


def test_missing_values_are_carried_forward():
    x = noisy()
    x[100:110] = np.nan
    s = score_series(x, step_seconds=300, params=FAST)
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
    s = score_series(x, step_seconds=300, params=DetectorParams(method="fast", suppress=100))
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


# ---- the contextual detector (method="context") ------------------------------------------------

def pattern(n: int = 900, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 10 + 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.2, n)


def test_fast_is_the_default():
    x = noisy(500)
    assert np.array_equal(score_series(x, 300), score_series(x, 300, FAST))


def test_context_scores_lie_in_unit_interval_one_per_row():
    s = score_series(pattern(), step_seconds=3600, params=CONTEXT)
    assert s.shape == (900,)
    assert np.all((s >= 0) & (s <= 1))


def test_context_method_has_no_look_ahead():
    x = pattern()
    x[700] += 30
    full = score_series(x, step_seconds=3600, params=CONTEXT)
    for k in (50, 400, 700, 701):
        assert np.array_equal(score_series(x[:k], step_seconds=3600, params=CONTEXT), full[:k])


def test_context_range_uses_only_rows_before_and_grows_by_doubling():
    x = pattern(300)
    x[200] = 100.0  # far above the first 150 rows' range (about 0 .. 20)
    lo, hi = causal_range(x)
    for k in (20, 149, 150, 151, 250):
        klo, khi = causal_range(x[:k])
        assert np.array_equal(klo, lo[:k]) and np.array_equal(khi, hi[:k])
    span = hi[149] - lo[149]
    growth = np.log2((hi[150:] - hi[149]) / span + 1)
    assert np.allclose(growth, np.round(growth))  # the range only doubles
    assert len(np.unique(hi[150:])) <= 3 and hi[199] < 100 <= hi[200]
    levels = quantise(x, lo, hi)
    assert levels.min() >= 0 and levels.max() <= 7 and levels[200] > levels[201]


def test_a_learned_sequence_stops_surprising():
    det = ContextDetector()
    raws = [det.step(level) for level in [0, 3, 7, 3] * 60]
    assert max(raws[-40:]) == 0.0
    assert max(raws[:8]) > 0.5


def test_a_break_in_a_learned_pattern_scores_highest():
    clean = context_scores(pattern())
    x = pattern()
    x[700:706] = 10.0  # the daily wave stops for a few rows
    s = context_scores(x)
    assert s[:120].max() == 0.0  # the rest period after the virtual start
    assert np.array_equal(s[:700], clean[:700])
    assert s[700:708].max() > clean[300:].max()


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown detector method"):
        score_series(pattern(100), params=DetectorParams(method="htm"))
