"""Wide Parquet telemetry: the store's engine reads and unpivots it in one pass (the bulk plan);
what lands must be exactly what the reader's own pass (`read`) makes of the same file, bad rows
must reject the whole file naming file, line and field, and repeated keys keep the last row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfops.ingest import telemetry
from perfops.ingest.base import IngestOptions
from perfops.store import open_store
from perfops.workspace import Workspace

TIMES = pd.date_range("2026-01-05T10:00:00", periods=4, freq="5min")


def wide(**columns: object) -> pd.DataFrame:
    base: dict[str, object] = {"timestamp": np.tile(TIMES, 2), "service": ["payments"] * 4 + ["checkout-api"] * 4,
                               "endpoint": ["GET /pay"] * 4 + [""] * 4}
    base.update(columns)
    return pd.DataFrame(base)


def stored(ws: Path) -> pd.DataFrame:
    with open_store(Workspace(ws).store_path) as store:
        return store.telemetry.load()


def canonical(frame: pd.DataFrame) -> list[tuple]:
    frame = frame.assign(timestamp=pd.to_datetime(frame["timestamp"]).astype("datetime64[us]"))
    return sorted(map(tuple, frame[["timestamp", "service", "endpoint", "consumer", "metric", "value"]].itertuples(
        index=False)))


FRAMES = {
    "floats with empty cells": wide(requests=[1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0],
                                    latency_p95_ms=[np.nan, 210.5, 220.0, 230.0, 1.0, 2.0, 3.0, np.nan]),
    "integers and a percentage": wide(requests=np.arange(8), cpu_pct=[0.0, 1.5, 50.0, 100.0, 99.0, 3.0, 4.0, 5.0]),
    "with consumers": wide(consumer=["partner-acme", ""] * 4, errors=np.arange(8) / 2),
    "epoch seconds": wide(requests=np.arange(8.0)).assign(timestamp=lambda f: f["timestamp"].astype("int64") // 10**9),
    "zoned times": wide(requests=np.arange(8.0)).assign(timestamp=lambda f: f["timestamp"].dt.tz_localize("Europe/Paris")),
    "no endpoint column": wide(instances=np.full(8, 4)).drop(columns=["endpoint"]),
}


@pytest.mark.parametrize("name", FRAMES)
def test_the_bulk_plan_stores_what_the_reader_reads(workspace, cli, small_catalog, name):
    path = workspace / "w.parquet"
    FRAMES[name].to_parquet(path, index=False)
    plans = telemetry.bulk_plan(path, IngestOptions(catalog=small_catalog))
    assert plans and len(plans) == 1  # the fast path is taken, not the fallback
    expected = telemetry.read(path, IngestOptions(catalog=small_catalog)).telemetry.to_pandas()
    assert cli("ingest", str(path), workspace=workspace).code == 0
    assert canonical(stored(workspace)) == canonical(expected)


def test_text_metric_columns_take_the_readers_pass(workspace, cli, small_catalog):
    path = workspace / "w.parquet"
    wide(requests=["1", "", "3", "4", "5", "6", "7", "8"]).to_parquet(path, index=False)
    assert telemetry.bulk_plan(path, IngestOptions(catalog=small_catalog)) is None
    assert cli("ingest", str(path), workspace=workspace).code == 0
    assert len(stored(workspace)) == 7


BAD = [
    ("service", wide(requests=np.arange(8.0)).assign(service=["payments"] * 7 + ["ledger"]), 8,
     "service: 'ledger' is not in perfops.yaml"),
    ("negative", wide(requests=[1.0, 2.0, -3.0, 4.0, 5.0, 6.0, 7.0, 8.0]), 3, "is negative"),
    ("percent", wide(requests=np.arange(8.0), cpu_pct=[1.0] * 5 + [140.0, 1.0, 1.0]), 6, "above 100 for cpu_pct"),
    ("infinite", wide(latency_p95_ms=[1.0] * 7 + [np.inf]), 8, "not a finite number"),
]


@pytest.mark.parametrize(("name", "frame", "row", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_row_rejects_the_whole_file_and_names_it(workspace, cli, name, frame, row, message):
    good = workspace / "good.parquet"
    wide(requests=np.arange(8.0)).assign(timestamp=lambda f: f["timestamp"] - pd.Timedelta(days=1)).to_parquet(good)
    assert cli("ingest", str(good), workspace=workspace).code == 0
    before = stored(workspace)
    bad = workspace / "bad.parquet"
    frame.to_parquet(bad, index=False)
    result = cli("ingest", str(bad), workspace=workspace)
    assert result.code == 1 and "Traceback" not in result.err
    assert f"{bad}:{row}: " in result.err and message in result.err
    pd.testing.assert_frame_equal(stored(workspace), before)


def test_a_key_repeated_in_a_file_and_across_files_keeps_the_last_row(workspace, cli):
    first = wide(requests=np.arange(8.0))
    repeated = pd.concat([first, first.iloc[[1]].assign(requests=50.0)], ignore_index=True)
    repeated.to_parquet(workspace / "a.parquet", index=False)
    first.iloc[[2]].assign(requests=70.0, errors=1.0).to_parquet(workspace / "b.parquet", index=False)
    assert cli("ingest", str(workspace / "a.parquet"), workspace=workspace).code == 0
    assert stored(workspace).query("endpoint == 'GET /pay'")["value"].tolist() == [0.0, 50.0, 2.0, 3.0]
    assert cli("ingest", str(workspace / "b.parquet"), workspace=workspace).code == 0
    frame = stored(workspace).query("endpoint == 'GET /pay'")
    assert frame.query("metric == 'requests'")["value"].tolist() == [0.0, 50.0, 70.0, 3.0]
    assert frame.query("metric == 'errors'")["value"].tolist() == [1.0]
    assert len(stored(workspace)) == 9


def test_the_last_row_of_a_big_file_wins_whatever_the_engine_reads_in_parallel(workspace, cli):
    """The store's engine reads row groups in parallel; the rows must still land in file order,
    or a key repeated far apart in one file could keep an older row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 200_000
    times = pd.Timestamp("2026-01-05") + pd.to_timedelta(np.arange(n) % 50_000 * 60, unit="s")
    frame = pd.DataFrame({"timestamp": times, "service": np.where(np.arange(n) < 100_000, "payments", "checkout-api"),
                          "requests": np.arange(n, dtype=float)})
    frame.loc[::10_000, "timestamp"] = pd.Timestamp("2025-12-31")  # one key, repeated in every row group
    frame.loc[::10_000, "service"] = "payments"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), workspace / "big.parquet", row_group_size=10_000)
    assert cli("ingest", str(workspace / "big.parquet"), workspace=workspace).code == 0
    with open_store(Workspace(workspace).store_path) as store:
        kept = store.telemetry.load(start=pd.Timestamp("2025-12-31"), end=pd.Timestamp("2026-01-01"))
    assert kept["value"].tolist() == [190_000.0]


def test_a_file_loaded_by_the_engine_reports_its_progress(workspace):
    from perfops.usecases.ingest import ingest_paths

    path = workspace / "w.parquet"
    wide(requests=np.arange(8.0)).to_parquet(path, index=False)
    seen: list[tuple[str, int, int]] = []
    (result,) = ingest_paths(Workspace(workspace), [path], progress=lambda *args: seen.append(args))
    size = path.stat().st_size
    assert result.rows == 8 and seen == [("w.parquet", 0, size), ("w.parquet", size, size)]
