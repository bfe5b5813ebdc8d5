"""The store's telemetry reads on one store, one process: the calls `analyze` and the reports
make (a 100-service chunk of the analysis, one service, the rollups, the inventory, the SLO
buckets, the report's endpoint hours), wall and CPU seconds, best of 2-3.

    PYTHONPATH=TREE/src .venv/bin/python bench/store_reads.py STORE.duckdb

To compare two layouts, run it once per tree on a copy of the same store each (a tree migrates
its copy on the first open: open it once writable first, so the migration is not timed), e.g.
main's code on the kept 1,000-service store (`bench/scale.py --keep`) and this tree's on a
migrated copy. The store is opened read-only.
"""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

from perfops.store import open_store
from perfops.store.report_queries import ReportQueries


def timed(name: str, call, repeat: int = 1) -> None:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    wall, cpu = min(runs)
    print(f"{name:30s} wall {wall:6.2f} s  cpu {cpu:6.2f} s  rows {len(result):,}", flush=True)


def main() -> None:
    store = open_store(Path(sys.argv[1]), read_only=True)
    services = store.telemetry.services()
    _, last = store.telemetry.time_range()
    chunk = services[len(services) * 3 // 10:][:100]
    five_weeks = {"start": last - timedelta(days=35), "end": last}
    timed("load 100 services, 5 weeks", lambda: store.telemetry.load(services=chunk, categorical=True, **five_weeks), 2)
    timed("  whole-consumer rows", lambda: store.telemetry.load(services=chunk, consumers=False, categorical=True,
                                                                 **five_weeks), 2)
    timed("load one service", lambda: store.telemetry.load(services=[services[len(services) // 2]], categorical=True), 3)
    timed("rollup, all, 7 d hourly", lambda: store.telemetry.rollup(
        None, ["requests", "latency_p95_ms", "cpu_pct"], last - timedelta(days=7), last, 3600), 2)
    timed("inventory", store.telemetry.inventory, 2)
    timed("endpoint hours, all, 7 d", lambda: store.telemetry.endpoint_hours(
        ["requests", "latency_p95_ms"], last - timedelta(days=7), last), 2)
    queries = ReportQueries(store)
    timed("SLO buckets, all, 28 d", lambda: queries.slo_buckets(
        dict.fromkeys(services, 300.0), last - timedelta(days=28), last, 86400), 2)
    timed("report endpoint hours, 50", lambda: queries.endpoint_hours(
        services[:50], ["requests", "latency_p95_ms"], last - timedelta(days=7), last), 2)
    timed("services", store.telemetry.services, 3)


if __name__ == "__main__":
    main()
