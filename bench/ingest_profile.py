"""Where ingest's time goes: `ingest_paths` on a few files, CPU seconds per store statement,
beside the floor of DuckDB alone writing the same rows in the same run.

    .venv/bin/python bench/ingest_profile.py [--workspace /tmp/scale1000] [--files 2]

--workspace: a bench/scale.py workspace (`--keep DIR`): its perfops.yaml and data/*.parquet
(read only; the store is written in a fresh temporary workspace); without it, a 100-service one
is generated with bench/scale.py's `generate`. The first --files files of each kind
(endpoints-*, services-*) are ingested, in the order bench/scale.py ingests them.

Three figures on the same files, each in this process, CPU seconds (all threads):
  perfops   ingest_paths, with the CPU of each statement of TelemetryRepo._append;
  floor     DuckDB alone: the same long rows (one select per metric column, as the plan
            writes them) inserted into the same table, no checks, no duplicate handling;
  ids       the same values into (timestamp, series INTEGER, value): what the four text
            columns cost the write (a layout experiment, not the store's schema).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

Times = dict[str, list[float]]


def _add(times: Times, key: str, wall: float, cpu: float) -> None:
    entry = times.setdefault(key, [0.0, 0.0, 0.0])
    entry[0] += wall
    entry[1] += cpu
    entry[2] += 1


class _Timed:
    """A connection whose execute() is timed up to its fetchall(), keyed by the statement's start."""

    def __init__(self, con: duckdb.DuckDBPyConnection, times: Times) -> None:
        self._con, self._times = con, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        result = self._con.execute(sql, *args, **kwargs)
        times, key = self._times, " ".join(sql.split())[:48]

        class _Result:
            def fetchall(self) -> Any:
                rows = result.fetchall()
                _add(times, key, time.perf_counter() - wall, time.process_time() - cpu)
                return rows

            def __getattr__(self, name: str) -> Any:
                return getattr(result, name)

        return _Result()


def profile_perfops(root: Path, files: list[Path]) -> tuple[float, float, int, Times]:
    from perfops.store import telemetry_repo
    from perfops.usecases.ingest import ingest_paths
    from perfops.workspace import Workspace

    times: Times = {}
    init = telemetry_repo.TelemetryRepo.__init__

    def timed_init(self: Any, con: duckdb.DuckDBPyConnection) -> None:
        init(self, _Timed(con, times))

    telemetry_repo.TelemetryRepo.__init__ = timed_init
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        results = ingest_paths(Workspace(root), files)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        telemetry_repo.TelemetryRepo.__init__ = init
    return wall, cpu, sum(r.rows for r in results), times


def floor(db: Path, files: list[Path], layout: str) -> tuple[float, int]:
    """CPU seconds for DuckDB alone to write the files' long rows in `layout` (store | ids)."""
    import pyarrow.parquet as pq

    con = duckdb.connect(str(db))
    con.execute("SET memory_limit = '1GB'")
    if layout == "store":
        con.execute("CREATE TABLE t (timestamp TIMESTAMP NOT NULL, service VARCHAR NOT NULL, endpoint VARCHAR NOT NULL,"
                    " consumer VARCHAR NOT NULL, metric VARCHAR NOT NULL, value DOUBLE NOT NULL)")
    else:
        con.execute("CREATE TABLE t (timestamp TIMESTAMP NOT NULL, series INTEGER NOT NULL, value DOUBLE NOT NULL)")
    cpu, rows = 0.0, 0
    for path in files:
        metrics = [n for n in pq.read_schema(path).names if n not in ("timestamp", "service", "endpoint", "consumer")]
        if layout == "store":
            parts = [f"SELECT timestamp, service, endpoint, '', '{m}', {m} FROM read_parquet($p) WHERE {m} IS NOT NULL"
                     for m in metrics]
        else:
            parts = [f"SELECT timestamp, {i}, {m} FROM read_parquet($p) WHERE {m} IS NOT NULL"
                     for i, m in enumerate(metrics)]
        started = time.process_time()
        con.execute("BEGIN")
        (n,) = con.execute(f"INSERT INTO t {' UNION ALL '.join(parts)}", {"p": str(path)}).fetchall()[0]
        con.execute("COMMIT")
        cpu += time.process_time() - started
        rows += n
    con.close()
    return cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, help="a bench/scale.py workspace (default: generate 100 services)")
    parser.add_argument("--files", type=int, default=2, help="files of each kind (endpoints-*, services-*)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingest-profile-") as tmp:
        source = args.workspace
        if source is None:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from scale import generate

            source = Path(tmp) / "source"
            generate(source, 100, 6)
        data = source / "data"
        files = sorted(data.glob("endpoints-*.parquet"))[: args.files] + sorted(data.glob("services-*.parquet"))[
            : args.files]
        root = Path(tmp) / "ws"
        root.mkdir()
        shutil.copy(source / "perfops.yaml", root / "perfops.yaml")
        wall, cpu, rows, times = profile_perfops(root, files)
        floor_cpu, floor_rows = floor(Path(tmp) / "floor.duckdb", files, "store")
        ids_cpu, _ = floor(Path(tmp) / "ids.duckdb", files, "ids")
    print(f"{len(files)} files, {rows:,} rows")
    print(f"perfops ingest_paths   wall {wall:7.1f} s   cpu {cpu:7.1f} s")
    for key, (_wall, c, n) in sorted(times.items(), key=lambda kv: -kv[1][1]):
        print(f"  {key:50s} cpu {c:7.1f} s  ({c / cpu:5.1%})  x{int(n)}")
    print(f"DuckDB alone, store layout          cpu {floor_cpu:7.1f} s  ({floor_rows:,} rows)  perfops / floor = "
          f"{cpu / floor_cpu:.2f}")
    print(f"DuckDB alone, (timestamp, series id, value)  cpu {ids_cpu:7.1f} s  floor / ids = {floor_cpu / ids_cpu:.2f}")


if __name__ == "__main__":
    main()
