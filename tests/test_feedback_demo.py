"""The feedback findings on the demo domain: the seeded feedback incidents are found, with the
numbers right (a slow end-to-end test over the demo generator's data)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from perfops.demo import generate_demo
from perfops.model.findings import severity_rank

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, list, dict]:
    from perfops.analysis import feedback
    from perfops.store import open_store
    from perfops.usecases.context import build_context
    from perfops.usecases.ingest import ingest_paths
    from perfops.workspace import Workspace

    root = tmp_path_factory.mktemp("demo")
    manifest = generate_demo(root, weeks=6)
    ws = Workspace(root)
    for item in manifest.inputs:
        ingest_paths(ws, [item.path], format_name=item.format, **item.options)
    truth = json.loads((root / "ground_truth.json").read_text())
    end = datetime.fromisoformat(truth["period"]["end"].rstrip("Z"))
    with open_store(ws.store_path) as store:
        ctx = build_context(store, ws.load_catalog(), now=end, period=timedelta(days=7))
        found = feedback.run(ctx)
    return root, found, truth


def test_every_seeded_feedback_incident_is_found(demo):
    _, found, truth = demo
    for incident in (i for i in truth["incidents"] if i["category"] == "feedback"):
        match = [f for f in found if f.kind == incident["kind"] and f.service == incident["service"]
                 and (incident["endpoint"] is None or f.endpoint == incident["endpoint"])]
        assert match, f"{incident['id']} not found"
        assert min(severity_rank(f.severity) for f in match) <= severity_rank(incident["expected_min_severity"])


def test_the_numbers_are_right(demo):
    _, found, _ = demo
    gap = next(f for f in found if f.kind == "test_coverage_gap" and f.service == "checkout-api")
    assert gap.evidence["run_id"] == "checkout-nightly-6"
    assert 0.35 <= gap.evidence["load_vs_production"]["ratio"] <= 0.47  # seeded at ~40 %
    assert gap.evidence["coverage"]["missing"] == ["GET /checkout/{id}"]
    assert gap.evidence["mix_vs_production"]["total_variation"] == pytest.approx(0.55, abs=0.03)
    peak = next(f for f in found if f.kind == "nfr_mismatch" and f.service == "cart" and f.metric == "traffic")
    assert peak.evidence["nfr_peak_tps"] == 86 and 1.4 <= peak.evidence["ratio"] <= 1.6  # seeded at ~1.5x
    slower = next(f for f in found if f.kind == "test_regression" and f.endpoint == "POST /checkout")
    assert slower.evidence["run_id"] == "checkout-nightly-6"
    assert 40 <= slower.evidence["change_pct"] <= 60  # seeded at +50 %


def test_no_unexplained_feedback_finding_is_high(demo):
    _, found, truth = demo
    explained = {(i["kind"], i["service"]) for i in truth["incidents"]}
    explained |= {tuple(pair) for i in truth["incidents"] for pair in i.get("related", [])}
    for f in found:
        if (f.kind, f.service) not in explained and (f.kind, "*") not in explained:
            assert f.severity not in ("critical", "high"), f.title
