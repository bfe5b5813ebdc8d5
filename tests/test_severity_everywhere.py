"""One severity policy for every area (issue 13 item 1): on the demo domain, every finding of
every area says what its severity was decided from, and incident severities follow the points."""

from __future__ import annotations

import pytest

from perfops.analysis.severity import THRESHOLDS

pytestmark = pytest.mark.slow


def test_every_finding_records_the_inputs_of_its_severity(demo_run):
    _, _, findings = demo_run
    assert findings
    missing = [f"{f.kind} {f.service}" for f in findings
               if not isinstance(f.evidence.get("severity_inputs"), dict) or not f.evidence["severity_inputs"].get("rule")]
    assert not missing, missing
    kinds = {f.kind for f in findings}
    assert {"regression", "anomaly", "resource_growth", "saturation_risk", "cost_anomaly", "slo_breach"} <= kinds


def test_incident_severities_follow_their_points(demo_run):
    _, _, findings = demo_run
    for f in findings:
        inputs = f.evidence["severity_inputs"]
        if inputs.get("rule") != "points" or "demoted_from" in inputs:
            continue  # capped, floored or explained by a dependency: the rule says so
        expected = next((name for name, need in THRESHOLDS if inputs["points"] >= need), "info")
        assert f.severity == expected, (f.title, inputs)
