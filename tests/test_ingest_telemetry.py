"""Ingest of telemetry and events: formats, timestamps, idempotency, atomicity, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from perfops.store import open_store
from perfops.workspace import Workspace

LONG = (
    "timestamp,service,endpoint,consumer,metric,value\n"
    "2026-01-05T10:00:00Z,checkout-api,GET /cart,,requests,120\n"
    "2026-01-05T11:05:00+01:00,checkout-api,GET /cart,,latency_p95_ms,210.5\n"
    "1767607500,checkout-api,,,cpu_pct,41\n"
    "1767607500000,payments,,,errors,2\n"
    "2026-01-05 10:05:00,payments,,partner-acme,requests,7\n"
)


def stored(ws: Path) -> pd.DataFrame:
    with open_store(Workspace(ws).store_path) as store:
        return store.telemetry.load()


def snapshot(ws: Path) -> tuple[int, int]:
    with open_store(Workspace(ws).store_path) as store:
        return store.telemetry.snapshot()


def test_long_form_with_mixed_timestamp_forms_all_land_in_utc(workspace, cli):
    (workspace / "t.csv").write_text(LONG)
    result = cli("ingest", str(workspace / "t.csv"), workspace=workspace)
    assert result.code == 0, result
    frame = stored(workspace)
    assert len(frame) == 5
    times = set(frame["timestamp"].astype(str))
    # 11:05+01:00 is 10:05Z; epoch s 1767607500 and ms 1767607500000 are 2026-01-05 10:05 UTC
    assert times == {"2026-01-05 10:00:00", "2026-01-05 10:05:00"}
    assert set(frame["consumer"]) == {"", "partner-acme"}


def test_wide_form_becomes_long(workspace, cli):
    (workspace / "w.csv").write_text(
        "timestamp,service,endpoint,requests,errors,latency_p95_ms\n"
        "2026-01-05T10:00:00Z,checkout-api,GET /cart,100,1,250\n"
        "2026-01-05T10:05:00Z,checkout-api,GET /cart,90,,240\n"
    )
    assert cli("ingest", str(workspace / "w.csv"), workspace=workspace).code == 0
    frame = stored(workspace)
    assert len(frame) == 5  # an empty cell is "not measured", not zero
    assert frame.query("metric == 'latency_p95_ms'")["value"].tolist() == [250.0, 240.0]


def test_parquet_is_read_like_csv(workspace, cli):
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(["2026-01-05T10:00:00Z", "2026-01-05T10:05:00Z"]),
        "service": ["payments", "payments"], "metric": ["requests", "requests"], "value": [5.0, 6.0],
    })
    frame.to_parquet(workspace / "t.parquet")
    assert cli("ingest", str(workspace / "t.parquet"), workspace=workspace).code == 0
    assert stored(workspace)["value"].tolist() == [5.0, 6.0]


def test_the_same_file_twice_changes_nothing(workspace, cli):
    (workspace / "t.csv").write_text(LONG)
    cli("ingest", str(workspace / "t.csv"), workspace=workspace)
    before = snapshot(workspace)
    again = cli("ingest", str(workspace / "t.csv"), workspace=workspace)
    assert again.code == 0 and "already ingested" in again.out
    assert snapshot(workspace) == before


def test_overlapping_rows_from_another_file_are_deduplicated_newest_wins(workspace, cli):
    (workspace / "a.csv").write_text("timestamp,service,metric,value\n2026-01-05T10:00:00Z,payments,requests,5\n")
    (workspace / "b.csv").write_text(
        "timestamp,service,metric,value\n2026-01-05T10:00:00Z,payments,requests,6\n2026-01-05T10:05:00Z,payments,requests,7\n"
    )
    cli("ingest", str(workspace / "a.csv"), workspace=workspace)
    cli("ingest", str(workspace / "b.csv"), workspace=workspace)
    assert stored(workspace)["value"].tolist() == [6.0, 7.0]


BAD_ROWS = [
    ("2026-01-05T10:00:00Z,ledger,,,requests,1", "service: 'ledger' is not in perfops.yaml"),
    ("2026-01-05T10:00:00Z,payments,,,rps,1", "metric: 'rps' is unknown"),
    ("yesterday,payments,,,requests,1", "timestamp: 'yesterday' is not a time"),
    ("2026-01-05T10:00:00Z,payments,,,requests,ten", "value: 'ten' is not a finite number"),
    ("2026-01-05T10:00:00Z,payments,,,requests,-3", "is negative"),
    ("2026-01-05T10:00:00Z,payments,,,cpu_pct,140", "above 100 for cpu_pct"),
    ("2026-01-05T10:00:00Z,payments,,,latency_p95_ms,nan", "not a finite number"),
]


@pytest.mark.parametrize(("row", "message"), BAD_ROWS)
def test_a_bad_row_rejects_the_file_with_file_and_line_and_leaves_the_store(workspace, cli, row, message):
    (workspace / "good.csv").write_text(LONG)
    cli("ingest", str(workspace / "good.csv"), workspace=workspace)
    before = snapshot(workspace)
    bad = workspace / "bad.csv"
    bad.write_text(LONG.replace("2026-01-05", "2026-01-06") + row + "\n")
    result = cli("ingest", str(bad), workspace=workspace)
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert f"{bad}:7: " in lines[0] and message in lines[0]
    assert "Traceback" not in result.err
    assert snapshot(workspace) == before


def test_skip_bad_rows_loads_the_rest_and_lists_what_was_skipped(workspace, cli):
    bad = workspace / "bad.csv"
    bad.write_text(LONG + "2026-01-05T10:00:00Z,ledger,,,requests,1\n")
    result = cli("ingest", str(bad), "--skip-bad-rows", workspace=workspace)
    assert result.code == 0
    assert f"skipped {bad}:7: service: 'ledger'" in result.err
    assert len(stored(workspace)) == 5


def test_missing_columns_are_named(workspace, cli):
    (workspace / "t.csv").write_text("timestamp,service,metric\n2026-01-05T10:00:00Z,payments,requests\n")
    result = cli("ingest", str(workspace / "t.csv"), "--format", "telemetry", workspace=workspace)
    assert result.code == 1 and "unknown metric column(s) metric" in result.err


def test_unknown_wide_metric_column(workspace, cli):
    (workspace / "t.csv").write_text("timestamp,service,requests,rps\n2026-01-05T10:00:00Z,payments,1,2\n")
    result = cli("ingest", str(workspace / "t.csv"), workspace=workspace)
    assert result.code == 1 and "unknown metric column(s) rps" in result.err and ":1: header:" in result.err


def test_empty_and_unrecognised_files_are_clear_errors(workspace, cli):
    (workspace / "empty.csv").write_text("")
    assert "the file is empty" in cli("ingest", str(workspace / "empty.csv"), workspace=workspace).err
    (workspace / "x.txt").write_text("hello world\n")
    result = cli("ingest", str(workspace / "x.txt"), workspace=workspace)
    assert result.code == 1 and "could not tell the format" in result.err and "--format" in result.err


def test_missing_file_and_unknown_format(workspace, cli):
    assert "no such file" in cli("ingest", str(workspace / "nope.csv"), workspace=workspace).err
    (workspace / "t.csv").write_text(LONG)
    result = cli("ingest", str(workspace / "t.csv"), "--format", "excel", workspace=workspace)
    assert result.code == 1 and "unknown format 'excel'" in result.err


def test_events_are_loaded_and_validated(workspace, cli):
    events = workspace / "events.csv"
    events.write_text(
        "timestamp,service,type,version,description\n"
        "2026-01-05T09:00:00Z,payments,deploy,4.2.0,\"faster, safer\"\n"
        "2026-01-05T09:30:00Z,checkout-api,config,,pool size 20\n"
    )
    assert cli("ingest", str(events), workspace=workspace).code == 0
    with open_store(Workspace(workspace).store_path) as store:
        frame = store.telemetry.events()
    assert frame["version"].tolist() == ["4.2.0", ""] and frame["description"][0] == "faster, safer"
    bad = workspace / "bad_events.csv"
    bad.write_text("timestamp,service,type,version,description\n2026-01-05T09:00:00Z,payments,reboot,1,\n")
    result = cli("ingest", str(bad), workspace=workspace)
    assert result.code == 1 and f"{bad}:2: type: 'reboot' is unknown" in result.err


def test_hostile_strings_are_data_not_code(workspace, cli):
    (workspace / "t.csv").write_text(
        "timestamp,service,endpoint,metric,value\n"
        "2026-01-05T10:00:00Z,payments,\"GET /x'); DROP TABLE telemetry; --\",requests,1\n"
    )
    assert cli("ingest", str(workspace / "t.csv"), workspace=workspace).code == 0
    assert stored(workspace)["endpoint"].tolist() == ["GET /x'); DROP TABLE telemetry; --"]


def test_a_folder_is_ingested_file_by_file(workspace, cli):
    folder = workspace / "data"
    folder.mkdir()
    (folder / "t.csv").write_text(LONG)
    (folder / "e.csv").write_text("timestamp,service,type,version,description\n2026-01-05T09:00:00Z,payments,deploy,1,\n")
    result = cli("ingest", str(folder), workspace=workspace)
    assert result.code == 0 and "as telemetry" in result.out and "as events" in result.out


def test_files_of_other_services_over_the_same_hours_do_not_replace_each_other(workspace, cli):
    (workspace / "a.csv").write_text("timestamp,service,metric,value\n2026-01-05T10:00:00Z,payments,requests,5\n")
    (workspace / "b.csv").write_text("timestamp,service,metric,value\n2026-01-05T10:00:00Z,checkout-api,requests,6\n")
    cli("ingest", str(workspace / "a.csv"), workspace=workspace)
    cli("ingest", str(workspace / "b.csv"), workspace=workspace)
    frame = stored(workspace)
    assert sorted(zip(frame["service"], frame["value"], strict=True)) == [("checkout-api", 6.0), ("payments", 5.0)]


def test_the_last_row_of_a_big_csv_wins_whatever_the_engine_reads_in_parallel(workspace, cli):
    """A file big enough (≈ 24 MB) for the store's engine to read in parallel pieces: its rows
    must still land in file order, so that of each key, written once in the first half of the
    file and again in the second, the second row wins."""
    half = 250_000
    minutes = np.datetime64("2026-01-05T00:00") + np.arange(half).astype("timedelta64[m]")
    minute = [f"{t}:00Z" for t in np.datetime_as_string(minutes)]
    body = "".join(f"{minute[i % half]},payments,requests,{i}\n" for i in range(2 * half))
    (workspace / "big.csv").write_text("timestamp,service,metric,value\n" + body)
    result = cli("ingest", str(workspace / "big.csv"), workspace=workspace)
    assert result.code == 0, result.err
    frame = stored(workspace)
    assert len(frame) == half and frame["value"].min() == half


def test_an_unrecognised_csv_says_what_a_telemetry_csv_needs(workspace, cli):
    (workspace / "grafana.csv").write_text('"Time","web requests"\n2026-11-01 00:00:00,12\n')
    result = cli("ingest", str(workspace / "grafana.csv"), workspace=workspace)
    assert result.code == 1 and "could not tell the format" in result.err
    assert "timestamp, service, metric, value" in result.err and "docs/formats/telemetry.md" in result.err


def test_a_misspelt_service_gets_the_nearest_name(workspace, cli):
    (workspace / "t.csv").write_text("timestamp,service,metric,value\n2026-01-05T10:00:00Z,paymnts,requests,1\n")
    result = cli("ingest", str(workspace / "t.csv"), workspace=workspace)
    assert result.code == 1 and ":2:" in result.err and "did you mean 'payments'?" in result.err


@pytest.mark.parametrize("header", ["Time,service,metric,value", '"Time","service","requests"'])
def test_a_grafana_style_time_column_is_the_timestamp(workspace, cli, header):
    row = "2026-01-05 10:00:00,payments,requests,12" if "metric" in header else "2026-01-05 10:00:00,payments,12"
    (workspace / "export.csv").write_text(f"{header}\n{row}\n")
    result = cli("ingest", str(workspace / "export.csv"), workspace=workspace)
    assert result.code == 0, result
    with open_store(Workspace(workspace).store_path) as store:
        frame = store.telemetry.load()
    assert frame[["service", "metric", "value"]].values.tolist() == [["payments", "requests", 12.0]]
    assert str(frame["timestamp"].iloc[0]) == "2026-01-05 10:00:00"
