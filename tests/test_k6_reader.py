"""k6 reader: --out json NDJSON and summary JSON (legacy and handleSummary)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.ingest import k6
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.ingest.testrun_common import exact_percentiles


def _read(path: Path, catalog):
    return reader_for(path).read(path, IngestOptions(catalog=catalog, service="checkout-api"))


@pytest.mark.conformance
@pytest.mark.parametrize("name", [
    "k6-json-ndjson/kirilly-groups-checks-setup.ndjson",
    "k6-json-ndjson/rodolfodpk-custom-metrics-errors-truncated.ndjson",
    "k6-json-ndjson/xk6-dashboard-testdata-result.ndjson", "k6-summary-json/mn1809-handlesummary-data.json",
    "k6-summary-json/sirhcc-summary-export-legacy.json", "k6-summary-json/tiagonline-summary-export-legacy.json"])
def test_every_sample_loads(shared_dir, small_catalog, name):
    path = shared_dir / "samples" / name
    assert reader_for(path).name == "k6"
    batch = _read(path, small_catalog)
    assert len(batch.test_runs) == 1 and (batch.test_endpoints["samples"] > 0).all()


@pytest.mark.conformance
def test_known_answers(shared_dir, small_catalog):
    nd = _read(shared_dir / "samples/k6-json-ndjson/kirilly-groups-checks-setup.ndjson", small_catalog)
    assert nd.test_endpoints.set_index("endpoint")["samples"].to_dict() == {"POST /finalize": 30, "POST /process": 31}
    votes = _read(shared_dir / "samples/k6-json-ndjson/rodolfodpk-custom-metrics-errors-truncated.ndjson", small_catalog)
    assert votes.test_endpoints["errors"].sum() > 0  # expected_response=false
    assert any("setup/teardown" in n for n in votes.notes)
    handle = _read(shared_dir / "samples/k6-summary-json/mn1809-handlesummary-data.json", small_catalog)
    row = handle.test_endpoints.iloc[0]
    assert (row.samples, row.errors) == (57147, 647)  # http_req_failed passes = failed requests
    legacy = _read(shared_dir / "samples/k6-summary-json/sirhcc-summary-export-legacy.json", small_catalog)
    assert legacy.test_runs.loc[0, "status"] == "failed"  # legacy `true` = threshold FAILED
    ok = _read(shared_dir / "samples/k6-summary-json/tiagonline-summary-export-legacy.json", small_catalog)
    assert ok.test_runs.loc[0, "status"] == "ok"


def _point(metric: str, value: float, t: str, tags: dict) -> str:
    return json.dumps({"metric": metric, "type": "Point", "data": {"time": t, "value": value, "tags": tags}})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=st.lists(st.tuples(st.sampled_from(["GET", "POST"]), st.sampled_from(["/a", "/b"]),
                                 st.floats(0.001, 10_000, allow_nan=False), st.sampled_from(["200", "500"])),
                       min_size=1, max_size=100))
def test_property_ndjson_counts_and_percentiles(tmp_path_factory, small_catalog, points):
    path = tmp_path_factory.mktemp("k") / "out.json"
    lines = ['{"type":"Metric","data":{"name":"http_req_duration","type":"trend"},"metric":"http_req_duration"}']
    for i, (m, p, v, s) in enumerate(points):
        tags = {"method": m, "name": f"http://h{p}", "url": f"http://h{p}", "status": s,
                "expected_response": "true" if s == "200" else "false"}
        lines.append(_point("http_req_duration", v, f"2026-11-20T10:00:{i % 60:02d}.123456789+02:00", tags))
    path.write_text("\n".join(lines) + "\n")
    batch = k6.read(path, IngestOptions(catalog=small_catalog, service="checkout-api"))
    eps = batch.test_endpoints.set_index("endpoint")
    for (m, p) in {(m, p) for m, p, _, _ in points}:
        mine = np.array([round(v * 1000) / 1000 for mm, pp, v, _ in points if (mm, pp) == (m, p)])
        assert eps.loc[f"{m} {p}", "samples"] == mine.size
        assert eps.loc[f"{m} {p}", "errors"] == sum(1 for mm, pp, _, s in points if (mm, pp) == (m, p) and s == "500")
        assert eps.loc[f"{m} {p}", "latency_p95_ms"] == pytest.approx(exact_percentiles(mine)["latency_p95_ms"])
    assert batch.test_runs.loc[0, "start"].hour == 8  # +02:00 offset -> UTC
