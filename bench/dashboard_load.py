"""Dashboard under load: starts `perfops serve` on loopback over a workspace (default: the
1,000-service one from bench/reports_scale.py --keep), waits until its warm-up is over (the
figure views and every chart series read ahead after a snapshot: the server's CPU goes quiet),
then drives 20 concurrent connections at the domain page, service pages and the stored-figure
views and prints p50/p95/max per page kind.

The load comes from wrk (the Debian package; 2 threads, a Lua script cycling through the paths,
bench/dashboard_paths.lua): 20 httpx clients in one Python process on the same 2 cores cost so
much CPU that even a static file had a p95 of 216 ms. `--driver httpx` keeps that driver.
The floor in the same run: a static file served by the same server (the framework's cost).

`--baseline DIR` serves the same workspace with another checkout's `.venv` first (e.g. main), in
the same run, and prints the ratios. The in-process figures (one client, no network, the
app's own cost; every service page a first render) come from each checkout's own Python.

    .venv/bin/python bench/reports_scale.py --keep /tmp/scale1000     # once
    .venv/bin/python bench/dashboard_load.py --workspace /tmp/scale1000 [--baseline /work/main]
        [--clients 20] [--requests 25] [--services 200] [--driver wrk|httpx] [--no-settle]

The workspace is only read (serve opens the store read-only).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
LUA = HERE / "dashboard_paths.lua"
# the stored-figure views (issue 15): pages and their JSON endpoints
FIGURE_PATHS = ["/slo", "/capacity", "/cost", "/maturity", "/tests", "/api/figures/slo", "/api/figures/capacity",
                "/api/figures/cost", "/api/figures/maturity", "/api/figures/tests"]
KINDS = ["static (floor)", "domain page", "service pages", "figure views"]
IDLE_CPU = 0.05  # the server is idle (its warm-up is over) below this share of one core ...
IDLE_WINDOW = 2.0  # ... over this many seconds
SETTLE_CAP = 900.0  # s: give up waiting for idle after this long (and say so)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


# ---- drivers -------------------------------------------------------------------------------------
def ensure_wrk() -> str:
    """wrk's path; installs the Debian package when missing (as root, or with sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 and not shutil.which("sudo"):
        sys.exit("bench/dashboard_load.py: wrk is not installed; install the Debian package "
                 "(apt-get install -y wrk) or run with --driver httpx")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print("bench/dashboard_load.py: wrk (the native load generator, Debian package 'wrk') is not installed; "
          "installing it: apt-get install -y wrk", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], env=env).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        sys.exit("bench/dashboard_load.py: apt-get installed no wrk; run with --driver httpx")
    return found


def stats(ms: list[float], failed: int = 0) -> dict[str, float]:
    ms = sorted(ms)
    return {"n": len(ms), "p50": statistics.median(ms), "p95": ms[int(0.95 * (len(ms) - 1))], "max": ms[-1],
            "failed": failed}


def drive_wrk(wrk: str, base: str, paths: list[str], clients: int, total: int) -> dict[str, float]:
    """`total` requests over `paths` from `clients` connections (wrk, 2 threads)."""
    threads = min(2, clients)
    per_thread = math.ceil(total / threads)
    with tempfile.TemporaryDirectory() as tmp:
        listed = Path(tmp) / "paths"
        listed.write_text("\n".join(paths) + "\n")
        proc = subprocess.Popen([wrk, f"-t{threads}", f"-c{clients}", "-d3600s", "--timeout", "60s", "-s", str(LUA),
                                 base, "--", str(listed), str(per_thread)], stdout=subprocess.PIPE, text=True)
        while proc.poll() is None and len(list(Path(tmp).glob("paths.done.*"))) < threads:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)  # every thread took its answers: wrk reports and ends
        stdout, _ = proc.communicate(timeout=60)
    line = [x for x in stdout.splitlines() if x.startswith("{")][-1]
    line = [x for x in stdout.splitlines() if x.startswith("{")][-1]
    got = json.loads(line)
    return {"n": got["requests"], "p50": got["p50_us"] / 1000, "p95": got["p95_us"] / 1000,
            "max": got["max_us"] / 1000, "failed": got["not_200"] + got["socket_errors"]}


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


def drive_httpx(base: str, paths: list[str], clients: int, total: int) -> dict[str, float]:
    """The former driver: `clients` httpx clients in this process (asyncio)."""
    return stats([v * 1000 for v in asyncio.run(hammer(base, paths, clients, math.ceil(total / clients)))])


