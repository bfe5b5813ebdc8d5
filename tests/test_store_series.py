"""Telemetry stored as series and integer-keyed points (migration 5): a store of the older
layout is migrated with every row kept, read-only openers included; reads by series id give the
frame the long rows give; retention leaves no series without points."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from perfops.store import open_store
from perfops.store.database import schema_version
from perfops.store.migrations import MIGRATIONS
from perfops.store.telemetry_repo import sorted_categorical_frame

T0 = datetime(2026, 11, 2)
TEXTS = ("service", "endpoint", "consumer", "metric")


def long_rows(seed: int = 1) -> pd.DataFrame:
    """Shuffled rows of a few series, with non-ASCII names whose byte order differs from a naive one."""
    rng = np.random.default_rng(seed)
    rows = []
    for service in ("b-svc", "a-svc", "Zeta", "é-svc", "a-svc2"):
        for endpoint in ("", "GET /x", "ä"):
            for consumer in ("", "mobile"):
                for metric in ("requests", "latency_p95_ms"):
                    if rng.random() < 0.3:
                        continue
                    steps = np.sort(rng.choice(300, int(rng.integers(1, 30)), replace=False))
                    rows += [(T0 + timedelta(minutes=5 * int(k)), service, endpoint, consumer, metric,
                              float(rng.random())) for k in steps]
    frame = pd.DataFrame(rows, columns=["timestamp", *TEXTS, "value"])
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_a_store_of_the_older_layout_keeps_every_row_and_reads_the_same(tmp_path):
    path = tmp_path / "perfops.duckdb"
    frame = long_rows()
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        con.execute(script)
        con.execute("INSERT INTO schema_version VALUES (?)", [number])
    con.register("incoming", frame)
    con.execute("INSERT INTO telemetry SELECT * FROM incoming")
    expected = sorted_categorical_frame(con.sql("SELECT * FROM telemetry").to_arrow_table())
    con.close()

    with open_store(path, read_only=True) as store:  # a reader first: `report` after an upgrade
        assert schema_version(store.con) == len(MIGRATIONS)
        pd.testing.assert_frame_equal(store.telemetry.load(categorical=True), expected, check_exact=True)
        assert store.telemetry.count() == len(frame)
        (series,) = store.con.execute("SELECT count(*) FROM series").fetchone()
        assert series == len(frame.drop_duplicates(list(TEXTS)))


def test_reads_by_series_id_give_the_frame_of_the_long_rows():
    frame = long_rows(seed=2)
    with open_store(None) as store:
        with store.transaction():  # two writes: the second adds series and points to the first's
            store.telemetry.upsert(frame.iloc[: len(frame) // 2])
        with store.transaction():
            store.telemetry.upsert(frame.iloc[len(frame) // 2:])
        for query, where, params in [
            ({}, "1=1", []),
            ({"services": ["a-svc", "é-svc"]}, "service IN ('a-svc', 'é-svc')", []),
            ({"metrics": ["requests"], "consumers": False}, "metric = 'requests' AND consumer = ''", []),
            ({"consumers": True, "start": T0 + timedelta(hours=3), "end": T0 + timedelta(hours=20)},
             "consumer <> '' AND timestamp >= ? AND timestamp < ?", [T0 + timedelta(hours=3), T0 + timedelta(hours=20)]),
            ({"endpoint": "ä"}, "endpoint = 'ä'", []),
            ({"services": ["none-such"]}, "service = 'none-such'", []),
        ]:
            expected = sorted_categorical_frame(
                store.con.sql(f"SELECT * FROM telemetry WHERE {where}", params=params).to_arrow_table())
            got = store.telemetry.load(categorical=True, **query)
            pd.testing.assert_frame_equal(got, expected, check_exact=True)
            assert len(got) > 0 or query == {"services": ["none-such"]}

def test_retention_leaves_no_series_without_points():
    old = pd.DataFrame({"timestamp": [T0, T0 + timedelta(minutes=5)], "service": ["gone", "kept"],
                        "endpoint": "", "consumer": "", "metric": "requests", "value": [1.0, 2.0]})
    new = old.assign(timestamp=T0 + timedelta(days=40), service="kept")
    with open_store(None) as store:
        with store.transaction():
            store.telemetry.upsert(pd.concat([old, new.iloc[:1]]))
        assert store.telemetry.services() == ["gone", "kept"]
        with store.transaction():
            store.retention.apply(T0 + timedelta(days=30), T0 - timedelta(days=1))
        assert store.telemetry.services() == ["kept"]
        assert store.telemetry.inventory()["service"].tolist() == ["kept"]
