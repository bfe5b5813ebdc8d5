"""Whether two `perfops demo` workspaces (say, main's and a refactor's) say the same thing.

    /work/main/.venv/bin/perfops demo -w /tmp/a -q
    .venv/bin/perfops demo -w /tmp/b -q
    .venv/bin/python bench/same_demo.py /tmp/a /tmp/b

Compares, and prints as JSON:
- every report file the demo wrote (bytes);
- the findings (every column but the wall-clock times of their history);
- every stored figure, value by value: floats that differ, with the largest relative difference
  (DuckDB's parallel sums may move the last bits; the store keeps rollups to 12 digits);
- every other table, rows as sets (paths under the workspace and the moment of recording aside).
Exit status 1 when anything but those float differences is not the same.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import duckdb

WALL_CLOCK = {"analysis_runs": {"at"}, "finding_history": {"at"}, "findings": {"first_seen", "last_seen"},
              "ingested_files": {"ingested_at", "path"},
              "test_runs": {"source"}}
SKIP = {"figures", "telemetry", "series", "points", "schema_version"}


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: bench/same_demo.py WORKSPACE_A WORKSPACE_B", file=sys.stderr)
        return 2
    a, b = Path(sys.argv[1]), Path(sys.argv[2])
    reports_a = {p.relative_to(a): p.read_bytes() for p in sorted((a / "reports").rglob("*")) if p.is_file()}
    reports_b = {p.relative_to(b): p.read_bytes() for p in sorted((b / "reports").rglob("*")) if p.is_file()}
    differing = sorted(str(k) for k in reports_a.keys() | reports_b.keys() if reports_a.get(k) != reports_b.get(k))
    con_a, con_b = (duckdb.connect(str(w / ".perfops" / "perfops.duckdb"), read_only=True) for w in (a, b))
    tables = {}
    for (name,) in con_a.execute("SELECT table_name FROM information_schema.tables").fetchall():
        if name in SKIP:
            continue
        rows_a, rows_b = (_rows(con, name) for con in (con_a, con_b))
        tables[name] = "same" if rows_a == rows_b else f"{len(rows_a ^ rows_b)} rows differ"
    floats = _figures(con_a, con_b)
    same = not differing and all(v == "same" for v in tables.values()) and floats["other"] == 0
    print(json.dumps({"report_files": len(reports_a), "report_files_differing": differing, "tables": tables,
                      "figures": floats, "same": same}, indent=2))
    return 0 if same else 1


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> set[tuple[Any, ...]]:
    columns = [c[0] for c in con.execute(f"DESCRIBE {table}").fetchall() if c[0] not in WALL_CLOCK.get(table, ())]
    quoted = ', '.join(f'"{c}"' for c in columns)
    return set(con.execute(f"SELECT {quoted} FROM {table}").fetchall())


def _figures(con_a: duckdb.DuckDBPyConnection, con_b: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    query = "SELECT kind, service, payload FROM figures ORDER BY kind, service, payload"
    rows_a, rows_b = con_a.execute(query).fetchall(), con_b.execute(query).fetchall()
    tally = {"records": len(rows_a), "floats_differing": 0, "largest_relative": 0.0, "other": 0}
    if [r[:2] for r in rows_a] != [r[:2] for r in rows_b]:
        tally["other"] += 1
        return tally
    for (_, _, x), (_, _, y) in zip(rows_a, rows_b, strict=True):
        _walk(json.loads(x), json.loads(y), tally)
    return tally


def _walk(x: Any, y: Any, tally: dict[str, Any]) -> None:
    if isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys():
        for key in x:
            _walk(x[key], y[key], tally)
    elif isinstance(x, list) and isinstance(y, list) and len(x) == len(y):
        for p, q in zip(x, y, strict=True):
            _walk(p, q, tally)
    elif isinstance(x, float) and isinstance(y, float) and x != y:
        tally["floats_differing"] += 1
        tally["largest_relative"] = max(tally["largest_relative"], abs(x - y) / max(abs(x), abs(y)))
    elif x != y:
        tally["other"] += 1


if __name__ == "__main__":
    sys.exit(main())
