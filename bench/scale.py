"""Scale: a generated domain of N services (10 endpoints each), 6 weeks at 5 minutes, end to end.

For each size (default 100, 300 and 1,000 services) it times, each in its own process with the
peak memory of the whole process tree (Dask workers included) sampled every 0.1 s:
  ingest    perfops.usecases.ingest.ingest_paths over wide Parquet files (one per 50 services)
  analyze   perfops.usecases.analyze.analyze, local
  cluster   the same on a 2-worker Dask LocalCluster (perfops.analysis.cluster)
  reports   perfops.usecases.reports.render_reports (every audience, default formats)
and reports the cost per series and how it grows from one size to the next (the exponent b of
time ~ series^b: 1 is linear). Local analysis is the baseline of the cluster run (ratio).

Series per service: 10 endpoints x (requests, latency_p95_ms) + the whole service x (requests,
errors, latency_p95_ms, cpu_pct, instances) = 25; 1,000 services = 10,000 endpoint series and
25,000 metric series, 12,096 points each (302 M rows).

Run: `.venv/bin/python bench/scale.py [--services 100 300 1000] [--weeks 6] [--skip cluster,reports] [--keep DIR]
[--repeat 3]` (--keep DIR: the last size's workspace, data and ingested store, is built in DIR and
kept; --repeat N: the whole measure N times, each run's table with the 1-minute load average
before and after it, then the median end to end of each size).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ENDPOINTS = 10
CHUNK = 50
STEP_MIN = 5
START = np.datetime64("2026-09-01T00:00:00", "us")
PHASES = ("ingest", "analyze", "cluster", "reports")


# ---- the domain ---------------------------------------------------------------------------
def catalog_text(services: int) -> str:
    squads = max(1, services // 10)
    lines = ["domain: Scale", "squads:"] + [f"  - name: squad-{i:03d}" for i in range(squads)] + ["services:"]
    for i in range(services):
        lines += [f"  - name: svc-{i:04d}", f"    squad: squad-{i % squads:03d}", f"    tier: {1 + i % 3}",
                  "    slo: {availability: 99.9, latency_p95_ms: 400}",
                  "    capacity: {instances: 4, max_tps_per_instance: 50}", "    cost: {instance_hourly: 0.2}"]
    return "\n".join(lines) + "\n"


def service_frames(index: int, times: np.ndarray, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(endpoint rows, whole-service rows) in wide form, with a daily cycle, a weekly one, noise,
    and for one service in 20 a latency regression in the last 3 days."""
    n = len(times)
    minutes = np.arange(n) * STEP_MIN
    cycle = 1 + 0.5 * np.sin(2 * np.pi * minutes / 1440) + 0.1 * np.sin(2 * np.pi * minutes / 10080)
    name = f"svc-{index:04d}"
    base = rng.uniform(5, 100, ENDPOINTS)
    requests = np.maximum(0, base[:, None] * cycle[None, :] * STEP_MIN * 60 / 10
                          + rng.normal(0, 5, (ENDPOINTS, n))).round()
    latency = rng.uniform(50, 300, ENDPOINTS)[:, None] * (1 + 0.2 * cycle[None, :]) + rng.normal(0, 8, (ENDPOINTS, n))
    if index % 20 == 0:
        latency[:, -3 * 288:] *= 1.5
    endpoints = pd.DataFrame({
        "timestamp": np.tile(times, ENDPOINTS), "service": name,
        "endpoint": np.repeat([f"GET /api/r{j}" for j in range(ENDPOINTS)], n),
        "requests": requests.ravel(), "latency_p95_ms": latency.ravel(),
    })
    total = requests.sum(axis=0)
    whole = pd.DataFrame({
        "timestamp": times, "service": name, "endpoint": "", "requests": total,
        "errors": rng.binomial(total.astype(int), 0.002).astype(float), "latency_p95_ms": latency.max(axis=0),
        "cpu_pct": np.clip(20 + 30 * cycle + np.linspace(0, 10, n) + rng.normal(0, 2, n), 0, 100),
        "instances": np.full(n, 4.0),
    })
    return endpoints, whole


