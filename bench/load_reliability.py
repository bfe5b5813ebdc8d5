"""Reliability under load: `perfops serve` on loopback answers 50 concurrent clients for 60 s with
zero errors while `perfops ingest` loads new files into the same workspace, and nothing ingested
is lost.

    .venv/bin/python bench/load_reliability.py [--clients 50] [--seconds 60] [--baseline-seconds 20]
                                               [--workspace DIR] [--json OUT.json]

Phases, in one run: (1) a baseline — the same clients with no ingest running; (2) the load with
ingest running, a new day of telemetry per `perfops ingest` call, back to back. Reported: requests,
errors (any non-200 answer or transport error), p50 / p95 / max latency per phase and their
ratio, the ingests that finished, and the check that the store holds exactly the rows of every
ingested file (ledger rows == telemetry rows). Exit status 1 when any request failed or data is
missing. Binds to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

PERFOPS = [sys.executable, "-m", "perfops.cli"]
CATALOG = """\
domain: Reliability
squads:
  - name: checkout
  - name: payments
services:
  - name: checkout-api
    squad: checkout
    tier: 1
    depends_on: [payments]
    slo: {availability: 99.9, latency_p95_ms: 300}
  - name: payments
    squad: payments
    tier: 2
"""
SERIES = [("checkout-api", "POST /checkout"), ("checkout-api", "GET /cart"), ("checkout-api", ""),
          ("payments", "POST /pay"), ("payments", "")]


def write_day(path: Path, day: pd.Timestamp, seed: int, slow: bool = False) -> int:
    """One day of 5-minute telemetry for the two services; returns the number of rows."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(day, periods=288, freq="5min")
    frames = []
    for service, endpoint in SERIES:
        requests = rng.poisson(300, len(stamps))
        latency = 120 * (2 if slow and service == "checkout-api" else 1) * (1 + 0.05 * rng.standard_normal(len(stamps)))
        for metric, values in (("requests", requests), ("errors", rng.binomial(requests, 0.001)),
                               ("latency_p95_ms", latency)):
            frames.append(pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%dT%H:%M:%SZ"), "service": service,
                                        "endpoint": endpoint, "metric": metric, "value": np.round(values, 2)}))
    frame = pd.concat(frames)
    frame.to_csv(path, index=False)
    return len(frame)


