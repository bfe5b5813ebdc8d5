"""The ingested-file ledger: which file contents (by SHA-256) are already in the store."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb


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

    def files(self) -> list[dict[str, object]]:
        cur = self.con.execute("SELECT * FROM ingested_files ORDER BY ingested_at")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
