"""Collect from a real local Prometheus: N series x D days at 1-minute steps (default 1,000 x 7).

1. writes the series as OpenMetrics, makes TSDB blocks with `promtool tsdb create-blocks-from
   openmetrics` and starts `prometheus` on 127.0.0.1 (tests/prometheus_server.py; needs Debian's
   `prometheus` package);
2. baseline, in the same run: the same query_range chunks fetched with the same concurrency by a
   bare httpx client that only downloads and `json.loads` the answers (the floor any client pays:
   server work plus transfer plus JSON decoding);
3. perfops: `collect_prometheus` into a fresh DuckDB store (fetch, name series, upsert, state);
4. checks that every written value was stored, and prints seconds, points/s and the ratio.

Run: `.venv/bin/python bench/collect.py [--series 1000] [--days 7] [--concurrency 4]`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from perfops.sources.prometheus import _epoch, plan_chunks
from prometheus_server import PrometheusServer, binaries

BASE = datetime(2026, 11, 1)
SERVICES = 100


def write_data(folder: Path, series: int, minutes: int) -> tuple[list[Path], float]:
    """Gauge `bench_requests{service, endpoint}`: value = series index + minute / 1000 (exactly
    representable in text), one OpenMetrics file a day (promtool reads a file once per 2-hour
    block). Returns the files and the sum of all values, to check the store."""
    epoch = int((BASE - datetime(1970, 1, 1)).total_seconds())
    files, total = [], 0.0
    for first in range(0, minutes, 1440):
        span = range(first, min(first + 1440, minutes))
        path = folder / f"day-{first // 1440:02d}.om"
        with path.open("w") as out:
            out.write("# TYPE bench_requests gauge\n")
            for i in range(series):
                head = f'bench_requests{{endpoint="GET /r{i // SERVICES}",service="svc-{i % SERVICES:03d}"}} '
                out.write("".join(f"{head}{i + m / 1000:.3f} {epoch + 60 * m}\n" for m in span))
                total += float(np.sum(i + np.array(span) / 1000))
            out.write("# EOF\n")
        files.append(path)
    return files, total


def catalog_text(url: str, concurrency: int) -> str:
    services = "\n".join(f"  - {{name: svc-{i:03d}, squad: bench}}" for i in range(SERVICES))
    return (f"domain: Bench\nsquads:\n  - name: bench\nservices:\n{services}\n"
            f"sources:\n  prometheus:\n    url: {url}\n    step: 60s\n    concurrency: {concurrency}\n"
            "    timeout: 120s\n    queries:\n      requests: 'bench_requests'\n")


def baseline(url: str, chunks, concurrency: int) -> tuple[float, int]:
    """Download and json-decode every chunk, nothing else."""
    def one(chunk) -> int:
        form = {"query": chunk.promql, "start": _epoch(chunk.start), "end": _epoch(chunk.end), "step": "60"}
        body = json.loads(client.post("/api/v1/query_range", data=form).content)
        return sum(len(s["values"]) for s in body["data"]["result"])

    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as client, ThreadPoolExecutor(concurrency) as pool:
        points = sum(pool.map(one, chunks))
    return time.perf_counter() - started, points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if binaries() is None:
        sys.exit("needs Debian's prometheus package: apt-get install -y prometheus")
    from perfops.store import open_store
    from perfops.usecases.collect import collect_prometheus
    from perfops.workspace import parse_catalog

    minutes = args.days * 1440
    with tempfile.TemporaryDirectory(prefix="perfops-bench-collect-") as folder:
        root = Path(folder)
        t0 = time.perf_counter()
        files, expected_sum = write_data(root, args.series, minutes)
        print(f"wrote {args.series * minutes:,} samples in {time.perf_counter() - t0:.1f} s", flush=True)
        t0 = time.perf_counter()
        with PrometheusServer(files, workdir=root / "server") as server:
            print(f"promtool blocks + prometheus start: {time.perf_counter() - t0:.1f} s", flush=True)
            catalog = parse_catalog(catalog_text(server.url, args.concurrency))
            end = BASE + timedelta(minutes=minutes - 1)
            source = catalog.sources.prometheus  # type: ignore[union-attr]
            chunks = plan_chunks("requests", "bench_requests", BASE, end, timedelta(minutes=1),
                                 source.max_points_per_query, source.concurrency)
            base_s, base_points = baseline(server.url, chunks, args.concurrency)
            print(f"baseline (download + json.loads): {base_s:.1f} s, {base_points:,} points", flush=True)
            with open_store(root / "store.duckdb") as store:
                t0 = time.perf_counter()
                report = collect_prometheus(store, catalog, now=end, since=end - BASE)
                seconds = time.perf_counter() - t0
                stored, total = store.con.execute("SELECT count(*), sum(value) FROM telemetry").fetchone()
    assert stored == args.series * minutes, (stored, args.series * minutes)
    assert abs(total - expected_sum) < 1e-6 * expected_sum
    print(f"perfops collect: {seconds:.1f} s for {stored:,} points ({stored / seconds:,.0f} points/s), "
          f"{report.queries[0].chunks} queries; {seconds / base_s:.2f} x the baseline; all values stored")


if __name__ == "__main__":
    main()
