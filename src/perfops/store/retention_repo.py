"""Retention: raw telemetry rolled up into hours, then deleted; old rollups deleted.

Counts and spend are summed into the hour, maxima keep their maximum, everything else (latency
percentiles, utilisation, instances) is averaged: an hourly rollup answers "how much" exactly
and "how fast / how busy" as the hour's mean. Findings, their history and analysis runs are
never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from perfops.model.tables import COUNT_METRICS

SUMMED = (*COUNT_METRICS, "cost")


@dataclass(frozen=True)
class RetentionOutcome:
    rolled_up: int  # hourly rows written
    deleted_raw: int
    deleted_hourly: int


class RetentionRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def apply(self, raw_before: datetime, hourly_before: datetime) -> RetentionOutcome:
        """Roll up every raw row before `raw_before` (an hour boundary), delete those rows, and
        delete hourly rows before `hourly_before`. The caller wraps it in a transaction."""
        summed = ", ".join(f"'{m}'" for m in SUMMED)
        rolled = self._count(
            f"""INSERT INTO telemetry_hourly
                SELECT date_trunc('hour', timestamp) AS hour, service, endpoint, consumer, metric,
                       CASE WHEN metric IN ({summed}) THEN sum(value)
                            WHEN metric LIKE '%_max_%' OR metric LIKE '%_max' THEN max(value)
                            ELSE avg(value) END AS value,
                       count(*) AS samples
                FROM telemetry WHERE timestamp < ?
                GROUP BY 1, 2, 3, 4, 5""",
            [raw_before],
        )
        deleted_raw = self._count("DELETE FROM points WHERE timestamp < ?", [raw_before])
        if deleted_raw:  # every stored series has points (TelemetryRepo.services reads `series` alone)
            self.con.execute("DELETE FROM series WHERE id NOT IN (SELECT DISTINCT series FROM points)").fetchall()
        deleted_hourly = self._count("DELETE FROM telemetry_hourly WHERE hour < ?", [hourly_before])
        return RetentionOutcome(rolled, deleted_raw, deleted_hourly)

    def hourly_rows(self) -> int:
        row = self.con.execute("SELECT count(*) FROM telemetry_hourly").fetchone()
        return int(row[0]) if row else 0

    def _count(self, sql: str, params: list[object]) -> int:
        row = self.con.execute(sql, params).fetchone()
        return int(row[0]) if row and row[0] is not None else 0
