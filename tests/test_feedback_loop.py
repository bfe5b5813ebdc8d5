"""The feedback loop: change points, mix distance, comparison checks, findings, CLI gate."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from perfops.analysis import feedback
from perfops.analysis.changepoint import e_divisive, latest_outlier
from perfops.analysis.feedback.compare import total_variation
from perfops.analysis.feedback.prod import production_profile
from perfops.ingest import jmeter
from perfops.ingest.base import IngestOptions
from perfops.store import open_store
from perfops.usecases.feedback import GATE_EXIT_CODE, compare_test, workload_model
from perfops.workspace import Workspace

# ---- synthetic production and load-test data (seeded) -------------------------------------
PROD_MIX = {"POST /checkout": 0.2, "GET /cart": 0.6, "GET /cart/items": 0.2}


def telemetry(days: int = 14, end: datetime = datetime(2026, 11, 20), peak_rps: float = 100.0,
              mix: dict[str, float] | None = None, step_min: int = 5, seed: int = 1) -> pd.DataFrame:
    """checkout-api per endpoint, a daily curve peaking at 12:00 UTC at `peak_rps` in total."""
    mix = mix or PROD_MIX
    rng = np.random.default_rng(seed)
    ts = pd.date_range(end - timedelta(days=days), end, freq=f"{step_min}min", inclusive="left")
    hour = ts.hour + ts.minute / 60
    shape = 0.2 + 0.8 * np.exp(-((hour - 12) ** 2) / 8)
    rows = []
    for ep, share in mix.items():
        req = peak_rps * share * shape * (1 + 0.02 * rng.standard_normal(len(ts))) * step_min * 60
        for metric, values in (("requests", req), ("errors", req * 0.001), ("latency_p95_ms", 80 + 40 * shape)):
            rows.append(pd.DataFrame({"timestamp": ts, "service": "checkout-api", "endpoint": ep, "consumer": "",
                                      "metric": metric, "value": np.asarray(values, dtype=float)}))
    out = pd.concat(rows, ignore_index=True)
    out["timestamp"] = out["timestamp"].astype("datetime64[us]")
    return out


def jtl(path: Path, start: datetime, seconds: int = 300, rps: float = 40.0, mix: dict[str, float] | None = None,
        p95: float = 120.0, seed: int = 2, error_rate: float = 0.0) -> Path:
    """A JMeter CSV JTL with the default 17 columns."""
    mix = mix or {"POST /checkout": 0.5, "GET /cart": 0.5}
    rng = np.random.default_rng(seed)
    n = int(seconds * rps)
    t0 = int((start - datetime(1970, 1, 1)).total_seconds() * 1000)
    ts = t0 + np.sort(rng.integers(0, seconds * 1000, n))
    labels = rng.choice(list(mix), size=n, p=list(mix.values()))
    elapsed = np.maximum(1, rng.lognormal(np.log(p95 / 1.9), 0.4, n)).astype(int)
    ok = rng.random(n) >= error_rate
    frame = pd.DataFrame({
        "timeStamp": ts, "elapsed": elapsed, "label": labels, "responseCode": np.where(ok, 200, 500),
        "responseMessage": np.where(ok, "OK", "Internal Server Error"), "threadName": "TG 1-1",
        "dataType": "text", "success": np.where(ok, "true", "false"), "failureMessage": "", "bytes": 100,
        "sentBytes": 50, "grpThreads": 10, "allThreads": 10, "URL": "http://checkout-api/x",
        "Latency": elapsed, "IdleTime": 0, "Connect": 1})
    frame.to_csv(path, index=False)
    return path


def store_telemetry(store, frame: pd.DataFrame) -> None:
    """Store telemetry through the store's own gateway."""
    with store.transaction():
        store.telemetry.upsert(frame)


