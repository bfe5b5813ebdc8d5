"""Where `perfops collect` stopped, per source and query, so the next run resumes from there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb


@dataclass(frozen=True)
class CollectState:
    """Where one query of one source stopped (naive UTC; None before its first rows)."""

    source: str
    query: str
    last_timestamp: datetime | None


class CollectStateRepo:
    """Rows of `collect_state (source, query, last_timestamp)`; call writes inside a transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def last(self, source: str, query: str) -> datetime | None:
        row = self.con.execute(
            "SELECT last_timestamp FROM collect_state WHERE source = ? AND query = ?", [source, query]
        ).fetchone()
        return row[0] if row else None

    def advance(self, source: str, query: str, last_timestamp: datetime) -> None:
        """Record the newest timestamp stored for a query; it never moves backwards."""
        self.con.execute(
            "INSERT INTO collect_state VALUES (?, ?, ?) ON CONFLICT (source, query) DO UPDATE SET "
            "last_timestamp = greatest(collect_state.last_timestamp, excluded.last_timestamp)",
            [source, query, last_timestamp],
        )

    def all(self) -> list[CollectState]:
        rows = self.con.execute(
            "SELECT source, query, last_timestamp FROM collect_state ORDER BY source, query").fetchall()
        return [CollectState(*row) for row in rows]
