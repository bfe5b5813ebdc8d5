"""Telemetry and events: writing canonical tables, and the named read queries analyses use.

Telemetry is kept as `series` (id, service, endpoint, consumer, metric; one row per series with
points) and `points` (timestamp, series id, value): a row written costs a third of one with its
four key texts, and reads move integer ids instead of texts (migration 5; docs/bench/ingest.md).
The view `telemetry` joins them into the canonical long rows for queries that want texts."""

from __future__ import annotations

import contextlib
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

_SERIES = "service, endpoint, consumer, metric"
_COLUMNS = ", ".join(TELEMETRY_COLUMNS)  # a plan's select names its columns as it likes: named here
_SAME_SERIES = " AND ".join(f"r.{k} = n.{k}" for k in _SERIES.split(", "))  # r = rows, n = incoming_series
# The series of the rows about to be written (one pass over them): each one's id in `series`
# (new ones numbered on after the highest, in text order, so a file's series get neighbouring
# ids), its time range and rows, whether it was stored before, and, when the store must check the
# rows for repeated keys, its run of slots for TelemetryRepo._repeats_among_new (unit: the
# coarsest time unit all its times are multiples of).
_INCOMING_KEYS = """
CREATE OR REPLACE TEMP TABLE incoming_keys AS
SELECT service, endpoint, consumer, metric, min(timestamp) AS lo, max(timestamp) AS hi, count(*) AS rows{unit}
FROM ({select}) AS r({columns}) GROUP BY ALL
"""
_UNIT = """,
       CASE WHEN bool_and(epoch_us(timestamp) % 60000000 = 0) THEN 60000000
            WHEN bool_and(epoch_us(timestamp) % 1000000 = 0) THEN 1000000
            WHEN bool_and(epoch_us(timestamp) % 1000 = 0) THEN 1000 ELSE 1 END AS unit"""
