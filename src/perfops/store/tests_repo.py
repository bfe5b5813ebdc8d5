"""Performance-test runs: the run, its per-endpoint results and its load over time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:
    import pandas as pd

from perfops.model.tables import TEST_ENDPOINT_COLUMNS, TEST_RUN_COLUMNS, TEST_SERIES_COLUMNS


class TestsRepo:
    __test__ = False  # not a pytest class

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def replace_run(self, runs: pd.DataFrame, endpoints: pd.DataFrame | None, series: pd.DataFrame | None) -> None:
        """Store runs; a run id already stored is replaced whole (a re-export of the same run)."""
        ids = list(runs["run_id"])
        for table in ("test_runs", "test_endpoints", "test_series"):
            self.con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest(?))", [ids])
        self._insert("test_runs", runs, TEST_RUN_COLUMNS)
        if endpoints is not None and len(endpoints):
            self._insert("test_endpoints", endpoints, TEST_ENDPOINT_COLUMNS)
        if series is not None and len(series):
            self._insert("test_series", series, TEST_SERIES_COLUMNS)

    def _insert(self, table: str, frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
        self.con.register("incoming_tests", frame)
        try:
            cols = ", ".join(f'"{c}"' for c in columns)
            self.con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming_tests").fetchall()
        finally:
            self.con.unregister("incoming_tests")

    def runs(self, service: str | None = None) -> pd.DataFrame:
        if service:
            return self.con.execute("SELECT * FROM test_runs WHERE service = ? ORDER BY start", [service]).df()
        return self.con.execute("SELECT * FROM test_runs ORDER BY start").df()

    def run(self, run_id: str) -> dict[str, Any] | None:
        cur = self.con.execute("SELECT * FROM test_runs WHERE run_id = ?", [run_id])
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    def endpoints(self, run_id: str) -> pd.DataFrame:
        return self.con.execute("SELECT * FROM test_endpoints WHERE run_id = ? ORDER BY endpoint", [run_id]).df()

    def series(self, run_id: str) -> pd.DataFrame:
        return self.con.execute("SELECT * FROM test_series WHERE run_id = ? ORDER BY timestamp", [run_id]).df()

    def set_status(self, run_id: str, status: str) -> None:
        self.con.execute("UPDATE test_runs SET status = ? WHERE run_id = ?", [status, run_id])
