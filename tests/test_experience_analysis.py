"""The experience analysis on a synthetic domain with seeded incidents, and its engines on
hand-made series with known answers."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from experience_synthetic import NOW, catalog, context, telemetry
from perfops.analysis import experience
from perfops.analysis.experience.apdex import apdex, rating, share_within
from perfops.analysis.experience.burn import PAIRS, burn_rates, episodes, grid_counts, window_burn
from perfops.analysis.experience.journeys import StepSeries, compose
from perfops.analysis.experience.series import regular
from perfops.analysis.experience.slo import compliance, monthly
from perfops.model.findings import KINDS


@pytest.fixture(scope="module")
def seeded():
    return experience.run(context(telemetry()))


def _one(findings, **match):
    hits = [f for f in findings if all(getattr(f, k) == v for k, v in match.items())]
    assert len(hits) == 1, (match, [(f.kind, f.service, f.consumer, f.metric) for f in findings])
    return hits[0]


def test_every_seeded_incident_is_found_with_the_right_kind_and_owner(seeded):
    breach = _one(seeded, kind="slo_breach", service="payments")
    assert breach.metric == "errors" and breach.squad == "payments"
    fast = _one(seeded, kind="error_budget_burn", service="checkout-api")
    assert fast.evidence["pair"] == "fast" and fast.severity == "critical"
    assert fast.start == NOW - timedelta(days=2, hours=10)  # the seeded burn began then
    assert "budget is gone in" in fast.detail
    journey = _one(seeded, kind="journey_degradation")
    assert (journey.service, journey.endpoint, journey.squad) == ("web", "GET /product", "storefront")
    assert _one(seeded, kind="consumer_misuse", consumer="globex").metric == "client_errors"
    assert _one(seeded, kind="consumer_misuse", consumer="initech").metric == "traffic"
    deprecated = _one(seeded, kind="consumer_misuse", consumer="hooli")
    assert deprecated.endpoint == "GET /v1/cart"


def test_well_behaved_consumers_get_no_misuse_finding(seeded):
    assert not [f for f in seeded if f.consumer in ("acme", "umbrella")]


def test_nothing_unseeded_reaches_high_or_critical(seeded):
    loud = {(f.kind, f.service, f.consumer) for f in seeded if f.severity in ("critical", "high")}
    expected = {("slo_breach", "payments", None), ("error_budget_burn", "checkout-api", None),
                ("journey_degradation", "web", None), ("consumer_misuse", "checkout-api", "initech")}
    assert loud <= expected


def test_findings_are_experience_kinds_with_stable_ids(seeded):
    assert all(KINDS[f.kind] == "experience" for f in seeded)
    again = experience.run(context(telemetry()))
    assert sorted(f.id for f in again) == sorted(f.id for f in seeded)


def test_a_healthy_domain_has_no_findings():
    assert experience.run(context(telemetry(incidents=False))) == []


# ---- burn rates --------------------------------------------------------------------------------
def _minutes(rate: float, error_rate: np.ndarray) -> pd.DataFrame:
    index = pd.date_range(NOW - timedelta(days=4), NOW, freq="1min", inclusive="left")
    requests = np.full(len(index), rate)
    return pd.DataFrame({"requests": requests, "errors": requests * error_rate, "client_errors": 0.0},
                        index=index)


def test_a_two_hour_burn_at_20x_fires_the_fast_pair_from_its_start():
    index = pd.date_range(NOW - timedelta(days=4), NOW, freq="1min", inclusive="left")
    start = NOW - timedelta(hours=10)
    errors = np.where((index >= start) & (index < start + timedelta(hours=2)), 0.02, 0.0)
    found = episodes(_minutes(1000, errors), 99.9, NOW - timedelta(days=1), NOW)
    assert [e.pair.name for e in found] == ["fast"]
    assert found[0].start == start
    assert start + timedelta(minutes=115) <= found[0].end <= start + timedelta(minutes=125)
    assert not found[0].ongoing


def test_low_traffic_never_fires_a_burn():
    index = pd.date_range(NOW - timedelta(days=4), NOW, freq="1min", inclusive="left")
    errors = np.where(index >= NOW - timedelta(hours=3), 0.5, 0.0)
    assert episodes(_minutes(0.05, errors), 99.9, NOW - timedelta(days=1), NOW) == []
    assert [e.pair.name for e in episodes(_minutes(100, errors), 99.9, NOW - timedelta(days=1), NOW)] == ["fast"]


@pytest.mark.parametrize("step_minutes", [1, 5, 7])
def test_whole_counts_burn_exactly_as_pandas_rolling_windows(step_minutes):
    """The cumulative-sum windows used for whole counts give pandas' rolling sums to the bit,
    with gaps in the data and a grid that starts inside the lookback."""
    rng = np.random.default_rng(step_minutes)
    index = pd.date_range(NOW - timedelta(days=5), NOW, freq=f"{step_minutes}min", inclusive="left")
    keep = rng.random(len(index)) > 0.05  # missing intervals count as zero requests
    requests = rng.poisson(40, len(index)).astype(float)
    errors = rng.binomial(requests.astype(int), 0.02).astype(float)
    series = pd.DataFrame({"requests": requests, "errors": errors, "client_errors": 0.0}, index=index)[keep]
    step = timedelta(minutes=step_minutes)
    start = NOW - timedelta(days=4, minutes=3)
    counts = grid_counts(series, start, NOW, step)
    reference = regular(series, start, NOW, step)
    reference.index = reference.index + step
    assert counts.exact
    for window in {w for p in PAIRS for w in (p.long, p.short)}:
        rolled = burn_rates(reference, window, 99.9)
        for got, column in zip(window_burn(counts, window, 99.9), ("requests", "errors", "burn"), strict=True):
            np.testing.assert_array_equal(got, rolled[column].to_numpy())


def test_fractional_counts_burn_as_whole_ones_do():
    """Counts that are not whole numbers take pandas' rolling windows: the same episodes."""
    index = pd.date_range(NOW - timedelta(days=4), NOW, freq="1min", inclusive="left")
    start = NOW - timedelta(hours=10)
    errors = np.where((index >= start) & (index < start + timedelta(hours=2)), 0.02, 0.0)
    whole = episodes(_minutes(1000, errors), 99.9, NOW - timedelta(days=1), NOW)
    fractional = episodes(_minutes(1000.5, errors), 99.9, NOW - timedelta(days=1), NOW)
    assert not grid_counts(_minutes(1000.5, errors), start, NOW, timedelta(minutes=1)).exact
    assert [(e.pair.name, e.start, e.end) for e in whole] == [(e.pair.name, e.start, e.end) for e in fractional]


