"""trends.run on a synthetic domain with known incidents (tests/trends_world.py)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

import trends_world as W
from perfops.analysis import trends
from perfops.analysis.rootcause import link_causes
from perfops.workspace import parse_catalog


@pytest.fixture(scope="module")
def catalog():
    return parse_catalog(W.CATALOG)


@pytest.fixture(scope="module")
def world():
    return W.build()


@pytest.fixture(scope="module")
def found(world, catalog):
    return trends.run(W.context(world, catalog))


def matches(f, truth) -> bool:
    return f.service == truth["service"] and f.kind == truth["kind"] and f.metric == truth["metric"]


def test_every_incident_is_found_with_its_start(found, world):
    for truth in world.truth:
        hits = [f for f in found if matches(f, truth)]
        assert hits, f"missed {truth}"
        if truth["kind"] != "resource_growth":
            assert abs(hits[0].start - truth["start"]) <= timedelta(minutes=15), (hits[0].start, truth)


def test_nothing_else_at_high_or_critical(found, world):
    false = [f for f in found if not any(matches(f, t) for t in world.truth)]
    assert not [f for f in false if f.severity in ("critical", "high")]
    assert len([f for f in false if f.severity == "medium"]) <= 2


def test_regression_is_tied_to_the_deploy_with_honest_statistics(found):
    reg = next(f for f in found if f.service == "payments" and f.kind == "regression")
    assert reg.event == "payments 4.2.0"
    ev = reg.evidence
    assert ev["before"] == pytest.approx(ev["norm"], rel=0.1)
    assert ev["after"] / ev["before"] == pytest.approx(1.8, rel=0.1)
    assert ev["p_value"] < 1e-6 and ev["effect_size"] > 1
    assert ev["sample_size"]["norm_samples"] >= 4
    assert reg.end is None and reg.severity in ("high", "critical")


def test_calm_domain_has_no_findings(catalog):
    quiet = W.build(seed=8, incidents=False)
    found = trends.run(W.context(quiet, catalog))
    assert [f for f in found if f.severity in ("critical", "high", "medium")] == []


def test_ids_are_stable_across_runs(world, catalog, found):
    later = trends.run(W.context(world, catalog, now=W.NOW + timedelta(hours=1)))
    assert {f.id for f in later} == {f.id for f in found}


def test_root_cause_names_the_dependency(found, catalog):
    linked = {f.service + f.kind + str(f.metric): f for f in link_causes(found, catalog)}
    checkout = linked["checkout-apiregressionlatency"]
    payments = linked["paymentsregressionlatency"]
    assert checkout.caused_by == payments.id
    assert "because payments regressed after 4.2.0" in checkout.title
    assert checkout.severity != payments.severity


def test_acknowledged_level_becomes_the_norm(world, catalog):
    mark = {"service": "payments", "endpoint": "", "metric": "latency",
            "at": W.NOW - timedelta(days=3, hours=9, minutes=55)}
    found = trends.run(W.context(world, catalog, level_marks=[mark]))
    assert not [f for f in found if f.service == "payments" and f.metric == "latency"]


def low_traffic_world(errors_in_period: int, base_errors: float = 0.0) -> W.World:
    t = W.times()
    n = t.size
    req = np.full(n, 2.0)  # 24 requests an hour
    err = np.zeros(n)
    err[: n // 2] = base_errors
    period = np.flatnonzero(t >= W.NOW - W.PERIOD)
    err[period[100: 100 + errors_in_period]] = 1.0
    frame = W.long_form("search", "", t, {"requests": req, "errors": err})
    return W.World(frame, pd.DataFrame(columns=["timestamp", "service", "type", "version", "description"]))


def test_low_traffic_errors_do_not_page(catalog):
    found = trends.run(W.context(low_traffic_world(errors_in_period=4), catalog))
    assert [f for f in found if f.metric == "errors"] == []


def test_zero_baseline_does_not_hide_new_errors(catalog):
    t = W.times()
    rng = np.random.default_rng(0)
    req = rng.poisson(2000, t.size).astype(float)
    err = np.zeros(t.size)
    new = (t >= W.NOW - timedelta(days=1)) & (t < W.NOW - timedelta(hours=23))
    err[new] = 40.0  # 2 % errors where there never were any
    frame = W.long_form("search", "", t, {"requests": req, "errors": err})
    world = W.World(frame, pd.DataFrame(columns=["timestamp", "service", "type", "version", "description"]))
    found = [f for f in trends.run(W.context(world, catalog)) if f.metric == "errors"]
    assert len(found) == 1 and found[0].evidence["norm"] < 0.001
    assert found[0].evidence["observed"] == pytest.approx(0.02, rel=0.1)


def test_random_gaps_do_not_create_findings(world, catalog):
    rng = np.random.default_rng(0)
    holed = world.telemetry[rng.random(len(world.telemetry)) > 0.3]  # 30 % of rows lost, per metric
    found = trends.run(W.context(W.World(holed, world.events), catalog))
    false = [f for f in found if not any(matches(f, t) for t in world.truth)]
    assert [f for f in false if f.severity not in ("low", "info")] == []
    assert all(any(matches(f, t) for f in found) for t in world.truth)


def test_young_history_caps_severity(world, catalog):
    hourly = world.telemetry[world.telemetry["timestamp"].dt.minute == 0]
    found = trends.run(W.context(W.World(hourly, world.events), catalog, history=timedelta(days=3)))
    seasonal = [f for f in found if f.metric != "errors" and f.kind != "resource_growth"]
    assert seasonal and all(f.severity in ("medium", "low", "info") for f in seasonal)
    assert all(f.evidence["norm_history_days"] <= 3 for f in seasonal)


def test_cpu_titles_speak_in_points_not_in_relative_change(catalog):
    # a CPU near zero that jumps to 40 %: "up 40,000%" says nothing; "at 40% (norm 0.1%)" does
    t = W.times()
    cpu = np.full(t.size, 0.1)
    cpu[t >= W.NOW - timedelta(days=2)] = 40.0
    frame = W.long_form("search", "", t, {"requests": np.full(t.size, 500.0), "cpu_pct": cpu})
    world = W.World(frame, pd.DataFrame(columns=["timestamp", "service", "type", "version", "description"]))
    titles = [f.title for f in trends.run(W.context(world, catalog)) if f.metric == "cpu"]
    assert titles and all("%" in t and "norm 0.1%" in t and "up " not in t for t in titles), titles
