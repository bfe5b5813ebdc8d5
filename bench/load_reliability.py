"""Reliability under load: `perfops serve` on loopback answers 50 concurrent clients for 60 s with
zero errors while `perfops ingest` loads new files into the same workspace, and nothing ingested
is lost.

    .venv/bin/python bench/load_reliability.py [--clients 50] [--seconds 60] [--baseline-seconds 20]
                                               [--workspace DIR] [--json OUT.json] [--no-writes]
                                               [--ingest-days N] [--unread-charts]

Phases, in one run: (1) a baseline — the same clients with no ingest running; (2) the load with
ingest running, a new day of telemetry per `perfops ingest` call, back to back. Reported: requests,
errors (any non-200 answer or transport error), answers marked stale (`X-Perfops-Stale: true`:
served from the dashboard's last read while ingest held the store), p50 / p95 / max latency per
phase and their ratio, the ingests that finished, and the check that the store holds exactly the
rows of every ingested file (ledger rows == telemetry rows).

Writes during the ingest phase (unless --no-writes): one more client comments on a finding through
the API every 2.5 s (under the 30-a-minute write limit), each with a unique note. Every answer must
be 200 (then the note is in the finding's history exactly once) or 503 with Retry-After (then it
is not): a note lost or saved twice, or any other answer, is an error. Reported: writes sent,
saved, refused with 503, their p50 / max latency.

Exit status 1 when any request failed, a write was lost, or data is missing. Binds to 127.0.0.1.
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


def write_day(path: Path, day: pd.Timestamp, seed: int, slow: bool = False, days: int = 1) -> int:
    """`days` days (default one) of 5-minute telemetry for the two services from `day`; returns
    the number of rows."""
    rng = np.random.default_rng(seed)
    stamps = pd.date_range(day, periods=288 * days, freq="5min")
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


START = pd.Timestamp("2026-01-01")  # the prepared workspace's first day


def prepare(root: Path, days: int = 21) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "perfops.yaml").write_text(CATALOG)
    start = START
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


TOKEN = "load-reliability-token"


def start_server(root: Path, port: int) -> subprocess.Popen:
    with (root / "serve.log").open("ab") as log:  # read after the run when a request failed
        server = subprocess.Popen([*PERFOPS, "serve", "--port", str(port), "--workspace", str(root), "--quiet"],
                                  stdout=subprocess.DEVNULL, stderr=log, env={**os.environ, "PERFOPS_TOKEN": TOKEN})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/domain", timeout=30).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit(f"the server did not come up: {server_log(root)}")


def server_log(root: Path) -> str:
    path = root / "serve.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def paths_of(base: str) -> list[str]:
    findings = httpx.get(f"{base}/api/findings", params={"status": "all"}, timeout=60).json()
    ids = [f["id"] for f in findings[:5]]
    return (["/", "/services", "/squads/checkout", "/services/checkout-api", "/services/payments",
             "/findings?status=all", "/api/domain", "/api/findings", "/api/services/checkout-api",
             "/api/services/checkout-api/series", "/services/checkout-api/endpoint?name=GET%20/cart"]
            + [f"/findings/{i}" for i in ids] + [f"/api/findings/{i}" for i in ids])


def unread_charts(base: str) -> list[str]:
    """The chart series of every service and endpoint, none of which `paths_of` reads: charts a
    user opens for the first time while the ingest runs."""
    out = []
    for service in httpx.get(f"{base}/api/domain", timeout=60).json()["services"]:
        name = service["name"]
        out.append(f"/api/services/{name}/series")
        endpoints = httpx.get(f"{base}/api/services/{name}", timeout=60).json()["endpoints"]
        out += [str(httpx.URL(f"/api/services/{name}/series", params={"endpoint": e})) for e in endpoints]
    return [p for p in out if p != "/api/services/checkout-api/series"]


async def hammer(base: str, paths: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    slowest: list[tuple[float, str, str]] = []  # (seconds, path, X-Perfops-Stale)
    stale = 0
    stop = time.monotonic() + seconds
    # idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: at the same
    # 5 s, a request sent on a connection the server is closing fails with ReadError (a client race)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2.0)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        async def one(worker: int) -> None:
            nonlocal stale
            i = worker
            while time.monotonic() < stop:
                path = paths[i % len(paths)]
                i += 1
                t0 = time.perf_counter()
                try:
                    response = await client.get(path)
                    if response.status_code != 200:
                        errors.append(f"{path}: {response.status_code} {response.text[:200]}")
                    stale += response.headers.get("x-perfops-stale") == "true"
                    flag = response.headers.get("x-perfops-stale", "-")
                except httpx.HTTPError as exc:
                    errors.append(f"{path}: {type(exc).__name__} {exc}")
                    flag = "error"
                latencies.append(time.perf_counter() - t0)
                slowest.append((latencies[-1], path, flag))
                if len(slowest) > 50:
                    slowest.sort(reverse=True)
                    del slowest[5:]

        await asyncio.gather(*(one(w) for w in range(clients)))
    slowest.sort(reverse=True)
    return {"requests": len(latencies), "errors": len(errors), "stale": stale, "error_samples": errors[:10],
            **figures(latencies), "seconds": seconds,
            "slowest": [f"{path} {round(t * 1000)} ms stale={flag}" for t, path, flag in slowest[:5]]}


async def write_while(base: str, finding_id: str, seconds: float, every: float = 2.5) -> list[dict]:
    """A comment with a unique note every `every` seconds: [{note, status, retry_after, seconds}]."""
    sent: list[dict] = []
    stop = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        while time.monotonic() < stop:
            note = f"load-reliability write {len(sent)} {time.time():.3f}"
            t0 = time.perf_counter()
            try:
                response = await client.post(f"/api/findings/{finding_id}/comment", json={"by": "bench", "note": note},
                                             headers={"Authorization": f"Bearer {TOKEN}"})
                status, retry_after = response.status_code, response.headers.get("retry-after")
            except httpx.HTTPError as exc:
                status, retry_after = type(exc).__name__, None
            took = time.perf_counter() - t0
            sent.append({"note": note, "status": status, "retry_after": retry_after, "seconds": round(took, 3)})
            await asyncio.sleep(max(0.0, every - took))
    return sent


def check_writes(base: str, finding_id: str, sent: list[dict]) -> dict:
    """Saved (200) notes are in the history exactly once, refused (503 + Retry-After) ones are not."""
    deadline = time.monotonic() + 60
    while True:  # the history once the dashboard has read the store again after the ingest
        response = httpx.get(f"{base}/api/findings/{finding_id}", timeout=120)
        if response.headers.get("x-perfops-stale") != "true" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    history = response.json()["history"]
    notes = [h.get("note") for h in history]
    saved = [w for w in sent if w["status"] == 200]
    refused = [w for w in sent if w["status"] == 503 and w["retry_after"]]
    problems = [f"{w['note']}: answered {w['status']}" for w in sent if w not in saved and w not in refused]
    problems += [f"{w['note']}: saved {notes.count(w['note'])} times" for w in saved if notes.count(w["note"]) != 1]
    problems += [f"{w['note']}: refused but saved" for w in refused if w["note"] in notes]
    return {"sent": len(sent), "saved": len(saved), "refused_503": len(refused), "problems": problems,
            **figures([w["seconds"] for w in sent])}


def figures(latencies: list[float]) -> dict:
    if not latencies:
        return {"p50_ms": None, "p95_ms": None, "max_ms": None}
    ms = sorted(v * 1000 for v in latencies)
    return {"p50_ms": round(statistics.median(ms), 1), "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
            "max_ms": round(ms[-1], 1)}


class IngestLoop(threading.Thread):
    """`perfops ingest` of a new day, back to back, until stopped."""

    def __init__(self, root: Path, days: int = 1) -> None:
        super().__init__(daemon=True)
        self.root, self.stop, self.days = root, threading.Event(), days
        self.done: list[tuple[str, int, float]] = []  # (file, exit code, seconds)
        self.rows_written = 0

    def run(self) -> None:
        # the files are written in another process, the next one while the current one is ingested:
        # writing a large CSV here would hold this process' GIL and delay the clients' own timing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(1) as writer:
            upcoming = self._write(writer, 0)
            i = 0
            while not self.stop.is_set():
                path, rows = upcoming.result()
                self.rows_written += rows
                upcoming = self._write(writer, i + 1)
                self._ingest(path)
                i += 1

    def _write(self, writer, i: int):
        path = self.root / "live" / f"live-{i:03d}.csv"
        path.parent.mkdir(exist_ok=True)
        # backwards from the workspace's data: a file of future times is refused (model.limits)
        day = START - pd.Timedelta(days=(i + 1) * self.days)  # before the prepared days: no overwrite
        return writer.submit(_written, path, day, 1000 + i, self.days)

    def _ingest(self, path: Path) -> None:
        t0 = time.monotonic()
        code = subprocess.run([*PERFOPS, "ingest", str(path), "--workspace", str(self.root), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        self.done.append((path.name, code, round(time.monotonic() - t0, 1)))


def _written(path: Path, day: pd.Timestamp, seed: int, days: int) -> tuple[Path, int]:
    return path, write_day(path, day, seed=seed, days=days)


def check_store(root: Path, ingested: list[tuple[str, int, float]]) -> dict:
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(root).store_path, read_only=True) as store:
        telemetry = store.telemetry.count()
        files = {Path(str(f.path)).name: int(f.rows or 0) for f in store.ledger.files()}
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
    parser.add_argument("--no-writes", action="store_true", help="no comments through the API during the ingest")
    parser.add_argument("--ingest-days", type=int, default=1,
                        help="days of telemetry per ingested file (4,320 rows a day): larger ingests hold the store longer")
    parser.add_argument("--unread-charts", action="store_true",
                        help="during the ingest, also ask for every service's and endpoint's chart, never asked before")
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
        finding_id = next((p.rsplit("/", 1)[-1] for p in paths if p.startswith("/api/findings/")), None)
        during = paths + (unread_charts(base) if args.unread_charts else [])
        ingest = IngestLoop(root, args.ingest_days)
        ingest.start()
        loaded, sent = asyncio.run(_load_phase(base, during, args.clients, args.seconds,
                                               None if args.no_writes else finding_id))
        ingest.stop.set()
        ingest.join()
        writes = check_writes(base, finding_id, sent) if sent and finding_id else None
    finally:
        server.terminate()
        server.wait(timeout=30)
    store = check_store(root, ingest.done)
    result = {"clients": args.clients, "paths": len(paths), "paths_during_ingest": len(during),
              "rows_per_ingest": ingest.rows_written // max(len(ingest.done), 1), "baseline": baseline, "with_ingest": loaded,
              "writes": writes, "ingests": ingest.done, "store": store, "load_average": os.getloadavg()[0],
              "p50_ratio": _ratio(loaded["p50_ms"], baseline["p50_ms"]),
              "p95_ratio": _ratio(loaded["p95_ms"], baseline["p95_ms"])}
    print(report(result))
    if loaded["errors"] or baseline["errors"]:
        print(f"server log (tail): {server_log(root) or '(empty)'}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    ok = loaded["errors"] == 0 and baseline["errors"] == 0 and store["rows_lost"] == 0 \
        and not store["finished_files_missing_from_ledger"] and store["ingests_finished"] > 0 \
        and not (writes and writes["problems"])
    return 0 if ok else 1


async def _load_phase(base: str, paths: list[str], clients: int, seconds: float,
                      finding_id: str | None) -> tuple[dict, list[dict]]:
    """The readers, and the writer when `finding_id` is given, side by side."""
    readers = hammer(base, paths, clients, seconds)
    if finding_id is None:
        return await readers, []
    loaded, sent = await asyncio.gather(readers, write_while(base, finding_id, seconds))
    return loaded, sent


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


def report(r: dict) -> str:
    rows = ["| phase | clients | seconds | requests | errors | stale | req/s | p50 ms | p95 ms | max ms |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name in ("baseline", "with_ingest"):
        p = r[name]
        rows.append(f"| {name} | {r['clients']} | {p['seconds']:g} | {p['requests']} | {p['errors']} | "
                    f"{p.get('stale', 0)} | {p['requests'] / p['seconds']:.1f} | {p['p50_ms']} | {p['p95_ms']} | "
                    f"{p['max_ms']} |")
    s = r["store"]
    rows.append("")
    rows.append(f"ingest during the load: {s['ingests_finished']} files of about {r['rows_per_ingest']:,} rows "
                f"finished, {s['ingests_failed']} failed; {r['paths_during_ingest']} paths in rotation "
                f"(times {[t for _, _, t in r['ingests']]} s); store: {s['telemetry_rows']} telemetry rows, "
                f"ledger {s['ledger_rows']} rows, rows lost {s['rows_lost']}; "
                f"latency with ingest / baseline: p50 x{r['p50_ratio']}, p95 x{r['p95_ratio']}; "
                f"load average {r['load_average']:.1f}")
    rows.append(f"slowest with ingest: {r['with_ingest']['slowest']}")
    w = r.get("writes")
    if w:
        rows.append(f"writes during the ingest: {w['sent']} sent, {w['saved']} saved (200), {w['refused_503']} "
                    f"refused with 503 + Retry-After, latency p50 {w['p50_ms']} ms, max {w['max_ms']} ms; "
                    f"problems: {w['problems'][:5] or 'none'}")
    for name in ("baseline", "with_ingest"):
        if r[name]["error_samples"]:
            rows.append(f"{name} errors: {r[name]['error_samples']}")
    return "\n".join(rows)


if __name__ == "__main__":
    sys.exit(main())
