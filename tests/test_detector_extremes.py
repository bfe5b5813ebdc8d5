"""The "fast" detector's parts: new extremes (HTM's spatial anomaly), record-calibrated level
features, their combination, and the `--method` option of `perfops detect`."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from perfops.analysis.detector import (
    DetectorParams,
    extreme_scores,
    final_scores,
    record_ratio,
    score_series,
)
from perfops.errors import PerfopsError
from perfops.usecases.detect import detect_file

P = DetectorParams()


def daily(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100 + 20 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 2, n)


def test_a_new_extreme_scores_by_its_excess_and_nothing_inside_the_range():
    x = np.array([0.0, 10.0, 5.0, 12.0, 12.0, -10.0, 3.0])
    s = extreme_scores(x, DetectorParams(burn_in=2, extreme_gain=1.0))
    # row 3: 2 above the max 10 of a range 10 wide; row 4 equals the max: not beyond it
    assert s[3] == pytest.approx(0.5 + 0.5 * np.tanh(0.2))
    assert s[4] == 0.0 and s[2] == 0.0 and s[6] == 0.0
    assert s[5] == pytest.approx(0.5 + 0.5 * np.tanh(10 / 12))  # 10 below the min, range 12
    assert s[:2].tolist() == [0.0, 0.0]  # burn-in


def test_extremes_use_only_earlier_rows():
    x = daily(800)
    x[500] = 200.0
    full = extreme_scores(x, P)
    for k in (151, 499, 500, 501):
        assert np.array_equal(extreme_scores(x[:k], P), full[:k])
    assert full[500] > 0.5 and full[501:].max() == 0.0


def test_default_has_no_look_ahead_on_a_long_daily_series():
    x = daily(7000)
    x[6500:6520] -= 30  # a dip inside the normal range: only the statistics can see it
    full = score_series(x, 300)
    for k in (200, 3000, 6500, 6510, 6999):
        assert np.array_equal(score_series(x[:k], 300), full[:k])


def test_a_level_shift_inside_the_range_seen_is_still_found():
    """A spike widens the range, so a later shift stays inside it (NAB's rds_cpu_utilization_e47b3b
    looks like this): the record-calibrated level features catch it, the extremes do not."""
    rng = np.random.default_rng(3)
    x = 15 + rng.normal(0, 0.5, 4000)
    x[900] = 25.0  # 20 sd
    x[2500:] += 5.0  # 10 sd, inside the range 13.5 .. 25 seen
    s = score_series(x, 300)
    assert extreme_scores(x, P)[2500:].max() == 0.0
    first = 2500 + int(np.argmax(s[2500:] > 0.7))  # NAB's optimal threshold is about 0.71
    assert s[2500:].max() > 0.7 and first - 2500 <= 5
    assert s[1000:2500].max() < 0.6  # no alarm on the plain noise between


def test_an_extreme_ranks_above_a_moderate_statistical_surprise():
    ratio = np.array([0.0, 1.1, 0.0, 0.0])  # 10 % above the feature's record
    extremes = np.array([0.0, 0.0, 0.0, 0.5])
    s = final_scores(ratio, extremes, DetectorParams(suppress=0))
    assert 0 < s[1] < s[3]


def test_record_ratio_is_zero_in_burn_in_and_one_feature_per_level():
    x = daily(1000)
    r = record_ratio(x, 300, DetectorParams(levels=((100, 3),), daily_smooth=0))
    assert r[:150].max() == 0.0 and r[150:].max() > 0.0
    none = record_ratio(x, 300, DetectorParams(levels=(), daily_smooth=0))
    assert none.max() == 0.0


def write(path: Path, values) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        w.writerows((f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z", v) for i, v in enumerate(values))
    return path


def test_method_option_selects_the_engine(tmp_path):
    from typer.testing import CliRunner

    from perfops.cli.app import app

    values = list(10 + np.sin(np.arange(300) / 5.0))
    src = write(tmp_path / "s.csv", values)
    runner = CliRunner()
    for method in ("fast", "context"):
        out = tmp_path / f"{method}.csv"
        result = runner.invoke(app, ["detect", str(src), "--output", str(out), "--method", method, "--quiet"])
        assert result.exit_code == 0, result.output
        assert len(out.read_text().splitlines()) == 301
    bad = runner.invoke(app, ["detect", str(src), "--method", "htm"])
    assert bad.exit_code == 1
    with pytest.raises(PerfopsError, match="--method"):
        detect_file(src, None, "htm")


def test_the_daily_feature_does_not_depend_on_the_file_length():
    """Scores of the first 2.5 days are the same whether the file ends there or runs for weeks
    (the daily feature once switched on only for files longer than three days)."""
    x = daily(4000, seed=11)
    full = score_series(x, 300)
    for k in (300, 700, 1000):
        assert np.array_equal(score_series(x[:k], 300), full[:k])


def test_the_first_day_compared_with_nothing_raises_no_alarm():
    """The first row that has a day before it used to take day one's zeros as its history."""
    x = daily(1500, seed=5)
    s = score_series(x, 300)
    assert s[288:300].max() < 0.7


def test_a_missing_daily_peak_inside_the_range_is_found():
    """A day whose peak does not come (values stay inside the range seen): no extreme, no level
    far from the recent mean, but unlike the same hours of the day before."""
    x = daily(288 * 7, seed=2)
    peak = slice(288 * 6 + 40, 288 * 6 + 110)  # around the sine's top on day 7
    x[peak] = 100 + np.random.default_rng(9).normal(0, 2, 70)
    s = score_series(x, 300)
    assert extreme_scores(x, P)[peak].max() == 0.0
    assert s[peak].max() > 0.71  # NAB's optimal threshold is about 0.71
    # above every score of the ordinary days before (there, only a noise extreme reaches 0.71)
    assert s[peak].max() > s[288 * 2: 288 * 6].max()
    assert score_series(x, 300, DetectorParams(daily_smooth=0))[peak].max() < 0.71


def test_the_daily_feature_counts_at_its_weight():
    x = daily(2000)
    only_daily = DetectorParams(levels=(), daily_weight=1.0)
    full = record_ratio(x, 300, only_daily)
    weighted = record_ratio(x, 300, DetectorParams(levels=(), daily_weight=0.7))
    assert full.max() > 0
    assert np.allclose(weighted, 0.7 * full)


def test_an_old_spike_stops_hiding_later_extremes():
    """On a long stream the range seen reaches back `extreme_memory` rows, not to the start."""
    x = 10 + np.random.default_rng(4).normal(0, 1, 15_000)
    x[500] = 60.0
    x[14_000] = 30.0  # far above everything of the last 12,000 rows, below the old spike
    s = extreme_scores(x, P)
    assert s[500] > 0.5 and s[14_000] > 0.5
    assert extreme_scores(x, DetectorParams(extreme_memory=0))[14_000] == 0.0
    for k in (11_000, 12_000, 13_000):  # still causal, also where the long range starts
        assert np.array_equal(extreme_scores(x[:k], P), s[:k])
