"""Telemetry and events: writing canonical tables, and the named read queries analyses use."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np

from perfops.model.plans import BulkPlan, KeyBounds

if TYPE_CHECKING:  # pandas and pyarrow load only when telemetry moves (keeps `findings` quick)
    import pandas as pd
    import pyarrow as pa
from perfops.model.tables import EVENT_COLUMNS, METRICS, TELEMETRY_COLUMNS
from perfops.store.rejected import StoreRejected

_KEY = "timestamp, service, endpoint, consumer, metric"
_SERIES = "service, endpoint, consumer, metric"
_SAME_KEY = " AND ".join(f"t.{k} = d.{k}" for k in _KEY.split(", "))  # t = telemetry, d = the other side
_SERIES_JOIN = (
    "JOIN incoming_series n ON t.service = n.service AND t.endpoint = n.endpoint AND t.consumer = n.consumer "
    "AND t.metric = n.metric"
)
# stored rows of the series just written, within each one's new time range (t = telemetry,
# n = incoming_series); the constant bounds let the scan skip whole row groups by their zone maps
_IN_SCOPE = (
    f"{_SERIES_JOIN} WHERE t.service BETWEEN ? AND ? AND t.timestamp BETWEEN ? AND ? "
    "AND t.timestamp BETWEEN n.lo AND n.hi"
)
# The series of the rows appended after rowid ?: each one's time range, and its run of slots for
# TelemetryRepo._repeats_among_new (unit: the coarsest time unit all its times are multiples of).
_INCOMING_SERIES = f"""
CREATE OR REPLACE TEMP TABLE incoming_series AS
SELECT *, sum(slots) OVER (ORDER BY {_SERIES} ROWS UNBOUNDED PRECEDING) - slots AS first_slot
FROM (SELECT *, (epoch_us(hi) - epoch_us(lo)) // unit + 1 AS slots
      FROM (SELECT {_SERIES}, min(timestamp) AS lo, max(timestamp) AS hi,
                   CASE WHEN bool_and(epoch_us(timestamp) % 60000000 = 0) THEN 60000000
                        WHEN bool_and(epoch_us(timestamp) % 1000000 = 0) THEN 1000000
                        WHEN bool_and(epoch_us(timestamp) % 1000 = 0) THEN 1000 ELSE 1 END AS unit
            FROM telemetry WHERE rowid > ? GROUP BY ALL))
