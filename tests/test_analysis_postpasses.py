"""Passes over a run's findings: repeated shifts merged, load-driven CPU attributed to traffic,
and causes named without losing what a journey or SLO finding is about."""

from __future__ import annotations

from datetime import datetime, timedelta

from perfops.analysis.rootcause import explain, link_load_driven
from perfops.analysis.trends import merge_repeated_shifts
from perfops.model.findings import Finding

T0 = datetime(2026, 11, 20, 8)


def finding(kind: str, metric: str, start: datetime, **more) -> Finding:
    base = {"kind": kind, "severity": "medium", "service": "recommendations", "squad": "storefront",
            "metric": metric, "title": f"recommendations {metric} {kind}", "detail": "", "start": start,
            "key": start.isoformat()}
    base.update(more)
    return Finding(**base)


def test_several_shifts_of_one_series_are_one_finding_from_the_first():
    shifts = [finding("regression", "cpu", T0 + timedelta(days=d), severity=s)
              for d, s in ((1, "medium"), (2, "high"), (5, "low"))]
    other = finding("regression", "latency", T0)
    merged = merge_repeated_shifts([*shifts, other])
    assert len(merged) == 2
    (cpu,) = [f for f in merged if f.metric == "cpu"]
    assert cpu.start == T0 + timedelta(days=1) and cpu.severity == "high"
    assert cpu.evidence["further_shifts"] == [(T0 + timedelta(days=d)).isoformat() for d in (2, 5)]


def test_cpu_that_rose_with_traffic_is_load_not_a_regression():
    growth = finding("volume_growth", "traffic", T0, severity="low", title="traffic grew 37% week over week")
    cpu = finding("regression", "cpu", T0 + timedelta(days=2))
    elsewhere = finding("regression", "cpu", T0, service="search", squad="storefront")
    out = {f.id: f for f in link_load_driven([growth, cpu, elsewhere])}
    assert out[cpu.id].caused_by == growth.id and out[cpu.id].severity == "info"
    assert "following its traffic" in out[cpu.id].title
    assert out[elsewhere.id].caused_by is None and out[elsewhere.id].severity == "medium"


def test_a_journey_keeps_its_subject_when_a_dependency_is_the_cause(small_catalog):
    cause = Finding(kind="regression", severity="high", service="payments", squad="payments", metric="latency",
                    title="payments slower", detail="", start=T0, event="payments 4.2.0")
    journey = Finding(kind="journey_degradation", severity="high", service="checkout-api", squad="checkout",
                      metric="latency", title="The purchase journey is slower than its 1500 ms target",
                      detail="", start=T0)
    explained = explain(journey, cause, small_catalog)
    assert explained.title == "The purchase journey is slower than its 1500 ms target, because payments regressed after 4.2.0"
    assert explained.caused_by == cause.id and explained.severity == "medium"
