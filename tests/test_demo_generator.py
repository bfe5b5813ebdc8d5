"""The demo generator: a valid catalog, telemetry in the contract's shape, every seeded incident
visible in the raw files, everything else calm, every file readable by its reader, determinism.

Figures are checked on the files the generator wrote (not on its internals) wherever the check
is cheap; the ground truth's `observed` figures are checked against the same thresholds.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from perfops.demo import DemoManifest, generate_demo
from perfops.demo.domain import CONSUMER_SHARES, SERVICES
from perfops.errors import InputError
from perfops.model.findings import KINDS
from perfops.model.tables import METRICS, TELEMETRY_COLUMNS
from perfops.workspace import parse_catalog

END = datetime(2026, 11, 23)  # a Monday, 00:00 UTC
D = timedelta(days=1)
H = timedelta(hours=1)


# ---- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    return generate_demo(tmp_path_factory.mktemp("demo"), end=END)


@pytest.fixture(scope="module")
def frame(demo: DemoManifest) -> pd.DataFrame:
    return pq.read_table(demo.telemetry[0]).to_pandas()


@pytest.fixture(scope="module")
def series(frame: pd.DataFrame):
    """(service, metric, endpoint='', consumer='') -> values indexed by timestamp."""
    groups = {key: g.set_index("timestamp")["value"].sort_index()
              for key, g in frame.groupby(["service", "endpoint", "consumer", "metric"], observed=True)}

    def get(service: str, metric: str, endpoint: str = "", consumer: str = "") -> pd.Series:
        return groups[(service, endpoint, consumer, metric)]

    get.keys = set(groups)  # type: ignore[attr-defined]
    return get


@pytest.fixture(scope="module")
def catalog(demo: DemoManifest):
    return parse_catalog(demo.catalog.read_text(encoding="utf-8"), str(demo.catalog))


@pytest.fixture(scope="module")
def incidents(demo: DemoManifest) -> dict:
    return {i.id: i for i in demo.incidents}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> DemoManifest:
    """Two weeks ending mid-afternoon: quick to read back with every reader."""
    return generate_demo(tmp_path_factory.mktemp("small"), weeks=2, seed=7, end=datetime(2026, 3, 4, 15, 37))


def window(s: pd.Series, start: datetime, end: datetime | None) -> pd.Series:
    return s[(s.index >= start) & (s.index < (end or END))]


def ratio_of_medians(s: pd.Series, moment: datetime, span: timedelta = D) -> float:
    return float(window(s, moment, moment + span).median() / window(s, moment - span, moment).median())


# ---- the catalog ------------------------------------------------------------------------------
def test_catalog_validates_and_looks_like_production(demo: DemoManifest, catalog) -> None:
    text = demo.catalog.read_text(encoding="utf-8")
    assert text.count("#") > 20, "the demo catalog doubles as a commented example"
    assert len(catalog.squads) >= 4 and len(catalog.services) >= 12
    assert {s.tier for s in catalog.services} == {1, 2, 3}
    assert len(catalog.journeys) >= 2 and len(catalog.consumers) >= 4
    assert catalog.dependencies_closure("checkout-api")[:2] == ["payments", "orders"]
    assert "fraud" in catalog.dependencies_closure("checkout-api")
    for key in ("slo", "nfr", "capacity", "cost"):
        assert any(getattr(s, key) for s in catalog.services), key
    assert any(s.deprecated_endpoints for s in catalog.services)
    assert any(s.nfr and s.nfr.transaction_mix for s in catalog.services)


def test_profiles_match_the_catalog(catalog) -> None:
    """Every profiled call goes to a declared dependency, and NFR mixes name real endpoints."""
    for svc in SERVICES:
        declared = set(catalog.service(svc.name).depends_on)
        called = {c.split(":", 1)[0] for e in svc.endpoints for c in e.calls}
        assert called <= declared, svc.name
        assert math.isclose(sum(e.share for e in svc.endpoints), 1.0), svc.name
        nfr = catalog.service(svc.name).nfr
        if nfr and nfr.transaction_mix:
            mix = {e.name: 100 * e.share for e in svc.endpoints}
            assert nfr.transaction_mix == pytest.approx(mix, abs=3), svc.name
    consumers = {c.name for c in catalog.consumers}
    assert {c.consumer for c in CONSUMER_SHARES} <= consumers


# ---- telemetry shape --------------------------------------------------------------------------
def test_telemetry_schema_and_size(demo: DemoManifest, frame: pd.DataFrame, catalog) -> None:
    assert tuple(frame.columns) == TELEMETRY_COLUMNS
    assert 3_000_000 <= len(frame) <= 6_000_000
    assert str(frame["timestamp"].dtype) == "datetime64[us]"
    assert set(frame["metric"].unique()) <= set(METRICS)
    assert set(frame["service"].unique()) <= set(catalog.service_by_name)
    assert (frame["value"] >= 0).all()
    assert frame.loc[frame["metric"].isin(["cpu_pct", "memory_pct"]), "value"].max() <= 100
    assert frame["timestamp"].min() == demo.start == END - timedelta(weeks=6)
    assert frame["timestamp"].max() == END - timedelta(minutes=5)
    assert not frame.duplicated(["timestamp", "service", "endpoint", "consumer", "metric"]).any()


def test_series_kinds(series) -> None:
    keys = series.keys
    per_endpoint = {"requests", "errors", "client_errors", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms"}
    per_service = per_endpoint | {"cpu_pct", "memory_pct", "instances", "cost"}
    for svc in SERVICES:
        assert {m for s, e, c, m in keys if s == svc.name and e == "" and c == ""} == per_service
        for ep in svc.endpoints:
            assert {m for s, e, c, m in keys if (s, e, c) == (svc.name, ep.name, "")} == per_endpoint
    consumer_rows = {(s, e, c) for s, e, c, _ in keys if c}
    assert len({c for _, _, c in consumer_rows}) >= 5


def test_five_minute_steps_with_a_few_gaps(demo: DemoManifest, series) -> None:
    step = pd.Timedelta(minutes=5)
    for svc in SERVICES:
        stamps = series(svc.name, "requests").index
        gaps = np.diff(stamps.values).astype("timedelta64[s]")
        assert gaps.min() == step, svc.name
    truth = json.loads(demo.ground_truth.read_text())
    assert 2 <= len(truth["gaps"]) <= 6
    for gap in truth["gaps"]:
        start, end = (datetime.strptime(gap[k], "%Y-%m-%dT%H:%M:%SZ") for k in ("start", "end"))
        assert window(series(gap["service"], "requests"), start, end).empty
        assert len(window(series(gap["service"], "requests"), start - H, end + H)) == 24  # 2 h around it


def test_rollups_are_consistent(series) -> None:
    for svc in SERVICES:
        total = sum(series(svc.name, "requests", e.name) for e in svc.endpoints)
        assert np.allclose(total, series(svc.name, "requests")), svc.name
        p95 = series(svc.name, "latency_p95_ms")
        assert (p95 <= series(svc.name, "latency_p99_ms") + 0.1).all()
        assert (series(svc.name, "latency_p50_ms") <= p95 + 0.1).all()
    consumers = [c for c in CONSUMER_SHARES if c.service == "checkout-api"]
    summed = sum(series("checkout-api", "requests", "POST /checkout", c.consumer) for c in consumers)
    assert np.allclose(summed, series("checkout-api", "requests", "POST /checkout"))


def test_daily_and_weekly_seasonality(series) -> None:
    web = series("web", "requests")
    hours = web.index.hour
    assert web[(hours >= 12) & (hours < 14)].mean() > 3 * web[(hours >= 2) & (hours < 4)].mean()
    friday, sunday = web[web.index.dayofweek == 4].mean(), web[web.index.dayofweek == 6].mean()
    assert friday > 1.08 * sunday


def test_latency_depends_on_dependencies(series) -> None:
    """A caller's p95 includes its callees': checkout's POST /checkout is slower than payments'."""
    checkout = series("checkout-api", "latency_p95_ms", "POST /checkout")
    payments = series("payments", "latency_p95_ms", "POST /payments")
    before = END - 8 * D
    assert window(checkout, before - D, before).median() > window(payments, before - D, before).median() + 100


# ---- seeded incidents, in the raw data ------------------------------------------------------------
def test_incidents_are_well_formed(demo: DemoManifest, incidents: dict) -> None:
    assert len(incidents) >= 18
    assert {i.category for i in demo.incidents} == {"trends", "capacity", "cost", "experience", "feedback"}
    for inc in demo.incidents:
        assert KINDS[inc.kind] == inc.category
        assert inc.start < END and (inc.end is None or inc.start < inc.end <= END)
        if inc.kind not in ("slo_breach", "saturation_risk", "unit_cost_increase"):
            assert inc.start >= demo.period_start, inc.id
        assert inc.details["observed"], inc.id
    kinds = {i.kind for i in demo.incidents}
    assert kinds >= {"regression", "anomaly", "resource_growth", "saturation_risk", "under_provisioned",
                     "over_provisioned", "savings_opportunity", "volume_growth", "cost_anomaly",
                     "unit_cost_increase", "slo_breach", "error_budget_burn", "journey_degradation",
                     "consumer_misuse", "test_coverage_gap", "nfr_mismatch", "test_regression"}


def test_latency_regression_right_after_the_deploy(series, incidents: dict) -> None:
    inc = incidents["cart-latency-regression"]
    p95 = series("cart", "latency_p95_ms", "POST /cart/items")
    assert ratio_of_medians(p95, inc.start) >= 1.4
    assert window(p95, inc.start, None).median() >= 1.4 * window(p95, inc.start - 7 * D, inc.start).median()
    assert ratio_of_medians(series("cart", "latency_p95_ms", "GET /cart"), inc.start) == pytest.approx(1, abs=0.1)


def test_slow_dependency_shows_in_its_caller(series, incidents: dict) -> None:
    inc = incidents["payments-slow-dependency"]
    assert ratio_of_medians(series("payments", "latency_p95_ms", "POST /payments"), inc.start) >= 1.5
    assert ratio_of_medians(series("checkout-api", "latency_p95_ms", "POST /checkout"), inc.start) >= 1.2
    assert ratio_of_medians(series("fraud", "latency_p95_ms", "POST /score"), inc.start) == pytest.approx(1, abs=0.1)


def test_transient_error_spike(series, incidents: dict) -> None:
    inc = incidents["inventory-error-spike"]
    errors, requests = series("inventory", "errors"), series("inventory", "requests")
    during = window(errors, inc.start, inc.end).sum() / window(requests, inc.start, inc.end).sum()
    before = window(errors, inc.start - D, inc.start).sum() / window(requests, inc.start - D, inc.start).sum()
    after = window(errors, inc.end, inc.end + D).sum() / window(requests, inc.end, inc.end + D).sum()
    assert during > 0.05 and before < 0.004 and after < 0.004
    assert inc.end - inc.start == timedelta(minutes=40)


def test_traffic_drop(series, incidents: dict) -> None:
    inc = incidents["search-traffic-drop"]
    requests = series("search", "requests")
    during = window(requests, inc.start, inc.end).sum()
    week_before = window(requests, inc.start - 7 * D, inc.end - 7 * D).sum()
    assert 0.3 < during / week_before < 0.5
    assert window(requests, inc.end, inc.end + 2 * H).sum() > 0.85 * window(
        requests, inc.end - 7 * D, inc.end - 7 * D + 2 * H).sum()


def test_memory_grows_without_traffic(series, incidents: dict) -> None:
    inc = incidents["pricing-memory-leak"]
    memory, requests = series("pricing", "memory_pct"), series("pricing", "requests")
    assert window(memory, END - 2 * H, END).mean() - window(memory, inc.start - 2 * H, inc.start).mean() > 20
    last, previous = window(requests, END - 7 * D, END).sum(), window(requests, END - 14 * D, END - 7 * D).sum()
    assert last / previous == pytest.approx(1, abs=0.05)


def test_capacity_incidents(series, catalog, incidents: dict) -> None:
    low, high = incidents["catalog-saturation-risk"].details["expected_days_to_saturation"]
    assert low <= incidents["catalog-saturation-risk"].details["observed"]["days_to_saturation"] <= high
    fraud = catalog.service("fraud").capacity
    assert window(series("fraud", "cpu_pct"), END - 7 * D, END).quantile(0.99) > fraud.cpu_target_pct + 10
    ledger = incidents["ledger-savings"].details["observed"]
    assert ledger["instances"] == 12 and 4 <= ledger["needed_instances"] <= 5
    assert ledger["monthly_savings"] == pytest.approx((12 - ledger["needed_instances"]) * 0.192 * 730)
    requests = series("recommendations", "requests")
    wow = window(requests, END - 7 * D, END).sum() / window(requests, END - 14 * D, END - 7 * D).sum()
    assert 1.25 < wow < 1.5


def test_cost_incidents(series, incidents: dict) -> None:
    spike = incidents["search-cost-spike"]
    cost = series("search", "cost")
    daily = cost.resample("1D").sum()
    assert window(cost, spike.start, spike.end).sum() > 2.5 * daily.iloc[-14:-7].median()
    unit = incidents["identity-unit-cost"].details["observed"]
    assert 20 <= unit["change_pct"] <= 40
    requests = series("identity", "requests")
    assert window(requests, END - 7 * D, END).sum() / window(requests, END - 14 * D, END - 7 * D).sum() == \
        pytest.approx(1, abs=0.05)


def test_experience_incidents(series, catalog, incidents: dict) -> None:
    errors, requests = series("orders", "errors"), series("orders", "requests")
    availability = 100 * (1 - window(errors, END - 28 * D, END).sum() / window(requests, END - 28 * D, END).sum())
    assert 99.8 < availability < catalog.service("orders").slo.availability
    burn = incidents["web-budget-burn"]
    rate = window(series("web", "errors"), burn.start, burn.end).sum() / window(
        series("web", "requests"), burn.start, burn.end).sum()
    assert rate / (1 - catalog.service("web").slo.availability / 100) > 14.4  # the fast-burn page threshold
    journey = incidents["purchase-journey-degradation"].details["observed"]
    assert journey["e2e_p95_before_ms"] < 0.9 * journey["target_ms"] < journey["target_ms"] < journey[
        "e2e_p95_after_ms"]


def test_consumer_misuse(series, incidents: dict) -> None:
    globex = incidents["globex-client-errors"]
    rates = {}
    for share in (c for c in CONSUMER_SHARES if c.endpoint == "POST /checkout"):
        r = window(series("checkout-api", "requests", "POST /checkout", share.consumer), globex.start, None).sum()
        ce = window(series("checkout-api", "client_errors", "POST /checkout", share.consumer), globex.start, None)
        rates[share.consumer] = ce.sum() / r
    assert rates.pop("partner-globex") > 0.2 and max(rates.values()) < 0.01
    polling = incidents["affiliate-polling"]
    feed = series("orders", "requests", "GET /orders/{id}", "affiliate-feed")
    assert window(feed, polling.start, None).mean() > 8 * window(feed, polling.start - 7 * D, polling.start).mean()
    kiosk = series("orders", "requests", "GET /v1/orders/{id}", "store-kiosk")
    assert window(kiosk, END - 7 * D, END).sum() > 1000


def test_feedback_incidents(demo: DemoManifest, catalog, series, incidents: dict) -> None:
    coverage = incidents["checkout-test-coverage"].details
    assert 0.3 <= coverage["observed"]["load_ratio"] <= 0.5
    assert "GET /checkout/{id}" not in coverage["observed"]["tested_endpoints"]
    assert "GET /checkout/{id}" in catalog.service("checkout-api").nfr.transaction_mix
    peak = window(series("cart", "requests"), END - 7 * D, END).max() / 300
    assert 1.35 < peak / catalog.service("cart").nfr.peak_tps < 1.65
    regression = incidents["checkout-test-regression"].details["observed"]
    assert regression["ratio"] >= 1.4
    assert max(regression["earlier_p95_ms"]) < 1.1 * min(regression["earlier_p95_ms"])


# ---- everything else is calm --------------------------------------------------------------------
LATENCY_INCIDENTS = {"cart", "payments", "checkout-api"}


def test_no_other_latency_shift(series) -> None:
    """Outside the seeded regressions, the last week's median p95 stays within 10% of before."""
    for svc in SERVICES:
        if svc.name in LATENCY_INCIDENTS:
            continue
        p95 = series(svc.name, "latency_p95_ms")
        shift = window(p95, END - 7 * D, END).median() / window(p95, END - 35 * D, END - 7 * D).median()
        assert shift == pytest.approx(1, abs=0.1), svc.name


