"""Telemetry and events: writing canonical tables, and the named read queries analyses use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from perfops.model.plans import BulkPlan

if TYPE_CHECKING:  # pandas and pyarrow load only when telemetry moves (keeps `findings` quick)
    import pandas as pd
    import pyarrow as pa
from perfops.model.tables import EVENT_COLUMNS, METRICS, TELEMETRY_COLUMNS

_KEY = "timestamp, service, endpoint, consumer, metric"


class TelemetryRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # ---- writes (call inside Store.transaction) ---------------------------------
    def upsert(self, frame: pd.DataFrame | pa.Table) -> int:
        """Insert canonical rows; where a key (timestamp, service, endpoint, consumer, metric)
        repeats, the newest row wins (see _keep_newest)."""
        import pyarrow as pa

        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
        self.con.register("incoming_telemetry", table)
        try:
            return self._append(f"SELECT {', '.join(TELEMETRY_COLUMNS)} FROM incoming_telemetry", {})
        finally:
            self.con.unregister("incoming_telemetry")

    def insert_plan(self, plan: BulkPlan) -> int:
        """Run a reader's bulk plan: DuckDB parses and checks the file in one parallel pass.
        A failed check raises (the caller rolls back and asks the reader for the exact line)."""
        from perfops.store.database import StoreRejected

        try:
            return self._append(plan.select_sql, plan.params)
        except duckdb.Error as exc:
            raise StoreRejected(str(exc)) from exc

    def _append(self, select_sql: str, params: dict[str, object]) -> int:
        """Append, then make the newest row win per key. One scan of the new rows tells their
        time range and whether a key repeats among them; a probe on the zone maps tells whether
        older rows share that range. Only then is the (costlier) de-duplication run."""
        # fetchall, not fetchone: DuckDB keeps a half-read result open, which blocks unregister
        (mark,) = self.con.execute("SELECT coalesce(max(rowid), -1) FROM telemetry").fetchall()[0]
        (rows,) = self.con.execute(f"INSERT INTO telemetry {select_sql}", params).fetchall()[0]
        if not rows:
            return 0
        distinct, lo, hi, services = self.con.execute(
            f"SELECT count(DISTINCT hash({_KEY})), min(timestamp), max(timestamp), list(DISTINCT service) "
            "FROM telemetry WHERE rowid > ?", [mark],
        ).fetchall()[0]
        overlap = self.con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM telemetry WHERE rowid <= ? AND timestamp BETWEEN ? AND ? "
            "AND service IN (SELECT unnest(?)) LIMIT 1)", [mark, lo, hi, services],
        ).fetchall()[0][0]
        if distinct < rows or overlap:
            self._keep_newest(lo, hi, services)
        return int(rows)

    def _keep_newest(self, lo: object, hi: object, services: list[str]) -> None:
        """Newest row wins per key among the services and time range just written: the last row
        of a file, the last file ingested (appends get increasing rowids). Limiting the scan to
        those services keeps ingest linear when many files each cover the whole history."""
        self.con.execute(
            f"DELETE FROM telemetry WHERE rowid IN (SELECT rowid FROM (SELECT rowid, row_number() OVER ("
            f"PARTITION BY {_KEY} ORDER BY rowid DESC) AS rank FROM telemetry WHERE timestamp BETWEEN ? AND ? "
            "AND service IN (SELECT unnest(?))) WHERE rank > 1)", [lo, hi, services]
        ).fetchall()

    def insert_events(self, frame: pd.DataFrame) -> int:
        self.con.register("incoming_events", frame)
        try:
            cols = ", ".join(EVENT_COLUMNS)
            self.con.execute(
                f"INSERT INTO events SELECT DISTINCT {cols} FROM incoming_events i WHERE NOT EXISTS ("
                "SELECT 1 FROM events e WHERE e.timestamp = i.timestamp AND e.service = i.service "
                "AND e.type = i.type AND e.version = i.version)"
            ).fetchall()
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

    def rollup(self, services: Sequence[str] | None, metrics: Sequence[str], start: datetime, end: datetime,
               bucket_seconds: int) -> pd.DataFrame:
        """Whole-service values per time bucket, all consumers (see rollup_query)."""
        return rollup_query(self.con, services, metrics, start, end, bucket_seconds)

    def inventory(self) -> pd.DataFrame:
        """What telemetry each service has: (service, endpoint, metric, rows, first, last)."""
        return self.con.execute(
            "SELECT service, endpoint, metric, count(*) AS rows, min(timestamp) AS first, max(timestamp) AS last "
            "FROM telemetry WHERE consumer = '' GROUP BY ALL"
        ).df()

    def snapshot(self) -> tuple[int, int]:
        """(telemetry rows, event rows): tests use it to prove a failed ingest changed nothing."""
        row = self.con.execute("SELECT (SELECT count(*) FROM telemetry), (SELECT count(*) FROM events)").fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)


_COUNTS = ("requests", "errors", "client_errors", "cost")

_ROLLUP_SQL = """
WITH per_endpoint AS (
  SELECT time_bucket(to_seconds(?::BIGINT), timestamp, ?::TIMESTAMP) AS bucket, service, endpoint, {inner}
  FROM telemetry
  WHERE consumer = '' AND metric IN (SELECT unnest(?)) AND timestamp >= ? AND timestamp < ? {services}
  GROUP BY ALL
)
SELECT bucket, service, {outer} FROM per_endpoint GROUP BY ALL
"""


def _rollup_columns(metrics: Sequence[str]) -> tuple[str, str]:
    """Per metric: the per-endpoint aggregate (sum for counts, mean otherwise) and the
    whole-service value (the service's own rows when present, else summed or request-weighted
    over endpoints). Metric names are checked against the canonical list before use in SQL."""
    inner, outer = [], []
    for i, metric in enumerate(metrics):
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        agg = "sum" if metric in _COUNTS else "avg"
        inner.append(f"{agg}(value) FILTER (WHERE metric = '{metric}') AS m{i}")
        whole = f"max(m{i}) FILTER (WHERE endpoint = '')"
        if metric in _COUNTS:
            parts = f"sum(m{i}) FILTER (WHERE endpoint <> '')"
        else:
            parts = (f"coalesce(sum(m{i} * r) FILTER (WHERE endpoint <> '' AND r > 0) / "
                     f"nullif(sum(r) FILTER (WHERE endpoint <> '' AND r > 0 AND m{i} IS NOT NULL), 0), "
                     f"avg(m{i}) FILTER (WHERE endpoint <> ''))")
        outer.append(f"coalesce({whole}, {parts}) AS m{i}")
    inner.append("sum(value) FILTER (WHERE metric = 'requests') AS r")
    return ", ".join(inner), ", ".join(outer)


def rollup_query(con: duckdb.DuckDBPyConnection, services: Sequence[str] | None, metrics: Sequence[str],
                 start: datetime, end: datetime, bucket_seconds: int) -> pd.DataFrame:
    """Whole-service values per bucket (all consumers): counts and cost summed over endpoints;
    latencies and utilisations request-weighted over endpoints, unless the service sends its own
    whole-service rows (endpoint ''), which are used as they are. Buckets are aligned on `end`,
    so the last bucket ends exactly at `end`. Columns: bucket, service, metric, value."""
    metrics = list(metrics)
    wanted = sorted(set(metrics) | {"requests"})
    inner, outer = _rollup_columns(wanted)
    params: list[Any] = [int(bucket_seconds), end, wanted, start, end]
    clause = ""
    if services is not None:
        clause = "AND service IN (SELECT unnest(?))"
        params.append(list(services))
    sql = _ROLLUP_SQL.format(inner=inner, outer=outer, services=clause)
    wide = con.execute(sql, params).df()
    if wide.empty:
        import pandas as pd

        return pd.DataFrame(columns=["bucket", "service", "metric", "value"])
    wide = wide.rename(columns={f"m{i}": m for i, m in enumerate(wanted)})
    long = wide.melt(id_vars=["bucket", "service"], value_vars=metrics, var_name="metric", value_name="value")
    return long.dropna(subset=["value"]).reset_index(drop=True)
