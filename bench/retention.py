"""Store size over 90 simulated days of a workspace fed all day, with and without `retention:`.

Two workspaces get the same telemetry, a day at a time (SERVICES services x ENDPOINTS endpoints x
6 metrics at 5 minutes, the rows a collect every 15 minutes would bring), through the store's own
upsert; the one with `retention: {raw_days: 60}` runs `perfops cycle --steps retention` (the
real code path, in process) after each day. Prints the store size and raw/hourly row counts on
days 30, 45, 60, 75 and 90, and the ratio of the two sizes on day 90.

Run: `.venv/bin/python bench/retention.py [--services 20] [--days 90]`
Figures in docs/benchmarks.md ("Retention").
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.store import open_store
from perfops.usecases.cycle import run_cycle
from perfops.usecases.operations import store_size
from perfops.workspace import Workspace

START = datetime(2026, 1, 5)  # a Monday
ENDPOINTS = 4
METRICS = ("requests", "errors", "latency_p50_ms", "latency_p95_ms", "cpu_pct", "memory_pct")


def catalog(services: int, retention: bool) -> str:
    lines = ["domain: Retention", "squads:", "  - name: a", "services:"]
    lines += [f"  - name: svc-{i}\n    squad: a" for i in range(services)]
    if retention:
        lines += ["retention:", "  raw_days: 60", "  hourly_days: 400"]
    return "\n".join(lines) + "\n"


def day_of_rows(day: int, services: int, rng: np.random.Generator) -> pd.DataFrame:
    times = pd.date_range(START + timedelta(days=day), periods=288, freq="5min")
    keys = [(f"svc-{s}", f"GET /e{e}") for s in range(services) for e in range(ENDPOINTS)]
    n = len(times) * len(keys) * len(METRICS)
    return pd.DataFrame({
        "timestamp": np.tile(np.repeat(times.values, len(METRICS)), len(keys)),
        "service": np.repeat([k[0] for k in keys], len(times) * len(METRICS)),
        "endpoint": np.repeat([k[1] for k in keys], len(times) * len(METRICS)),
        "consumer": "",
        "metric": np.tile(METRICS, len(times) * len(keys)),
        "value": rng.gamma(4.0, 25.0, n).round(2),
    })


def counts(ws: Workspace) -> tuple[int, int]:
    with open_store(ws.store_path, read_only=True) as store:
        return store.telemetry.count(), store.retention.hourly_rows()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spaces = {}
        for name, keep in (("kept", True), ("unbounded", False)):
            root = Path(tmp) / name
            root.mkdir()
            (root / "perfops.yaml").write_text(catalog(args.services, keep))
            spaces[name] = Workspace(root)
        rng = np.random.default_rng(0)
        print(f"{args.services} services x {ENDPOINTS} endpoints x {len(METRICS)} metrics at 5 min")
        print("day | with retention: size MB, raw rows, hourly rows | without: size MB, raw rows")
        for day in range(args.days):
            frame = day_of_rows(day, args.services, rng)
            for ws in spaces.values():
                with open_store(ws.store_path) as store, store.transaction():
                    store.telemetry.upsert(frame)
            run_cycle(spaces["kept"], now=START + timedelta(days=day + 1), steps=("retention",))
            if (day + 1) % 15 == 0:
                kept, free = spaces["kept"], spaces["unbounded"]
                raw, hourly = counts(kept)
                raw_free, _ = counts(free)
                print(f"{day + 1:3d} | {store_size(kept) / 1e6:8.1f} {raw:>12,} {hourly:>10,} | "
                      f"{store_size(free) / 1e6:8.1f} {raw_free:>12,}")
        ratio = store_size(spaces["kept"]) / store_size(spaces["unbounded"])
        print(f"day {args.days}: the store with retention is {ratio:.2f}x the size of the one without")


if __name__ == "__main__":
    main()
