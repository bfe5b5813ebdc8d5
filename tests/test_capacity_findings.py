"""Capacity findings on a synthetic domain with known answers (tests/capacity_fixtures.py)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from capacity_fixtures import SvcSpec, build_catalog, build_context, build_frame
from perfops.analysis import capacity
from perfops.analysis.capacity import model as capacity_model
from perfops.analysis.grid import service_grid, service_rows, to_matrix

SPECS = [
    # peak 150 req/s now of a 200 req/s capacity, +3%/week: ln(200/150)/ln(1.03) = 9.7 weeks ≈ 68 days
    SvcSpec("grower", peak_tps=130, growth_per_week=0.03, instances=5, max_tps_per_instance=40, cpu_at_peak=40, tier=1),
    SvcSpec("hot", peak_tps=100, instances=4, cpu_at_peak=85),
    SvcSpec("idle", peak_tps=60, instances=12, max_tps_per_instance=40, cpu_at_peak=20),
    SvcSpec("jump", peak_tps=80, instances=6, cpu_at_peak=40, last_week_factor=1.35),
    SvcSpec("steady", peak_tps=80, instances=6, cpu_at_peak=50),
]


@pytest.fixture(scope="module")
def findings():
    return capacity.run(build_context(SPECS))


def _of(findings, kind, service):
    return [f for f in findings if f.kind == kind and f.service == service]


def test_saturation_date_matches_the_compound_growth(findings):
    (risk,) = _of(findings, "saturation_risk", "grower")
    expected = 7 * math.log(200 / 150.8) / math.log(1.03)  # 150.8 = the p99 of the last week
    assert risk.impact["days_to_saturation"] == pytest.approx(expected, rel=0.15)
    early, late = risk.impact["days_to_saturation_interval"]
    assert early <= risk.impact["days_to_saturation"] and (late is None or late >= risk.impact["days_to_saturation"])
    assert risk.severity == "low" and risk.squad == "team-a" and risk.metric == "traffic"
    assert risk.evidence["capacity_tps"] == 200 and risk.key == ""


def test_under_provisioned_says_by_how_many_instances(findings):
    (hot,) = _of(findings, "under_provisioned", "hot")
    assert hot.impact["instances_needed"] == 5 and hot.impact["additional_instances"] == 1
    assert hot.severity == "medium" and hot.evidence["peak_cpu_pct"] > 80


def test_over_provisioned_only_where_the_peak_is_far_below_target(findings):
    (idle,) = _of(findings, "over_provisioned", "idle")
    assert idle.impact["instances_needed"] == 4 and idle.impact["spare_instances"] == 8
    assert not [f for f in findings if f.kind == "over_provisioned" and f.service != "idle"]


def test_volume_growth_flags_the_jump_and_keeps_its_id_per_week(findings):
    (jump,) = _of(findings, "volume_growth", "jump")
    assert jump.evidence["change_pct"] == pytest.approx(35, abs=3)
    assert jump.key == "2026-W09"
    assert not _of(findings, "volume_growth", "grower")  # steady +3% a week is its norm


def test_nothing_flagged_on_a_steady_service(findings):
    assert not [f for f in findings if f.service == "steady"]


def test_ids_are_stable_across_runs(findings):
    again = capacity.run(build_context(SPECS))
    assert sorted(f.id for f in findings) == sorted(f.id for f in again)


def test_every_finding_has_numbers_a_recommendation_and_an_owner(findings):
    for f in findings:
        assert f.title and f.detail and f.recommendation and f.evidence and f.impact
        assert f.squad in ("team-a", "team-b") and f.category == "capacity"


def test_instances_from_telemetry_win_over_the_catalog():
    ctx = build_context([SvcSpec("svc", instances=6, unit_cost_factor=1.5)])  # last week runs 9 instances
    (state,) = capacity_model.assess(ctx)
    assert state.instances == 9 and state.instances_source == "telemetry"


def test_catalog_instances_when_no_telemetry():
    specs = [SvcSpec("svc", instances=6)]
    frame = build_frame(specs)
    frame = frame[frame.metric != "instances"]
    ctx = build_context(specs)
    ctx = replace(ctx, load_telemetry=lambda s, m, a, b: frame[frame.metric.isin(m)])
    (state,) = capacity_model.assess(ctx)
    assert state.instances == 6 and state.instances_source == "catalog"
    assert state.capacity_tps == 240


def test_peak_is_the_p99_not_the_mean():
    (state,) = capacity_model.assess(build_context([SvcSpec("svc", peak_tps=100)]))
    assert state.peak_tps == pytest.approx(100, rel=0.08)
    assert state.mean_tps < 0.7 * state.peak_tps


def test_service_rows_sum_endpoints_when_no_whole_service_row():
    frame = build_frame([SvcSpec("svc")], days=2)
    req = frame[frame.metric == "requests"]
    a, b = req.assign(endpoint="GET /a", value=req.value * 0.25), req.assign(endpoint="GET /b", value=req.value * 0.75)
    split = __import__("pandas").concat([a, b])
    grid = service_grid(split.timestamp.min(), split.timestamp.max(), __import__("datetime").timedelta(minutes=5))
    whole = to_matrix(service_rows(req), "requests", ["svc"], grid)
    summed = to_matrix(service_rows(split), "requests", ["svc"], grid)
    assert summed[0, 10] == pytest.approx(whole[0, 10])


def test_no_capacity_data_means_no_capacity_finding():
    specs = [SvcSpec("bare", max_tps_per_instance=None, cpu_at_peak=30)]
    ctx = build_context(specs)
    assert build_catalog(specs).service("bare").capacity.max_tps_per_instance is None
    kinds = {f.kind for f in capacity.run(ctx)}
    assert "saturation_risk" not in kinds and "under_provisioned" not in kinds


def test_no_telemetry_at_all_gives_no_findings_and_no_error():
    import pandas as pd

    from perfops.analysis import cost
    from perfops.reports.section import ReportView
    from perfops.reports.sections import capacity as cap_section
    from perfops.reports.sections import cost as cost_section
    from reports_fixture import report_context

    ctx = build_context([SvcSpec("svc")])
    ctx = replace(ctx, load_telemetry=lambda *a: pd.DataFrame())
    assert capacity.run(ctx) == [] and cost.run(ctx) == []
    for audience in ("executive", "lead", "developer"):
        view = ReportView(ctx=report_context(ctx), findings=[], audience=audience)
        assert all(s.markdown for s in cap_section.build(view) + cost_section.build(view))


def test_a_one_off_step_is_a_level_not_a_trend():
    import numpy as np

    volumes = np.array([
        [100, 103, 106.1, 109.3, 112.6],  # steady +3% a week: extrapolate
        [100, 101, 100.5, 101, 140],  # a launch last week: a new level
        [100, 99, 101, 100, 100.5],  # flat noise: no trend
        [100, 90, 81, 72.9, 65.6],  # steady decline
    ])
    assert capacity_model.growth_is_steady(volumes).tolist() == [True, False, False, True]


def test_a_launch_step_does_not_become_a_saturation_date():
    specs = [SvcSpec("launch", peak_tps=80, instances=5, max_tps_per_instance=40, cpu_at_peak=40,
                     last_week_factor=1.45)]
    ctx = build_context(specs)
    assert [f.kind for f in capacity.run(ctx)] == ["volume_growth"]
    (state,) = capacity_model.assess(ctx)
    assert state.forecast_peak_tps > 0.85 * state.peak_tps  # forecast at the new level, not the old one



@pytest.mark.parametrize("cpu", [75, 95])
def test_a_service_already_above_its_cpu_target_is_under_provisioned_not_a_saturation_forecast(cpu):
    # flat traffic, CPU-only capacity (no max_tps_per_instance), already above the 70% target today:
    # the problem is now, not a date to come ("runs out of capacity in about 1 days" was the bug)
    flat = SvcSpec("flat", peak_tps=100, instances=4, cpu_at_peak=cpu, max_tps_per_instance=None)
    assert [f.kind for f in capacity.run(build_context([flat]))] == ["under_provisioned"]
