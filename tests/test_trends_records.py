"""Records (trends.records): a stretch beyond everything the series did before is a finding of
at least medium, however short; real NAB series (../shared/data/nab, MIT) named where used."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from perfops.analysis.trends.records import record_mask
from test_trends_trust import analyse, nab, nab_series  # noqa: F401  (nab: the fixture, skips without ../shared)

STEP = 300
DAY = 86_400 // STEP


def _series(history_days: int, period: list[float], base: float = 40.0, wobble: float = 5.0) -> tuple:
    rng = np.random.default_rng(7)
    history = base + wobble * np.sin(np.arange(history_days * DAY) / DAY * 2 * np.pi) + rng.normal(0, 1, history_days * DAY)
    values = np.concatenate([history, np.asarray(period, dtype=float)])[None, :]
    epoch = np.arange(values.shape[1]) * STEP
    return values, epoch, history_days * DAY


def test_a_burst_beyond_the_whole_history_is_a_record_and_an_ordinary_peak_is_not():
    quiet = [40.0] * 20
    values, epoch, split = _series(8, quiet[:10] + [70.0, 72.0] + quiet[:8])  # history range ~ 28..52
    assert record_mask(values, epoch, split, "up")[0].tolist() == [False] * 10 + [True] * 2 + [False] * 8
    hi, lo = values[0, :split].max(), values[0, :split].min()
    just_past = hi + 0.1 * (hi - lo)  # past the maximum, but not by 20 % of the range
    values, epoch, split = _series(8, quiet[:10] + [just_past] + quiet[:9])
    assert not record_mask(values, epoch, split, "up").any()


def test_records_need_a_week_of_history_a_bad_direction_and_must_beat_the_period_so_far():
    values, epoch, split = _series(5, [90.0] * 3)
    assert not record_mask(values, epoch, split, "up").any()  # five days say nothing of a range
    values, epoch, split = _series(8, [90.0] * 3)
    assert not record_mask(values, epoch, split, "down").any()  # latency up is bad, down is not
    # a new regime: its first burst is a record, the same level again hours later is not
    values, epoch, split = _series(8, [90.0] * 3 + [40.0] * 30 + [90.0] * 3)
    mask = record_mask(values, epoch, split, "up")[0]
    assert mask[:3].all() and not mask[33:].any()
    # a count that falls to zero from a floor of zero is an outage's to judge, never a record low
    zero = np.concatenate([np.tile([0.0, 10.0], 8 * DAY // 2), [0.0] * 5])[None, :]
    assert not record_mask(zero, np.arange(zero.shape[1]) * STEP, 8 * DAY, "both").any()


def test_a_ten_minute_latency_record_is_medium(nab: Path) -> None:  # noqa: F811
    # realKnownCause/ec2_request_latency_system_failure.csv: an API at 30-52 ms for eleven days
    # reaches 99 ms for ten minutes inside NAB's labelled window of 2014-03-18 17:06 - 03-19 04:16
    frame = nab_series(nab / "realKnownCause" / "ec2_request_latency_system_failure.csv", "worker",
                       "latency_p95_ms", extra={"requests": 100.0})
    found = [f for f in analyse(frame, datetime(2014, 3, 22), timedelta(days=7)) if f.kind == "anomaly"]
    window = (datetime(2014, 3, 18, 17, 6), datetime(2014, 3, 19, 4, 16))
    hits = [f for f in found if window[0] <= f.start <= window[1]]
    assert hits and all(f.severity == "medium" for f in hits), [(f.severity, f.title) for f in found]
    assert hits[0].evidence["severity_inputs"]["record"] is True
    assert "a record" in hits[0].evidence["severity_inputs"]["rule"]


def test_one_step_of_p95_latency_beyond_the_range_is_no_record_one_step_of_a_count_is():
    # the null domain's lognormal p95 latency (bench/null_domain.py, seed 0) passes its five-week
    # range by 28 % of it for one 5-minute step: a percentile of one step's requests is noisy, a
    # latency record needs 10 minutes; a count or a utilisation is a total over its step
    quiet = [40.0] * 10
    values, epoch, split = _series(8, quiet + [90.0] + quiet)
    assert not record_mask(values, epoch, split, "up", min_run=600).any()
    assert record_mask(values, epoch, split, "up")[0].sum() == 1
    values, epoch, split = _series(8, quiet + [90.0, 91.0] + quiet)
    assert record_mask(values, epoch, split, "up", min_run=600)[0].sum() == 2
    hourly = np.concatenate([40 + 5 * np.sin(np.arange(8 * 24) / 24 * 2 * np.pi), [40.0, 90.0, 40.0]])[None, :]
    assert record_mask(hourly, np.arange(hourly.shape[1]) * 3600, 8 * 24, "up", 600)[0].tolist() == [False, True, False]


def test_a_cpu_record_on_a_busy_host_is_found(nab: Path) -> None:  # noqa: F811
    # realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv: a host at 37-62 % for ten days reaches
    # 68 % for one step inside the labelled window of 2014-02-24 10:17 - 02-25 02:57
    frame = nab_series(nab / "realAWSCloudwatch" / "ec2_cpu_utilization_5f5533.csv", "db", "cpu_pct")
    found = analyse(frame, datetime(2014, 2, 28, 15), timedelta(days=7))
    window = (datetime(2014, 2, 24, 10, 17), datetime(2014, 2, 25, 2, 57))
    serious = [f for f in found if f.severity in ("medium", "high", "critical")]
    assert serious and all(window[0] <= f.start <= window[1] for f in serious), [(f.severity, f.title) for f in found]


def test_a_step_beyond_a_recent_record_is_a_record_however_small_the_extra():
    # the first burst breaks the history's range; the fault comes back a day later and goes a
    # little further: it is a record again, while a repeat that stays within it is not
    values, epoch, split = _series(8, [40.0] * 3 + [90.0] * 2 + [40.0] * DAY + [93.0] * 2 + [40.0] * 20 + [91.0] * 2)
    mask = record_mask(values, epoch, split, "up")[0]
    assert mask[3:5].all()
    assert mask[5 + DAY: 7 + DAY].all() and not mask[27 + DAY:].any()
    # a maximum that was no record (an ordinary peak of the history) is still beaten only by the margin
    values, epoch, split = _series(8, [40.0] * 3)
    peak = values[0, :split].max()
    values, epoch, split = _series(8, [peak + 0.5] * 3)
    assert not record_mask(values, epoch, split, "up").any()


def test_each_series_of_a_grid_has_the_records_it_has_alone():
    # a series' records do not depend on the series analysed beside it: a burst, a recent
    # record beaten again, a series with no history yet, an empty one, and lasting runs that
    # end one row where the next row's begin
    base, epoch, split = _series(8, [40.0] * 12)
    rows = [
        _series(8, [40.0] * 3 + [90.0] * 2 + [40.0] * 7)[0][0],
        _series(8, [40.0] * 3 + [90.0] * 2 + [40.0] * 3 + [93.0] * 2 + [40.0] * 2)[0][0],
        np.where(np.arange(base.shape[1]) < split - DAY, np.nan, base[0]),
        np.full(base.shape[1], np.nan),
        _series(8, [40.0] * 11 + [95.0])[0][0],
        _series(8, [95.0] + [40.0] * 11)[0][0],
        _series(8, [10.0, 5.0, 5.0] + [40.0] * 9)[0][0],
    ]
    grid = np.vstack(rows)
    for direction in ("up", "down", "both"):
        for min_run in (0, 600):
            together = record_mask(grid, epoch, split, direction, min_run)
            alone = np.vstack([record_mask(row[None, :], epoch, split, direction, min_run) for row in rows])
            assert (together == alone).all(), (direction, min_run)
            assert together.any() or direction == "down"


TRAFFIC_SENSOR = """\
domain: Real
squads:
  - name: ops