def test_services_meet_their_slos_and_targets(series, catalog) -> None:
    for svc in SERVICES:
        service = catalog.service(svc.name)
        errors, requests = series(svc.name, "errors"), series(svc.name, "requests")
        if service.slo and service.slo.availability and svc.name != "orders":
            availability = 100 * (1 - window(errors, END - 28 * D, END).sum() / window(requests, END - 28 * D,
                                                                                      END).sum())
            assert availability > service.slo.availability + 0.01, svc.name
        if service.slo and service.slo.latency_p95_ms:
            assert window(series(svc.name, "latency_p95_ms"), END - 28 * D, END).quantile(0.99) < \
                service.slo.latency_p95_ms, svc.name
        cpu = window(series(svc.name, "cpu_pct"), END - 7 * D, END).quantile(0.99)
        assert (cpu > service.capacity.cpu_target_pct) == (svc.name == "fraud"), svc.name


def test_normal_services_are_sized_for_their_peak(series, catalog) -> None:
    """Peak load between 55% and 75% of capacity, except the seeded capacity incidents."""
    for svc in SERVICES:
        if svc.name in ("catalog", "ledger", "recommendations", "search", "identity"):
            continue
        cap = catalog.service(svc.name).capacity
        peak = window(series(svc.name, "requests"), END - 7 * D, END).quantile(0.99) / 300
        assert 0.55 < peak / (cap.instances * cap.max_tps_per_instance) < 0.75, svc.name
        nfr = catalog.service(svc.name).nfr
        if nfr and nfr.peak_tps and svc.name != "cart":
            assert nfr.peak_tps > 1.2 * peak, svc.name


