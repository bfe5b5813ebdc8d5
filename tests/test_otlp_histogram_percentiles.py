"""OTLP histogram percentiles: the OpenTelemetry bucket maths, estimates within [min, max].

The spec's own example (opentelemetry-proto examples/metrics.json, in ../shared) has an
exponential histogram of 3 observations, 1 at zero and 2 in (4, 8], with max 5: its p95/p99 came
out as 7.7 and 7.94 (7,700 and 7,940 ms in seconds), above the point's max. Expected values are
computed here by a plain loop over the buckets, not by perfops.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from perfops.ingest import otlp_json as O
from perfops.ingest.base import IngestOptions

NS = 1_700_000_000_000_000_000
SAMPLE = "samples/otlp-json-metrics/otel-proto-example-2026-uint64-as-strings.json"


def _linear_quantile(buckets: list[tuple[float, float, float]], q: float) -> float:
    """buckets: (low, high, count) in order; linear interpolation at rank q * total."""
    total = sum(c for _, _, c in buckets)
    rank, seen = q * total, 0.0
    for low, high, count in buckets:
        if count and seen + count >= rank:
            return low + (high - low) * (rank - seen) / count
        seen += count
    raise AssertionError("rank beyond the buckets")


def _exponential_point(scale, offset, counts, zero=0, negative=(), **extra):
    total = zero + sum(counts) + sum(negative)
    return {"startTimeUnixNano": str(NS), "timeUnixNano": str(NS + 60 * 10**9), "count": str(total),
            "sum": 1.0, "scale": scale, "zeroCount": str(zero),
            "positive": {"offset": offset, "bucketCounts": [str(c) for c in counts]},
            "negative": {"offset": 0, "bucketCounts": [str(c) for c in negative]},
            "attributes": [{"key": "http.route", "value": {"stringValue": "/cart"}},
                           {"key": "http.request.method", "value": {"stringValue": "GET"}}], **extra}


def _percentiles(tmp_path: Path, catalog, kind: str, points, unit="ms", temporality=1) -> dict[str, float]:
    metric = {"name": "http.server.request.duration", "unit": unit,
              kind: {"aggregationTemporality": temporality, "dataPoints": points}}
    document = {"resourceMetrics": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "checkout-api"}}]},
        "scopeMetrics": [{"scope": {"name": "t"}, "metrics": [metric]}]}]}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(document))
    frame = O.read(path, IngestOptions(catalog)).telemetry
    return {m: float(v) for m, v in zip(frame.metric, frame.value, strict=True)}


@pytest.mark.conformance
def test_the_spec_example_stays_under_its_max(shared_dir, small_catalog, tmp_path):
    document = json.loads((shared_dir / SAMPLE).read_text())
    metrics = document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    exponential = next(m for m in metrics if "exponentialHistogram" in m)
    exponential.update(name="rpc.server.duration", unit="s")
    document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"] = [exponential]
    path = tmp_path / "example.json"
    path.write_text(json.dumps(document))
    got = O.read(path, IngestOptions(small_catalog, service="payments")).telemetry
    got = {m: float(v) for m, v in zip(got.metric, got.value, strict=True)}
    # scale 0, offset 1, counts [0, 2]: (2, 4] empty, (4, 8] 2; zero bucket 1; min 0, max 5 (s)
    buckets = [(0.0, 0.0, 1.0), (0.0, 2.0, 0.0), (2.0, 4.0, 0.0), (4.0, 5.0, 2.0)]
    for metric, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99)):
        assert got[metric] == pytest.approx(1000 * _linear_quantile(buckets, q))
    assert got["latency_p95_ms"] == pytest.approx(4925.0) and got["latency_p99_ms"] == pytest.approx(4985.0)
    assert got["latency_max_ms"] == 5000.0


def test_exponential_known_answer_with_scale_offset_zero_and_negative(tmp_path, small_catalog):
    scale, offset, counts = 2, 40, [5, 30, 50, 15]  # base 2^(1/4): bucket i covers (base^i, base^(i+1)]
    base = 2 ** (2**-scale)
    got = _percentiles(tmp_path, small_catalog, "exponentialHistogram",
                       [_exponential_point(scale, offset, counts, zero=3, negative=[2], min=-1.0,
                                           max=base ** (offset + 3) + 1.0)])
    edges = [base ** (offset + j) for j in range(len(counts) + 1)]
    buckets = [(0.0, 0.0, 5.0)] + [(edges[j], edges[j + 1], float(c)) for j, c in enumerate(counts)]
    buckets[-1] = (edges[3], base ** (offset + 3) + 1.0, 15.0)  # the last bucket ends at the max
    for metric, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99)):
        assert got[metric] == pytest.approx(_linear_quantile(buckets, q), rel=1e-12)
    assert got["requests"] == 105


def test_exponential_estimates_never_leave_min_and_max(tmp_path, small_catalog):
    """(4096, 8192] holds the tail but the slowest request took 5,000 ms."""
    got = _percentiles(tmp_path, small_catalog, "exponentialHistogram",
                       [_exponential_point(0, 11, [60, 40], min=2100.0, max=5000.0)])
    buckets = [(2100.0, 4096.0, 60.0), (4096.0, 5000.0, 40.0)]
    assert got["latency_p50_ms"] == pytest.approx(_linear_quantile(buckets, 0.5))
    assert got["latency_p95_ms"] == pytest.approx(4096 + 904 * 35 / 40)
    assert got["latency_p99_ms"] == pytest.approx(4096 + 904 * 39 / 40)
    assert got["latency_p99_ms"] <= 5000.0


def test_explicit_buckets_clamp_to_the_max(tmp_path, small_catalog):
    point = {"startTimeUnixNano": str(NS), "timeUnixNano": str(NS + 60 * 10**9), "count": "100", "sum": 40.0,
             "bucketCounts": ["0", "10", "80", "10", "0"], "explicitBounds": [100, 250, 500, 1000],
             "min": 120.0, "max": 600.0, "attributes": []}
    got = _percentiles(tmp_path, small_catalog, "histogram", [point])
    assert got["latency_p99_ms"] == pytest.approx(500 + 100 * 9 / 10)  # not 950: (500, 1000] ends at 600
    assert got["latency_p50_ms"] == pytest.approx(250 + 250 * 40 / 80)


def test_cumulative_lifetime_max_does_not_clamp_an_interval(tmp_path, small_catalog):
    """A cumulative point's min/max cover its whole life: no bound for one differenced interval."""
    first = _exponential_point(0, 11, [10, 0], max=3000.0)
    later = _exponential_point(0, 11, [10, 10], max=3000.0)
    later["timeUnixNano"] = str(NS + 120 * 10**9)
    got = _percentiles(tmp_path, small_catalog, "exponentialHistogram", [first, later], temporality=2)
    assert got["latency_p95_ms"] == pytest.approx(4096 + 4096 * 0.95)  # (4096, 8192], unclamped
    assert not math.isnan(got["latency_p50_ms"])
