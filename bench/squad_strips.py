"""Squad strips at scale: the per-squad series of the executive report (6 weekly points) and the
dashboard's domain page (28 daily points) for a 1,000-service domain in 100 squads, from a
synthetic daily rollup of 6 weeks (168,000 rows). Prints the median of `--repeat` runs.

    .venv/bin/python bench/squad_strips.py [--repeat 5] [--before path/to/older/weekly.py]

`--before` times another implementation of `perfops.model.weekly` (a file with `strip_series`)
in the same run, one call per squad, for a same-run comparison.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.model.weekly import strips_by_group

END = datetime(2026, 11, 23)


def rollup(services: int = 1000, days: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(42)
    names = [f"s{i}" for i in range(services)]
    buckets = [END - timedelta(days=d) for d in range(1, days + 1)]
    metrics = ("requests", "errors", "latency_p95_ms", "cost")
    index = pd.MultiIndex.from_product([buckets, names, metrics], names=["bucket", "service", "metric"])
    return pd.DataFrame({"value": rng.uniform(1, 100, len(index))}, index=index).reset_index()


def timed(call, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", help="an older weekly.py to time in the same run")
    args = parser.parse_args()
    daily = rollup()
    groups = {f"squad-{j}": [f"s{i}" for i in range(j * 10, (j + 1) * 10)] for j in range(100)}
    older = None
    if args.before:
        spec = importlib.util.spec_from_file_location("weekly_before", args.before)
        assert spec and spec.loader
        older = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = older  # dataclasses look their module up
        spec.loader.exec_module(older)
    print(f"load average {os.getloadavg()[0]:.2f}; {len(daily):,} rollup rows, 1,000 services, 100 squads")
    for label, days, bucket in (("report: 6 weekly points", 42, 7), ("dashboard: 28 daily points", 28, 1)):
        now = timed(lambda d=days, b=bucket: strips_by_group(daily, groups, END, d, b), args.repeat)
        line = f"{label}: {now * 1000:.0f} ms (median of {args.repeat})"
        if older is not None:
            before = timed(lambda d=days, b=bucket: {g: older.strip_series(daily, n, END, d, b)
                                                      for g, n in groups.items()}, args.repeat)
            line += f"; before {before * 1000:.0f} ms ({before / now:.0f}x)"
        print(line)


if __name__ == "__main__":
    main()
