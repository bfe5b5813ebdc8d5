"""Canonical table schemas. Every reader produces these; the store keeps them; analyses read them.

Timestamps are naive UTC `datetime64[us]` (the store's TIMESTAMP); text columns use '' for
"not applicable" (whole service, all consumers) so keys never contain NULL.
"""

from __future__ import annotations

METRICS: dict[str, str] = {
    "requests": "count",
    "errors": "count",
    "client_errors": "count",
    "latency_p50_ms": "ms",
    "latency_p95_ms": "ms",
    "latency_p99_ms": "ms",
    "latency_avg_ms": "ms",
    "latency_max_ms": "ms",
    "cpu_pct": "%",
    "memory_pct": "%",
    "instances": "count",
    "cost": "currency",
    # host saturation and throughput (issue 13): bytes per interval, disk use in %
    "network_in_bytes": "bytes",
    "network_out_bytes": "bytes",
    "disk_read_bytes": "bytes",
    "disk_write_bytes": "bytes",
    "disk_pct": "%",
}
COUNT_METRICS = ("requests", "errors", "client_errors")
LATENCY_METRICS = tuple(m for m in METRICS if m.startswith("latency_"))
PERCENT_METRICS = ("cpu_pct", "memory_pct", "disk_pct")
# judged by trends in the direction the catalog sets (default below); see perfops.analysis.trends.gauges
GAUGE_METRICS: dict[str, str] = {"network_in_bytes": "both", "network_out_bytes": "both",
                                 "disk_read_bytes": "up", "disk_write_bytes": "both", "disk_pct": "up"}
METRIC_NAME = r"^[a-z][a-z0-9_]{0,62}$"  # a user-named gauge of the catalog's services.metrics

# telemetry: long form, one measurement a row; key = all but value
TELEMETRY_COLUMNS = ("timestamp", "service", "endpoint", "consumer", "metric", "value")
TELEMETRY_KEY = ("timestamp", "service", "endpoint", "consumer", "metric")

EVENT_TYPES = ("deploy", "config", "scaling", "incident", "test")
EVENT_COLUMNS = ("timestamp", "service", "type", "version", "description")

# performance-test runs (one row a run), per-endpoint results, and the load over time
TEST_RUN_COLUMNS = (
    "run_id", "tool", "service", "environment", "start", "end", "status", "source", "notes",
)
TEST_ENDPOINT_COLUMNS = (
    "run_id", "endpoint", "samples", "errors", "throughput_rps",
    "latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms",
    "latency_avg_ms", "latency_max_ms", "exact_percentiles",
)
# the load over time: per run, endpoint ('' = all) and interval
TEST_SERIES_COLUMNS = (
    "run_id", "timestamp", "endpoint", "requests", "errors", "latency_p95_ms", "users",
)
