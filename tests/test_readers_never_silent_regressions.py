"""The defects tests/test_readers_never_silent.py found, one example each: every one loaded a
wrong or missing number with no word before its fix."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from perfops.errors import InputError
from perfops.store import open_store
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

SEEDS = Path(__file__).resolve().parents[1] / "fuzz" / "seeds"
NOW = datetime(2026, 1, 6, 12)


def _ingest(workspace: Path, name: str, data: bytes, fmt: str, service: str | None = None):
    path = workspace / name
    path.write_bytes(data)
    [result] = ingest_paths(Workspace(workspace), [path], format_name=fmt, service=service, now=NOW)
    return result


def _stored(workspace: Path):
    with open_store(Workspace(workspace).store_path) as store:
        return store.telemetry.load()


@pytest.mark.parametrize("word", ["n/a", "NaN", "null", "NA"])
def test_a_wide_csv_cell_that_is_not_a_number_is_refused_by_line(workspace, word):
    """pyarrow read `n/a`, `NaN`, `null`, `NA` in a numeric column as an empty cell: "not measured"."""
    lines = (SEEDS / "telemetry" / "wide.csv").read_text().splitlines()
    cells = lines[2].split(",")
    cells[3] = word
    lines[2] = ",".join(cells)
    with pytest.raises(InputError) as err:
        _ingest(workspace, "wide.csv", ("\n".join(lines) + "\n").encode(), "telemetry")
    assert err.value.line == 3 and word.lower() in str(err.value).lower()


def test_a_nan_sample_in_exposition_text_is_counted(workspace):
    text = (SEEDS / "prometheus-text" / "metrics.prom").read_text().replace("} 1027 ", "} NaN ")
    result = _ingest(workspace, "metrics.prom", text.encode(), "prometheus-text")
    assert any("1 samples were NaN or ±Inf" in w for w in result.warnings), result.notes


def test_a_negative_counter_sample_in_exposition_text_is_refused_by_line(workspace):
    """-1027 then 1090 was read as a counter reset: 2,119 requests stored where the file has 65."""
    text = (SEEDS / "prometheus-text" / "metrics.prom").read_text().replace("} 1027 ", "} -1027 ")
    with pytest.raises(InputError) as err:
        _ingest(workspace, "metrics.prom", text.encode(), "prometheus-text")
    assert err.value.line == 3


def _otlp(change) -> bytes:
    document = json.loads((SEEDS / "otlp-json" / "otlp.json").read_text())
    change(document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"][0])
    return json.dumps(document).encode()


@pytest.mark.parametrize(("field", "value"), [("asInt", "n/a"), ("asInt", "-5"), ("asInt", "4.5"), ("startTimeUnixNano", "soon"),
                                              ("attributes", "n/a")])
def test_an_otlp_point_field_of_the_wrong_kind_is_refused(workspace, field, value):
    """asInt 'n/a' was stored as 0 requests, -5 as -5; a start time 'soon' or attributes that are
    text dropped the point or its route without a word."""
    def spoil(metric):
        metric["sum"]["dataPoints"][0][field] = value

    with pytest.raises(InputError) as err:
        _ingest(workspace, "otlp.json", _otlp(spoil), "otlp-json")
    assert err.value.field == "resourceMetrics" and (field in str(err.value) or "negative" in str(err.value))


def test_an_otlp_cumulative_point_without_start_time_is_counted(workspace):
    def spoil(metric):
        del metric["sum"]["dataPoints"][0]["startTimeUnixNano"]

    result = _ingest(workspace, "otlp.json", _otlp(spoil), "otlp-json")
    assert any("1 cumulative points had no startTimeUnixNano" in w for w in result.warnings), result.notes


def test_an_otlp_document_without_resource_metrics_is_refused(workspace):
    with pytest.raises(InputError) as err:
        _ingest(workspace, "otlp.json", b'{"resourceMetricsX": []}', "otlp-json")
    assert err.value.field == "resourceMetrics"


def _cloudwatch(change) -> bytes:
    document = json.loads((SEEDS / "cloudwatch-json" / "cloudwatch.json").read_text())
    change(document)
    return json.dumps(document).encode()


@pytest.mark.parametrize("value", [None, "n/a", float("nan"), -41.5])
def test_a_cloudwatch_value_that_is_no_count_is_refused_by_field(workspace, value):
    """null and NaN vanished from the series; -41.5 was stored as a CPU share."""
    def spoil(document):
        document["MetricDataResults"][0]["Values"][1] = value

    with pytest.raises(InputError) as err:
        _ingest(workspace, "cloudwatch.json", _cloudwatch(spoil), "cloudwatch-json", service="checkout-api")
    assert err.value.field.startswith("MetricDataResults[Id=m1].Values")
    assert _stored(workspace).empty


@pytest.mark.parametrize("results", [None, "n/a"])
def test_cloudwatch_results_that_are_not_a_list_are_refused_by_field(workspace, results):
    def spoil(document):
        document["MetricDataResults"] = results

    with pytest.raises(InputError) as err:
        _ingest(workspace, "cloudwatch.json", _cloudwatch(spoil), "cloudwatch-json", service="checkout-api")
    assert err.value.field == "MetricDataResults"


def test_cloudwatch_partial_data_is_a_warning(workspace):
    def spoil(document):
        document["MetricDataResults"][0]["StatusCode"] = "PartialData"

    result = _ingest(workspace, "cloudwatch.json", _cloudwatch(spoil), "cloudwatch-json", service="checkout-api")
    assert any("PartialData" in w for w in result.warnings), result.notes


def _prometheus(change) -> bytes:
    document = json.loads((SEEDS / "prometheus-json" / "query_range.json").read_text())
    change(document["data"]["result"][0])
    return json.dumps(document).encode()


def test_a_null_prometheus_value_is_refused_and_a_nan_counted(workspace):
    def null(series):
        series["values"][1][1] = None

    with pytest.raises(InputError) as err:
        _ingest(workspace, "query_range.json", _prometheus(null), "prometheus-json")
    assert err.value.field == "values"

    def nan(series):
        series["values"][1][1] = "NaN"

    result = _ingest(workspace, "query_range.json", _prometheus(nan), "prometheus-json")
    assert any("1 points were NaN or ±Inf" in w for w in result.warnings), result.notes


@pytest.mark.parametrize(("key", "value"), [("values", None), ("metric", {"__name__": "http_server_requests_total",
                                                                           "service": "checkout-api", "endpoint": None})])
def test_a_prometheus_series_of_the_wrong_shape_is_refused(workspace, key, value):
    """values null loaded no points unsaid; a null label became the endpoint 'None'."""
    def spoil(series):
        series[key] = value

    with pytest.raises(InputError) as err:
        _ingest(workspace, "query_range.json", _prometheus(spoil), "prometheus-json")
    assert err.value.field in ("values", "metric.endpoint")


def test_an_opencost_set_of_the_wrong_type_is_refused_by_field(workspace):
    document = json.loads((SEEDS / "opencost" / "allocation.json").read_text())
    document["data"][0] = "n/a"
    with pytest.raises(InputError) as err:
        _ingest(workspace, "allocation.json", json.dumps(document).encode(), "opencost")
    assert err.value.field == "data[0]"
