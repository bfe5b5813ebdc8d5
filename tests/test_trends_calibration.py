"""Severity calibrated on real data (issue 13, "How to measure it, honestly"): one rule per test.

The values are those of real NAB series (../shared/data/nab, Numenta Anomaly Benchmark, MIT
licence), each file named where it is used; the young-norm rule is tested on a real file in
test_trends_trust.py (test_a_tier1_gateway_traffic_surge_reaches_medium).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from perfops.analysis.severity import Impact, gauge_magnitude, incident, magnitude, magnitude_points
from test_trends_trust import analyse, nab, nab_series  # noqa: F401  (nab: the fixture, skips without ../shared)


# ---- gauges are judged in their own scale and direction ------------------------------------------
def test_a_temperature_is_judged_in_robust_units_not_as_a_ratio():
    # NAB realKnownCause/machine_temperature_system_failure.csv: a machine at ~85-95 degF that
    # falls to ~20-40 degF before it fails; a fall of 40 % of a Fahrenheit reading means nothing,
    # its distance from the norm in units of the norm's own spread does
    assert gauge_magnitude("both", 30.0, 88.0, robust_z=-14.0, unit="degF") == 2
    assert gauge_magnitude("both", 30.0, 88.0, robust_z=-7.0, unit="degF") == 1
    assert gauge_magnitude("both", 80.0, 88.0, robust_z=-3.0, unit="degF") == 0
    # a ratio-scale gauge with the same numbers: -66 % of its norm is large
    assert gauge_magnitude("both", 30.0, 88.0, robust_z=-3.0, unit="") == 1


def test_a_gauge_counts_only_in_its_bad_direction():
    # realTraffic/speed_t4013.csv (down is bad) and occupancy_t4013.csv (up is bad, capacity 100)
    assert gauge_magnitude("down", 20.0, 60.0, unit="mph") == 1
    assert gauge_magnitude("up", 20.0, 60.0, unit="mph") == 0
    assert gauge_magnitude("down", 2.0, 60.0, unit="mph") == 3  # stopped
    assert gauge_magnitude("up", 40.0, 10.0, capacity=100.0) == 1  # +30 points
    assert gauge_magnitude("up", 65.0, 10.0, capacity=100.0) == 2
    assert gauge_magnitude("down", 40.0, 10.0, capacity=100.0) == 0


def test_a_gauge_whose_norm_is_zero_gets_no_ratio_point():
    # realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv: a disk idle most of the time (median
    # write 0 bytes per 5 min) that writes hundreds of MB in bursts: "103x its norm" is no size
    assert gauge_magnitude("both", 5.0e8, 0.0, unit="bytes") == 0


# ---- a robust z needs a spread to stand on ----------------------------------------------------------
def test_an_extreme_z_against_a_thin_norm_adds_no_magnitude_point():
    # realTraffic/TravelTime_387.csv is sampled irregularly: 1-4 samples per time-of-week slot,
    # whose MAD is 0 or one neighbour's distance, and ordinary rush hours reach |z| 10-120
    thin = Impact(tier=2, magnitude=1, robust_z=44.0, norm_samples=3, duration=timedelta(hours=3))
    thick = Impact(tier=2, magnitude=1, robust_z=44.0, norm_samples=30, duration=timedelta(hours=3))
    assert magnitude(thin) == 1 and magnitude(thick) == 2
    assert incident(thin).level == "low" and incident(thick).level == "medium"
    assert incident(thin).inputs["norm_samples"] == 3


def test_a_rise_of_a_gauge_is_measured_against_what_it_copes_with_every_day():
    # realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv: median 0 bytes per 5 min, but bursts of
    # ~500 MB every day (p99 502 MB): 130 MB for an hour is within its daily work; 1.6 GB is not
    assert gauge_magnitude("both", 1.3e8, 1.0e6, unit="bytes", usual_peak=5.0e8) == 0
    assert gauge_magnitude("both", 1.6e9, 1.0e6, unit="bytes", usual_peak=5.0e8) == 2
    # a steady gauge: its daily peak is close to its norm, so the ratio stays the norm's
    assert gauge_magnitude("up", 3.5e5 * 3.2, 3.5e5, unit="bytes", usual_peak=3.7e5) == 2


def test_daily_disk_bursts_on_a_young_norm_are_not_medium(nab: Path) -> None:  # noqa: F811
    # NAB realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv: two weeks of an EC2 disk, idle at the
    # median and writing 300-700 MB bursts every day. With young-norm anomalies allowed to reach
    # medium and the norm at 0, these daily bursts were medium "100x its norm" findings.
    frame = nab_series(nab / "realAWSCloudwatch" / "ec2_disk_write_bytes_c0d644.csv", "db", "disk_write_bytes")
    found = [f for f in analyse(frame, datetime(2014, 4, 14), timedelta(days=7)) if f.kind == "anomaly"]
    assert len(found) >= 5, "the bursts are still detected"
    assert all(f.severity in ("low", "info") for f in found), [(f.severity, f.title) for f in found]


# ---- young norms tell weekdays from weekends in the catalog's timezone -----------------------------
def test_a_young_norm_tells_the_weekend_by_the_catalogs_timezone():
    # a service in New York that is half as busy on its own Saturdays and Sundays (local days):
    # Friday 22:00 there is Saturday 03:00 UTC, and must be compared with weekdays
    import numpy as np
    import pandas as pd

    from perfops.analysis.seasonal import is_weekend, seasonal_norm

    zone = "America/New_York"
    t = pd.date_range("2026-11-02", "2026-11-13", freq="1h", tz="UTC", inclusive="left")
    local_weekend = t.tz_convert(zone).dayofweek >= 5
    x = np.where(local_weekend, 50.0, 100.0)[None, :]
    friday_night = pd.DatetimeIndex([pd.Timestamp("2026-11-13 22:00", tz=zone)]).tz_convert("UTC")
    epoch = t.asi8 // 10**9
    target = friday_night.asi8 // 10**9
    assert bool(is_weekend(target)[0]) and not bool(is_weekend(target, zone)[0])
    assert seasonal_norm(x, epoch, target, 3600, spread=0, timezone=zone).level[0, 0] == 100.0
    assert seasonal_norm(x, epoch, target, 3600, spread=0).level[0, 0] < 100.0  # UTC days mix in weekends


# ---- false medium+ on real data (issue 13, bench/real_domain.py): one rule per test ----------------
def test_a_small_change_on_a_service_without_request_volume_stays_below_medium():
    # realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv: a tier-1 database whose CPU moves 15 %
    # for a day. No request counts: nothing says a user felt it, and the tier alone is not impact.
    small = Impact(tier=1, relative_change=0.15, magnitude=0, robust_z=6.0, duration=None, dependents=3)
    assert incident(small).level == "low"
    assert "no request volume" in incident(small).inputs["rule"]
    # the same 15 % on a service that serves requests is judged by its points
    served = Impact(tier=1, relative_change=0.15, requests_affected=200_000, robust_z=6.0, duration=None)
    assert incident(served).level in ("medium", "high")


def test_a_thin_norm_and_an_ordinary_z_each_cost_a_point():
    base = Impact(tier=2, magnitude=1, robust_z=5.0, norm_samples=30, relative_change=1.0,
                  duration=timedelta(hours=3))
    thin = Impact(tier=2, magnitude=1, robust_z=5.0, norm_samples=3, relative_change=1.0, duration=timedelta(hours=3))
    ordinary = Impact(tier=2, magnitude=1, robust_z=2.0, norm_samples=30, relative_change=1.0,
                      duration=timedelta(hours=3))
    assert incident(base).inputs["points"] - incident(thin).inputs["points"] == 1
    assert incident(base).inputs["points"] - incident(ordinary).inputs["points"] == 1
    # an outage is judged by its own scale, whatever the spread
    dead = Impact(tier=2, outage=True, robust_z=2.0, norm_samples=3, duration=None)
    assert incident(dead).level in ("high", "critical")


def test_a_resource_gauge_alone_affects_no_requests():
    # storefront's CPU (realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv) beside its ELB's
    # 300,000 requests: a CPU anomaly slows or fails none of them by itself
    cpu = Impact(tier=2, requests_affected=300_000, resource=True, robust_z=5.0, duration=timedelta(hours=1))
    latency = Impact(tier=2, requests_affected=300_000, robust_z=5.0, duration=timedelta(hours=1))
    assert incident(cpu).inputs["points"] == incident(latency).inputs["points"] - 3
    assert incident(cpu).inputs["resource"] is True


def test_an_extreme_step_within_the_usual_daily_peak_does_not_count(nab: Path) -> None:  # noqa: F811
    # realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv: a worker that bursts to 60-90 % every day
    frame = nab_series(nab / "realAWSCloudwatch" / "ec2_cpu_utilization_fe7f93.csv", "db", "cpu_pct")
    found = [f for f in analyse(frame, datetime(2014, 2, 28, 14), timedelta(days=7)) if f.kind == "anomaly"]
    asked = [f for f in found if "within_daily_peak" in f.evidence["severity_inputs"]]
    within = [f for f in asked if f.evidence["severity_inputs"]["within_daily_peak"]]
    assert within and len(within) < len(asked), "both kinds of extreme occur in these two weeks"
    for f in within:  # the magnitude is the episode total's alone: its extreme step adds nothing
        total = magnitude_points("cpu", f.evidence["observed"], f.evidence["norm"])
        assert f.evidence["severity_inputs"].get("magnitude", 0) == total, f.title


def test_the_third_anomaly_of_a_day_in_the_same_direction_is_a_pattern_not_an_incident():
    base = Impact(tier=2, magnitude=2, robust_z=80.0, norm_samples=20, relative_change=7.0,
                  duration=timedelta(minutes=40), resource=True)
    assert incident(replace(base, recurrences=1)).level == "medium"
    third = incident(replace(base, recurrences=2))
    assert third.level == "low" and third.inputs["recurrences"] == 2 and "pattern" in third.inputs["rule"]
    assert incident(Impact(tier=2, outage=True, duration=None, recurrences=5)).level in ("high", "critical")


def test_a_host_that_takes_on_a_cyclic_job_is_not_an_incident_at_every_burst(nab: Path) -> None:  # noqa: F811
    # realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv: a host idle at 0.1 % CPU that, from the
    # labelled window on, runs 30-100 % bursts several times a day
    frame = nab_series(nab / "realAWSCloudwatch" / "ec2_cpu_utilization_77c1ca.csv", "db", "cpu_pct")
    found = [f for f in analyse(frame, datetime(2014, 4, 16, 14), timedelta(days=7)) if f.kind == "anomaly"]
    serious = [f for f in found if f.severity in ("medium", "high", "critical")]
    assert len(found) >= 5 and len(serious) <= 3, [(f.severity, f.title) for f in found]
    assert any(f.evidence["severity_inputs"].get("recurrences", 0) >= 2 for f in found)


TWEETS = """\
domain: Real
squads:
  - name: ops
