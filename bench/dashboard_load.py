"""Dashboard under load: starts `perfops serve` on loopback over a workspace (default: the
1,000-service one from bench/reports_scale.py --keep), then 20 concurrent httpx clients request
the domain page, service pages and the stored-figure views; prints p50/p95/max per page.

Baseline in the same run: a static file served by the same server (the framework's floor).

    .venv/bin/python bench/reports_scale.py --keep /tmp/scale1000     # once
    .venv/bin/python bench/dashboard_load.py --workspace /tmp/scale1000 [--clients 20] [--requests 25]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

# the stored-figure views (issue 15): pages and their JSON endpoints
FIGURE_PATHS = ["/slo", "/capacity", "/cost", "/maturity", "/tests", "/api/figures/slo", "/api/figures/capacity",
                "/api/figures/cost", "/api/figures/maturity", "/api/figures/tests"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def hammer(base: str, paths: list[str], clients: int, per_client: int) -> list[float]:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        async def one(worker: int) -> None:
            for i in range(per_client):
                path = paths[(worker + i) % len(paths)]
                t0 = time.perf_counter()
                response = await client.get(path)
                latencies.append(time.perf_counter() - t0)
                assert response.status_code == 200, (path, response.status_code)

        await asyncio.gather(*(one(w) for w in range(clients)))
    return latencies


def describe(name: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[int(0.95 * (len(ms) - 1))]
    return f"{name:<16} n={len(ms):4d}  p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  max {ms[-1]:7.1f} ms"


def in_process(workspace: Path, paths: list[str]) -> list[float]:
    """The app's own time per request (no network, no concurrency): what the server adds."""
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    client = TestClient(create_app(workspace), base_url="http://127.0.0.1")  # the host check answers loopback only
    client.get("/")
    out = []
    for path in paths:
        t0 = time.perf_counter()
        assert client.get(path).status_code == 200
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/scale1000"))
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=25, help="per client and page kind")
    args = parser.parse_args()
    port = free_port()
    exe = Path(sys.executable).with_name("perfops")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port), "--workspace", str(args.workspace), "--quiet"],
                            env={**os.environ})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                t0 = time.perf_counter()
                if httpx.get(base + "/", timeout=60).status_code == 200:
                    print(f"first domain page (cold, builds the snapshot): {time.perf_counter() - t0:.2f} s")
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        services = httpx.get(base + "/api/domain", timeout=60).json()["services"]
        service_paths = [f"/services/{s['name']}" for s in services[:200]]
        static = asyncio.run(hammer(base, ["/static/uPlot.min.css"], args.clients, args.requests))
        domain = asyncio.run(hammer(base, ["/"], args.clients, args.requests))
        service = asyncio.run(hammer(base, service_paths, args.clients, args.requests))
        figures = asyncio.run(hammer(base, FIGURE_PATHS, args.clients, args.requests))
        print(f"{len(services)} services, {args.clients} concurrent clients")
        print(describe("static (floor)", static))
        print(describe("domain page", domain))
        print(describe("service pages", service))
        print(describe("figure views (SLO, capacity, cost, maturity, tests; pages and JSON)", figures))
        print("in-process, one client, no network (the app's own cost; first render of each page included):")
        print(describe("domain page", in_process(args.workspace, ["/"] * 100)))
        print(describe("service pages", in_process(args.workspace, service_paths)))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
