"""Scale: forecast and analyse a 1,000-service domain (traffic and CPU of every service).

Two measurements, in the same run:
1. the forecaster alone: every traffic and CPU series (2 x services), 35 days of 5-minute data,
   forecast hourly for 90 days, in chunks of 100 services, against a per-series loop of the same
   forecaster (what a library fitted one series at a time would do);
2. the capacity and cost analyses end to end (perfops.analysis.capacity.run and cost.run) with
   an in-memory loader that generates each chunk's long-form telemetry on request; the time to
   generate the telemetry is measured separately and subtracted.
Wall and CPU (process) time are both printed: on a shared machine the CPU time is the steadier.
Run: `.venv/bin/python bench/capacity_scale.py [--services 1000] [--loop-sample 50]`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from capacity_fixtures import NOW, SvcSpec, build_catalog, build_frame
from perfops.analysis import capacity, cost
from perfops.analysis.context import AnalysisContext
from perfops.analysis.forecast import forecast

DAYS = 35


def specs(count: int, seed: int = 11) -> list[SvcSpec]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        out.append(SvcSpec(
            f"svc-{i:04d}", peak_tps=float(rng.uniform(5, 500)), growth_per_week=float(rng.choice([0, 0, 0.01, 0.03])),
            instances=int(rng.integers(2, 16)), max_tps_per_instance=float(rng.uniform(20, 200)),
            cpu_at_peak=float(rng.uniform(15, 80)), tier=int(rng.integers(1, 4)),
            last_week_factor=float(rng.choice([1.0] * 9 + [1.35])),
            cost_telemetry=bool(i % 3 == 0), cost_spike_day=2 if i % 50 == 0 else None,
        ))
    return out


class LazyTelemetry:
    """A loader that builds the requested services' telemetry on demand and times itself."""

    def __init__(self, by_name: dict[str, SvcSpec]) -> None:
        self.by_name = by_name
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def __call__(self, services, metrics, start, end) -> pd.DataFrame:
        t0, c0 = time.perf_counter(), time.process_time()
        chosen = [self.by_name[s] for s in (services or self.by_name)]
        frame = pd.concat([build_frame([s], days=DAYS, seed=hash(s.name) % 1000) for s in chosen], ignore_index=True)
        keep = (frame.timestamp >= start) & (frame.timestamp < end)
        if metrics is not None:
            keep &= frame.metric.isin(list(metrics))
        out = frame.loc[keep].reset_index(drop=True)
        self.seconds += time.perf_counter() - t0
        self.cpu_seconds += time.process_time() - c0
        return out


def bench_forecaster(count: int, loop_sample: int) -> dict[str, float]:
    idx = pd.date_range(NOW - timedelta(days=DAYS), NOW, freq="5min", inclusive="left")
    rng = np.random.default_rng(3)
    hours = np.arange(len(idx)) / 12
    base = 0.4 + 0.6 * np.clip(np.sin(2 * np.pi * (hours % 24 - 6) / 24), 0, None)
    levels = rng.uniform(5, 500, (2 * count, 1))
    series = levels * base[None] * (1 + rng.normal(0, 0.05, (2 * count, len(idx))))
    target = np.datetime64(NOW) + np.arange(90 * 24) * np.timedelta64(1, "h")
    times = idx.to_numpy()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, 2 * count, 200):
        forecast(series[i : i + 200], times, target)
    batched, batched_cpu = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    for i in range(loop_sample):
        forecast(series[i : i + 1], times, target)
    per_series_loop = (time.perf_counter() - t0) / loop_sample
    return {"series": 2 * count, "batched_s": batched, "batched_cpu_s": batched_cpu,
            "batched_per_series_ms": 1000 * batched / (2 * count),
            "loop_per_series_ms": 1000 * per_series_loop, "loop_estimate_s": per_series_loop * 2 * count}


def bench_analyses(count: int) -> dict[str, float]:
    chosen = specs(count)
    loader = LazyTelemetry({s.name: s for s in chosen})
    ctx = AnalysisContext(catalog=build_catalog(chosen), now=NOW, period=timedelta(days=7),
                          history=timedelta(days=DAYS - 7), load_telemetry=loader)
    t0, c0 = time.perf_counter(), time.process_time()
    found = capacity.run(ctx)
    cap_wall, cap_cpu = time.perf_counter() - t0 - loader.seconds, time.process_time() - c0 - loader.cpu_seconds
    loader.seconds = loader.cpu_seconds = 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    found_cost = cost.run(replace(ctx))
    cost_wall, cost_cpu = time.perf_counter() - t0 - loader.seconds, time.process_time() - c0 - loader.cpu_seconds
    kinds = pd.Series([f.kind for f in found + found_cost]).value_counts().to_dict()
    return {"services": count, "capacity_wall_s": cap_wall, "capacity_cpu_s": cap_cpu,
            "cost_wall_s": cost_wall, "cost_cpu_s": cost_cpu, **{f"n_{k}": v for k, v in kinds.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--loop-sample", type=int, default=50)
    parser.add_argument("--skip-analyses", action="store_true")
    args = parser.parse_args(argv)
    fc = bench_forecaster(args.services, args.loop_sample)
    print("forecaster:", {k: round(v, 3) for k, v in fc.items()})
    print(f"  batched {fc['batched_s']:.1f} s wall ({fc['batched_cpu_s']:.1f} s CPU) for {fc['series']} series "
          f"({fc['batched_per_series_ms']:.2f} ms/series); one at a time ~{fc['loop_estimate_s']:.0f} s "
          f"({fc['loop_per_series_ms']:.1f} ms/series): batching x{fc['loop_estimate_s'] / fc['batched_s']:.0f}")
    if not args.skip_analyses:
        an = bench_analyses(args.services)
        print("analyses:", {k: (round(v, 2) if isinstance(v, float) else v) for k, v in an.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