services:
  - name: tweets
    squad: ops
    tier: 3
"""


def test_an_anomaly_far_beyond_the_days_earlier_ones_is_no_repeat_of_its_pattern(nab: Path) -> None:  # noqa: F811
    # realTweets/Twitter_volume_AAPL.csv, NAB's labelled window 2015-03-09 01:02 - 03-10 10:02:
    # mentions rise to 60-150 per 5 minutes three times in the morning, then to 1,592 at 15:40,
    # ten times further from the norm than any of them. The morning bursts are the day's pattern;
    # the afternoon one is not a fourth repeat of it.
    frame = nab_series(nab / "realTweets" / "Twitter_volume_AAPL.csv", "tweets", "requests")
    found = [f for f in analyse(frame, datetime(2015, 3, 16), timedelta(days=7), TWEETS)
             if f.kind == "anomaly" and f.start is not None and f.start.date() == datetime(2015, 3, 9).date()]
    big = [f for f in found if f.evidence.get("extreme", {}).get("observed", 0) >= 1_000]
    assert big, [(f.severity, f.title) for f in found]
    assert big[0].severity == "medium", big[0].evidence["severity_inputs"]
    assert "recurrences" not in big[0].evidence["severity_inputs"]
    # the rule still holds for the ordinary ones: some of the day's bursts are capped as a pattern
    assert any(f.evidence["severity_inputs"].get("recurrences", 0) >= 2 for f in found)


def test_a_gauges_level_over_hours_is_measured_against_the_usual_peak_of_levels_as_long(nab: Path) -> None:  # noqa: F811
    # realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv, NAB's labelled window 2014-04-10
    # 09:00-20:10: a disk that writes 100-700 MB bursts for minutes every day writes at 58× its
    # norm for 13 hours from 08:15. Its 13-hour mean stays below the usual daily peak *step*,
    # which made it "within what it copes with every day"; against the usual highest 13 hours
    # of a day it is far beyond.
    frame = nab_series(nab / "realAWSCloudwatch" / "ec2_disk_write_bytes_c0d644.csv", "worker", "disk_write_bytes")
    found = analyse(frame, datetime(2014, 4, 14), timedelta(days=7))
    step = [f for f in found if f.kind == "regression" and f.start == datetime(2014, 4, 10, 8, 15)]
    assert step, [(f.kind, f.start, f.title) for f in found]
    assert step[0].evidence["severity_inputs"].get("magnitude", 0) >= 1
    assert step[0].severity == "medium", step[0].evidence["severity_inputs"]


# ---- a pass that sees several series judges an incident again from its recorded inputs ----------
def test_an_incident_judged_again_from_its_inputs_gets_the_same_verdict_and_cap():
    from perfops.analysis.severity import rejudge

    cases = [(Impact(tier=2, magnitude=1, robust_z=7.8, norm_samples=4, duration=timedelta(hours=26),
                     resource=True, within_daily_peak=False, relative_change=1.44), None),
             (Impact(tier=1, magnitude=2, robust_z=12.0, norm_samples=9, duration=None, recurrences=2), "critical"),
             (Impact(tier=3, magnitude=3, robust_z=40.0, norm_samples=15, duration=timedelta(minutes=35),
                     record=True), "medium")]
    for impact, cap in cases:
        first = incident(impact, cap=cap)
        again = rejudge(first.inputs)
        assert (again.level, again.inputs["points"]) == (first.level, first.inputs["points"])
        more = rejudge(first.inputs, corroborated=True)
        assert more.inputs["points"] == first.inputs["points"] + 1 and more.inputs["corroborated"]
    # the young-norm cap holds whatever the new point: medium at most
    young = incident(Impact(tier=1, magnitude=2, robust_z=12.0, norm_samples=9, duration=timedelta(hours=3)), cap="medium")
    assert rejudge(young.inputs, corroborated=True).level == "medium"