def test_most_deploys_are_harmless(demo: DemoManifest) -> None:
    events = pd.read_csv(demo.events)
    assert list(events.columns) == ["timestamp", "service", "type", "version", "description"]
    assert set(events["type"]) >= {"deploy", "config", "scaling", "test"}
    deploys = events[events["type"] == "deploy"]
    incident_deploys = {i.event for i in demo.incidents if i.event}
    assert incident_deploys == {"cart 3.8.0", "payments 4.2.0", "pricing 2.14.0"}
    assert len(deploys) >= 20 and len(deploys) >= 6 * len(incident_deploys)
    in_period = deploys[pd.to_datetime(deploys["timestamp"]).dt.tz_localize(None) >= demo.period_start]
    assert len(in_period) >= len(incident_deploys) + 2


def test_routine_deploys_keep_away_from_incidents(demo: DemoManifest, incidents: dict) -> None:
    events = pd.read_csv(demo.events)
    events["at"] = pd.to_datetime(events["timestamp"]).dt.tz_localize(None)
    for inc in (incidents["cart-latency-regression"], incidents["payments-slow-dependency"]):
        service, version = inc.event.split(" ")
        near = events[(events["type"] == "deploy") & (events["service"] == service) & (events["version"] != version)
                      & (events["at"] > inc.start - D)]
        assert near.empty, inc.id
    callers = events[(events["service"] == "checkout-api") & (events["type"] == "deploy")]
    pay = incidents["payments-slow-dependency"].start
    assert not ((callers["at"] > pay - D) & (callers["at"] < pay + D)).any()


