"""The demo end to end against its ground truth: every seeded incident is found with the right
kind and at least its expected severity; nothing unexplained is reported at high or critical;
at most two unexplained findings at medium."""

from __future__ import annotations

from datetime import timedelta

import pytest

from perfops.model.findings import severity_rank

pytestmark = pytest.mark.slow


def _matches(finding, incident) -> bool:
    if finding.kind != incident.kind or finding.service != incident.service:
        return False
    return not (incident.consumer and finding.consumer != incident.consumer)


def test_every_seeded_incident_is_found_with_its_kind_and_severity(demo_run):
    manifest, _, findings = demo_run
    missing = []
    for incident in manifest.incidents:
        found = [f for f in findings if _matches(f, incident)]
        if not any(incident.severe_enough(f.severity) for f in found):
            missing.append(f"{incident.id}: {incident.kind} on {incident.service} "
                           f"(found {[f.severity for f in found]}, expected ≥ {incident.expected_min_severity})")
    assert missing == []


def test_nothing_unexplained_at_high_or_critical_and_at_most_two_at_medium(demo_run):
    manifest, _, findings = demo_run
    unexplained = [f for f in findings if not manifest.explaining(f.kind, f.service)]
    severe = [f"{f.severity} {f.kind} {f.service}: {f.title}" for f in unexplained
              if severity_rank(f.severity) <= severity_rank("high")]
    assert severe == []
    assert len([f for f in unexplained if f.severity == "medium"]) <= 2


def test_step_changes_start_within_15_minutes(demo_run):
    manifest, _, findings = demo_run
    for incident in manifest.incidents:
        if incident.kind != "regression":
            continue
        starts = [f.start for f in findings if _matches(f, incident) and f.start]
        assert starts, incident.id
        assert min(abs(s - incident.start) for s in starts) <= timedelta(minutes=15), incident.id


def test_regressions_name_the_deploy_and_propagated_ones_name_their_cause(demo_run):
    manifest, workspace, findings = demo_run
    catalog = workspace.load_catalog()
    by_id = {f.id: f for f in findings}
    for incident in manifest.incidents:
        if incident.kind == "regression" and incident.event:
            found = [f for f in findings if _matches(f, incident)]
            assert any(f.event == incident.event for f in found), incident.id
    caused = [f for f in findings if f.caused_by]
    assert caused, "a slow dependency must be named as the cause of its callers' findings"
    for f in caused:
        cause = by_id[f.caused_by]
        # a dependency, or the service's own traffic for load-driven resource use
        assert cause.service in [f.service, *catalog.dependencies_closure(f.service)], (f.title, cause.title)