# ---- SLO compliance ------------------------------------------------------------------------------
def test_compliance_counts_bad_requests_and_budget_exactly():
    service = catalog().service("checkout-api")  # 99.9% availability, p95 300 ms
    index = pd.date_range(NOW - timedelta(days=28), NOW, freq="1h", inclusive="left")
    series = pd.DataFrame({"requests": 1000.0, "errors": 0.0, "latency_p95_ms": 200.0}, index=index)
    series.iloc[:10, series.columns.get_loc("errors")] = 100.0  # 1,000 bad of 672,000
    series.iloc[:5, series.columns.get_loc("latency_p95_ms")] = 400.0  # 5 slow hours
    availability, latency = compliance(series, service, NOW, timedelta(days=28), 99.0)
    assert availability.requests == 672_000 and availability.bad == 1000
    assert availability.budget == pytest.approx(672.0)
    assert availability.budget_remaining == pytest.approx(1 - 1000 / 672)
    assert not availability.met
    assert latency.bad == 5000 and latency.met  # 99.26% of traffic in good hours >= 99%


def test_monthly_compliance_has_one_row_per_month():
    service = catalog().service("checkout-api")
    index = pd.date_range(datetime(2026, 1, 1), datetime(2026, 3, 1), freq="1D", inclusive="left")
    series = pd.DataFrame({"requests": 1000.0, "errors": 0.0, "latency_p95_ms": 100.0}, index=index)
    series.loc["2026-02-10", "errors"] = 100.0
    rows = monthly(series, service, 99.0)
    assert [r["month"] for r in rows] == ["2026-01", "2026-02"]
    assert rows[0]["availability_met"] and not rows[1]["availability_met"]


