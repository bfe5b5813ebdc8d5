"""Wide Parquet files whose keys the reader proves distinct skip the store's check of the rows
just written: the stored rows must be those of the exact check, whatever the file's order, and
names that differ only before trimming (or a missing endpoint beside an empty one) still repeat
a key, so the last row wins."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from perfops.ingest.parquet_keys import proven_bounds
from perfops.store import open_store
from perfops.workspace import Workspace

TIMES = pd.date_range("2026-01-05T10:00:00", periods=4, freq="5min")


def series_by_series() -> pd.DataFrame:
    """The usual export: one run per (service, endpoint), times ascending."""
    return pd.DataFrame({"timestamp": np.tile(TIMES, 2), "service": ["payments"] * 4 + ["checkout-api"] * 4,
                         "endpoint": ["GET /pay"] * 4 + [""] * 4, "requests": np.arange(8.0),
                         "errors": [0.0, np.nan, 1.0, 2.0, 3.0, 4.0, np.nan, 5.0]})


def stored(ws: Path) -> list[tuple]:
    with open_store(Workspace(ws).store_path) as store:
        frame = store.telemetry.load()
    return sorted(map(tuple, frame.itertuples(index=False)))


def bounds_of(path: Path):
    return proven_bounds(path, pq.read_schema(path), ["errors", "requests"])


def test_a_series_by_series_export_is_proven_with_the_bounds_of_its_rows(tmp_path):
    path = tmp_path / "w.parquet"
    series_by_series().to_parquet(path, index=False)
    proven = bounds_of(path)
    assert proven is not None
    assert proven.services == ("checkout-api", "payments") and proven.endpoints == ("", "GET /pay")
    assert proven.consumers == ("", "") and proven.metrics == ("errors", "requests")
    assert proven.times == (TIMES[0].to_pydatetime(), TIMES[-1].to_pydatetime())


def test_any_order_stores_the_same_rows_proven_or_not(workspace, cli, tmp_path):
    frame = series_by_series()
    in_time_order = frame.sort_values(["timestamp", "service"], kind="stable")
    in_time_order.to_parquet(workspace / "by-time.parquet", index=False)
    frame.to_parquet(workspace / "by-series.parquet", index=False)
    assert bounds_of(workspace / "by-time.parquet") is None  # each series in several runs: not proven
    assert cli("ingest", str(workspace / "by-time.parquet"), workspace=workspace).code == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "perfops.yaml").write_text((workspace / "perfops.yaml").read_text())
    assert cli("ingest", str(workspace / "by-series.parquet"), workspace=other).code == 0
    assert stored(workspace) == stored(other)
    assert len(stored(other)) == 14


@pytest.mark.parametrize(("column", "first", "last"), [
    ("service", " payments", "payments"),
    ("endpoint", None, ""),
    ("endpoint", "GET /pay\u00a0", "GET /pay"),  # a no-break space: trimmed by the store
])
def test_keys_equal_once_stored_repeat_and_the_last_row_wins(workspace, cli, column, first, last):
    frame = pd.DataFrame({"timestamp": [TIMES[0], TIMES[1], TIMES[0]], "service": ["payments"] * 3,
                          "endpoint": ["GET /pay"] * 3, "requests": [1.0, 2.0, 3.0]})
    frame[column] = frame[column].astype(object)
    frame.loc[0, column], frame.loc[2, column] = first, last
    frame.loc[1, column] = last
    path = workspace / "w.parquet"
    frame.to_parquet(path, index=False)
    assert bounds_of(path) is None
    assert cli("ingest", str(path), workspace=workspace).code == 0
    rows = stored(workspace)
    assert [(r[0], r[-1]) for r in rows] == [(TIMES[0], 3.0), (TIMES[1], 2.0)]


def test_a_proven_file_over_stored_rows_replaces_only_the_keys_it_repeats(workspace, cli):
    series_by_series().to_parquet(workspace / "a.parquet", index=False)
    later = series_by_series().iloc[2:4].assign(requests=[70.0, 80.0], errors=np.nan)
    later.to_parquet(workspace / "b.parquet", index=False)
    assert bounds_of(workspace / "b.parquet") is not None
    assert cli("ingest", str(workspace / "a.parquet"), workspace=workspace).code == 0
    assert cli("ingest", str(workspace / "b.parquet"), workspace=workspace).code == 0
    rows = stored(workspace)
    pay = [r[-1] for r in rows if r[2] == "GET /pay" and r[4] == "requests"]
    assert pay == [0.0, 1.0, 70.0, 80.0]
    assert [r[-1] for r in rows if r[2] == "GET /pay" and r[4] == "errors"] == [0.0, 1.0, 2.0]
    assert len(rows) == 14


@pytest.mark.parametrize(("order", "proven"), [
    ("series by series", True),
    ("a series again after another", False),
    ("a time repeated across a batch boundary", False),
])
def test_the_proof_holds_across_the_batches_it_reads(workspace, cli, monkeypatch, order, proven):
    from perfops.ingest import parquet_keys

    monkeypatch.setattr(parquet_keys, "_BATCH_ROWS", 3)  # boundaries inside runs and between them
    frame = series_by_series()
    if order == "a series again after another":
        frame = pd.concat([frame, frame.iloc[[1]].assign(timestamp=TIMES[-1] + pd.Timedelta("5min"))])
    elif order == "a time repeated across a batch boundary":
        frame = pd.concat([frame.iloc[:3], frame.iloc[[2]].assign(requests=99.0), frame.iloc[3:]])
    path = workspace / "w.parquet"
    frame.to_parquet(path, index=False)
    assert (bounds_of(path) is not None) == proven
    assert cli("ingest", str(path), workspace=workspace).code == 0
    rows = stored(workspace)
    assert len(rows) == len({r[:5] for r in rows})  # no key twice
    if order == "a time repeated across a batch boundary":
        assert [r[-1] for r in rows if r[2] == "GET /pay" and r[4] == "requests"] == [0.0, 1.0, 99.0, 3.0]