def generate(root: Path, services: int, weeks: int) -> int:
    """A workspace with perfops.yaml and data/*.parquet; returns the number of rows (long form)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / "perfops.yaml").write_text(catalog_text(services))
    times = START + np.arange(weeks * 7 * 1440 // STEP_MIN) * np.timedelta64(STEP_MIN, "m")
    rng = np.random.default_rng(7)
    rows = 0
    for first in range(0, services, CHUNK):
        parts = [service_frames(i, times, rng) for i in range(first, min(first + CHUNK, services))]
        for kind, frames in (("endpoints", [p[0] for p in parts]), ("services", [p[1] for p in parts])):
            frame = pd.concat(frames, ignore_index=True)
            rows += len(frame) * (len(frame.columns) - 3)
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False),
                           root / "data" / f"{kind}-{first:05d}.parquet")
    return rows


# ---- one phase, in its own process ------------------------------------------------------------
def run_phase(phase: str, root: Path) -> dict[str, float]:
    from perfops.workspace import Workspace

    ws = Workspace(root)
    started = time.perf_counter()
    detail: dict[str, float] = {}
    if phase == "ingest":
        from perfops.usecases.ingest import ingest_paths

        results = ingest_paths(ws, [root / "data"])
        detail["rows"] = float(sum(r.rows for r in results))
    elif phase in ("analyze", "cluster"):
        from perfops.usecases.analyze import analyze

        if phase == "cluster":
            from distributed import LocalCluster

            with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0", silence_logs=40) as cluster:
                started = time.perf_counter()  # the cluster's start-up is not the analysis
                result = analyze(ws, period="7d", cluster=cluster.scheduler_address)
        else:
            result = analyze(ws, period="7d")
        detail["findings"] = float(len(result.findings))
    elif phase == "reports":
        from perfops.usecases.reports import render_reports

        detail["files"] = float(len(render_reports(ws)))
    detail["seconds"] = time.perf_counter() - started
    detail["cpu_s"] = _cpu_seconds()
    return detail


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (Dask workers included): on a shared
    machine it is steadier than the wall clock."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(phase: str, root: Path) -> dict[str, float]:
    """Run a phase in a child process; sample the RSS of its whole process tree."""
    from procmem import run_sampling_memory

    code, out, peak_mb = run_sampling_memory([sys.executable, __file__, "--phase", phase, "--root", str(root)])
    if code:
        return {"seconds": math.nan, "peak_mb": peak_mb, "failed": 1.0}
    detail = json.loads(out.strip().splitlines()[-1])
    detail["peak_mb"] = peak_mb
    return detail


# ---- the run -----------------------------------------------------------------------------
def bench(sizes: list[int], weeks: int, skip: set[str], keep: Path | None = None) -> list[dict[str, float]]:
    """keep: the workspace of the last size is built there and left in place (perfops.yaml,
    data/*.parquet and the ingested store), for analyze or reports runs of one's own."""
    table = []
    for number, services in enumerate(sizes):
        kept = keep if number == len(sizes) - 1 else None
        if kept is not None:
            kept.mkdir(parents=True)
        root = kept or Path(tempfile.mkdtemp(prefix=f"perfops-scale-{services}-"))
        try:
            t0 = time.perf_counter()
            rows = generate(root, services, weeks)
            row: dict[str, float] = {"services": services, "series": services * 25, "rows": rows,
                                     "generate_s": time.perf_counter() - t0}
            for phase in PHASES:
                if phase in skip:
                    continue
                result = measure(phase, root)
                row[f"{phase}_s"], row[f"{phase}_mb"] = result["seconds"], result["peak_mb"]
                row[f"{phase}_cpu"] = result.get("cpu_s", math.nan)
                print(f"  {services} services {phase}: {result}", flush=True)
            table.append(row)
        finally:
            if kept is None:
                shutil.rmtree(root, ignore_errors=True)
    return table


def report(table: list[dict[str, float]]) -> str:
    phases = [p for p in PHASES if f"{p}_s" in table[0]]
    head = "| services | metric series | rows | " + " | ".join(f"{p}: wall s / CPU s (peak MB)" for p in phases) + \
        " | end to end s | cluster / local |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in table:
        cells = [f"{row[f'{p}_s']:.1f} / {row.get(f'{p}_cpu', math.nan):.0f} ({row[f'{p}_mb']:.0f})" for p in phases]
        e2e = end_to_end(row)
        ratio = row["cluster_s"] / row["analyze_s"] if "cluster_s" in row and "analyze_s" in row else math.nan
        lines.append(f"| {row['services']:,} | {row['series']:,} | {row['rows'] / 1e6:.0f} M | " + " | ".join(cells)
                     + f" | {e2e:.0f} | {ratio:.2f} |")
    for before, after in zip(table, table[1:], strict=False):
        growth = [f"{p}: b = {_exponent(before, after, p):.2f}" for p in phases]
        lines.append(f"\ngrowth {before['services']} -> {after['services']} services (time ~ series^b): "
                     + ", ".join(growth))
    return "\n".join(lines)


def _exponent(before: dict[str, float], after: dict[str, float], phase: str) -> float:
    """From CPU time when measured (steadier on a shared machine), else wall time."""
    key = f"{phase}_cpu" if math.isfinite(before.get(f"{phase}_cpu", math.nan)) else f"{phase}_s"
    return math.log(after[key] / before[key]) / math.log(after["series"] / before["series"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--skip", default="", help="phases to skip, comma separated")
    parser.add_argument("--keep", type=Path, help="build the last size's workspace in this new folder and keep it")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole measure this many times; print the median")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(run_phase(args.phase, Path(args.root))))
        return
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep}: already exists; give a new folder")
    skip = set(filter(None, args.skip.split(",")))
    runs = []
    for i in range(args.repeat):
        before = os.getloadavg()[0]
        table = bench(args.services, args.weeks, skip, args.keep if i == args.repeat - 1 else None)
        after = os.getloadavg()[0]
        print(f"\nrun {i + 1} of {args.repeat} (load average {before:.2f} before, {after:.2f} after)\n{report(table)}",
              flush=True)
        runs.append(table)
    if args.repeat > 1:
        print(median_report(runs))


def end_to_end(row: dict[str, float]) -> float:
    return sum(row.get(f"{p}_s", 0) for p in ("ingest", "analyze", "reports"))


def median_report(runs: list[list[dict[str, float]]]) -> str:
    """The median end to end of each size over the runs, with every run's figure beside it."""
    lines = []
    for rows in zip(*runs, strict=True):
        totals = [end_to_end(row) for row in rows]
        phases = {p: statistics.median(row[f"{p}_s"] for row in rows) for p in ("ingest", "analyze", "reports")
                  if f"{p}_s" in rows[0]}
        lines.append(f"{rows[0]['services']:,} services: median end to end {statistics.median(totals):.0f} s over "
                     f"{len(rows)} runs ({', '.join(f'{t:.0f}' for t in totals)}); median per phase "
                     + ", ".join(f"{p} {v:.1f} s" for p, v in phases.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
