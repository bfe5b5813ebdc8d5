"""The record of analysis runs: which periods were analysed, and how many findings each gave."""

from __future__ import annotations

from datetime import datetime

import duckdb


class AnalysisRunsRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def record(self, period_start: datetime, period_end: datetime, findings: int) -> None:
        self.con.execute("INSERT INTO analysis_runs VALUES (now(), ?, ?, ?)", [period_start, period_end, findings])

    def latest_end(self) -> datetime | None:
        """The end of the newest analysed period, so reports describe what was analysed."""
        rows = self.con.execute("SELECT max(period_end) FROM analysis_runs").fetchall()
        return rows[0][0] if rows else None
