"""Unit-suffixed headers of Grafana and Datadog CSV exports: understood, converted to perfops'
canonical units (latency ms, percent), refused by name when the unit does not fit the metric.

The files are written as Grafana's "Download CSV" (series joined by time, a `Time` column, the
legend as header, the unit in brackets when the panel's legend carries it) and as a Datadog
graph export renamed by hand, the two cases docs/formats/telemetry.md describes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from perfops.errors import InputError
from perfops.ingest import telemetry
from perfops.ingest.base import IngestOptions
from perfops.ingest.registry import reader_for
from perfops.workspace import parse_catalog

CATALOG = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")


def read(path: Path, **kw):
    return telemetry.read(path, IngestOptions(catalog=CATALOG, **kw))


def values(batch, metric: str) -> list[float]:
    table = batch.telemetry.to_pandas()
    return table[table.metric == metric]["value"].tolist()


def test_wide_grafana_export_with_units_in_brackets(tmp_path):
    path = tmp_path / "grafana.csv"
    path.write_text('"Time","service","p95 [ms]","Latency (s)","cpu (%)","requests"\n'
                    "2026-11-15 00:00:00,web,212.5,0.25,41.5,1200\n"
                    "2026-11-15 00:01:00,web,230,0.5,,1100\n")
    assert reader_for(path).name == "telemetry"
    batch = read(path)
    assert values(batch, "latency_p95_ms") == [212.5, 230.0]
    assert values(batch, "latency_avg_ms") == [250.0, 500.0]  # seconds x 1000
    assert values(batch, "cpu_pct") == [41.5]
    assert values(batch, "requests") == [1200.0, 1100.0]
    assert any("'Latency (s)' read as latency_avg_ms, x1000 to ms" in n for n in batch.notes)


def test_long_form_value_with_a_unit_converts_latency_rows(tmp_path):
    path = tmp_path / "datadog.csv"
    path.write_text("timestamp,service,metric,value (s)\n"
                    "1763164800,web,latency_p99_ms,0.75\n"
                    "1763164800,web,latency_p50_ms,0.125\n")
    batch = read(path)
    assert values(batch, "latency_p99_ms") == [750.0] and values(batch, "latency_p50_ms") == [125.0]


def test_long_form_value_unit_that_does_not_fit_a_metric_is_refused_by_line(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("timestamp,service,metric,value (ms)\n"
                    "1763164800,web,latency_p95_ms,210\n"
                    "1763164800,web,requests,42\n")
    with pytest.raises(InputError) as err:
        read(path)
    assert err.value.line == 3 and "requests is measured in count" in err.value.message
    assert values(read(path, skip_bad_rows=True), "latency_p95_ms") == [210.0]


@pytest.mark.parametrize("header, metric, factor", [
    ("p95 [ms]", "latency_p95_ms", 1.0), ("Latency (s)", "latency_avg_ms", 1000.0),
    ("latency_p99 (µs)", "latency_p99_ms", 0.001), ("P50 Latency (sec)", "latency_p50_ms", 1000.0),
    ("max duration (ms)", "latency_max_ms", 1.0), ("CPU usage (%)", "cpu_pct", 1.0),
    ("memory (percent)", "memory_pct", 1.0), ("latency_p95_ms (ms)", "latency_p95_ms", 1.0),
])
def test_header_names_with_units(header, metric, factor):
    units = telemetry.unit_suffixed_names(["time", header])
    assert units.names == ["time", metric] and units.factors == {metric: factor}


@pytest.mark.parametrize("header", ["requests (ms)", "db_query_p95 (ms)", "cpu (ms)", "p95 p99 (ms)",
                                    "time (ms)", "latency (furlongs)"])
def test_headers_whose_unit_means_nothing_known_stay_as_they_are(header):
    assert telemetry.unit_suffixed_names([header]).names == [header]


def test_a_unit_that_does_not_fit_is_refused_as_an_unknown_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,service,requests (ms)\n2026-11-15T00:00:00Z,web,3\n")
    with pytest.raises(InputError) as err:
        read(path)
    assert "requests (ms)" in err.value.message


def test_cli_stores_converted_values(workspace, cli):
    """Through `perfops ingest` (the store's fast path declines such headers; the reader converts)."""
    path = workspace / "grafana.csv"
    path.write_text('"Time","service","Latency (s)","p99 [ms]"\n2026-11-15 00:00:00,checkout-api,0.25,900\n')
    result = cli("ingest", str(path), workspace=workspace)
    assert result.code == 0, result
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(workspace).store_path) as store:
        frame = store.telemetry.load()
    assert dict(zip(frame.metric, frame.value, strict=True)) == {"latency_avg_ms": 250.0, "latency_p99_ms": 900.0}