"""
_MAX_SLOTS = 1 << 28  # a 32 MB bit string


class TelemetryRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    # ---- writes (call inside Store.transaction) ---------------------------------
    def upsert(self, frame: pd.DataFrame | pa.Table) -> int:
        """Insert canonical rows; where a key (timestamp, service, endpoint, consumer, metric)
        repeats, the newest row wins (see _append)."""
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
        try:
            return self._append(plan.select_sql, plan.params, plan.distinct_keys)
        except duckdb.Error as exc:
            raise StoreRejected(str(exc)) from exc

    def _append(self, select_sql: str, params: dict[str, object], proven: KeyBounds | None = None) -> int:
        """Append, then make the newest row win per key, at a cost that follows the new rows, not
        the store: one pass over the new rows lists their series (service, endpoint, consumer,
        metric) with each one's time range and counts their distinct keys; a probe tells whether
        stored rows of those series share those ranges. The zone maps on `service` and
        `timestamp` confine the probe to the row groups of the new rows' services, so a file of
        new services costs nothing more. Only when a key repeats is the de-duplication run.

        `proven` (a reader's KeyBounds): no key repeats among the new rows, and when no stored
        row lies within the bounds no stored key can equal a new one: a probe of the zone maps
        alone, with no pass over the new rows (a 1,000-service ingest: a fifth of its CPU less).

        The new rows are those above the highest rowid before the insert: appends get increasing
        rowids in the order the select yields them. DuckDB keeps that order (its default
        preserve_insertion_order) only while the select has no join: readers' plans check names
        with ENUM casts, not IN (subquery), for that reason (see perfops.ingest.telemetry)."""
        mark = self._last_rowid()
        # fetchall, not fetchone: DuckDB keeps a half-read result open, which blocks unregister
        (rows,) = self.con.execute(f"INSERT INTO telemetry {select_sql}", params).fetchall()[0]
        if not rows:
            return 0
        if proven is not None and not self._stored_within(proven, mark):
            return int(rows)
        self.con.execute(_INCOMING_SERIES, [mark]).fetchall()
        try:
            bounds = self._incoming_bounds()
            if proven is None and self._repeats_among_new(mark, rows):
                self._drop_repeats_among_new(mark)
            if self._overlaps_stored(mark, bounds):
                self._drop_overwritten(mark, bounds)
        finally:
            self.con.execute("DROP TABLE IF EXISTS incoming_series").fetchall()
        return int(rows)

    def _last_rowid(self) -> int:
        """The highest rowid (-1: none), reading only the rows from the count on: n rows have
        distinct rowids from 0, so the highest is at least n - 1, and the scan skips the row
        groups below (max(rowid) over the whole table grew with the store: 4 % of an ingest)."""
        (count,) = self.con.execute("SELECT count(*) FROM telemetry").fetchall()[0]
        (last,) = self.con.execute(
            "SELECT coalesce(max(rowid), -1) FROM telemetry WHERE rowid >= ?", [max(int(count) - 1, 0)]).fetchall()[0]
        return int(last)

    def _stored_within(self, proven: KeyBounds, mark: int) -> bool:
        """Whether a stored row lies within every key column's bounds (the zone maps skip the row
        groups outside any of them without reading them)."""
        (found,) = self.con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM telemetry WHERE rowid <= ? AND service BETWEEN ? AND ? "
            "AND endpoint BETWEEN ? AND ? AND consumer BETWEEN ? AND ? AND metric BETWEEN ? AND ? "
            "AND timestamp BETWEEN ? AND ? LIMIT 1)",
            [mark, *proven.services, *proven.endpoints, *proven.consumers, *proven.metrics, *proven.times],
        ).fetchall()[0]
        return bool(found)

    def _incoming_bounds(self) -> list[object]:
        """[first service, last service, earliest time, latest time] of the new rows: constant
        filters the scans can check against each row group's zone map before reading it."""
        return list(self.con.execute(
            "SELECT min(service), max(service), min(lo), max(hi) FROM incoming_series").fetchall()[0])

    def _repeats_among_new(self, mark: int, rows: int) -> bool:
        """Whether a key repeats among the new rows, exactly, without a hash table of every key:
        each series owns a run of slots, one per time unit (the coarsest of minute, second,
        millisecond, microsecond that all its times are whole multiples of) between its first and
        last time; each row sets the bit of its slot; the keys are distinct exactly when as many
        bits are set as there are rows. Series spread too thinly for that (over _MAX_SLOTS
        slots) are counted the usual way."""
        (slots,) = self.con.execute("SELECT sum(slots) FROM incoming_series").fetchall()[0]
        if slots <= _MAX_SLOTS:
            (distinct,) = self.con.execute(
                "SELECT bit_count(bitstring_agg(n.first_slot + (epoch_us(t.timestamp) - epoch_us(n.lo)) // n.unit, "
                f"0, {int(slots) - 1})) FROM telemetry t {_SERIES_JOIN} WHERE t.rowid > ?", [mark],
            ).fetchall()[0]
        else:
            (distinct,) = self.con.execute(
                f"SELECT count(DISTINCT hash({_KEY})) FROM telemetry WHERE rowid > ?", [mark]).fetchall()[0]
        return bool(distinct < rows)  # a hash collision only costs an exact de-duplication

    def _overlaps_stored(self, mark: int, bounds: list[object]) -> bool:
        (found,) = self.con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM telemetry t {_IN_SCOPE} AND t.rowid <= ? LIMIT 1)",
            [*bounds, mark],
        ).fetchall()[0]
        return bool(found)

    def _drop_repeats_among_new(self, mark: int) -> None:
        """The last row of a write wins a key it repeats (appends get increasing rowids)."""
        self.con.execute(
            f"DELETE FROM telemetry t USING (SELECT {_KEY}, max(rowid) AS keep FROM telemetry WHERE rowid > ? "
            f"GROUP BY ALL HAVING count(*) > 1) d WHERE {_SAME_KEY} AND t.rowid > ? AND t.rowid < d.keep",
            [mark, mark],
        ).fetchall()

    def _drop_overwritten(self, mark: int, bounds: list[object]) -> None:
        """Stored rows whose key the new rows repeat give way (the store holds no repeated key
        before a write, and the new rows none after _drop_repeats_among_new). A join on the key,
        not a window over every row in range: correcting a 12 M-row file (100-service store)
        takes 3 CPU-s and 1.8 GB at peak this way, 16 CPU-s and 4.6 GB with the window."""
        self.con.execute(
            f"DELETE FROM telemetry t USING (SELECT {_KEY} FROM telemetry WHERE rowid > ?) d WHERE {_SAME_KEY} "
            "AND t.rowid <= ? AND t.service BETWEEN ? AND ? AND t.timestamp BETWEEN ? AND ?", [mark, mark, *bounds],
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
    def time_range(self, before: datetime | None = None) -> tuple[datetime | None, datetime | None]:
        """First and last telemetry time; `before` leaves out rows from that moment on."""
        where, params = ("WHERE timestamp < ?", [before]) if before is not None else ("", [])
        row = self.con.execute(f"SELECT min(timestamp), max(timestamp) FROM telemetry {where}", params).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def count_from(self, moment: datetime) -> int:
        """Telemetry rows at or after `moment`."""
        row = self.con.execute("SELECT count(*) FROM telemetry WHERE timestamp >= ?", [moment]).fetchone()
        return int(row[0]) if row else 0

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
        categorical: bool = False,
    ) -> pd.DataFrame:
        """Long-form telemetry in [start, end), ordered by series then time.

        consumers: None = all rows; False = only rows for all consumers (consumer = '');
        True = only per-consumer rows. categorical: the text columns as pandas categoricals (no
        Python string per row: a 20-service read takes 110 MB instead of 1.5 GB).
        """
        where: list[str] = ["1=1"]
        params: list[Any] = []
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
        sql = f"SELECT {', '.join(TELEMETRY_COLUMNS)} FROM telemetry WHERE {' AND '.join(where)}"
        # Through Arrow: its conversion makes one Python string per distinct value, not one per
        # row as .df() does (a 20-service chunk, 6 M rows: peak 1.5 GB instead of 2.4 GB, less CPU).
        # A relation cannot start while an execute() result is left half-read: finish that first.
        self.con.complete()
        if categorical:  # ordered here, on integer codes (sorted_categorical_frame)
            return sorted_categorical_frame(self.con.sql(sql, params=params).to_arrow_table())
        sql += f" ORDER BY {_ORDER}"
        return self.con.sql(sql, params=params).to_arrow_table().to_pandas()

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

    def endpoint_hours(self, metrics: Sequence[str], start: datetime, end: datetime) -> pd.DataFrame:
        """Every endpoint's hourly values (consumer rows left out): counts summed, the others
        averaged over the hour, as the dashboard's endpoint charts show them. Columns:
        timestamp, service, endpoint, metric, value."""
        counts = [m for m in metrics if m in _COUNTS]
        return self.con.execute(
            "SELECT date_trunc('hour', timestamp) AS timestamp, service, endpoint, metric, "
            "CASE WHEN metric IN (SELECT unnest(?)) THEN sum(value) ELSE avg(value) END AS value "
            "FROM telemetry WHERE consumer = '' AND endpoint <> '' AND metric IN (SELECT unnest(?)) "
            "AND timestamp >= ? AND timestamp < ? GROUP BY 1, 2, 3, 4",
            [counts, list(metrics), start, end]).df()

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


