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