def test_e_divisive_known_answers():
    # 8 runs at ~100 ms, then 6 at ~150 ms: one change at index 8
    series = [100, 102, 98, 101, 99, 100, 103, 97, 150, 149, 152, 151, 148, 150]
    points = e_divisive(series)
    assert [p.index for p in points] == [8]
    assert points[0].change == pytest.approx(0.5, abs=0.02)
    # two shifts: up at 5, back down at 10
    two = [10, 11, 10, 9, 10, 20, 21, 19, 20, 20, 10, 10, 11, 9, 10]
    assert [p.index for p in e_divisive(two)] == [5, 10]
    assert e_divisive([5.0] * 12) == []
    assert e_divisive(list(np.random.default_rng(3).normal(100, 1, 20))) == []


def test_latest_outlier():
    assert latest_outlier([100, 101, 99, 100, 150]) == pytest.approx(0.5)
    assert latest_outlier([100, 101, 99, 100, 104]) is None
    assert latest_outlier([100, 150]) is None  # too little history


def test_total_variation():
    assert total_variation({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}) == 0
    assert total_variation({"a": 1.0}, {"b": 1.0}) == 1
    assert total_variation({"a": 30, "b": 70}, {"a": 0.5, "b": 0.5}) == pytest.approx(0.2)


def test_production_profile_peak_hour_and_mix():
    profile = production_profile(telemetry(), "checkout-api")
    assert profile is not None and profile.start.hour == 12
    assert profile.rps == pytest.approx(100, rel=0.05)
    assert profile.mix == pytest.approx({"GET /cart": 0.6, "POST /checkout": 0.2, "GET /cart/items": 0.2}, abs=0.01)
    day = production_profile(telemetry(), "checkout-api", "peak-day")
    assert day.end - day.start == timedelta(days=1) and day.rps < profile.rps


@pytest.fixture
def seeded(workspace: Path) -> Workspace:
    """14 days of production peaking at 100 req/s (NFR says 50); six nightly runs at 40 req/s,
    missing GET /cart/items, 50/50 mix; the last run 55 % slower."""
    ws = Workspace(workspace)
    catalog = ws.load_catalog()
    with open_store(ws.store_path) as store:
        store_telemetry(store, telemetry())
        for i in range(6):
            path = jtl(workspace / f"nightly{i}.jtl", datetime(2026, 11, 14 + i, 2), p95=185 if i == 5 else 120, seed=i)
            batch = jmeter.read(path, IngestOptions(catalog=catalog))
            store.tests.replace_run(batch.test_runs, batch.test_endpoints, batch.test_series)
    return ws


LATEST = "nightly5-20261119-020000"


def test_compare_test_verdicts(seeded):
    result = compare_test(seeded, LATEST)
    verdicts = {c.name: c.verdict for c in result.checks}
    assert verdicts["load_vs_production"] == "fail" and verdicts["coverage"] == "fail"
    assert verdicts["mix_vs_production"] == "fail" and verdicts["regression_vs_baseline"] == "fail"
    load = next(c for c in result.checks if c.name == "load_vs_production")
    assert load.evidence["ratio"] == pytest.approx(0.40, abs=0.03)
    assert result.baseline_run_id == "nightly4-20261118-020000"
    assert next(c for c in result.checks if c.name == "coverage").evidence["missing"] == ["GET /cart/items"]
    assert result.verdict == "fail"


def test_failed_runs_never_become_baselines(seeded):
    with open_store(seeded.store_path) as store:
        store.tests.set_status("nightly4-20261118-020000", "invalidated")
    assert compare_test(seeded, LATEST).baseline_run_id == "nightly3-20261117-020000"
    from perfops.errors import PerfopsError

    with pytest.raises(PerfopsError, match="never become baselines"):
        compare_test(seeded, LATEST, baseline="nightly4-20261118-020000")
    assert compare_test(seeded, LATEST, baseline="nightly0-20261114-020000").baseline_run_id.startswith("nightly0")