# ---- the server ----------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int) -> float | None:
    """Seconds until the process used under IDLE_CPU of a core over IDLE_WINDOW; None at SETTLE_CAP."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < SETTLE_CAP:
        before = cpu_seconds(pid)
        time.sleep(IDLE_WINDOW)
        if (cpu_seconds(pid) - before) / IDLE_WINDOW < IDLE_CPU:
            return time.monotonic() - t0 - IDLE_WINDOW
    return None


def measure(perfops: Path, args: argparse.Namespace, label: str) -> dict[str, object]:
    port = free_port()
    proc = subprocess.Popen([str(perfops), "serve", "--port", str(port), "--workspace", str(args.workspace), "--quiet"])
    base = f"http://127.0.0.1:{port}"
    out: dict[str, object] = {"label": label}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                t0 = time.perf_counter()
                if httpx.get(base + "/", timeout=120).status_code == 200:
                    out["first_page_s"] = time.perf_counter() - t0
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        if args.settle:
            out["warm_up_s"] = wait_idle(proc.pid)
        services = httpx.get(base + "/api/domain", timeout=120).json()["services"]
        service_paths = [f"/services/{s['name']}" for s in services[:args.services]]
        total = args.clients * args.requests
        wrk = ensure_wrk() if args.driver == "wrk" else ""
        kinds = dict(zip(KINDS, [["/static/uPlot.min.css"], ["/"], service_paths, FIGURE_PATHS], strict=True))
        out["load"] = f"{load_average()} (before the load)"
        out["kinds"] = {kind: (drive_wrk(wrk, base, paths, args.clients, total) if args.driver == "wrk"
                               else drive_httpx(base, paths, args.clients, total)) for kind, paths in kinds.items()}
        out["services"] = len(services)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    python = perfops.with_name("python")
    done = subprocess.run([str(python), str(Path(__file__).resolve()), "--in-process", "--workspace",
                           str(args.workspace), "--services", str(args.services)],
                          capture_output=True, text=True, check=True)
    out["in_process"] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def in_process(workspace: Path, services: int) -> dict[str, dict[str, float]]:
    """The app's own time per request (no network, no concurrency), after its warm-up: the
    domain page 100 times, `services` service pages as served, then each of them rendered again
    without the page cache (`perfops.web.pages.service_page`: what a page costs when the warm-up
    has not rendered it)."""
    from fastapi.testclient import TestClient

    from perfops.web import pages
    from perfops.web.app import create_app

    app = create_app(workspace)
    client = TestClient(app, base_url="http://127.0.0.1")  # the host check answers loopback only
    client.get("/")
    app.state.data.wait_warm(SETTLE_CAP)
    names = [s["name"] for s in client.get("/api/domain").json()["services"][:services]]

    def timed(paths: list[str]) -> dict[str, float]:
        ms = []
        for path in paths:
            t0 = time.perf_counter()
            assert client.get(path).status_code == 200, path
            ms.append((time.perf_counter() - t0) * 1000)
        return stats(ms)

    def rendered(snap: object) -> dict[str, float]:
        ms = []
        for name in names:
            t0 = time.perf_counter()
            pages.service_page(snap, name)  # type: ignore[arg-type]
            ms.append((time.perf_counter() - t0) * 1000)
        return stats(ms)

    return {"domain page": timed(["/"] * 100), "service pages": timed([f"/services/{n}" for n in names]),
            "service render": rendered(app.state.data.snapshot())}


# ---- report --------------------------------------------------------------------------------------
def row(name: str, s: dict[str, float]) -> str:
    failed = f"  FAILED {s['failed']}" if s.get("failed") else ""
    return f"  {name:<16} n={s['n']:5.0f}  p50 {s['p50']:7.1f} ms  p95 {s['p95']:7.1f} ms  max {s['max']:7.1f} ms{failed}"


def show(result: dict[str, object], args: argparse.Namespace) -> None:
    warm = result.get("warm_up_s", "not waited for")
    warm = f"{warm:.0f} s" if isinstance(warm, float) else ("over the cap" if warm is None else warm)
    print(f"{result['label']}: {result['services']} services; first domain page (builds the snapshot) "
          f"{result['first_page_s']:.1f} s; warm-up after it {warm}; load average {result['load']}")
    print(f"  {args.clients} concurrent connections ({args.driver}), {args.clients * args.requests} requests a kind:")
    for kind, s in result["kinds"].items():  # type: ignore[attr-defined]
        print(row(kind, s))
    print("  in-process, one client, no network, after the warm-up (service render: a service page rendered "
          "without the page cache):")
    for kind, s in result["in_process"].items():  # type: ignore[attr-defined]
        print(row(kind, s))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workspace", type=Path, default=Path("/tmp/scale1000"))
    parser.add_argument("--baseline", type=Path, help="another checkout (with its .venv) served first, e.g. /work/main")
    parser.add_argument("--clients", type=int, default=20, help="concurrent connections")
    parser.add_argument("--requests", type=int, default=25, help="per connection and page kind")
    parser.add_argument("--services", type=int, default=200, help="service pages cycled through")
    parser.add_argument("--driver", choices=["wrk", "httpx"], default="wrk")
    parser.add_argument("--no-settle", dest="settle", action="store_false",
                        help="measure right after the first page, while the warm-up runs")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)  # measure() runs it per checkout
    args = parser.parse_args()
    if args.in_process:
        print(json.dumps(in_process(args.workspace, args.services)))
        return 0
    if args.driver == "wrk":
        ensure_wrk()
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")
    results = []
    if args.baseline:
        results.append(measure(args.baseline.resolve() / ".venv" / "bin" / "perfops", args,
                               f"baseline {args.baseline}"))
        show(results[-1], args)
    results.append(measure(Path(sys.executable).with_name("perfops"), args, f"this checkout {HERE.parent}"))
    show(results[-1], args)
    if len(results) == 2:
        print("this checkout / baseline (p50, p95):")
        for part in ("kinds", "in_process"):
            for kind, s in results[1][part].items():  # type: ignore[attr-defined]
                b = results[0][part][kind]  # type: ignore[index]
                print(f"  {part.replace('_', '-'):<10} {kind:<16} p50 {s['p50'] / b['p50']:.2f}  p95 {s['p95'] / b['p95']:.2f}")
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
