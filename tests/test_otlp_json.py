"""OTLP metrics JSON: decoding (uint64 strings, omitted zeros), semantic-convention mapping,
temporality, bucket percentiles, the shared samples, and properties."""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SMALL_CATALOG
from perfops.errors import InputError
from perfops.ingest import otlp_json as O
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

SAMPLES = "samples/otlp-json-metrics"
NS = 1_700_000_000_000_000_000  # 2023-11-14T22:13:20Z


def _attrs(**values):
    out = []
    for key, value in values.items():
        kind = "intValue" if isinstance(value, int) else "stringValue"
        out.append({"key": key.replace("_", "."), "value": {kind: str(value) if kind == "intValue" else value}})
    return out


def _request(metrics, service="checkout-api"):
    return {"resourceMetrics": [{"resource": {"attributes": _attrs(service_name=service)},
                                 "scopeMetrics": [{"scope": {"name": "t"}, "metrics": metrics}]}]}


def _duration_histogram(points, unit="s", temporality=1):
    return {"name": "http.server.request.duration", "unit": unit,
            "histogram": {"aggregationTemporality": temporality, "dataPoints": points}}


def _hist_point(start, end, counts, bounds, total, status=200, route="/cart", method="GET", **extra):
    attrs = {"http.route": route, "http.request.method": method, "http.response.status_code": status}
    return {"startTimeUnixNano": str(start), "timeUnixNano": str(end), "count": str(sum(counts)),
            "sum": total, "bucketCounts": [str(c) for c in counts], "explicitBounds": bounds,
            "attributes": [{"key": k, "value": {"intValue": str(v)} if isinstance(v, int) else {"stringValue": v}}
                           for k, v in attrs.items()], **extra}


def _read(tmp_path: Path, document, catalog, **options):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(document))
    return O.read(path, IngestOptions(catalog, **options))


# ---- conformance --------------------------------------------------------------------------
@pytest.mark.conformance
def test_every_sample_decodes_every_point(shared_dir, small_catalog):
    folder = shared_dir / SAMPLES
    kinds = {f.name: [p.kind for p in O.iter_points(O.load_document(f))] for f in sorted(folder.glob("*.json"))}
    assert kinds == {
        "collector-contrib-cwmetricstream-summary-zero-quantile-omitted.json": ["summary"],
        "otel-proto-example-2026-uint64-as-strings.json": ["sum", "gauge", "histogram", "exponentialHistogram"],
        "ottl-playground-testdata-metrics.json": ["sum", "sum", "gauge", "histogram"],
    }
    for path in folder.glob("*.json"):
        assert reader_for(path).name == "otlp-json"
        batch = O.read(path, IngestOptions(small_catalog))  # loads; its instruments are not perfops'
        assert batch.notes and len(batch.telemetry) == 0


@pytest.mark.conformance
def test_uint64_strings_and_omitted_zero_values(shared_dir):
    folder = shared_dir / SAMPLES
    points = list(O.iter_points(O.load_document(folder / "otel-proto-example-2026-uint64-as-strings.json")))
    histogram, exponential = points[2], points[3]
    assert histogram.count == 2 and histogram.bucket_counts == (1.0, 1.0) and histogram.bounds == (1.0,)
    assert histogram.time_ns == 1544712660300000000 and histogram.min == 0 and histogram.max == 2
    assert exponential.count == 3 and sum(exponential.bucket_counts) == 3  # zero bucket 1 + (4, 8] 2
    summary = next(O.iter_points(O.load_document(
        folder / "collector-contrib-cwmetricstream-summary-zero-quantile-omitted.json")))
    assert summary.quantiles == ((0.0, 0.0), (1.0, 18.0)) and summary.count == 3 and summary.sum == 20


@pytest.mark.conformance
def test_samples_load_once_named_in_perfops_terms(shared_dir, small_catalog, tmp_path):
    """The spec example with its instruments renamed to semantic-convention names."""
    document = json.loads((shared_dir / SAMPLES / "otel-proto-example-2026-uint64-as-strings.json").read_text())
    names = {"my.histogram": "http.server.request.duration", "my.counter": "requests",
             "my.gauge": "process.cpu.utilization", "my.exponential.histogram": "rpc.server.duration"}
    for metric in document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]:
        metric["name"] = names[metric["name"]]
        metric["unit"] = "s"
    frame = _read(tmp_path, document, small_catalog, service="payments").telemetry
    got = dict(zip(frame.metric, frame.value, strict=True))
    assert got["requests"] == 5  # the counter; duration instruments' counts would count them twice
    assert got["cpu_pct"] == 1000.0
    assert got["latency_max_ms"] == 5000.0


