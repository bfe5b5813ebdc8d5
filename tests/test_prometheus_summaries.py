"""Prometheus summaries (`…{quantile="0.99"}` with `_sum` and `_count`) read as latency
percentiles, in exposition text and in query_range answers.

The text file is real (prometheus/common expfmt test data, see
tests/fixtures/prometheus-summary/PROVENANCE.md); expected values are read from its lines here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from perfops.ingest import prometheus_json, prometheus_text
from perfops.ingest.base import IngestOptions

TEXT = Path(__file__).parent / "fixtures" / "prometheus-summary" / "prometheus-common-expfmt-testdata-text.prom"


def _line_value(pattern: str) -> float:
    found = [line for line in TEXT.read_text().splitlines() if line.startswith(pattern)]
    assert len(found) == 1, pattern
    return float(found[0].rsplit(" ", 1)[1])


def test_exposition_summary_gives_percentiles_in_ms(small_catalog):
    frame = prometheus_text.read(TEXT, IngestOptions(small_catalog, service="payments")).telemetry
    got = {(e, m): v for e, m, v in zip(frame.endpoint, frame.metric, frame.value, strict=True)}
    base = 'http_request_duration_microseconds{handler="prometheus",quantile='
    assert got == {  # microseconds -> ms; 0.9 has no column; handlers that observed nothing give nothing
        ("prometheus", "latency_p50_ms"): pytest.approx(_line_value(base + '"0.5"}') / 1000),
        ("prometheus", "latency_p99_ms"): pytest.approx(_line_value(base + '"0.99"}') / 1000),
    }
    assert got[("prometheus", "latency_p99_ms")] == pytest.approx(3.087384)


def test_runtime_and_size_summaries_are_not_latencies(small_catalog):
    frame = prometheus_text.read(TEXT, IngestOptions(small_catalog, service="payments")).telemetry
    assert set(frame.endpoint) == {"prometheus"}
    assert re.search(r"prometheus_local_storage_persist_latency", TEXT.read_text())  # present, yet not read


def _matrix(series: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> dict:
    return {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": labels, "values": [[t, v] for t, v in values]} for labels, values in series]}}


def test_query_range_summary_series(tmp_path, small_catalog):
    t0 = 1_763_020_800.0
    labels = {"__name__": "http_server_requests_seconds", "service": "checkout-api", "method": "GET",
              "uri": "/cart"}
    quantiles = {"0.5": ["0.012", "0.015", "NaN"], "0.9": ["0.030", "0.031", "NaN"],
                 "0.95": ["0.041", "0.052", "NaN"], "0.99": ["0.120", "0.250", "NaN"]}
    series = [({**labels, "quantile": q}, [(t0 + 60 * i, v) for i, v in enumerate(values)])
              for q, values in quantiles.items()]
    series.append(({**labels, "__name__": "http_server_requests_seconds_count"},
                   [(t0, "100"), (t0 + 60, "160"), (t0 + 120, "160")]))
    path = tmp_path / "range.json"
    path.write_text(json.dumps(_matrix(series)))
    frame = prometheus_json.read(path, IngestOptions(small_catalog)).telemetry
    latency = frame[frame.metric.str.startswith("latency_")]
    assert set(latency.endpoint) == {"GET /cart"} and set(latency.service) == {"checkout-api"}
    for metric, q in (("latency_p50_ms", "0.5"), ("latency_p95_ms", "0.95"), ("latency_p99_ms", "0.99")):
        values = latency[latency.metric == metric].sort_values("timestamp")["value"].tolist()
        assert values == pytest.approx([1000 * float(v) for v in quantiles[q][:2]])  # NaN: no value
    requests = frame[frame.metric == "requests"]["value"].tolist()
    assert requests == [60.0, 0.0]  # the _count read as requests, per interval


def test_a_summary_without_observations_gives_no_latency(tmp_path, small_catalog):
    t0 = 1_763_020_800.0
    labels = {"__name__": "http_request_duration_seconds", "service": "payments", "handler": "/pay"}
    path = tmp_path / "range.json"
    path.write_text(json.dumps(_matrix([
        ({**labels, "quantile": "0.99"}, [(t0, "0"), (t0 + 60, "0.2")]),
        ({**labels, "__name__": "http_request_duration_seconds_count"}, [(t0, "0"), (t0 + 60, "4")]),
    ])))
    frame = prometheus_json.read(path, IngestOptions(small_catalog)).telemetry
    p99 = frame[frame.metric == "latency_p99_ms"]
    assert p99["value"].tolist() == [200.0]  # the first 0 was "nothing observed yet"


def test_quantiles_beside_buckets_of_the_same_timer_defer_to_the_buckets(tmp_path, small_catalog):
    """Micrometer with percentiles and percentiles-histogram on writes both for one timer."""
    labels = {"service": "checkout-api", "method": "GET", "uri": "/cart"}
    lines = [f'http_server_requests_seconds{{{_labels(labels)},quantile="0.99"}} 0.9']
    for le, count in (("0.1", 90), ("0.5", 100), ("+Inf", 100)):
        lines.append(f'http_server_requests_seconds_bucket{{{_labels(labels)},le="{le}"}} {count}')
    path = tmp_path / "scrape.prom"
    path.write_text("\n".join(lines) + "\n")
    frame = prometheus_text.read(path, IngestOptions(small_catalog)).telemetry
    p99 = frame[frame.metric == "latency_p99_ms"]["value"].tolist()
    assert p99 == pytest.approx([1000 * (0.1 + 0.4 * (99 - 90) / 10)])  # from the buckets alone


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f'{k}="{v}"' for k, v in labels.items())