def test_findings_from_the_analysis(seeded):
    from perfops.usecases.context import build_context

    with open_store(seeded.store_path) as store:
        ctx = build_context(store, seeded.load_catalog(), now=datetime(2026, 11, 20), period=timedelta(days=7))
        found = feedback.run(ctx)
    kinds = {(f.kind, f.metric, f.endpoint) for f in found}
    assert ("nfr_mismatch", "traffic", None) in kinds  # peak 100 > NFR 50
    assert ("test_coverage_gap", "traffic", None) in kinds
    assert {("test_regression", "latency", "GET /cart"), ("test_regression", "latency", "POST /checkout")} <= kinds
    peak = next(f for f in found if f.kind == "nfr_mismatch" and f.metric == "traffic")
    assert peak.evidence["nfr_peak_tps"] == 50 and peak.evidence["observed_peak_rps"] == pytest.approx(100, rel=0.05)
    assert peak.severity == "medium"  # ~1.95x the NFR: medium (high from 2x)
    gap = next(f for f in found if f.kind == "test_coverage_gap")
    assert gap.evidence["load_vs_production"]["ratio"] == pytest.approx(0.4, abs=0.03)
    assert gap.impact["endpoints_untested"] == 1
    assert len({f.id for f in found}) == len(found)


def test_cli_gate_json_and_junit(seeded, tmp_path):
    from perfops.cli.app import app

    runner = CliRunner()
    junit = tmp_path / "junit.xml"
    out = runner.invoke(app, ["compare-test", LATEST, "-w", str(seeded.root), "--format", "json", "--gate",
                              "--junit", str(junit)], standalone_mode=False)
    assert isinstance(out.exception, SystemExit) and out.exception.code == GATE_EXIT_CODE == 3
    doc = json.loads(out.stdout[: out.stdout.rindex("}") + 1])
    assert doc["verdict"] == "fail" and {c["name"] for c in doc["checks"]} >= {"load_vs_production", "coverage"}
    suite = ET.parse(junit).getroot().find("testsuite")
    assert int(suite.get("failures")) == sum(c["verdict"] == "fail" for c in doc["checks"])
    passing = runner.invoke(app, ["compare-test", LATEST, "-w", str(seeded.root)], standalone_mode=False)
    assert passing.exception is None and "load_vs_production" in passing.stdout


def test_workload_model_rates(seeded):
    model = workload_model(seeded, "checkout-api")
    assert model.start.hour == 12 and model.total_rps == pytest.approx(100, rel=0.05)
    shares = {e.endpoint: e.share for e in model.endpoints}
    assert shares == pytest.approx({"GET /cart": 0.6, "POST /checkout": 0.2, "GET /cart/items": 0.2}, abs=0.01)
    assert sum(e.rps for e in model.endpoints) == pytest.approx(model.total_rps)


def test_report_sections_per_audience(seeded):
    from perfops.reports.section import ReportView
    from perfops.reports.sections.feedback import build
    from perfops.usecases.context import build_context
    from reports_fixture import report_context

    with open_store(seeded.store_path) as store:
        ctx = build_context(store, seeded.load_catalog(), now=datetime(2026, 11, 20), period=timedelta(days=7))
        found = feedback.run(ctx)
        assert build(ReportView(ctx=report_context(ctx, found), findings=found, audience="executive")) == []
        lead = build(ReportView(ctx=report_context(ctx, found), findings=found, audience="lead", squad="checkout"))
        dev = build(ReportView(ctx=report_context(ctx, found), findings=found, audience="developer", service="checkout-api"))
    assert [s.id for s in lead] == ["feedback-tests"]
    assert {r["kind"] for r in lead[0].data} >= {"nfr_mismatch", "test_coverage_gap"}
    assert [s.id for s in dev] == ["feedback-tests", "feedback-endpoints"]
    assert dev[1].data[0]["run_id"] == LATEST and "GET /cart/items" in dev[1].markdown
    assert "<script" not in dev[1].html