_NEW_SERIES = f"""
INSERT INTO series
SELECT ? + row_number() OVER (ORDER BY {_SERIES}), {_SERIES}
FROM incoming_keys r WHERE NOT EXISTS (SELECT 1 FROM series n WHERE {_SAME_SERIES})
"""
_INCOMING_SERIES = f"""
CREATE OR REPLACE TEMP TABLE incoming_series AS
SELECT *, sum(slots) OVER (ORDER BY id ROWS UNBOUNDED PRECEDING) - slots AS first_slot
FROM (SELECT n.id, r.*, n.id <= ? AS existed, {{slots}} AS slots
      FROM incoming_keys r JOIN series n ON {_SAME_SERIES})
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
        finally:  # after a failed statement DuckDB refuses until the caller's rollback; registering replaces
            with contextlib.suppress(duckdb.TransactionException):
                self.con.unregister("incoming_telemetry")

    def insert_plan(self, plan: BulkPlan) -> int:
        """Run a reader's bulk plan: DuckDB parses and checks the file in one parallel pass.
        A failed check raises (the caller rolls back and asks the reader for the exact line)."""
        try:
            if plan.distinct_keys is not None:  # sorted wide Parquet: read twice (cheap), never staged
                return self._append(plan.select_sql, plan.params, plan.distinct_keys)
            # Any other file (CSV above all) is parsed once, into a staging table in its own order:
            # parsing a 5 M-row CSV twice, for the series and for the write, cost 1.6x the ingest.
            self._stage(plan.select_sql, plan.params)
            rows = self._append("SELECT * FROM staged_rows", {}, staged=True)
            self.con.execute("DROP TABLE staged_rows").fetchall()
            return rows
        except duckdb.Error as exc:
            raise StoreRejected(str(exc)) from exc

    def _append(self, select_sql: str, params: dict[str, object], proven: KeyBounds | None = None,
                staged: bool = False) -> int:
        """Write the rows `select_sql` yields; where a key repeats, the newest row wins: the last
        one of the rows, and any of them over a stored one. A cost that follows the new rows, not
        the store: one pass lists their series (new ones get ids), one writes (timestamp, series
        id, value); stored rows are looked at only for series stored before, within the new
        rows' time range (zone maps on `series` and `timestamp` skip the other row groups).

        The write joins the rows to their series ids, and a join does not keep the rows' order,
        so "the last row wins" cannot use the order of the write: repeats among the new rows are
        looked for after it (unless the reader proved there are none: `proven`), and when there
        are some the write is undone and done again from a staging table that keeps the order
        (`staged`: the rows already are one, `staged_rows`)."""
        # The temporary tables are dropped on success; on a failure the caller's rollback drops them.
        self.con.execute(_INCOMING_KEYS.format(select=select_sql, columns=_COLUMNS, unit="" if proven else _UNIT),
                         params).fetchall()
        (rows,) = self.con.execute("SELECT coalesce(sum(rows), 0) FROM incoming_keys").fetchall()[0]
        if rows:
            (highest,) = self.con.execute("SELECT coalesce(max(id), -1) FROM series").fetchall()[0]
            self.con.execute(_NEW_SERIES, [highest]).fetchall()
            slots = "1" if proven else "(epoch_us(r.hi) - epoch_us(r.lo)) // r.unit + 1"
            self.con.execute(_INCOMING_SERIES.format(slots=slots), [highest]).fetchall()
            mark = self._last_rowid()
            self._write_points(f"({select_sql}) AS r({_COLUMNS})", params)
            if proven is None and self._repeats_among_new(mark, rows):
                self.con.execute("DELETE FROM points WHERE rowid > ?", [mark]).fetchall()
                self._write_last_of_each_key(select_sql, params, staged)
            bounds = self._stored_bounds()
            if bounds is not None and self._overlaps_stored(mark, bounds):
                self._drop_overwritten(mark, bounds)
            self.con.execute("DROP TABLE incoming_series").fetchall()
        self.con.execute("DROP TABLE incoming_keys").fetchall()
        return int(rows)

    def _write_points(self, rows_sql: str, params: dict[str, object]) -> None:
        self.con.execute(
            f"INSERT INTO points SELECT r.timestamp, n.id, r.value FROM {rows_sql} JOIN incoming_series n "
            f"ON {_SAME_SERIES}", params).fetchall()

    def _stage(self, select_sql: str, params: dict[str, object]) -> None:
        """The rows as the temporary table `staged_rows`, in their order (a table written from a
        select with no join keeps it in its rowids)."""
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE staged_rows AS SELECT * FROM ({select_sql}) AS r({_COLUMNS})",
                         params).fetchall()

    def _write_last_of_each_key(self, select_sql: str, params: dict[str, object], staged: bool) -> None:
        """The rows in their order (`staged_rows`), the last of each repeated key kept, written."""
        if not staged:
            self._stage(select_sql, params)
        key = f"timestamp, {_SERIES}"
        same = " AND ".join(f"t.{k} = d.{k}" for k in key.split(", "))
        self.con.execute(
            f"DELETE FROM staged_rows t USING (SELECT {key}, max(rowid) AS keep FROM staged_rows GROUP BY ALL "
            f"HAVING count(*) > 1) d WHERE {same} AND t.rowid < d.keep").fetchall()
        self._write_points("staged_rows AS r", {})
        if not staged:
            self.con.execute("DROP TABLE staged_rows").fetchall()

    def _last_rowid(self) -> int:
        """The highest rowid of `points` (-1: none), reading only the rows from the count on: n
        rows have distinct rowids from 0, so the highest is at least n - 1, and the scan skips the
        row groups below (max(rowid) over the whole table grew with the store: 4 % of an ingest)."""
        (count,) = self.con.execute("SELECT count(*) FROM points").fetchall()[0]
        (last,) = self.con.execute(
            "SELECT coalesce(max(rowid), -1) FROM points WHERE rowid >= ?", [max(int(count) - 1, 0)]).fetchall()[0]
        return int(last)

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
                "SELECT bit_count(bitstring_agg(n.first_slot + (epoch_us(p.timestamp) - epoch_us(n.lo)) // n.unit, "
                f"0, {int(slots) - 1})) FROM points p JOIN incoming_series n ON p.series = n.id WHERE p.rowid > ?",
                [mark]).fetchall()[0]
        else:
            (distinct,) = self.con.execute(
                "SELECT count(DISTINCT hash(series, timestamp)) FROM points WHERE rowid > ?", [mark]).fetchall()[0]
        return bool(distinct < rows)  # a hash collision only costs the ordered write

    def _stored_bounds(self) -> list[object] | None:
        """[lowest id, highest id, earliest time, latest time] of the new rows' series that were
        stored before (None: all are new, so no stored row can share a key with a new one):
        constant filters the scans check against each row group's zone map before reading it."""
        row = self.con.execute(
            "SELECT min(id), max(id), min(lo), max(hi) FROM incoming_series WHERE existed").fetchall()[0]
        return None if row[0] is None else list(row)

    def _overlaps_stored(self, mark: int, bounds: list[object]) -> bool:
        (found,) = self.con.execute(
            "SELECT count(*) FROM (SELECT 1 FROM points p JOIN incoming_series n ON p.series = n.id "
            "WHERE n.existed AND p.rowid <= ? AND p.series BETWEEN ? AND ? AND p.timestamp BETWEEN ? AND ? "
            "AND p.timestamp BETWEEN n.lo AND n.hi LIMIT 1)", [mark, *bounds],
        ).fetchall()[0]
        return bool(found)

    def _drop_overwritten(self, mark: int, bounds: list[object]) -> None:
        """Stored rows whose key the new rows repeat give way (the store holds no repeated key
        before a write, and the new rows none after the repeats are handled). A join on the key,
        not a window over every row in range: correcting a 12 M-row file (100-service store)
        took 3 CPU-s and 1.8 GB at peak this way, 16 CPU-s and 4.6 GB with the window."""
        self.con.execute(
            "DELETE FROM points t USING (SELECT series, timestamp FROM points WHERE rowid > ? AND series BETWEEN ? AND ?) d "
            "WHERE t.series = d.series AND t.timestamp = d.timestamp AND t.rowid <= ? "
            "AND t.series BETWEEN ? AND ? AND t.timestamp BETWEEN ? AND ?",
            [mark, bounds[0], bounds[1], mark, *bounds],
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
        row = self.con.execute(f"SELECT min(timestamp), max(timestamp) FROM points {where}", params).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def count_from(self, moment: datetime) -> int:
        """Telemetry rows at or after `moment`."""
        row = self.con.execute("SELECT count(*) FROM points WHERE timestamp >= ?", [moment]).fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM points").fetchone()
        return int(row[0]) if row else 0

    def services(self) -> list[str]:
        return [r[0] for r in self.con.execute("SELECT DISTINCT service FROM series ORDER BY 1").fetchall()]

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
        if endpoint is not None:
            where.append("endpoint = ?")
            params.append(endpoint)
        if consumers is False:
            where.append("consumer = ''")
        elif consumers is True:
            where.append("consumer <> ''")
        times: list[str] = []
        time_params: list[Any] = []
        if start is not None:
            times.append("timestamp >= ?")
            time_params.append(start)
        if end is not None:
            times.append("timestamp < ?")
            time_params.append(end)
        # A relation cannot start while an execute() result is left half-read: finish that first.
        self.con.complete()
        if categorical:
            return self._load_categorical(" AND ".join(where), params, " AND ".join(["1=1", *times]), time_params)
        sql = f"SELECT {', '.join(TELEMETRY_COLUMNS)} FROM telemetry WHERE {' AND '.join(where + times)} ORDER BY {_ORDER}"
        # Through Arrow: its conversion makes one Python string per distinct value, not one per
        # row as .df() does.
        return self.con.sql(sql, params=params + time_params).to_arrow_table().to_pandas()

    def _load_categorical(self, series_where: str, series_params: list[Any], time_where: str,
                          time_params: list[Any]) -> pd.DataFrame:
        """The series that match, then their points by integer id (texts never move per row):
        the frame `sorted_categorical_frame` makes of the same rows. The ids' lowest and highest
        bound the scan by the zone maps, the semi join on the ids does the rest."""
        series = self.con.sql(f"SELECT id, {_SERIES} FROM series WHERE {series_where}",
                              params=series_params).to_arrow_table()
        ids = series.column("id").to_numpy()
        lo, hi = (int(ids.min()), int(ids.max())) if ids.size else (0, -1)
        points = self.con.sql(
            f"SELECT series, timestamp, value FROM points WHERE series BETWEEN {lo} AND {hi} "
            f"AND series IN (SELECT unnest(?)) AND {time_where}",
            params=[ids.tolist(), *time_params]).to_arrow_table()
        return frame_of_points(series, points)

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
            "SELECT s.service, s.endpoint, s.metric, sum(p.rows) AS rows, min(p.first) AS first, max(p.last) AS last "
            "FROM (SELECT series, count(*) AS rows, min(timestamp) AS first, max(timestamp) AS last FROM points "
            "GROUP BY series) p JOIN series s ON p.series = s.id WHERE s.consumer = '' GROUP BY ALL"
        ).df()

    def snapshot(self) -> tuple[int, int]:
        """(telemetry rows, event rows): tests use it to prove a failed ingest changed nothing."""
        row = self.con.execute("SELECT (SELECT count(*) FROM points), (SELECT count(*) FROM events)").fetchone()
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


