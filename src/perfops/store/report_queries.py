"""Named queries of the reports: per-service aggregates for many services in one statement.

A developer report used to read its service's raw rows three times (the endpoint table and
charts, the consumers table, the endpoint cost shares): one full scan of the telemetry table
each, for every service of the domain. These queries answer the same questions for a batch of
services at once, aggregated in DuckDB, so a run of N reports scans the table N / batch times
and moves sums instead of rows (issue #8). The reports compute the same figures from them as
from the raw rows (perfops.reports.aggregates holds the pandas twin, used by tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from perfops.store.database import Store
from perfops.store.telemetry_repo import round_significant

_ENDPOINT_HOURS = """
SELECT service, endpoint, metric, date_trunc('hour', timestamp) AS hour,
       sum(value) AS total, count(value) AS n
FROM telemetry
WHERE consumer = '' AND service IN (SELECT unnest(?)) AND metric IN (SELECT unnest(?))
  AND timestamp >= ? AND timestamp < ?
GROUP BY ALL
ORDER BY service, endpoint, metric, hour
"""

_TOTALS = """
SELECT service, {level} AS {level}, metric, sum(value) AS value
FROM telemetry
WHERE {where} AND service IN (SELECT unnest(?)) AND metric IN (SELECT unnest(?))
  AND timestamp >= ? AND timestamp < ?
GROUP BY ALL
ORDER BY service, {level}, metric
"""

_SLO_BUCKETS = """
WITH targets AS (SELECT unnest(?) AS service, unnest(?) AS target),
rows AS (
  SELECT service, timestamp,
         coalesce(sum(value) FILTER (WHERE metric = 'requests'), 0) AS r,
         coalesce(sum(value) FILTER (WHERE metric = 'errors'), 0) AS e,
         max(value) FILTER (WHERE metric = 'latency_p95_ms') AS p
  FROM telemetry
  WHERE endpoint = '' AND consumer = '' AND metric IN ('requests', 'errors', 'latency_p95_ms')
    AND service IN (SELECT service FROM targets) AND timestamp >= ? AND timestamp < ?
  GROUP BY service, timestamp
)
SELECT rows.service,
       (epoch_us(?::TIMESTAMP) - epoch_us(timestamp) + ? - 1) // ? - 1 AS age,
       strftime(timestamp, '%Y-%m') AS month,
       sum(r) AS requests, sum(e) AS errors,
       sum(CASE WHEN p > targets.target THEN r ELSE 0 END) AS bad,
       min(timestamp) AS first, max(timestamp) AS last
FROM rows JOIN targets USING (service)
GROUP BY ALL
ORDER BY rows.service, age, month
"""


@dataclass(frozen=True)
class ReportQueries:
    """perfops.reports.aggregates.Aggregates over the store."""

    store: Store

    def endpoint_hours(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                       end: datetime) -> pd.DataFrame:
        """Rows for all consumers, per (service, endpoint, metric, hour): the sum and the count of
        the values in [start, end). Columns: service, endpoint, metric, hour, total, n."""
        return self._run(_ENDPOINT_HOURS, services, metrics, start, end)

    def consumer_totals(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
        """Per-consumer rows (every endpoint level) summed per (service, consumer, metric) over
        [start, end). Columns: service, consumer, metric, value."""
        sql = _TOTALS.format(level="consumer", where="consumer <> ''")
        return self._run(sql, services, metrics, start, end)

    def endpoint_totals(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
        """Endpoint rows for all consumers summed per (service, endpoint, metric) over
        [start, end). Columns: service, endpoint, metric, value."""
        sql = _TOTALS.format(level="endpoint", where="consumer = '' AND endpoint <> ''")
        return self._run(sql, services, metrics, start, end)

    def slo_buckets(self, targets: dict[str, float], start: datetime, end: datetime,
                    bucket_seconds: int) -> pd.DataFrame:
        """The whole-service rows (endpoint '' and consumer '') of the services in `targets`
        in [start, end), summed per (service, age, month): `age` k holds the rows with
        end - (k+1) x bucket <= timestamp < end - k x bucket, `month` is 'YYYY-MM'. Columns: service, age,
        month, requests, errors, bad (requests of the rows whose p95 exceeded the service's
        target; NaN target = none), first and last (timestamps of the rows)."""
        names = list(targets)
        values = [float(targets[n]) for n in names]
        bucket_us = int(bucket_seconds) * 1_000_000
        params = [names, values, start, end, end, bucket_us, bucket_us]
        frame = self.store.con.execute(_SLO_BUCKETS, params).df()
        frame["service"] = frame["service"].astype(str)
        for column in ("requests", "errors", "bad"):  # DuckDB's parallel sums: the same figures every run
            frame[column] = round_significant(frame[column].to_numpy(dtype=float))
        return frame

    def _run(self, sql: str, services: Sequence[str], metrics: Sequence[str], start: datetime,
             end: datetime) -> pd.DataFrame:
        frame = self.store.con.execute(sql, [list(services), list(metrics), start, end]).df()
        for column in ("service", "endpoint", "consumer", "metric"):
            if column in frame.columns:
                frame[column] = shared_strings(frame[column])
        return frame


def shared_strings(column: pd.Series) -> pd.Series:
    """`column.astype(str)` whose rows share one string object per distinct value: DuckDB hands
    every row its own copy, so a batch's endpoint hours (~1 M rows) held ~3 M strings."""
    codes, uniques = pd.factorize(column, use_na_sentinel=False)
    names = np.array([str(u) for u in uniques], dtype=object)
    return pd.Series(names[codes], index=column.index, name=column.name, dtype=object)