def test_summary_only_run_without_start(seeded, tmp_path):
    """A k6 summary (no start time, per-endpoint sub-metrics) compares and reports without error."""
    from perfops.ingest import k6
    from perfops.reports.section import ReportView
    from perfops.reports.sections.feedback import build
    from perfops.usecases.context import build_context
    from reports_fixture import report_context

    doc = {"metrics": {
        "http_reqs": {"count": 3000, "rate": 50.0},
        "http_req_duration": {"avg": 90, "med": 80, "p(90)": 110, "p(95)": 120, "max": 400},
        "http_reqs{name:GET /cart}": {"count": 1800, "rate": 30.0},
        "http_req_duration{name:GET /cart}": {"avg": 90, "med": 80, "p(90)": 110, "p(95)": 120, "max": 400},
        "http_reqs{name:POST /checkout}": {"count": 1200, "rate": 20.0},
        "http_req_duration{name:POST /checkout}": {"avg": 95, "med": 85, "p(90)": 115, "p(95)": 125, "max": 300},
    }, "root_group": {"groups": {}, "checks": {}}}
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(doc))
    with open_store(seeded.store_path) as store:
        batch = k6.read(path, IngestOptions(catalog=seeded.load_catalog()))
        assert batch.test_runs.loc[0, "service"] == "checkout-api"
        store.tests.replace_run(batch.test_runs, batch.test_endpoints, batch.test_series)
    result = compare_test(seeded, "summary")
    load = next(c for c in result.checks if c.name == "load_vs_production")
    assert result.test_rps == 50.0 and load.evidence["ratio"] == pytest.approx(0.5, abs=0.05)
    assert {e["endpoint"] for e in result.endpoints} >= {"GET /cart", "POST /checkout", "GET /cart/items"}
    with open_store(seeded.store_path) as store:
        ctx = build_context(store, seeded.load_catalog(), now=datetime(2026, 11, 20), period=timedelta(days=7))
        sections = build(ReportView(ctx=report_context(ctx, []), findings=[], audience="developer"))
    assert sections[1].data  # the newest run of checkout-api held against production


def test_cli_workload_model_and_window(seeded, tmp_path):
    from perfops.cli.app import app

    runner = CliRunner()
    out = tmp_path / "model.jmx"
    done = runner.invoke(app, ["workload-model", "--service", "checkout-api", "-w", str(seeded.root),
                               "--format", "jmeter", "--output", str(out), "-q"], standalone_mode=False)
    assert done.exception is None and ET.parse(out).getroot().tag == "jmeterTestPlan"
    day = runner.invoke(app, ["workload-model", "-s", "checkout-api", "-w", str(seeded.root), "--window", "peak-day"],
                        standalone_mode=False)
    assert json.loads(day.stdout)["window"] == "peak-day"
    # a window of quiet nights only: the peak is far lower, so the same run now passes the load check
    quiet = compare_test(seeded, LATEST, window="2026-11-10T00:00Z..2026-11-10T05:00Z")
    load = next(c for c in quiet.checks if c.name == "load_vs_production")
    assert quiet.production["start"].startswith("2026-11-10") and load.verdict == "pass"
    from perfops.errors import PerfopsError

    with pytest.raises(PerfopsError, match="START..END"):
        compare_test(seeded, LATEST, window="yesterday")


def test_the_dashboard_shows_the_stored_test_against_production(seeded):
    """analyze stores the newest run of each service held against production; the dashboard's
    test view and its JSON show that comparison, as `compare-test` gives it."""
    from fastapi.testclient import TestClient

    from perfops.usecases.analyze import analyze
    from perfops.web.app import create_app

    analyze(seeded, period="7d", at="2026-11-20T00:00:00Z")
    # before the app: its chart warm-up holds a read-only connection in this process, and DuckDB
    # refuses a writable one to the same file beside it
    expected = compare_test(seeded, LATEST)
    client = TestClient(create_app(seeded.root, token="t"))
    stored = client.get("/api/figures/tests").json()["services"]
    assert [t["run_id"] for t in stored] == [LATEST] and stored[0]["verdict"] == expected.verdict == "fail"
    assert {c["name"]: c["verdict"] for c in stored[0]["checks"]} == {c.name: c.verdict for c in expected.checks}
    page = client.get("/tests").text
    assert LATEST in page and "coverage" in page
