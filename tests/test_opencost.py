"""OpenCost / Kubecost allocation answers: the API's own example (tests/data/opencost, see
PROVENANCE.md), mapping to services, and `perfops collect` against httpx.MockTransport.

Expected sums are computed here with the json module from the answers, not from perfops."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from conftest import SMALL_CATALOG
from perfops.errors import InputError, PerfopsError, SourceError
from perfops.ingest import opencost
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.store import open_store
from perfops.usecases.collect import collect, collect_opencost
from perfops.workspace import Workspace, parse_catalog

SAMPLE = Path(__file__).parent / "data" / "opencost" / "swagger_allocation_namespace.json"
RULES = """cost:
  match:
    - service: payments
      name: kube-*
    - service: checkout-api
      tags: {namespace: opencost}
"""


def _totals(document) -> dict[str, float]:
    out: dict[str, float] = {}
    for one in document["data"]:
        for name, alloc in one.items():
            out[name] = out.get(name, 0.0) + alloc["totalCost"]
    return out


def test_the_api_example_is_recognised():
    assert reader_for(SAMPLE).name == "opencost"


def test_the_api_example_gives_each_rule_its_spend_and_counts_the_rest():
    batch = opencost.read(SAMPLE, IngestOptions(parse_catalog(SMALL_CATALOG + RULES)))
    totals = _totals(json.loads(SAMPLE.read_text()))
    spend = batch.telemetry.groupby("service")["value"].sum().to_dict()
    assert spend == pytest.approx({"payments": totals["kube-system"], "checkout-api": totals["opencost"]})
    (warning,) = batch.warnings
    assert warning.startswith("unallocated: 1 row(s)") and "prometheus" in warning
    # a two-day window from 11:38:45 is spread over the three UTC days it touches, by time
    stamps = sorted(batch.telemetry[batch.telemetry.service == "payments"]["timestamp"])
    assert stamps == [datetime(2023, 1, 18, 11, 38, 45), datetime(2023, 1, 19), datetime(2023, 1, 20)]


def test_allocations_named_like_services_need_no_rule():
    catalog = parse_catalog(SMALL_CATALOG.replace("name: payments\n    squad", "name: prometheus\n    squad")
                            .replace("depends_on: [payments]", "depends_on: [prometheus]")
                            .replace("payments:POST /pay", "prometheus:POST /pay"))
    batch = opencost.read(SAMPLE, IngestOptions(catalog))
    assert set(batch.telemetry["service"]) == {"prometheus"}
    assert batch.telemetry["value"].sum() == pytest.approx(_totals(json.loads(SAMPLE.read_text()))["prometheus"])


def _answer(day: datetime, costs: dict[str, float], step=timedelta(days=1)) -> dict:
    window = {"start": day.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": (day + step).strftime("%Y-%m-%dT%H:%M:%SZ")}
    return {name: {"name": name, "properties": {"namespace": name}, "window": window, "start": window["start"],
                   "end": window["end"], "cpuCost": cost * 0.7, "ramCost": cost * 0.3, "totalCost": cost}
            for name, cost in costs.items()}


def test_controller_and_multi_aggregate_names_find_their_service(tmp_path):
    sets = [_answer(datetime(2026, 1, 1), {"deployment:payments": 2.0, "shop/checkout-api": 3.0,
                                           "cluster-one/__idle__": 4.0, "deployment:__unallocated__": 1.0})]
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"code": 200, "data": sets}))
    batch = opencost.read(path, IngestOptions(parse_catalog(SMALL_CATALOG)))
    assert batch.telemetry.groupby("service")["value"].sum().to_dict() == {"payments": 2.0, "checkout-api": 3.0}
    assert "unallocated: 2 row(s), 5.00 USD" in batch.warnings[0]


def test_a_bad_allocation_is_named_or_skipped(tmp_path):
    document = {"code": 200, "data": [_answer(datetime(2026, 1, 1), {"kube-system": 2.0, "opencost": 1.0})]}
    document["data"][0]["opencost"]["totalCost"] = "n/a"
    path = tmp_path / "a.json"
    path.write_text(json.dumps(document))
    catalog = parse_catalog(SMALL_CATALOG + RULES)
    with pytest.raises(InputError, match=r"data\[0\]\.opencost"):
        opencost.read(path, IngestOptions(catalog))
    batch = opencost.read(path, IngestOptions(catalog, skip_bad_rows=True))
    assert len(batch.skipped) == 1 and batch.telemetry["value"].sum() == 2.0


def test_idle_is_never_a_service(tmp_path):
    document = {"code": 200, "data": [_answer(datetime(2026, 1, 1), {"__idle__": 5.0, "opencost": 1.0})]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(document))
    batch = opencost.read(path, IngestOptions(parse_catalog(SMALL_CATALOG + RULES), service=None))
    assert batch.telemetry["value"].sum() == 1.0 and "__idle__ 5.00 USD" in batch.warnings[0]


# ---- perfops collect -----------------------------------------------------------------------------
NOW = datetime(2026, 3, 2, 9, 30)
SOURCE = """sources:
  opencost:
    url: http://opencost.test:9003
    aggregate: namespace
    step: 1d
    window: 5d