_ORDER = "service, endpoint, consumer, metric, timestamp"
_TEXT = ("service", "endpoint", "consumer", "metric")


def sorted_categorical_frame(table: pa.Table) -> pd.DataFrame:
    """Telemetry rows (TELEMETRY_COLUMNS, any order) as the frame
    `ORDER BY service, endpoint, consumer, metric, timestamp` then
    `to_pandas(strings_to_categorical=True)` gives: the same rows in the same order, the text
    columns categoricals with their categories in order of first appearance. Each text column
    is dictionary-encoded once and the rows are ordered on integer codes (ranked by the text's
    code points, the byte order DuckDB sorts UTF-8 text in) and times: no text is compared or
    moved per row. A 10-service read of 3 M rows: 0.5 CPU-s instead of 1.6."""
    import pandas as pd

    codes, names = [], []
    for column in _TEXT:
        encoded = table.column(column).combine_chunks().dictionary_encode()
        values = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
        rank = np.empty(len(values), dtype=np.int64)
        rank[np.argsort(values, kind="stable")] = np.arange(len(values))
        codes.append(rank[encoded.indices.to_numpy(zero_copy_only=False)])
        names.append(values[np.argsort(rank)])
    stamps = table.column("timestamp").combine_chunks().cast("int64").to_numpy(zero_copy_only=False)
    order = _series_time_order(codes, [len(n) for n in names], stamps)
    frame: dict[str, object] = {"timestamp": stamps[order].astype("datetime64[us]")}
    for column, code, values in zip(_TEXT, codes, names, strict=True):
        code = code[order]
        seen = _first_appearance(code, len(values))
        renumber = np.empty(len(values), dtype=np.int64)
        renumber[seen] = np.arange(seen.size)
        frame[column] = pd.Categorical.from_codes(renumber[code] if code.size else code,
                                                  categories=pd.Index(values[seen], dtype=object))
    frame["value"] = table.column("value").combine_chunks().to_numpy(zero_copy_only=False)[order]
    return pd.DataFrame(frame)[list(TELEMETRY_COLUMNS)]


