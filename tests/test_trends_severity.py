"""Severity from impact: tier, requests, duration, SLO distance."""

from __future__ import annotations

from datetime import timedelta

from perfops.analysis.severity import Impact, demote, lower_to, severity_from_impact


def test_ongoing_slo_breach_on_tier1_is_critical():
    assert severity_from_impact(Impact(tier=1, requests_affected=500_000, duration=None, slo_ratio=1.4)) == "critical"


def test_short_blip_on_internal_service_is_info():
    assert severity_from_impact(Impact(tier=3, requests_affected=200, duration=timedelta(minutes=10))) == "info"


def test_failed_requests_weigh_more_than_slow_ones():
    slow = Impact(tier=2, requests_affected=800, duration=timedelta(minutes=45))
    failed = Impact(tier=2, requests_affected=800, failed_requests=800, duration=timedelta(minutes=45))
    assert severity_from_impact(failed) != severity_from_impact(slow)


def test_tiny_changes_drop_a_level_and_caps_hold():
    big = Impact(tier=1, requests_affected=200_000, duration=timedelta(hours=3), relative_change=0.5)
    small = Impact(tier=1, requests_affected=200_000, duration=timedelta(hours=3), relative_change=0.1)
    assert severity_from_impact(big) == "high" and severity_from_impact(small) == "medium"
    assert severity_from_impact(big, cap="info") == "info"


def test_demote_and_lower_to():
    assert demote("critical") == "high" and demote("low") == "low" and demote("info") == "info"
    assert lower_to("critical", "high") == "high" and lower_to("low", "high") == "low"


# ---- the one policy for every area (issue 13 item 1) ------------------------------------------
from perfops.analysis import severity as policy  # noqa: E402
from perfops.workspace import parse_catalog  # noqa: E402

GRAPH = """\
domain: Graph
squads:
  - name: a
services:
  - name: gateway
    squad: a
    tier: 1
    depends_on: [orders]
  - name: orders
    squad: a
    tier: 2
    depends_on: [store]
  - name: billing
    squad: a
    tier: 2
    depends_on: [store]
  - name: store
    squad: a
    tier: 3
journeys:
  - name: buy
    steps: ["gateway:POST /buy", "orders:POST /orders"]
"""


def test_blast_radius_counts_transitive_callers_and_journeys_and_lifts_the_tier():
    catalog = parse_catalog(GRAPH)
    assert policy.blast_radius(catalog, "store") == (3, 2)  # gateway, orders, billing; tier 3 -> 2
    assert policy.blast_radius(catalog, "orders") == (2, 2)  # gateway + the journey
    assert policy.blast_radius(catalog, "gateway") == (1, 1)  # the journey only


def test_magnitude_in_the_metrics_own_scale_without_requests():
    # CPU at ~0 on a service that runs at 30 % is an outage; 2x latency above the SLO is user-visible
    assert policy.is_outage("cpu", 0.4, 30.0) and not policy.is_outage("cpu", 0.4, 3.0)
    assert policy.magnitude_points("cpu", 0.4, 30.0) == 3
    assert policy.magnitude_points("latency", 420.0, 200.0, slo=400.0) == 2
    assert policy.magnitude_points("latency", 420.0, 200.0) == 1
    assert policy.magnitude_points("cpu", 12.5, 6.0) == 1  # a database's CPU doubled
    dead = Impact(tier=2, duration=None, outage=True)
    assert policy.incident(dead).level == "high"
    assert policy.incident(Impact(tier=2, duration=None, outage=True, callers_active=True)).level == "critical"
    verdict = policy.incident(Impact(tier=2, duration=timedelta(hours=3), magnitude=1, relative_change=1.0))
    assert verdict.inputs["magnitude"] == 1 and verdict.inputs["duration_minutes"] == 180
    assert verdict.inputs["points"] == policy.impact_points(Impact(tier=2, duration=timedelta(hours=3), magnitude=1,
                                                                   relative_change=1.0))


def test_time_to_impact_for_capacity():
    assert policy.time_to_impact(1, peak_util=94.0, target=70.0).level == "high"  # tier 1 at 94 % at peak
    assert policy.time_to_impact(2, peak_util=94.0, target=70.0).level == "medium"
    assert policy.time_to_impact(1, days=25).level == "high"  # saturating within 30 days
    assert policy.time_to_impact(1, days=10).level == "critical"
    assert policy.time_to_impact(3, days=90).level == "low"


def test_money_is_a_share_of_spend():
    assert policy.money(500.0, service_monthly=1_000.0).level == "high"  # half the service's spend
    assert policy.money(500.0, service_monthly=100_000.0).level == "low"
    assert policy.money(500.0, domain_monthly=10_000.0).level == "high"  # 5 % of the domain's spend
    assert policy.money(500.0, domain_monthly=20_000.0).level == "medium"  # 2.5 %
    assert policy.money(50_000.0, service_monthly=10_000_000.0, domain_monthly=50_000_000.0).level == "low"
    assert policy.money(12_000.0).level == "high"  # nothing to compare with: the amount
    verdict = policy.money(500.0, service_monthly=1_000.0)
    assert verdict.inputs["share_of_service_spend"] == 0.5
    assert policy.redundant_instances(1) == 1 and policy.redundant_instances(2) == 0


def test_base_level_kinds_record_their_inputs():
    from perfops.model.findings import Finding

    catalog = parse_catalog(GRAPH)
    burn = Finding(kind="error_budget_burn", severity="high", service="orders", squad="a", title="t", detail="d",
                   evidence={"pair": "fast", "peak_burn_rate": 20.0})
    (recorded,) = policy.record_inputs([burn], catalog)
    assert recorded.evidence["severity_inputs"] == {"tier": 2, "rule": policy.KIND_RULES["error_budget_burn"][0],
                                                    "pair": "fast", "peak_burn_rate": 20.0}
    assert policy.by_tier("critical", 3).level == "medium"
    assert policy.feedback_risk("medium", 3) == "low" and policy.feedback_risk("low", 3) == "low"