def prepare(root: Path, days: int = 21) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "perfops.yaml").write_text(CATALOG)
    start = pd.Timestamp("2026-01-01")
    files = []
    for i in range(days):
        path = root / "in" / f"day-{i:03d}.csv"
        path.parent.mkdir(exist_ok=True)
        write_day(path, start + pd.Timedelta(days=i), seed=i, slow=i >= days - 3)
        files.append(str(path))
    subprocess.run([*PERFOPS, "ingest", *files, "--workspace", str(root), "--quiet"], check=True)
    subprocess.run([*PERFOPS, "analyze", "--workspace", str(root), "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, port: int) -> subprocess.Popen:
    server = subprocess.Popen([*PERFOPS, "serve", "--port", str(port), "--workspace", str(root), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/domain", timeout=30).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the server did not come up: {server.stderr.read().decode()[-2000:] if server.stderr else ''}")


def paths_of(base: str) -> list[str]:
    findings = httpx.get(f"{base}/api/findings", params={"status": "all"}, timeout=60).json()
    ids = [f["id"] for f in findings[:5]]
    return (["/", "/services", "/squads/checkout", "/services/checkout-api", "/services/payments",
             "/findings?status=all", "/api/domain", "/api/findings", "/api/services/checkout-api",
             "/api/services/checkout-api/series", "/services/checkout-api/endpoint?name=GET%20/cart"]
            + [f"/findings/{i}" for i in ids] + [f"/api/findings/{i}" for i in ids])


async def hammer(base: str, paths: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        async def one(worker: int) -> None:
            i = worker
            while time.monotonic() < stop:
                path = paths[i % len(paths)]
                i += 1
                t0 = time.perf_counter()
                try:
                    response = await client.get(path)
                    if response.status_code != 200:
                        errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {type(exc).__name__} {exc}")
                latencies.append(time.perf_counter() - t0)

        await asyncio.gather(*(one(w) for w in range(clients)))
    return {"requests": len(latencies), "errors": len(errors), "error_samples": errors[:10],
            **figures(latencies), "seconds": seconds}


def figures(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ms = sorted(v * 1000 for v in latencies)
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
            "max_ms": round(ms[-1], 1)}


class IngestLoop(threading.Thread):
    """`perfops ingest` of a new day, back to back, until stopped."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root, self.stop = root, threading.Event()
        self.done: list[tuple[str, int, float]] = []  # (file, exit code, seconds)
        self.rows_written = 0

    def run(self) -> None:
        day = pd.Timestamp("2026-02-01")
        i = 0
        while not self.stop.is_set():
            path = self.root / "live" / f"live-{i:03d}.csv"
            path.parent.mkdir(exist_ok=True)
            self.rows_written += write_day(path, day + pd.Timedelta(days=i), seed=1000 + i)
            t0 = time.monotonic()
            code = subprocess.run([*PERFOPS, "ingest", str(path), "--workspace", str(self.root), "--quiet"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
            self.done.append((path.name, code, round(time.monotonic() - t0, 1)))
            i += 1


def check_store(root: Path, ingested: list[tuple[str, int, float]]) -> dict:
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(root).store_path, read_only=True) as store:
        telemetry = store.telemetry.count()
        files = {Path(str(f["path"])).name: int(f["rows"]) for f in store.ledger.files()}
    finished = [name for name, code, _ in ingested if code == 0]
    return {"telemetry_rows": telemetry, "ledger_rows": sum(files.values()),
            "ingests_finished": len(finished), "ingests_failed": len(ingested) - len(finished),
            "finished_files_missing_from_ledger": [n for n in finished if n not in files],
            "rows_lost": sum(files.values()) - telemetry}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--baseline-seconds", type=float, default=20)
    parser.add_argument("--workspace", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = args.workspace or Path(tempfile.mkdtemp(prefix="perfops-load-")) / "ws"
    if not (root / "perfops.yaml").exists():
        prepare(root)
    port = free_port()
    server = start_server(root, port)
    base = f"http://127.0.0.1:{port}"
    try:
        paths = paths_of(base)
        baseline = asyncio.run(hammer(base, paths, args.clients, args.baseline_seconds))
        ingest = IngestLoop(root)
        ingest.start()
        loaded = asyncio.run(hammer(base, paths, args.clients, args.seconds))
        ingest.stop.set()
        ingest.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
    store = check_store(root, ingest.done)
    result = {"clients": args.clients, "paths": len(paths), "baseline": baseline, "with_ingest": loaded,
              "ingests": ingest.done, "store": store, "load_average": os.getloadavg()[0],
              "p50_ratio": _ratio(loaded["p50_ms"], baseline["p50_ms"]),
              "p95_ratio": _ratio(loaded["p95_ms"], baseline["p95_ms"])}
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = loaded["errors"] == 0 and baseline["errors"] == 0 and store["rows_lost"] == 0 \
        and not store["finished_files_missing_from_ledger"] and store["ingests_finished"] > 0
    return 0 if ok else 1


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def report(r: dict) -> str:
    rows = ["| phase | clients | seconds | requests | errors | req/s | p50 ms | p95 ms | max ms |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in ("baseline", "with_ingest"):
        p = r[name]
        rows.append(f"| {name} | {r['clients']} | {p['seconds']:g} | {p['requests']} | {p['errors']} | "
                    f"{p['requests'] / p['seconds']:.1f} | {p['p50_ms']} | {p['p95_ms']} | {p['max_ms']} |")
    s = r["store"]
    rows.append("")
    rows.append(f"ingest during the load: {s['ingests_finished']} files finished, {s['ingests_failed']} failed "
                f"(times {[t for _, _, t in r['ingests']]} s); store: {s['telemetry_rows']} telemetry rows, "
                f"ledger {s['ledger_rows']} rows, rows lost {s['rows_lost']}; "
                f"latency with ingest / baseline: p50 x{r['p50_ratio']}, p95 x{r['p95_ratio']}; "
                f"load average {r['load_average']:.1f}")
    for name in ("baseline", "with_ingest"):
        if r[name]["error_samples"]:
            rows.append(f"{name} errors: {r[name]['error_samples']}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
