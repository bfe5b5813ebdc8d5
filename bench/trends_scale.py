"""Scale bench for trends.run: 1,000 services x 10 endpoints, 6 weeks at 5 minutes, 8 metrics.

The domain is generated on demand, chunk by chunk, by the telemetry loader itself (the whole
domain would be ~1 billion rows: 10,000 series x 12,096 steps x 8 metrics), deterministically
per service, so peak memory measures the analysis and one chunk, not the generator. A few
services get incidents (latency regressions after a deploy, error spikes, memory leaks) so the
analysis has something to find. Reports wall time, the share spent generating data, findings
and peak RSS.

    .venv/bin/python bench/trends_scale.py [--services 1000] [--endpoints 10] [--weeks 6]
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis import trends
from perfops.analysis.context import AnalysisContext
from perfops.model.catalog import Catalog

STEP = timedelta(minutes=5)
METRICS = ("requests", "errors", "client_errors", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
           "cpu_pct", "memory_pct")
NOW = datetime(2026, 3, 2)


def make_catalog(n: int) -> Catalog:
    squads = [{"name": f"squad-{i:03d}"} for i in range(max(1, n // 10))]
    services = []
    for i in range(n):
        deps = [f"svc-{j:04d}" for j in (i + 1, i + 7) if j < n and j % 3 == 0][:2]
        services.append({"name": f"svc-{i:04d}", "squad": squads[i // 10 % len(squads)]["name"],
                         "tier": 1 + i % 3, "depends_on": deps})
    return Catalog.model_validate({"domain": "Scale", "squads": squads, "services": services})


class Generator:
    """Telemetry of the synthetic domain, generated per request (the `load_telemetry` seam)."""

    def __init__(self, endpoints: int, weeks: int) -> None:
        self.endpoints = endpoints
        self.times = pd.date_range(NOW - timedelta(weeks=weeks), NOW - STEP, freq=STEP)
        hour = self.times.hour.to_numpy() + self.times.minute.to_numpy() / 60
        weekend = (self.times.dayofweek.to_numpy() >= 5).astype(float)
        self.shape = (1.0 + 0.7 * np.sin((hour - 9) / 24 * 2 * np.pi)) * (1 - 0.3 * weekend)
        self.seconds = 0.0
        self.events: list[dict] = []

    def load(self, services, metrics, start, end) -> pd.DataFrame:
        t0 = time.perf_counter()
        sel = (self.times >= start) & (self.times < end)
        self.chunk = list(services)
        frames = [self._service(s, list(metrics or METRICS), sel) for s in services]
        out = pd.concat(frames, ignore_index=True)
        self.seconds += time.perf_counter() - t0
        return out

    def _service(self, service: str, metrics: list[str], sel: np.ndarray) -> pd.DataFrame:
        idx = int(service.split("-")[1])
        rng = np.random.default_rng(idx)
        t = self.times[sel]
        n, e = t.size, self.endpoints
        base = rng.uniform(1, 50, (e, 1))
        data = {"requests": rng.poisson(base * 300 * self.shape[sel]).astype(np.float32)}
        lat = rng.uniform(40, 400, (e, 1)) * (1 + 0.1 * self.shape[sel]) * rng.lognormal(0, 0.08, (e, n))
        if idx % 97 == 5:  # a latency regression 2 days before the end
            lat[:, t >= NOW - timedelta(days=2)] *= 1.7
        data["latency_p95_ms"] = lat.astype(np.float32)
        data["latency_p50_ms"] = (lat * 0.5).astype(np.float32)
        data["latency_p99_ms"] = (lat * 1.6).astype(np.float32)
        err = rng.poisson(data["requests"] * 0.002).astype(np.float32)
        if idx % 89 == 7:  # a 40-minute error spike
            spike = (t >= NOW - timedelta(days=3)) & (t < NOW - timedelta(days=3) + timedelta(minutes=40))
            err[:, spike] = data["requests"][:, spike] * 0.1
        data["errors"] = err
        data["client_errors"] = rng.poisson(data["requests"] * 0.01).astype(np.float32)
        data["cpu_pct"] = np.clip(15 + 30 * self.shape[sel] + rng.normal(0, 3, (e, n)), 0, 100).astype(np.float32)
        mem = 40 + rng.normal(0, 1.5, (e, n))
        if idx % 101 == 3:  # a leak over the last 5 days
            days = np.clip((t - (NOW - timedelta(days=5))).total_seconds().to_numpy() / 86400, 0, None)
            mem = mem + 7 * days
        data["memory_pct"] = np.clip(mem, 0, 100).astype(np.float32)
        return _long(self.chunk, self.chunk.index(service), e, t, {m: data[m] for m in metrics if m in data})


def _long(services: list[str], which: int, endpoints: int, t: pd.DatetimeIndex,
          data: dict[str, np.ndarray]) -> pd.DataFrame:
    """Long form with categorical text columns sharing their categories across the chunk
    (so concatenation keeps them categorical, as a columnar store would hand them over)."""
    names = [f"GET /r{j}" for j in range(endpoints)]
    n = t.size
    m = len(data)
    rows = endpoints * n
    return pd.DataFrame({
        "timestamp": np.tile(t.to_numpy(), endpoints * m),
        "service": pd.Categorical.from_codes(np.full(rows * m, which, np.int32), services),
        "endpoint": pd.Categorical.from_codes(np.tile(np.repeat(np.arange(endpoints, dtype=np.int16), n), m), names),
        "consumer": pd.Categorical.from_codes(np.zeros(rows * m, np.int8), [""]),
        "metric": pd.Categorical.from_codes(np.repeat([METRICS.index(k) for k in data], rows).astype(np.int8),
                                            list(METRICS)),
        "value": np.concatenate([v.ravel() for v in data.values()]),
    })


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--weeks", type=int, default=6)
    ap.add_argument("--chunk", type=int, default=None, help="services per chunk (default: trends' own)")
    args = ap.parse_args()
    gen = Generator(args.endpoints, args.weeks)
    params = {"trends": {"chunk_services": args.chunk}} if args.chunk else {}
    ctx = AnalysisContext(catalog=make_catalog(args.services), now=NOW, period=timedelta(days=7),
                          history=timedelta(weeks=args.weeks) - timedelta(days=7), load_telemetry=gen.load,
                          params=params)
    start, cpu0 = time.perf_counter(), time.process_time()
    found = trends.run(ctx)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    series = args.services * args.endpoints
    print(f"services {args.services:,}, endpoint series {series:,}, steps {gen.times.size:,}, metrics {len(METRICS)} "
          f"(5 analysed)")
    print(f"trends.run wall {wall:.1f} s (CPU {cpu:.1f} s over 2 threads), of which generating telemetry "
          f"{gen.seconds:.1f} s wall; analysis {wall - gen.seconds:.1f} s wall")
    print(f"peak RSS {rss:.2f} GB; findings {len(found)}: "
          + ", ".join(f"{k} {v}" for k, v in pd.Series([f.kind for f in found]).value_counts().items()))
    sev = pd.Series([f.severity for f in found]).value_counts().to_dict()
    print(f"by severity: {sev}")


if __name__ == "__main__":
    main()