def _series_time_order(codes: list[np.ndarray], sizes: list[int], stamps: np.ndarray) -> np.ndarray:
    """The row order by (the ranked text codes in turn, time): one stable sort of one int64 key
    when series x time span fit in it (rows the store keeps series by series sort in a few
    merges), else a lexsort."""
    series = np.zeros(stamps.size, dtype=np.int64)
    for code, size in zip(codes, sizes, strict=True):
        series = series * max(size, 1) + code
    if not stamps.size:
        return np.zeros(0, dtype=np.intp)
    low = int(stamps.min())
    span = int(stamps.max()) - low + 1
    if float(np.prod([max(s, 1) for s in sizes], dtype=np.float64)) * span < 2.0**62:
        return np.argsort(series * span + (stamps - low), kind="stable")
    return np.lexsort((stamps, series))


def _first_appearance(code: np.ndarray, size: int) -> np.ndarray:
    """The distinct values of `code` in order of first appearance (rows sorted into runs, so
    only the first row of each run is looked at)."""
    if not code.size:
        return np.zeros(0, dtype=np.int64)
    heads = code[np.concatenate(([True], code[1:] != code[:-1]))]
    distinct, first = np.unique(heads, return_index=True)
    return distinct[np.argsort(first)]


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
    long = long.dropna(subset=["value"]).reset_index(drop=True)
    long["value"] = round_significant(long["value"].to_numpy(dtype=float))
    return long


ROLLUP_DIGITS = 12


def round_significant(values: np.ndarray, digits: int = ROLLUP_DIGITS) -> np.ndarray:
    """`values` to `digits` significant digits. DuckDB's parallel SUM adds in an order that can
    change between runs, and so the last bits of a sum; rounded here, two analyses or renders of
    the same data store and show the same bytes (a 12th digit is far below any shown figure)."""
    x = np.asarray(values, dtype=float)
    out = x.copy()
    finite = np.isfinite(x) & (np.abs(x) >= 1e-280)  # 10**scale stays finite
    scale = digits - 1 - np.floor(np.log10(np.abs(x[finite])))
    out[finite] = np.round(x[finite] * 10.0 ** scale) / 10.0 ** scale
    return out