# ---- the manifest and the files ---------------------------------------------------------------------
def test_manifest_lists_every_file_with_its_format(demo: DemoManifest) -> None:
    written = {p.relative_to(demo.root).as_posix() for p in demo.root.rglob("*") if p.is_file()}
    inputs = {i.relative for i in demo.inputs}
    assert {"data/telemetry.parquet", "data/events.csv", "data/access/partner-gateway.log"} <= inputs
    assert inputs <= written
    formats = {i.relative: i.format for i in demo.inputs}
    assert formats["data/tests/checkout-nightly-6.jtl"] == "jmeter"
    assert formats["data/tests/search-load-2_stats.csv"] == "locust"
    run = next(i for i in demo.inputs if i.relative.endswith("checkout-nightly-3.jtl"))
    assert run.options == {"service": "checkout-api", "run_id": "checkout-nightly-3", "environment": "perf"}
    assert all(i.path == demo.root / i.relative for i in demo.inputs)
    assert demo.test_files and demo.access_logs and demo.period_start == END - 7 * D


def test_ground_truth_file(demo: DemoManifest) -> None:
    truth = json.loads(demo.ground_truth.read_text(encoding="utf-8"))
    assert [i["id"] for i in truth["incidents"]] == [i.id for i in demo.incidents]
    assert truth["period"] == {"start": "2026-11-16T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    assert "matching" in truth and truth["seed"] == 42


def test_explains_matches_kind_service_and_related(demo: DemoManifest) -> None:
    assert [i.id for i in demo.explaining("regression", "cart")] == ["cart-latency-regression"]
    assert "payments-slow-dependency" in [i.id for i in demo.explaining("regression", "checkout-api")]
    assert demo.explaining("journey_degradation", "web")  # related on any service
    assert not demo.explaining("regression", "ledger")
    assert not demo.explaining("anomaly", "notifications")


def test_jtl_has_the_standard_header(demo: DemoManifest) -> None:
    path = next(p for p in demo.test_files if p.name == "checkout-nightly-1.jtl")
    header = path.read_text(encoding="utf-8").splitlines()[0]
    assert header == ("timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,"
                      "failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect")


def test_every_input_reads_with_its_reader(small: DemoManifest) -> None:
    """The manifest's formats and options are what the real readers accept."""
    from perfops.ingest.base import IngestOptions
    from perfops.ingest.registry import reader_for

    catalog = parse_catalog(small.catalog.read_text(encoding="utf-8"))
    read = {}
    for item in small.inputs:
        reader = reader_for(item.path, item.format)
        assert reader_for(item.path) is reader, f"{item.relative} is not sniffed as {item.format}"
        read[item.relative] = reader.read(item.path, IngestOptions(catalog=catalog, **item.options))
    telemetry = read["data/telemetry.parquet"].telemetry
    assert len(telemetry) == small.telemetry_rows
    assert len(read["data/events.csv"].events) >= 10
    runs = [b.test_runs.iloc[0] for b in read.values() if b.test_runs is not None]
    assert {r["run_id"] for r in runs} == {i.options["run_id"] for i in small.inputs if "run_id" in i.options}
    assert {r["environment"] for r in runs} == {"perf"}
    log = read["data/access/partner-gateway.log"].telemetry
    consumers = set(log.column("consumer").to_pylist()) if hasattr(log, "column") else set(log["consumer"])
    assert {"partner-acme", "partner-globex", "affiliate-feed"} <= consumers


def test_small_demo_keeps_incidents_in_the_period(small: DemoManifest) -> None:
    assert small.end == datetime(2026, 3, 4, 15, 35)  # floored to 5 minutes
    assert small.start == small.end - timedelta(weeks=2)
    for inc in small.incidents:
        assert small.start <= inc.start < small.end, inc.id


# ---- determinism and arguments ---------------------------------------------------------------------
def test_same_seed_same_files(small: DemoManifest, tmp_path: Path) -> None:
    again = generate_demo(tmp_path / "again", weeks=2, seed=7, end=small.end)
    for name in ("data/telemetry.parquet", "data/events.csv", "ground_truth.json", "perfops.yaml",
                 "data/tests/checkout-nightly-2.jtl", "data/tests/search-load-1_stats.csv",
                 "data/access/partner-gateway.log"):
        assert (small.root / name).read_bytes() == (again.root / name).read_bytes(), name


def test_another_seed_other_noise(small: DemoManifest, tmp_path: Path) -> None:
    other = generate_demo(tmp_path / "other", weeks=2, seed=8, end=small.end)
    a = pq.read_table(small.telemetry[0]).column("value").to_numpy()
    b = pq.read_table(other.telemetry[0]).column("value").to_numpy()
    assert a.size != b.size or not np.array_equal(a, b)
    assert [i.id for i in other.incidents] == [i.id for i in small.incidents]
    assert [i.start for i in other.incidents] == [i.start for i in small.incidents]


def test_end_may_be_timezone_aware(tmp_path: Path) -> None:
    paris = timezone(timedelta(hours=1))
    manifest = generate_demo(tmp_path, weeks=2, end=datetime(2026, 3, 4, 16, 37, tzinfo=paris))
    assert manifest.end == datetime(2026, 3, 4, 15, 35)
    assert manifest.end.tzinfo is None
    assert datetime(2026, 3, 4, 15, 35, tzinfo=UTC) == manifest.end.replace(tzinfo=UTC)


@pytest.mark.parametrize("weeks", [0, 1, 27])
def test_weeks_out_of_range_is_a_user_error(tmp_path: Path, weeks: int) -> None:
    with pytest.raises(InputError, match="--weeks"):
        generate_demo(tmp_path, weeks=weeks)
    assert not any(tmp_path.iterdir())


def test_negative_seed_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--seed"):
        generate_demo(tmp_path, seed=-1)