services:
  - name: sensor
    squad: ops
    tier: 3
    metrics:
      speed: {direction: down, unit: mph}
"""


def test_a_second_slowdown_beyond_the_first_is_medium_too(nab: Path) -> None:  # noqa: F811
    # realTraffic/speed_t4013.csv: road speed at ~60-65 mph falls to 15 on 2015-09-16 08:05 (a
    # record low, NAB window 09-16 00:44 - 13:14) and to 11 the next morning (window 09-17
    # 00:30 - 13:30): the second is no longer beyond the range by its margin, but beyond the
    # record of the day before
    frame = nab_series(nab / "realTraffic" / "speed_t4013.csv", "sensor", "speed")
    found = [f for f in analyse(frame, datetime(2015, 9, 18), timedelta(days=7), TRAFFIC_SENSOR)
             if f.metric == "speed" and f.kind == "anomaly"]
    second = [f for f in found if datetime(2015, 9, 17, 0, 30) <= f.start <= datetime(2015, 9, 17, 13, 30)]
    assert second and second[0].severity == "medium", [(f.severity, f.start, f.title) for f in found]
    assert second[0].evidence["severity_inputs"]["record"] is True


def test_a_record_at_a_time_with_no_norm_is_not_flagged():
    # a sparse series (travel times every 10-30 minutes) has steps at times of week its history
    # never covered: no norm to tell the step against, so no finding ("at no value (norm no value)")
    from types import SimpleNamespace

    from perfops.analysis.trends.records import with_records
    from perfops.analysis.trends.signals import Signal

    values, epoch, split = _series(8, [40.0] * 3 + [90.0] * 4)
    n = values.shape[1] - split
    norm = np.full((1, n), 40.0)
    norm[0, 5:] = np.nan  # the last two record steps fall at a time with no history
    empty = np.zeros((1, n))
    signal = Signal("cpu", values[:, split:], norm, empty, np.zeros((1, n), dtype=bool), empty, empty, 1, 15.0)
    grid = SimpleNamespace(values={"cpu_pct": values}, epoch=epoch)
    flagged, records = with_records(signal, grid, split, None)  # type: ignore[arg-type]
    assert records is not None and records[0].tolist() == [False] * 3 + [True] * 2 + [False] * 2
    assert flagged.flagged[0].tolist() == records[0].tolist()