# ---- mapping ----------------------------------------------------------------------------------
def test_delta_histogram_gives_requests_errors_and_percentiles(tmp_path, small_catalog):
    ok = _hist_point(NS, NS + 60 * 10**9, [50, 50, 0], [0.1, 0.5], 12.5, max=0.45)
    failed = _hist_point(NS, NS + 60 * 10**9, [0, 0, 10], [0.1, 0.5], 9.0, status=503)
    frame = _read(tmp_path, _request([_duration_histogram([ok, failed])]), small_catalog).telemetry
    got = dict(zip(frame.metric, frame.value, strict=True))
    assert set(frame.endpoint) == {"GET /cart"} and set(frame.service) == {"checkout-api"}
    assert got["requests"] == 110 and got["errors"] == 10
    assert got["latency_p50_ms"] == pytest.approx(1000 * (0.1 + 0.4 * (55 - 50) / 50))
    assert got["latency_avg_ms"] == pytest.approx(1000 * 21.5 / 110, rel=1e-9)
    assert frame["timestamp"].iloc[0] == O.np.datetime64(NS // 1000, "us")  # the interval's start


def test_cumulative_points_are_differenced(tmp_path, small_catalog):
    points = [_hist_point(NS, NS + k * 60 * 10**9, [10 * k, 0], [0.2], 1.0 * k) for k in (1, 2, 4)]
    frame = _read(tmp_path, _request([_duration_histogram(points, temporality=2)]), small_catalog).telemetry
    requests = frame[frame.metric == "requests"]
    assert requests["value"].tolist() == [10.0, 10.0, 20.0]
    starts = [(t - O.np.datetime64(NS // 1000, "us")) / O.np.timedelta64(1, "s") for t in requests.timestamp]
    assert starts == [0.0, 60.0, 120.0]


def test_unknown_service_is_an_error_or_skipped(tmp_path, small_catalog):
    document = _request([_duration_histogram([_hist_point(NS, NS + 1, [1, 0], [1.0], 0.1)])], service="nope")
    with pytest.raises(InputError, match="service.name 'nope'"):
        _read(tmp_path, document, small_catalog)
    batch = _read(tmp_path, document, small_catalog, skip_bad_rows=True)
    assert len(batch.telemetry) == 0 and batch.skipped


def test_service_name_is_matched_case_and_slug_insensitively(tmp_path, small_catalog):
    document = _request([{"name": "requests", "sum": {"aggregationTemporality": 1, "isMonotonic": True,
                          "dataPoints": [{"asInt": "7", "timeUnixNano": str(NS)}]}}], service="Checkout API")
    frame = _read(tmp_path, document, small_catalog).telemetry
    assert frame[["service", "metric", "value"]].values.tolist() == [["checkout-api", "requests", 7.0]]


def test_file_exporter_json_lines(tmp_path, small_catalog):
    line = json.dumps(_request([{"name": "system.memory.utilization", "unit": "1",
                                 "gauge": {"dataPoints": [{"asDouble": 0.5, "timeUnixNano": str(NS)}]}}]))
    path = tmp_path / "metrics.jsonl"
    path.write_text(line + "\n" + line.replace(str(NS), str(NS + 60 * 10**9)) + "\n")
    frame = O.read(path, IngestOptions(small_catalog)).telemetry
    assert frame["value"].tolist() == [50.0, 50.0] and set(frame.metric) == {"memory_pct"}


def test_exponential_bounds():
    got = O._exponential_buckets({"scale": 1, "zeroCount": "2", "positive": {"offset": 2, "bucketCounts": ["1", "3"]}})
    base = math.sqrt(2)
    assert got["bounds"] == pytest.approx((0.0, base**2, base**3, base**4))
    assert got["bucket_counts"] == (2.0, 0.0, 1.0, 3.0, 0.0)


def test_not_json_names_the_line(tmp_path, small_catalog):
    path = tmp_path / "x.json"
    path.write_text('{"resourceMetrics": [\n}')
    with pytest.raises(InputError) as caught:
        O.read(path, IngestOptions(small_catalog))
    assert caught.value.line == 2


# ---- properties -------------------------------------------------------------------------------
counts = st.lists(st.integers(0, 10**6), min_size=2, max_size=8)


@settings(max_examples=60, deadline=None)
@given(buckets=counts, scale=st.floats(0.001, 10.0))
def test_histogram_requests_equal_the_bucket_total_and_percentiles_are_ordered(buckets, scale):
    bounds = [scale * (i + 1) for i in range(len(buckets) - 1)]
    point = _hist_point(NS, NS + 60 * 10**9, buckets, bounds, 1.0)
    with tempfile.TemporaryDirectory() as folder:
        frame = _read(Path(folder), _request([_duration_histogram([point], unit="ms")]), parse_catalog(SMALL_CATALOG)
                      ).telemetry
    got = dict(zip(frame.metric, frame.value, strict=True))
    assert got.get("requests", 0) == sum(buckets)
    if sum(buckets):
        assert got["latency_p50_ms"] <= got["latency_p95_ms"] <= got["latency_p99_ms"] <= bounds[-1] + 1e-9


@settings(max_examples=40, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ["resourceMetrics", "scopeMetrics", "metrics", "name", "histogram", "sum", "gauge",
                         "dataPoints", "count", "bucketCounts", "attributes", "resource"]), inner, max_size=4),
                    max_leaves=15))
def test_malformed_documents_are_input_errors_never_crashes(document):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.json"
        path.write_text(json.dumps({"resourceMetrics": document}))
        with contextlib.suppress(InputError):
            O.read(path, IngestOptions(parse_catalog(SMALL_CATALOG), skip_bad_rows=True))
