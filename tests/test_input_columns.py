"""Telemetry headers and CSV dialect (issue 17, items 2, 4 and 5): a misspelt column is refused with
the nearest known name instead of being dropped; Grafana and Datadog exports shaped as
docs/formats/telemetry.md says still load; quotes after DuckDB's 20,480-row sniff sample are read
as quotes; a gzip CSV with empty cells loads or is refused naming its line (it exited 70)."""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perfops.errors import InputError
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

NOW = datetime(2026, 1, 6)


def _ingest(workspace: Path, name: str, data: bytes | str, now: datetime = NOW):
    path = workspace / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return ingest_paths(Workspace(workspace), [path], now=now, format_name="telemetry")


def _stored(workspace: Path):
    from perfops.store import open_store

    with open_store(Workspace(workspace).store_path) as store:
        return store.telemetry.load()


MISSPELT_LONG = ("timestamp,service,endpiont,metric,value\n"
                 "2026-01-05T10:00:00Z,checkout-api,GET /cart,requests,5\n"
                 "2026-01-05T10:00:00Z,checkout-api,POST /checkout,requests,7\n")


def test_a_misspelt_long_form_column_is_refused_with_the_nearest_name(workspace):
    """Before: '2 rows loaded', one row stored (the endpoints lost, the service total overwritten)."""
    with pytest.raises(InputError) as caught:
        _ingest(workspace, "t.csv", MISSPELT_LONG)
    error = caught.value
    assert error.line == 1 and error.field == "header"
    assert "unknown column 'endpiont'; did you mean 'endpoint'?" in str(error)
    assert len(_stored(workspace)) == 0


def test_a_misspelt_wide_form_metric_is_refused_with_the_nearest_name(workspace):
    with pytest.raises(InputError) as caught:
        _ingest(workspace, "t.csv", "timestamp,service,endpoint,reqests\n2026-01-05T10:00:00Z,checkout-api,GET /a,5\n")
    assert "unknown metric column(s) reqests; did you mean 'requests'?" in str(caught.value)


def test_a_misspelt_key_column_in_the_wide_form_is_named(workspace):
    with pytest.raises(InputError) as caught:
        _ingest(workspace, "t.csv", "timestamp,service,consumr,requests\n2026-01-05T10:00:00Z,checkout-api,acme,5\n")
    assert "did you mean 'consumer'?" in str(caught.value)


def test_a_misspelt_column_in_parquet_is_refused(workspace):
    table = pa.table({"timestamp": pa.array([datetime(2026, 1, 5, 10)], pa.timestamp("us")),
                      "service": ["checkout-api"], "endpiont": ["GET /a"], "metric": ["requests"], "value": [5.0]})
    path = workspace / "t.parquet"
    pq.write_table(table, path)
    with pytest.raises(InputError) as caught:
        ingest_paths(Workspace(workspace), [path], now=NOW)
    assert "did you mean 'endpoint'?" in str(caught.value)
    assert len(_stored(workspace)) == 0


def test_a_grafana_csv_shaped_as_the_docs_say_loads_and_says_time_was_read_as_timestamp(workspace):
    """docs/formats/telemetry.md: keep Grafana's "Time", add service, name the value column."""
    [result] = _ingest(workspace, "grafana.csv", '"Time","service","requests"\n'
                       '"2026-01-05 10:00:00","checkout-api","5"\n"2026-01-05 10:01:00","checkout-api","6"\n')
    assert result.rows == 2 and "column 'Time' read as 'timestamp'" in result.notes


def test_a_datadog_csv_shaped_as_the_docs_say_loads(workspace):
    [result] = _ingest(workspace, "datadog.csv", "timestamp,value,service,metric\n1767607200,5,checkout-api,requests\n"
                       "1767607260,6,checkout-api,requests\n")
    assert result.rows == 2


def _late_quotes(rows: int, endpoint: str) -> str:
    lines = ["timestamp,service,endpoint,metric,value"]
    start = 1767571200  # 2026-01-05T00:00:00Z
    lines += [f"{start + 60 * i},checkout-api,GET /a,requests,{i % 7}" for i in range(rows)]
    lines.append(f"{start + 60 * rows},checkout-api,{endpoint},requests,3")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("written", "read"), [('"GET /say ""hi"""', 'GET /say "hi"'), ('"GET /a, b"', "GET /a, b"),
                                                 ('"GET /plain"', "GET /plain")])
def test_quoted_fields_after_the_sniff_sample_are_unquoted(workspace, written, read):
    """DuckDB sniffs the dialect from the first 20,480 rows; a quoted field first seen after
    row 30,000 used to be stored with its quotes, as a new endpoint."""
    _ingest(workspace, "late.csv", _late_quotes(30_000, written), now=datetime(2026, 2, 1))
    assert set(_stored(workspace)["endpoint"]) == {"GET /a", read}


def test_a_gzip_csv_with_empty_cells_loads(workspace):
    """An all-empty endpoint column in a gzip CSV exited 70 (pyarrow typed it null)."""
    data = gzip.compress(b"timestamp,service,endpoint,consumer,requests,errors\n"
                         b"2026-01-05T10:00:00Z,checkout-api,,,5,\n2026-01-05T10:05:00Z,checkout-api,,,,1\n")
    [result] = _ingest(workspace, "t.csv.gz", data)
    assert result.rows == 2


def test_a_gzip_csv_with_an_empty_value_names_its_line(workspace):
    data = gzip.compress(b"timestamp,service,endpoint,metric,value\n2026-01-05T10:00:00Z,checkout-api,,requests,\n")
    with pytest.raises(InputError) as caught:
        _ingest(workspace, "t.csv.gz", data)
    assert caught.value.line == 2 and "value: '' is not a finite number" in str(caught.value)
