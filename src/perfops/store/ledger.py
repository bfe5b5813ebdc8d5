"""The ingested-file ledger: which file contents (by SHA-256) are already in the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb


@dataclass(frozen=True)
class IngestedFile:
    """A row of `ingested_files`: one file content loaded, when (naive UTC), how many rows."""

    sha256: str
    path: str
    format: str
    rows: int | None
    ingested_at: datetime
    skipped: int | None


class Ledger:
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def has(self, sha256: str) -> bool:
        return self.con.execute("SELECT 1 FROM ingested_files WHERE sha256 = ?", [sha256]).fetchone() is not None

    def record(self, sha256: str, path: str, format_name: str, rows: int, skipped: int) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        self.con.execute(
            "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?)", [sha256, path, format_name, rows, now, skipped]
        )

    def files(self) -> list[IngestedFile]:
        rows = self.con.execute("SELECT sha256, path, format, rows, ingested_at, skipped FROM ingested_files "
                                "ORDER BY ingested_at").fetchall()
        return [IngestedFile(*row) for row in rows]
