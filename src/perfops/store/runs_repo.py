"""The record of analysis runs (which periods were analysed, how many findings each gave) and
the figures each run computed (perfops.model.figures), stored as one JSON record per figure."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from perfops.model.figures import KINDS, AnalysisRun, Figure, FigureSet

_RUN_COLUMNS = 'run_id, "at", period_start, period_end, findings'


class AnalysisRunsRepo:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def record(self, period_start: datetime, period_end: datetime, findings: int,
               figures: FigureSet | None = None) -> int:
        """Record a run and its figures; returns its id. The figures of earlier runs of the same
        period are dropped (the newest analysis of a period is the one to show)."""
        row = self.con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM analysis_runs").fetchone()
        run_id = int(row[0]) if row else 1
        self.con.execute(
            "DELETE FROM figures WHERE run_id IN (SELECT run_id FROM analysis_runs "
            "WHERE period_start = ? AND period_end = ?)", [period_start, period_end])
        self.con.execute(f"INSERT INTO analysis_runs ({_RUN_COLUMNS}) VALUES (?, now(), ?, ?, ?)",
                         [run_id, period_start, period_end, findings])
        if figures is not None:
            rows = [(run_id, kind, service, json.dumps(figure.model_dump(mode="json"), sort_keys=True))
                    for kind, service, figure in figures.records()]
            if rows:
                self.con.executemany("INSERT INTO figures VALUES (?, ?, ?, ?)", rows)
        return run_id

    def runs(self) -> list[AnalysisRun]:
        """Every recorded run, newest first."""
        rows = self.con.execute(
            f"SELECT {_RUN_COLUMNS} FROM analysis_runs WHERE run_id IS NOT NULL ORDER BY run_id DESC").fetchall()
        return [_run(r) for r in rows]

    def shown(self) -> list[AnalysisRun]:
        """The runs a reader can show, newest first: those that kept their figures."""
        rows = self.con.execute(
            f"SELECT {_RUN_COLUMNS} FROM analysis_runs r WHERE run_id IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM figures f WHERE f.run_id = r.run_id) ORDER BY run_id DESC").fetchall()
        return [_run(r) for r in rows]

    def find(self, *, end: datetime | None = None, period_start: datetime | None = None) -> AnalysisRun | None:
        """The newest run that has figures and ended at `end` (None: any end) and began at
        `period_start` (None: any)."""
        sql = (f"SELECT {_RUN_COLUMNS} FROM analysis_runs r WHERE run_id IS NOT NULL "
               "AND EXISTS (SELECT 1 FROM figures f WHERE f.run_id = r.run_id)")
        args: list[object] = []
        if end is not None:
            sql += " AND period_end = ?"
            args.append(end)
        if period_start is not None:
            sql += " AND period_start = ?"
            args.append(period_start)
        row = self.con.execute(sql + " ORDER BY run_id DESC LIMIT 1", args).fetchone()
        return _run(row) if row else None

    def figures(self, run_id: int, kinds: tuple[str, ...] | None = None,
                services: list[str] | None = None) -> FigureSet:
        """The figures of a run (optionally only some kinds or services)."""
        sql = "SELECT kind, service, payload FROM figures WHERE run_id = ?"
        args: list[object] = [run_id]
        if kinds is not None:
            sql += " AND kind IN (SELECT unnest(?))"
            args.append(list(kinds))
        if services is not None:
            sql += " AND service IN (SELECT unnest(?))"
            args.append(list(services))
        rows = self.con.execute(sql + " ORDER BY kind, service, rowid", args).fetchall()
        records: list[tuple[str, str, Figure]] = [
            (kind, service, KINDS[kind].model_validate(json.loads(payload))) for kind, service, payload in rows
            if kind in KINDS]
        return FigureSet.from_records(records)


_RunRow = tuple[int, datetime, datetime, datetime, int | None]  # the columns of _RUN_COLUMNS


def _run(row: _RunRow) -> AnalysisRun:
    run_id, at, start, end, findings = row
    return AnalysisRun(id=run_id, at=at, period_start=start, period_end=end, findings=findings or 0)
