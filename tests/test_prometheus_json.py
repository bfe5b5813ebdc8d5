"""Prometheus query_range JSON files: shapes, naming rules, counters, histograms, samples, properties."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfops.errors import InputError
from perfops.ingest import _series as S
from perfops.ingest import prometheus_json as P
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for

SAMPLES = "samples/prometheus-query-range"


def _write(tmp_path: Path, name: str, document) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def _envelope(result, kind="matrix"):
    return {"status": "success", "data": {"resultType": kind, "result": result}}


# ---- conformance: every shared sample loads -----------------------------------------------
@pytest.mark.conformance
def test_every_sample_parses_with_exact_point_counts(shared_dir):
    folder = shared_dir / SAMPLES
    counts = {f.name: [len(s.times) for s in P.parse_document(P.load_json(f), str(f))]
              for f in sorted(folder.glob("*.json"))}
    assert counts["grafana-promlib-range_auto-float-ts-empty-metric.json"] == [301]
    assert counts["grafana-tsdb-range_simple-two-series-misaligned.json"] == [3, 2]
    assert len(counts["prometheus-api-client-redhat-up-bare-result-array.json"]) == 9
    assert len(counts) == len(list(folder.glob("*.json")))


@pytest.mark.conformance
def test_every_sample_is_sniffed_as_prometheus_json(shared_dir):
    for path in sorted((shared_dir / SAMPLES).glob("*.json")):
        assert reader_for(path).name == "prometheus-json", path.name


@pytest.mark.conformance
def test_float_timestamps_and_string_values_keep_full_precision(shared_dir, small_catalog, tmp_path):
    source = shared_dir / SAMPLES / "grafana-promlib-range_auto-float-ts-empty-metric.json"
    path = tmp_path / "checkout-api.latency_p95_ms.json"  # the file name says what an aggregate is
    path.write_bytes(source.read_bytes())
    frame = P.read(path, IngestOptions(small_catalog)).telemetry
    raw = json.loads(source.read_text())["data"]["result"][0]["values"]
    assert len(frame) == 301
    assert frame["timestamp"].iloc[0] == np.datetime64("2022-09-28T14:43:05.491")
    assert frame["value"].tolist() == [float(v) for _, v in raw]
    assert set(frame.service) == {"checkout-api"} and set(frame.metric) == {"latency_p95_ms"}


@pytest.mark.conformance
def test_unnamed_aggregate_is_an_error_that_says_how_to_fix(shared_dir, small_catalog):
    path = shared_dir / SAMPLES / "grafana-promlib-range_auto-float-ts-empty-metric.json"
    with pytest.raises(InputError) as caught:
        P.read(path, IngestOptions(small_catalog))
    assert "does not say which perfops metric" in str(caught.value)
    assert "file name" in str(caught.value)
    skipped = P.read(path, IngestOptions(small_catalog, skip_bad_rows=True))
    assert len(skipped.telemetry) == 0 and len(skipped.skipped) == 1


@pytest.mark.conformance
def test_misaligned_counter_series_become_increases(shared_dir, small_catalog):
    path = shared_dir / SAMPLES / "grafana-tsdb-range_simple-two-series-misaligned.json"
    frame = P.read(path, IngestOptions(small_catalog, service="checkout-api")).telemetry
    rows = {(t.strftime("%H:%M:%S.%f")[:12], m): v for t, m, v in zip(frame.timestamp, frame.metric, frame.value, strict=True)}
    # code 200: 21, 32, 43 -> +11, +11; code 400: 54 then 76 -> +22 (a client error)
    assert rows == {("08:25:29.123", "requests"): 22.0, ("08:25:29.123", "client_errors"): 22.0,
                    ("08:25:30.123", "requests"): 11.0, ("08:25:31.123", "requests"): 11.0}
    assert set(frame.endpoint) == {"/api/v1/query_range"}


@pytest.mark.conformance
def test_bare_result_array_of_up_gives_instances(shared_dir, small_catalog):
    path = shared_dir / SAMPLES / "prometheus-api-client-redhat-up-bare-result-array.json"
    with pytest.raises(InputError, match="not in the catalog"):
        P.read(path, IngestOptions(small_catalog))
    frame = P.read(path, IngestOptions(small_catalog, service="payments")).telemetry
    total = sum(len(s.times) for s in P.parse_document(P.load_json(path)))
    assert set(frame.metric) == {"instances"}
    assert frame["value"].sum() == pytest.approx(sum(
        float(v) for s in json.loads(path.read_text()) for _, v in s["values"]))
    assert len(frame) <= total


# ---- shapes and rules -----------------------------------------------------------------------
def test_error_answer_shows_prometheus_message(tmp_path, small_catalog):
    path = _write(tmp_path, "e.json", {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    with pytest.raises(InputError, match="parse error at char 5"):
        P.read(path, IngestOptions(small_catalog))


def test_vector_and_scalar_answers(small_catalog):
    vector = P.parse_document(_envelope([{"metric": {"__name__": "requests"}, "value": [1700000000, "5"]}], "vector"))
    assert vector[0].values.tolist() == [5.0]
    scalar = P.parse_document(_envelope([1700000000.5, "2.5"], "scalar"))
    assert scalar[0].times.tolist() == [1700000000.5] and scalar[0].values.tolist() == [2.5]


def test_nan_and_inf_values_are_dropped():
    series = P.parse_document(_envelope([{"metric": {}, "values": [[1, "NaN"], [2, "+Inf"], [3, "1e3"]]}]))
    assert series[0].times.tolist() == [3.0] and series[0].values.tolist() == [1000.0]


def test_recording_rule_names_and_labels(tmp_path, small_catalog):
    result = [{"metric": {"__name__": "service:latency_p95_ms:5m", "service": "Checkout API",
                          "route": "/cart", "method": "get", "consumer": "partner-acme"},
               "values": [[1700000000, "120.5"]]}]
    frame = P.read(_write(tmp_path, "x.json", _envelope(result)), IngestOptions(small_catalog)).telemetry
    assert frame.to_dict("records")[0] | {"timestamp": None} == {
        "timestamp": None, "service": "checkout-api", "endpoint": "GET /cart", "consumer": "partner-acme",
        "metric": "latency_p95_ms", "value": 120.5}


def test_configured_service_label(tmp_path, small_catalog_text):
    from perfops.workspace import parse_catalog

    catalog = parse_catalog(small_catalog_text + "sources:\n  prometheus:\n    url: http://p\n"
                            "    labels: {service: app_kubernetes_io_name}\n")
    result = [{"metric": {"__name__": "requests", "app_kubernetes_io_name": "payments", "service": "other"},
               "values": [[1700000000, "3"]]}]
    frame = P.read(_write(tmp_path, "x.json", _envelope(result)), IngestOptions(catalog)).telemetry
    assert frame["service"].tolist() == ["payments"]


def test_counter_reset_counts_the_new_value(tmp_path, small_catalog):
    result = [{"metric": {"__name__": "http_requests_total", "service": "payments", "code": "503"},
               "values": [[0, "10"], [60, "15"], [120, "3"], [180, "4"]]}]
    frame = P.read(_write(tmp_path, "x.json", _envelope(result)), IngestOptions(small_catalog)).telemetry
    assert frame[frame.metric == "requests"]["value"].tolist() == [5.0, 3.0, 1.0]
    assert frame[frame.metric == "errors"]["value"].tolist() == [5.0, 3.0, 1.0]


def test_histogram_buckets_give_percentiles_in_ms(tmp_path, small_catalog):
    def bucket(le, values):
        return {"metric": {"__name__": "http_server_request_duration_seconds_bucket", "service": "payments",
                           "le": le}, "values": [[t, str(v)] for t, v in zip((0, 60), values, strict=True)]}

    # in the minute: 100 requests, 50 under 0.1 s, 100 under 0.5 s
    result = [bucket("0.1", (0, 50)), bucket("0.5", (0, 100)), bucket("+Inf", (0, 100))]
    frame = P.read(_write(tmp_path, "x.json", _envelope(result)), IngestOptions(small_catalog)).telemetry
    got = dict(zip(frame.metric, frame.value, strict=True))
    assert got["latency_p50_ms"] == pytest.approx(100.0)
    assert got["latency_p95_ms"] == pytest.approx(100 + 400 * 0.9)
    assert got["latency_p99_ms"] == pytest.approx(100 + 400 * 0.98)


def test_invalid_json_names_line(tmp_path, small_catalog):
    path = tmp_path / "bad.json"
    path.write_text('{"status": "success",\n "data": [}')
    with pytest.raises(InputError) as caught:
        P.read(path, IngestOptions(small_catalog))
    assert caught.value.line == 2


def test_bucket_quantile_matches_prometheus_examples():
    upper = np.array([0.1, 0.5, np.inf])
    counts = np.array([[50.0, 50.0, 0.0], [0.0, 0.0, 10.0], [0.0, 0.0, 0.0]])
    got = S.bucket_quantile(upper, counts, 0.5)
    assert got[0] == pytest.approx(0.1)
    assert got[1] == pytest.approx(0.5)  # all in +Inf: the highest finite bound
    assert np.isnan(got[2])


# ---- properties -------------------------------------------------------------------------------
values = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)
stamps = st.floats(min_value=0, max_value=4e9, allow_nan=False).map(lambda t: round(t, 3))


@settings(max_examples=60, deadline=None)
@given(points=st.lists(st.tuples(stamps, values), max_size=40, unique_by=lambda p: p[0]),
       bare=st.booleans())
def test_parse_round_trips_points(points, bare):
    result = [{"metric": {"__name__": "requests", "service": "payments"},
               "values": [[t, repr(v)] for t, v in points]}]
    series = P.parse_document(result if bare else _envelope(result))
    assert series[0].times.tolist() == [t for t, _ in points]
    assert series[0].values.tolist() == [v for _, v in points]


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.lists(st.integers(0, 1000), min_size=3, max_size=3), min_size=1, max_size=10),
       q=st.floats(min_value=0.01, max_value=0.99))
def test_bucket_quantile_stays_within_the_bucket_range(counts, q):
    upper = np.array([1.0, 2.0, 4.0])
    got = S.bucket_quantile(upper, np.array(counts, dtype=float), q)
    for row, value in zip(counts, got, strict=True):
        if sum(row) == 0:
            assert np.isnan(value)
        else:
            assert 0.0 <= value <= 4.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), max_size=30))
def test_increases_are_never_negative(values):
    assert (S.increases(np.array(values)) >= 0).all()


@settings(max_examples=40, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["metric", "values", "value", "result", "resultType", "__name__", "service"]), inner,
        max_size=4), max_leaves=12).map(lambda d: json.dumps({"status": "success", "data": d}).encode())))
def test_garbage_is_an_input_error_never_a_crash(garbage):
    import tempfile

    from conftest import SMALL_CATALOG
    from perfops.workspace import parse_catalog

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.json"
        path.write_bytes(garbage if garbage.startswith(b"{") else b'{"status":"success","data":' + garbage)
        with contextlib.suppress(InputError):
            P.read(path, IngestOptions(parse_catalog(SMALL_CATALOG), skip_bad_rows=True))