def frame_of_points(series: pa.Table, points: pa.Table) -> pd.DataFrame:
    """Points (series, timestamp, value) and their series (id, service, endpoint, consumer,
    metric) as the frame `sorted_categorical_frame` gives for the same long rows: ordered by
    the texts (code point order, as DuckDB sorts UTF-8) then time, the text columns
    categoricals with their categories in order of first appearance."""
    import pandas as pd

    texts = {c: np.asarray(series.column(c).to_pylist(), dtype=object) for c in _TEXT}
    ids = series.column("id").to_numpy().astype(np.int64)
    by_text = sorted(range(ids.size), key=lambda i: tuple(texts[c][i] for c in _TEXT))
    rank_of = np.zeros(int(ids.max()) + 1 if ids.size else 0, dtype=np.int64)  # series id -> rank by texts
    rank_of[ids[by_text]] = np.arange(ids.size)
    row_rank = rank_of[points.column("series").combine_chunks().to_numpy(zero_copy_only=False).astype(np.int64)]
    stamps = points.column("timestamp").combine_chunks().cast("int64").to_numpy(zero_copy_only=False)
    order = _series_time_order([row_rank], [ids.size], stamps)
    row_rank = row_rank[order]
    present = _first_appearance(row_rank, ids.size)  # ranks with rows, ascending
    frame: dict[str, object] = {"timestamp": stamps[order].astype("datetime64[us]")}
    position = np.zeros(ids.size, dtype=np.int64)
    position[present] = np.arange(present.size)
    for column in _TEXT:
        values = texts[column][np.asarray(by_text, dtype=np.int64)[present]] if present.size else np.zeros(0, object)
        codes, categories = pd.factorize(values) if values.size else (np.zeros(0, np.int64), np.zeros(0, object))
        frame[column] = pd.Categorical.from_codes(codes[position[row_rank]] if row_rank.size else row_rank,
                                                  categories=pd.Index(np.asarray(categories, dtype=object), dtype=object))
    frame["value"] = points.column("value").combine_chunks().to_numpy(zero_copy_only=False)[order]
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