# ---- Apdex and journeys ------------------------------------------------------------------------
def test_apdex_from_percentiles_is_exact_on_known_points():
    frame = pd.DataFrame({"latency_p50_ms": [300.0], "latency_p95_ms": [1200.0], "latency_p99_ms": [2000.0],
                          "latency_max_ms": [4000.0], "requests": [100.0], "errors": [0.0]})
    assert share_within(frame, 300)[0] == pytest.approx(0.5)
    # T = 300: satisfied 0.5, tolerating up to 4T = 1200 -> 0.95 - 0.5
    assert apdex(frame, 300) == pytest.approx(0.5 + 0.45 / 2)
    assert rating(0.95) == "excellent" and rating(0.4) == "unacceptable"


def test_journey_latency_is_the_sum_and_availability_the_product_of_steps():
    hours = pd.date_range(NOW - timedelta(hours=2), NOW, freq="1h", inclusive="left")
    a = pd.DataFrame({"requests": [100.0, 100.0], "errors": [1.0, 0.0], "p95": [100.0, 120.0]}, index=hours)
    b = pd.DataFrame({"requests": [50.0, 50.0], "errors": [0.0, 5.0], "p95": [200.0, 210.0]}, index=hours)
    frame = compose([StepSeries("a", "GET /a", a, True), StepSeries("b", "GET /b", b, True)])
    assert frame["latency_ms"].tolist() == [300.0, 330.0]
    assert frame["availability"].tolist() == pytest.approx([0.99, 0.9])
    assert frame["requests"].tolist() == [50.0, 50.0]


def test_deprecated_calls_without_a_consumer_breakdown_still_count():
    frame = telemetry(incidents=False)
    extra = frame[(frame["endpoint"] == "POST /checkout")].assign(endpoint="GET /v1/cart")
    findings = experience.run(context(pd.concat([frame, extra], ignore_index=True)))
    found = _one(findings, kind="consumer_misuse", endpoint="GET /v1/cart")
    assert found.consumer is None and found.severity in ("low", "medium")


def test_overview_has_slo_windows_months_apdex_and_consumers():
    services, journeys = experience.overview(context(telemetry()), ["checkout-api"])
    item = services[0]
    assert {(s["sli"], s["window_days"]) for s in item.slo} >= {("availability", 7.0), ("availability", 28.0),
                                                             ("availability", 30.0), ("latency", 28.0)}
    assert item.monthly and item.apdex and {c["consumer"] for c in item.consumers} >= {"acme", "globex"}
    assert [j.name for j in journeys] == ["purchase"]


# ---- retry storms ------------------------------------------------------------------------------
def _minute_rows(consumers: dict[str, np.ndarray], errors: np.ndarray, index: pd.DatetimeIndex) -> pd.DataFrame:
    frames = []
    total = sum(consumers.values())
    for name, requests in consumers.items():
        share = np.where(total > 0, requests / np.maximum(total, 1), 0)
        frames.append(pd.DataFrame({"timestamp": index, "service": "checkout-api", "endpoint": "", "consumer": name,
                                    "requests": requests, "errors": np.round(errors * share),
                                    "client_errors": 0.0, "latency_p95_ms": 100.0}))
    return pd.concat(frames, ignore_index=True)


def test_a_consumer_retrying_without_backoff_is_a_retry_storm_and_a_poller_is_not():
    from perfops.analysis.experience.consumers import MisuseParams, retry_storm_findings

    index = pd.date_range(NOW - timedelta(hours=12), NOW, freq="1min", inclusive="left")
    bursts = np.zeros(len(index), dtype=bool)
    for hour in (2, 5, 8):
        bursts[hour * 60: hour * 60 + 3] = True
    after = pd.Series(bursts).rolling(10, min_periods=1).max().to_numpy().astype(bool)
    steady = np.full(len(index), 100.0)
    retrier = np.where(after, 600.0, 100.0)
    poller = np.where(np.arange(len(index)) > 90, 1000.0, 100.0)  # 10x from minute 90 on, errors or not
    errors = np.where(bursts, 200.0, 0.0)
    rows = _minute_rows({"acme": steady, "umbrella": steady.copy(), "globex": retrier, "initech": poller},
                        errors, index)
    found = retry_storm_findings(rows, catalog().service("checkout-api"), MisuseParams())
    assert [(f.consumer, f.metric) for f in found] == [("globex", "retries")]
    assert found[0].evidence["amplification"] >= 3
