"""Issue 17, item 13 (input side): negative counter rates in prometheus-json, and messages that
did not name the line or the field."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from perfops.errors import InputError
from perfops.usecases.ingest import ingest_paths
from perfops.workspace import Workspace

NOW = datetime(2026, 1, 6)


def _query_range(name: str, values: list[tuple[int, str]]) -> str:
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": name, "service": "checkout-api"}, "values": [list(v) for v in values]}]}})


def _requests(workspace: Path) -> list[float]:
    from perfops.store import open_store

    with open_store(Workspace(workspace).store_path) as store:
        return list(store.telemetry.load(metrics=["requests"])["value"])


def test_a_counter_reset_is_a_restart_as_in_prometheus(workspace):
    """100, 110, 5, 15: the drop to 5 is a restart, so the increases are 10, 5, 10 — never -105."""
    path = workspace / "query_range.json"
    path.write_text(_query_range("http_server_requests_total",
                                 [(1767607200, "100"), (1767607260, "110"), (1767607320, "5"), (1767607380, "15")]))
    ingest_paths(Workspace(workspace), [path], now=NOW)
    assert _requests(workspace) == [10.0, 5.0, 10.0]


def test_a_negative_rate_computed_elsewhere_is_refused_naming_series_and_time(workspace):
    """A series already in perfops' terms (here `requests`, e.g. a recording rule of delta()) with
    a negative point used to be stored as it was."""
    path = workspace / "query_range.json"
    path.write_text(_query_range("requests", [(1767607200, "-3"), (1767607260, "4")]))
    with pytest.raises(InputError) as caught:
        ingest_paths(Workspace(workspace), [path], now=NOW)
    error = caught.value
    assert error.field == "values" and "-3 requests at 2026-01-05T10:00:00Z" in str(error)
    assert "rate() or increase()" in str(error)
    assert _requests(workspace) == []


def test_skip_bad_rows_drops_the_negative_points_only(workspace):
    path = workspace / "query_range.json"
    path.write_text(_query_range("requests", [(1767607200, "-3"), (1767607260, "4")]))
    [result] = ingest_paths(Workspace(workspace), [path], now=NOW, skip_bad_rows=True)
    assert _requests(workspace) == [4.0] and len(result.skipped) == 1


def test_a_telemetry_row_with_too_many_fields_names_its_line(workspace):
    path = workspace / "t.csv"
    path.write_text("timestamp,service,metric,value\n2026-01-05T10:00:00Z,checkout-api,requests,5\n"
                    "2026-01-05T10:01:00Z,checkout-api,requests,5,9\n")
    with pytest.raises(InputError) as caught:
        ingest_paths(Workspace(workspace), [path], now=NOW)
    assert caught.value.line == 3 and "Expected 4 columns, got 5" in str(caught.value)
