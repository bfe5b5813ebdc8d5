"""The demo's seeded capacity and cost incidents are all found, with the right kind, the savings
within 20% of what the seeded over-provisioning implies, and nothing false at high/critical.

Runs `perfops.demo.generate_demo` (6 weeks, seed 42) and analyses its data/telemetry.parquet."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from capacity_fixtures import memory_loader
from perfops.analysis import capacity, cost
from perfops.analysis.capacity import model as capacity_model
from perfops.analysis.context import AnalysisContext
from perfops.demo import generate_demo
from perfops.workspace import parse_catalog


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    manifest = generate_demo(tmp_path_factory.mktemp("demo"))
    frame = pd.read_parquet(manifest.telemetry[0])
    cat = parse_catalog(manifest.catalog.read_text())
    ctx = AnalysisContext(catalog=cat, now=manifest.end, period=timedelta(days=7),
                          history=manifest.end - manifest.start - timedelta(days=7), load_telemetry=memory_loader(frame))
    truth = [i for i in manifest.incidents if i.category in ("capacity", "cost")]
    return ctx, capacity.run(ctx) + cost.run(ctx), truth, list(manifest.incidents)


def test_every_seeded_incident_is_found_with_its_kind(demo):
    _ctx, found, truth, _all = demo
    got = {(f.kind, f.service) for f in found}
    missing = [(i.kind, i.service) for i in truth if (i.kind, i.service) not in got]
    assert not missing


def test_savings_within_20_percent_of_the_seeded_over_provisioning(demo):
    ctx, found, truth, _all = demo
    (seed,) = [i for i in truth if i.kind == "savings_opportunity"]
    svc = ctx.catalog.service(seed.service)
    frame = ctx.telemetry(services=[seed.service], metrics=["requests"], start=ctx.period_start)
    whole = frame[(frame.endpoint == "") & (frame.consumer == "")]
    peak_tps = np.quantile(whole.value / 300.0, 0.99)
    needed = int(np.ceil(peak_tps / (svc.capacity.max_tps_per_instance * svc.capacity.cpu_target_pct / 100)))
    implied = (svc.capacity.instances - needed) * svc.cost.instance_hourly * 730
    (saving,) = [f for f in found if f.kind == "savings_opportunity" and f.service == seed.service]
    assert saving.impact["monthly_savings"] == pytest.approx(implied, rel=0.2)


def test_no_saving_where_the_peak_needs_the_capacity(demo):
    ctx, found, _truth, _all = demo
    states = {s.service: s for s in capacity_model.assess(ctx)}
    for f in (f for f in found if f.kind == "savings_opportunity"):
        state = states[f.service]
        assert state.period_peak_util < 0.6 * state.cpu_target


def test_nothing_false_at_high_or_critical(demo):
    _ctx, found, _truth, incidents = demo
    false_severe = [(f.kind, f.service, f.severity) for f in found if f.severity in ("critical", "high")
                    and not any(i.explains(f.kind, f.service) for i in incidents)]
    assert not false_severe


def test_saturation_date_in_the_seeded_window(demo):
    _ctx, found, truth, _all = demo
    (seed,) = [i for i in truth if i.kind == "saturation_risk"]
    (risk,) = [f for f in found if f.kind == "saturation_risk" and f.service == seed.service]
    low, high = seed.details["expected_days_to_saturation"]
    assert low <= risk.impact["days_to_saturation"] <= high
