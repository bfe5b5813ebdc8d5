"""Next actions per squad and what changed since the last report, on hand-made findings."""

from __future__ import annotations

from datetime import datetime, timedelta

from perfops.model.actions import next_actions
from perfops.model.changes import FindingTimes, changes_since
from perfops.model.findings import Finding
from perfops.model.incidents import group_incidents

NOW = datetime(2026, 11, 23)
H = timedelta(hours=1)


def _f(kind: str, service: str, squad: str, start: datetime | None, end: datetime | None, **kw) -> Finding:
    return Finding(kind=kind, severity=kw.pop("severity", "high"), service=service, squad=squad,
                   title=kw.pop("title", f"Latency of {service} up 80%"), detail="", start=start, end=end,
                   key=f"{kind}{service}{start}", recommendation=kw.pop("recommendation", "Bisect the change. Then test."),
                   **kw)


def test_actions_use_the_cause_the_release_and_the_saving() -> None:
    cause = _f("regression", "payments", "pay", NOW - 5 * H, None, event="payments 4.2.0")
    caller = _f("test_regression", "checkout", "web", NOW - 4 * H, None, caused_by=cause.id, severity="medium",
                title="Load test nightly-9 slower than the runs before")
    saving = _f("savings_opportunity", "search", "web", None, None, severity="medium",
                impact={"monthly_savings": 981.12}, recommendation="Run 4 instances instead of 6. Keep N+1.")
    findings = [cause, caller, saving]
    by_id = {f.id: f for f in findings}
    incidents = group_incidents(findings, NOW)
    pay = next_actions(incidents, by_id, "pay")
    assert [a.text for a in pay] == ["Roll back or fix payments 4.2.0: latency of payments up 80%."]
    assert pay[0].findings == (cause.id, caller.id) and pay[0].word == "Act now"
    web = next_actions(incidents, by_id, "web")
    assert [a.text for a in web] == [
        "Squad pay owns the cause (payments after payments 4.2.0: latency of payments up 80%); load test "
        "nightly-9 slower than the runs before follows from it: coordinate with them rather than change checkout.",
        "Save USD 981 a month: Run 4 instances instead of 6.",
    ]


def test_a_callers_own_incident_points_at_the_other_squad() -> None:
    cause = _f("regression", "payments", "pay", NOW - 5 * H, None, severity="low")
    caller = _f("regression", "checkout", "web", NOW - 4 * H, None, caused_by=cause.id)
    by_id = {f.id: f for f in (cause, caller)}
    incidents = group_incidents([caller], NOW)  # the cause is outside the report's scope
    (action,) = next_actions(incidents, by_id, "web")
    assert action.text.startswith("Ask squad pay about payments")


def test_changes_since_the_last_report() -> None:
    old = _f("anomaly", "a", "sq", NOW - 100 * H, None)
    fresh = _f("anomaly", "b", "sq", NOW - 2 * H, None)
    fixed = _f("anomaly", "c", "sq", NOW - 100 * H, NOW - 90 * H, status="resolved")
    history = [{"finding_id": old.id, "action": "found", "at": NOW - 99 * H},
               {"finding_id": fresh.id, "action": "found", "at": NOW - 1 * H},
               {"finding_id": fixed.id, "action": "found", "at": NOW - 99 * H},
               {"finding_id": fixed.id, "action": "resolved", "at": NOW - 3 * H}]
    changes = changes_since([old, fresh, fixed], FindingTimes.of(history), NOW - 7 * 24 * H + 80 * H, NOW)
    assert [f.id for f in changes.new] == [fresh.id]
    assert [f.id for f in changes.still_open] == [old.id]
    assert [f.id for f in changes.resolved] == [fixed.id]
    assert changes.counts() == {"new": 1, "still_open": 1, "resolved": 1}
