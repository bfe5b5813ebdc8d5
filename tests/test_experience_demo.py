"""The experience analysis on the demo domain's seeded incidents."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
import pytest

from perfops.analysis import experience
from perfops.analysis.context import AnalysisContext
from perfops.demo import generate_demo
from perfops.ingest.access_log import read_access_log
from perfops.ingest.base import IngestOptions
from perfops.workspace import load_catalog

pytestmark = pytest.mark.slow
END = datetime(2026, 11, 23)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    generate_demo(root, end=END)
    return root


def _context(root, telemetry: pd.DataFrame, now: datetime, period: timedelta) -> AnalysisContext:
    for column in ("service", "endpoint", "consumer", "metric"):
        telemetry[column] = telemetry[column].astype(str)
    telemetry["timestamp"] = pd.to_datetime(telemetry["timestamp"])
    by_service = dict(iter(telemetry.groupby("service")))

    def load(services, metrics, start, end):
        parts = [by_service[s] for s in (services or by_service) if s in by_service]
        rows = pd.concat(parts) if parts else telemetry.iloc[:0]
        rows = rows[(rows["timestamp"] >= start) & (rows["timestamp"] < end)]
        return rows[rows["metric"].isin(list(metrics))] if metrics is not None else rows

    return AnalysisContext(catalog=load_catalog(root / "perfops.yaml"), now=now, period=period,
                           history=timedelta(days=35), load_telemetry=load)


def test_every_seeded_experience_incident_is_found(demo):
    truth = json.loads((demo / "ground_truth.json").read_text())
    seeded = [i for i in truth["incidents"] if i["category"] == "experience"]
    ctx = _context(demo, pd.read_parquet(demo / "data" / "telemetry.parquet"), END, timedelta(days=7))
    findings = experience.run(ctx)
    order = ("critical", "high", "medium", "low", "info")
    for incident in seeded:
        hits = [f for f in findings if f.kind == incident["kind"] and f.consumer == incident["consumer"]
                and (f.service == incident["service"] or incident["kind"] == "journey_degradation")]
        assert hits, incident["id"]
        assert order.index(hits[0].severity) <= order.index(incident["expected_min_severity"]), incident["id"]
    explained = {(i["kind"], i["service"]) for i in seeded}
    explained |= {(k, s) for i in seeded for k, s in i["related"]}
    for finding in findings:
        known = (finding.kind, finding.service) in explained or (finding.kind, "*") in explained
        assert known or finding.severity not in ("critical", "high"), finding.title
    consumers = {i["consumer"] for i in seeded if i["consumer"]}
    assert {f.consumer for f in findings if f.kind == "consumer_misuse"} == consumers


def test_the_demo_nginx_log_alone_shows_the_misusing_consumer(demo):
    log = next((demo / "data" / "access").glob("*.log"))
    ctx_catalog = load_catalog(demo / "perfops.yaml")
    batch = read_access_log(log, IngestOptions(catalog=ctx_catalog, service=log.stem))
    telemetry = batch.telemetry
    now = telemetry["timestamp"].max().to_pydatetime() + timedelta(minutes=1)
    findings = experience.run(_context(demo, telemetry, now, timedelta(days=1)))
    assert ("consumer_misuse", "partner-globex") in [(f.kind, f.consumer) for f in findings]
    assert not [f for f in findings if f.severity in ("critical", "high")]
