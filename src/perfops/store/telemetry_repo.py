"""Telemetry and events: writing canonical tables, and the named read queries analyses use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import pandas as pd

from perfops.model.tables import EVENT_COLUMNS, TELEMETRY_COLUMNS


class TelemetryRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # ---- writes (call inside Store.transaction) ---------------------------------
    def upsert(self, frame: pd.DataFrame | object) -> int:
        """Insert rows; a row whose key (timestamp, service, endpoint, consumer, metric) is
        already stored replaces it, so overlapping files de-duplicate and the newest wins."""
        self.con.register("incoming_telemetry", frame)
        try:
            cols = ", ".join(TELEMETRY_COLUMNS)
            self.con.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS staged AS SELECT {cols} FROM telemetry LIMIT 0;"
                "DELETE FROM staged;"
                f"INSERT INTO staged SELECT {cols} FROM incoming_telemetry;"
            )
            self.con.execute(
                "DELETE FROM telemetry t USING (SELECT DISTINCT timestamp, service, endpoint, consumer, metric "
                "FROM staged) s WHERE t.timestamp = s.timestamp AND t.service = s.service "
                "AND t.endpoint = s.endpoint AND t.consumer = s.consumer AND t.metric = s.metric"
            )
            # within one file the last row of a key wins, as it would on a replay of the file
            self.con.execute(
                f"INSERT INTO telemetry SELECT {cols} FROM staged "
                "QUALIFY row_number() OVER (PARTITION BY timestamp, service, endpoint, consumer, metric) = 1"
            )
            count = self.con.execute("SELECT count(*) FROM staged").fetchone()
            self.con.execute("DROP TABLE staged")
        finally:
            self.con.unregister("incoming_telemetry")
        return int(count[0]) if count else 0

    def insert_events(self, frame: pd.DataFrame) -> int:
        self.con.register("incoming_events", frame)
        try:
            cols = ", ".join(EVENT_COLUMNS)
            self.con.execute(
                f"INSERT INTO events SELECT DISTINCT {cols} FROM incoming_events i WHERE NOT EXISTS ("
                "SELECT 1 FROM events e WHERE e.timestamp = i.timestamp AND e.service = i.service "
                "AND e.type = i.type AND e.version = i.version)"
            )
        finally:
            self.con.unregister("incoming_events")
        return len(frame)

    # ---- reads -------------------------------------------------------------------
    def time_range(self) -> tuple[datetime | None, datetime | None]:
        row = self.con.execute("SELECT min(timestamp), max(timestamp) FROM telemetry").fetchone()
        return (row[0], row[1]) if row else (None, None)

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM telemetry").fetchone()
        return int(row[0]) if row else 0

    def services(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT service FROM telemetry ORDER BY 1").fetchall()]

    def load(
        self,
        *,
        services: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        metrics: Sequence[str] | None = None,
        endpoint: str | None = None,
        consumers: bool | None = None,
    ) -> pd.DataFrame:
        """Long-form telemetry in [start, end), ordered by series then time.

        consumers: None = all rows; False = only rows for all consumers (consumer = '');
        True = only per-consumer rows.
        """
        where, params = ["1=1"], []
        if services is not None:
            where.append("service IN (SELECT unnest(?))")
            params.append(list(services))
        if metrics is not None:
            where.append("metric IN (SELECT unnest(?))")
            params.append(list(metrics))
        if start is not None:
            where.append("timestamp >= ?")
            params.append(start)
        if end is not None:
            where.append("timestamp < ?")
            params.append(end)
        if endpoint is not None:
            where.append("endpoint = ?")
            params.append(endpoint)
        if consumers is False:
            where.append("consumer = ''")
        elif consumers is True:
            where.append("consumer <> ''")
        sql = (
            f"SELECT {', '.join(TELEMETRY_COLUMNS)} FROM telemetry WHERE {' AND '.join(where)} "
            "ORDER BY service, endpoint, consumer, metric, timestamp"
        )
        return self.con.execute(sql, params).df()

    def events(self, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        where, params = ["1=1"], []
        if start is not None:
            where.append("timestamp >= ?")
            params.append(start)
        if end is not None:
            where.append("timestamp < ?")
            params.append(end)
        sql = f"SELECT * FROM events WHERE {' AND '.join(where)} ORDER BY timestamp"
        return self.con.execute(sql, params).df()

    def snapshot(self) -> tuple[int, int]:
        """(telemetry rows, event rows): tests use it to prove a failed ingest changed nothing."""
        row = self.con.execute("SELECT (SELECT count(*) FROM telemetry), (SELECT count(*) FROM events)").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)