"""


def _server(calls: list[httpx.Request]):
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        assert request.url.path == "/allocation/compute"
        q = parse_qs(urlparse(str(request.url)).query)
        start, end = (datetime.fromisoformat(t.rstrip("Z")) for t in q["window"][0].split(","))
        assert q["step"] == ["1d"] and q["aggregate"] == ["namespace"] and q["accumulate"] == ["false"]
        days = [start + timedelta(days=i) for i in range((end - start).days)]
        sets = [_answer(d, {"kube-system": 10.0 + d.day, "opencost": 1.0 + d.day / 10, "__idle__": 3.0}) for d in days]
        return httpx.Response(200, json={"code": 200, "status": "success", "data": sets})

    return handler


def _ws(tmp_path: Path) -> Workspace:
    (tmp_path / "perfops.yaml").write_text(SMALL_CATALOG + RULES + SOURCE)
    return Workspace(tmp_path)


def test_collect_pulls_whole_days_and_resumes(tmp_path):
    calls: list[httpx.Request] = []
    ws = _ws(tmp_path)
    report = collect(ws, now=NOW, transport=httpx.MockTransport(_server(calls)))
    (query,) = report.queries
    assert (query.start, query.end) == (datetime(2026, 2, 25), datetime(2026, 3, 2))  # 5 whole days, not today
    with open_store(ws.store_path) as store:
        frame = store.telemetry.load()
    spend = frame.groupby("service")["value"].sum().to_dict()
    days = [datetime(2026, 2, 25) + timedelta(days=i) for i in range(5)]
    assert spend == pytest.approx({"payments": sum(10.0 + d.day for d in days),
                                   "checkout-api": sum(1.0 + d.day / 10 for d in days)})
    assert any("__idle__" in u for u in query.unmatched)
    again = collect(ws, now=NOW + timedelta(days=1), transport=httpx.MockTransport(_server(calls)))
    assert again.queries[0].start == datetime(2026, 3, 1)  # the last day again: it may have been revised
    with open_store(ws.store_path) as store:
        assert len(store.telemetry.load()) == 2 * 6


def test_collect_shows_opencost_errors(tmp_path):
    ws = _ws(tmp_path)
    bad = httpx.MockTransport(lambda r: httpx.Response(400, json={"code": 400, "message": "invalid aggregate"}))
    with pytest.raises(SourceError, match="invalid aggregate"):
        collect(ws, now=NOW, transport=bad)


def test_collect_without_any_mapping_is_an_error(tmp_path):
    (tmp_path / "perfops.yaml").write_text(SMALL_CATALOG + SOURCE)
    with open_store(None) as store, pytest.raises(SourceError, match="no OpenCost allocation"):
        collect_opencost(store, Workspace(tmp_path).load_catalog(), now=NOW,
                         transport=httpx.MockTransport(_server([])))


def test_an_unknown_aggregate_is_a_catalog_error():
    with pytest.raises(PerfopsError, match="not an OpenCost aggregate"):
        parse_catalog(SMALL_CATALOG + SOURCE.replace("namespace", "namespaces"))
