"""Incidents, not findings: grouping and states, on small hand-made findings."""

from __future__ import annotations

from datetime import datetime, timedelta

from perfops.model.findings import Finding
from perfops.model.incidents import group_incidents, needing_action

NOW = datetime(2026, 11, 23)
H = timedelta(hours=1)


def _f(kind: str, service: str, start: datetime | None, end: datetime | None, severity: str = "high", **kw) -> Finding:
    return Finding(kind=kind, severity=severity, service=service, squad=kw.pop("squad", "sq"),
                   title=f"{kind} on {service}", detail="", start=start, end=end, key=f"{kind}{start}{kw.get('metric')}",
                   recommendation=kw.pop("recommendation", "Roll back the release. Then look at the pool."), **kw)


def test_a_spike_and_the_burn_it_caused_are_one_incident() -> None:
    spike = _f("anomaly", "pay", NOW - 30 * H, NOW - 29 * H, metric="errors", severity="medium")
    burn = _f("error_budget_burn", "pay", NOW - 29.8 * H, NOW - 29 * H, metric="errors")
    other = _f("anomaly", "pay", NOW - 5 * H, NOW - 4 * H, metric="latency_p95_ms", severity="low")
    incidents = group_incidents([spike, burn, other], NOW)
    assert sorted(len(i.symptoms) for i in incidents) == [1, 2]
    joint = next(i for i in incidents if len(i.symptoms) == 2)
    assert joint.severity == "high" and {f.id for f in joint.symptoms} == {spike.id, burn.id}


def test_an_slo_miss_this_week_and_over_28_days_is_one_incident() -> None:
    week = _f("slo_breach", "pay", NOW - 7 * 24 * H, None, metric="availability")
    month = _f("slo_breach", "pay", NOW - 28 * 24 * H, None, metric="availability", severity="medium")
    (incident,) = group_incidents([week, month], NOW)
    assert incident.state == "ongoing" and incident.word == "Act now"


def test_an_incident_that_ended_over_a_day_ago_is_never_act_now() -> None:
    blip = _f("anomaly", "pay", NOW - 3 * 24 * H, NOW - 3 * 24 * H + 40 * timedelta(minutes=1), metric="errors",
              severity="critical")
    (incident,) = group_incidents([blip], NOW)
    assert incident.state == "ended" and incident.word == "Review" and not incident.needs_action
    advice = incident.advice(NOW)
    assert advice == "Ended 3.0 days ago after 40 min: review the cause and whether it can recur."
    assert "roll back" not in advice.lower()
    assert needing_action([incident]) == []


def test_a_dependency_and_its_callers_are_one_incident_led_by_the_cause() -> None:
    cause = _f("regression", "db", NOW - 10 * H, None, metric="latency_p95_ms", severity="medium")
    caller = _f("regression", "api", NOW - 9 * H, None, metric="latency_p95_ms", caused_by=cause.id, squad="web")
    (incident,) = group_incidents([cause, caller], NOW)
    assert incident.lead.service == "db" and incident.severity == "high"  # as severe as its worst symptom
    assert incident.squads == ["sq", "web"] and incident.services == ["api", "db"]


def test_standing_conditions_stay_apart_and_are_planned() -> None:
    runway = _f("saturation_risk", "pay", NOW - 24 * H, None)
    spike = _f("anomaly", "pay", NOW - 24 * H, NOW - 23 * H, metric="requests", severity="low")
    incidents = group_incidents([runway, spike], NOW)
    assert sorted(i.state for i in incidents) == ["ended", "standing"]
    assert next(i for i in incidents if i.state == "standing").word == "Plan"


def test_acknowledged_and_resolved_states() -> None:
    acked = _f("anomaly", "a", NOW - 2 * H, None, status="acknowledged")
    done = _f("anomaly", "b", NOW - 2 * H, None, status="resolved")
    states = {i.lead.service: (i.state, i.word) for i in group_incidents([acked, done], NOW)}
    assert states == {"a": ("acknowledged", "In hand"), "b": ("resolved", "Resolved")}


def test_separate_episodes_stay_separate_and_order_puts_action_first() -> None:
    first = _f("anomaly", "pay", NOW - 50 * H, NOW - 49 * H, metric="requests")
    second = _f("anomaly", "pay", NOW - 2 * H, None, metric="requests", severity="medium")
    third = _f("anomaly", "web", NOW - 1 * H, None, metric="requests", severity="critical")
    incidents = group_incidents([first, second, third], NOW)
    assert [i.lead.id for i in incidents] == [third.id, second.id, first.id]
    assert [i.state for i in incidents] == ["ongoing", "ongoing", "ended"]


def test_two_causes_at_the_same_hour_are_two_incidents() -> None:
    deploy = _f("regression", "api", NOW - 5 * H, None, metric="latency_p95_ms", event="api 2.3.1")
    dependency = _f("regression", "api", NOW - 5 * H, None, metric="errors", caused_by="F-elsewhere")
    unexplained = _f("anomaly", "api", NOW - 4.5 * H, None, metric="requests", severity="low")
    incidents = group_incidents([deploy, dependency, unexplained], NOW)
    assert sorted(len(i.symptoms) for i in incidents) == [1, 2]  # the unexplained one joins the first
