"""CloudWatch GetMetricData (paged) and get-metric-statistics JSON: samples, naming rules, properties."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SMALL_CATALOG
from perfops.errors import InputError
from perfops.ingest import cloudwatch_json as C
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

SAMPLES = "samples/cloudwatch-metrics-json"
PAGED = "grafana-getmetricdata-paged-partialdata-messages.json"
STATS = "instance-reaper-get-metric-statistics-cpu-average.json"


def _read(tmp_path: Path, document, catalog, name="cw.json", **options):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return C.read(path, IngestOptions(catalog, **options))


def _result(rid, label, values, start="2026-11-01T00:00:00Z", status="Complete"):
    stamps = [np.datetime_as_string(np.datetime64(start.rstrip("Z")) + np.timedelta64(5 * i, "m")) + "Z"
              for i in range(len(values))]
    return {"Id": rid, "Label": label, "StatusCode": status, "Timestamps": stamps, "Values": values}


# ---- conformance --------------------------------------------------------------------------
@pytest.mark.conformance
def test_samples_are_sniffed(shared_dir):
    for path in (shared_dir / SAMPLES).glob("*.json"):
        assert reader_for(path).name == "cloudwatch-json"


@pytest.mark.conformance
def test_paged_results_merge_and_messages_become_notes(shared_dir):
    series, notes = C.parse_document(C.load_json(shared_dir / SAMPLES / PAGED))
    assert [(s.id, s.label, len(s.times), s.status) for s in series] == [
        ("a", "label1", 5, "Complete"), ("a", "label2", 1, "Complete")]
    assert series[0].values[1] == 0.244268469636633
    assert {n.split(": ")[1] for n in notes} == {"MaxMetricsExceeded", "MaxQueryTimeRangeExceeded",
                                                "MaxQueryResultsExceeded", "MaxMatchingResultsExceeded"}


@pytest.mark.conformance
def test_paged_sample_loads_once_the_file_names_metric_and_service(shared_dir, small_catalog, tmp_path):
    path = shared_dir / SAMPLES / PAGED
    with pytest.raises(InputError, match="does not name a perfops or CloudWatch metric"):
        C.read(path, IngestOptions(small_catalog))
    named = tmp_path / "payments.cpu_pct.json"
    named.write_bytes(path.read_bytes())
    frame = C.read(named, IngestOptions(small_catalog)).telemetry
    # label1 (5 points) and label2 (1 point) are averaged where they share a timestamp
    assert len(frame) == 5 and set(frame.service) == {"payments"}
    assert frame["value"].iloc[0] == pytest.approx(0.1333395078879982)


@pytest.mark.conformance
def test_statistics_sample_unsorted_offsets_and_float_noise(shared_dir, small_catalog):
    path = shared_dir / SAMPLES / STATS
    with pytest.raises(InputError, match="does not name a catalog service"):
        C.read(path, IngestOptions(small_catalog))
    frame = C.read(path, IngestOptions(small_catalog, service="checkout-api")).telemetry
    raw = json.loads(path.read_text())["Datapoints"]
    assert len(frame) == len(raw) == 35
    assert frame["timestamp"].is_monotonic_increasing
    assert frame["timestamp"].iloc[0] == np.datetime64("2017-08-29T23:25:00")
    assert sorted(frame["value"]) == sorted(p["Average"] for p in raw)
    assert set(frame.metric) == {"cpu_pct"}


# ---- naming rules -------------------------------------------------------------------------
def test_alb_label_names_service_metric_and_statistic(tmp_path, small_catalog):
    page = {"MetricDataResults": [
        _result("m1", "app/checkout-api/50dc6c495c0c9188 TargetResponseTime p95", [0.2, 0.25]),
        _result("m2", "app/checkout-api/50dc6c495c0c9188 RequestCount", [100, 120]),
        _result("m3", "service=payments endpoint='POST /pay' metric=errors", [1, 0]),
    ], "Messages": []}
    frame = _read(tmp_path, page, small_catalog).telemetry
    rows = {(s, e, m): v for s, e, m, v in zip(frame.service, frame.endpoint, frame.metric, frame.value, strict=True)
            if True}
    assert rows[("checkout-api", "", "latency_p95_ms")] in (200.0, 250.0)
    assert frame[(frame.metric == "latency_p95_ms")]["value"].tolist() == [200.0, 250.0]
    assert frame[(frame.metric == "requests")]["value"].tolist() == [100.0, 120.0]
    assert frame[(frame.metric == "errors")][["service", "endpoint"]].drop_duplicates().values.tolist() == [
        ["payments", "POST /pay"]]


def test_statistics_choose_the_metric(tmp_path, small_catalog):
    answer = {"Label": "TargetResponseTime", "Datapoints": [
        {"Timestamp": "2026-11-01T00:00:00Z", "Average": 0.1, "Maximum": 0.9, "Minimum": 0.01,
         "ExtendedStatistics": {"p99": 0.5}, "Unit": "Seconds"}]}
    frame = _read(tmp_path, answer, small_catalog, service="payments").telemetry
    assert dict(zip(frame.metric, frame.value, strict=True)) == pytest.approx(
        {"latency_avg_ms": 100.0, "latency_max_ms": 900.0, "latency_p99_ms": 500.0})


def test_average_of_a_count_metric_is_not_a_count(tmp_path, small_catalog):
    answer = {"Label": "RequestCount", "Datapoints": [
        {"Timestamp": "2026-11-01T00:00:00Z", "Average": 3.0, "Sum": 300.0, "Unit": "Count"}]}
    frame = _read(tmp_path, answer, small_catalog, service="payments").telemetry
    assert frame[["metric", "value"]].values.tolist() == [["requests", 300.0]]


def test_partial_data_on_the_last_page_is_noted(tmp_path, small_catalog):
    page = {"MetricDataResults": [_result("r", "payments requests", [1.0], status="PartialData")], "NextToken": "x"}
    batch = _read(tmp_path, page, small_catalog)
    assert any("PartialData" in n for n in batch.notes)


def test_mismatched_lengths_are_an_error(tmp_path, small_catalog):
    page = {"MetricDataResults": [{"Id": "a", "Label": "x", "Timestamps": ["2026-11-01T00:00:00Z"], "Values": []}]}
    with pytest.raises(InputError, match="1 timestamps and 0 values"):
        _read(tmp_path, page, small_catalog)


# ---- properties ---------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
# counts are never negative: a negative value is refused (test_readers_never_silent_regressions.py)
@given(values=st.lists(st.floats(min_value=0, max_value=1e9, allow_nan=False), min_size=1, max_size=20),
       pages=st.integers(1, 3), shuffle=st.randoms())
def test_values_survive_paging_and_order(values, pages, shuffle):
    result = _result("q", "payments requests", values)
    points = list(zip(result["Timestamps"], result["Values"], strict=True))
    shuffle.shuffle(points)
    cut = [points[i::pages] for i in range(pages)]
    document = [{"MetricDataResults": [{"Id": "q", "Label": "payments requests",
                                        "Timestamps": [t for t, _ in part], "Values": [v for _, v in part]}]}
                for part in cut]
    with tempfile.TemporaryDirectory() as folder:
        frame = _read(Path(folder), document, parse_catalog(SMALL_CATALOG)).telemetry
    assert frame["value"].tolist() == values
    assert frame["timestamp"].is_monotonic_increasing


@settings(max_examples=40, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.floats() | st.text(max_size=4),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ["MetricDataResults", "Datapoints", "Id", "Label", "Timestamps", "Values", "Timestamp",
                         "Average", "Messages"]), inner, max_size=4), max_leaves=12))
def test_malformed_answers_are_input_errors_never_crashes(document):
    with tempfile.TemporaryDirectory() as folder, contextlib.suppress(InputError):
        _read(Path(folder), {"MetricDataResults": document}, parse_catalog(SMALL_CATALOG), skip_bad_rows=True)
