"""trends on the demo domain: every seeded trends incident found, nothing false above low.

Runs the analysis directly on the generated files (no store), so it checks the trends engine
against the demo's ground truth independently of ingest."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

from perfops import demo
from perfops.analysis import trends
from perfops.analysis.context import AnalysisContext
from perfops.analysis.rootcause import link_causes
from perfops.workspace import parse_catalog


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    manifest = demo.generate_demo(tmp_path_factory.mktemp("demo"))
    catalog = parse_catalog(manifest.catalog.read_text())
    telemetry = pd.read_parquet(manifest.telemetry[0])
    events = pd.read_csv(manifest.events)
    events["timestamp"] = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None)

    def load(services, metrics, start, end):
        sel = telemetry[telemetry["service"].isin(list(services)) & telemetry["metric"].isin(list(metrics))]
        return sel[(sel["timestamp"] >= start) & (sel["timestamp"] < end)]

    ctx = AnalysisContext(catalog=catalog, now=manifest.end, period=timedelta(days=7),
                          history=timedelta(weeks=manifest.weeks) - timedelta(days=7),
                          load_telemetry=load, events=events)
    return manifest, link_causes(trends.run(ctx), catalog)


def test_every_trends_incident_is_found(result):
    manifest, found = result
    for incident in (i for i in manifest.incidents if i.category == "trends"):
        hits = [f for f in found if f.kind == incident.kind and f.service == incident.service]
        assert hits, f"missed {incident.id}"
        assert any(incident.severe_enough(f.severity) for f in hits), (incident.id, [f.severity for f in hits])
        if incident.kind != "resource_growth":  # step changes start within 15 minutes
            assert min(abs(f.start - incident.start) for f in hits) <= timedelta(minutes=15), incident.id
        if incident.event:
            assert any(f.event == incident.event for f in hits) or incident.kind == "resource_growth"


def test_no_false_findings_at_high_or_critical(result):
    manifest, found = result
    false = [f for f in found if not manifest.explaining(f.kind, f.service)]
    assert [f.title for f in false if f.severity in ("critical", "high")] == []
    assert len([f for f in false if f.severity == "medium"]) <= 2


def test_slow_dependency_is_attributed(result):
    _, found = result
    checkout = [f for f in found if f.service == "checkout-api" and f.metric == "latency" and f.kind == "regression"]
    assert checkout and all("because payments regressed after 4.2.0" in f.title for f in checkout)
