"""The always-on loop end to end: two simulated weeks of `perfops cycle` every 12 hours against a
REAL Prometheus (tests/prometheus_server.py) and a local webhook receiver, with a clock the test
controls, a SIGKILL in the middle of a cycle, and perfops' own /metrics scraped by that Prometheus.

What a user relies on: each squad and the domain get exactly one digest per week, whatever the
crashes; the digest says what is new, still open and resolved since the last one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest

from perfops.store import open_store
from perfops.store.findings_repo import FindingFilter
from perfops.usecases.cycle import STATE_FILE, run_cycle
from perfops.usecases.workflow import change_status
from perfops.workspace import Workspace
from prometheus_server import INSTALL_HINT, PrometheusServer, Series, binaries, free_port, write_openmetrics

pytestmark = [pytest.mark.skipif(binaries() is None, reason=INSTALL_HINT), pytest.mark.slow]

BASE = datetime(2026, 11, 2)  # a Monday: weeks close on 11-09, 11-16 and 11-23
DAYS = 21
STEP = 300  # s: the series are 5-minute samples, and collect asks for the same step

CATALOG = """\
domain: Shop
timezone: UTC
squads:
  - name: alpha
    webhook: {hook}/alpha
  - name: beta
    webhook: {hook}/beta
services:
  - name: orders
    squad: alpha
    tier: 1
    depends_on: [payments]
    slo: {{availability: 99.5, latency_p95_ms: 300}}
  - name: carts
    squad: alpha
    tier: 1
    slo: {{availability: 99.5, latency_p95_ms: 300}}
  - name: payments
    squad: beta
    tier: 1
    slo: {{availability: 99.5, latency_p95_ms: 300}}
sources:
  prometheus:
    url: {prometheus}
    step: 5m
    queries:
      requests: 'perfops_requests'
      errors: 'perfops_errors'
      latency_p95_ms: 'perfops_latency_p95_ms'
schedule:
  period: 7d
retention:
  raw_days: 30
"""

# incidents (service, metric, start, hours, factor): two in week 2 for squad alpha, one in week 3 for beta
INCIDENTS = [
    ("orders", "latency", BASE + timedelta(days=9, hours=10), 6, 5.0),
    ("carts", "errors", BASE + timedelta(days=10, hours=12), 3, 40.0),
    ("payments", "errors", BASE + timedelta(days=16, hours=9), 3, 40.0),
]


def _epoch(moment: datetime) -> int:
    return int((moment - datetime(1970, 1, 1)).total_seconds())


def _series() -> list[Series]:
    rng = np.random.default_rng(7)
    n = DAYS * 86400 // STEP
    times = [BASE + timedelta(seconds=STEP * i) for i in range(n)]
    hours = np.array([t.hour + t.minute / 60 for t in times])
    out = []
    for service in ("orders", "carts", "payments"):
        requests = np.round(600 + 300 * np.sin((hours - 9) / 24 * 2 * np.pi) + rng.normal(0, 15, n))
        errors = rng.binomial(requests.astype(int), 0.002).astype(float)
        latency = 120 + 20 * np.sin((hours - 9) / 24 * 2 * np.pi) + rng.normal(0, 4, n)
        for name, start, length, factor in [(m, s, h, f) for svc, m, s, h, f in INCIDENTS if svc == service]:
            hit = np.array([start <= t < start + timedelta(hours=length) for t in times])
            if name == "latency":
                latency[hit] *= factor
            else:
                errors[hit] = np.minimum(requests[hit], errors[hit] + requests[hit] * 0.002 * factor)
        labels = {"service": service, "endpoint": "GET /"}
        for metric, values in (("requests", requests), ("errors", errors), ("latency_p95_ms", latency)):
            out.append(Series(f"perfops_{metric}", labels,
                              [(_epoch(t), float(round(v, 3))) for t, v in zip(times, values, strict=True)]))
    return out


@dataclass
class Receiver:
    """A local webhook receiver: every POST body, by path."""

    received: list[tuple[str, dict]] = field(default_factory=list)

    def by_target(self) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for path, body in self.received:
            out.setdefault(path.strip("/"), []).append(body)
        return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Receiver]]:
    record = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            record.received.append((self.path, body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", record
    server.shutdown()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    folder = tmp_path_factory.mktemp("prom")
    write_openmetrics(_series(), folder / "data.om")
    with PrometheusServer(folder / "data.om", workdir=folder / "server") as server:
        yield server


def _sections(text: str) -> dict[str, list[str]]:
    """The finding ids under New / Still open / Resolved in a digest's plain text."""
    out: dict[str, list[str]] = {"New": [], "Still open": [], "Resolved": []}
    current = None
    for line in text.splitlines():
        if line.endswith(":") and not line.startswith(" "):
            current = line.rstrip(":") if line.rstrip(":") in out else None  # e.g. "Next actions"
        elif current and line.strip().startswith("•"):
            out[current].append(line.split()[-1])
    return out


def test_two_weeks_of_cycles(tmp_path: Path, prometheus: PrometheusServer, receiver: tuple[str, Receiver],
                             monkeypatch: pytest.MonkeyPatch) -> None:
    hook, record = receiver
    root = tmp_path / "ws"
    root.mkdir()
    (root / "perfops.yaml").write_text(CATALOG.format(hook=hook, prometheus=prometheus.url))
    ws = Workspace(root)
    monkeypatch.setenv("PERFOPS_DOMAIN_WEBHOOK", f"{hook}/domain")
    clock = BASE + timedelta(days=7, hours=7)  # Monday 07:00 after the first week
    texts: dict[str, list[str]] = {}
    resolved_id = still_open_id = None
    while clock <= BASE + timedelta(days=21, hours=7):
        if clock == BASE + timedelta(days=14, hours=7):
            _killed_mid_cycle(ws, clock)  # the week-2 cycle dies after its analysis...
        result = run_cycle(ws, now=clock)  # ...and the next run completes it
        assert not result.failed, result.summary()
        if clock == BASE + timedelta(days=14, hours=7):
            resolved_id, still_open_id = _resolve_one_of_alpha(ws)
        clock += timedelta(hours=12)

    received = record.by_target()
    # exactly one digest per target per week: weeks closing 11-09, 11-16 and 11-23
    assert {t: len(bodies) for t, bodies in received.items()} == {"alpha": 3, "beta": 3, "domain": 3}
    for target, bodies in received.items():
        texts[target] = [_slack_text(b) for b in bodies]
    week3_alpha = _sections(texts["alpha"][2])
    assert resolved_id in week3_alpha["Resolved"] and resolved_id not in week3_alpha["Still open"]
    assert still_open_id in week3_alpha["Still open"] and still_open_id not in week3_alpha["New"], texts["alpha"]
    week2_alpha = _sections(texts["alpha"][1])
    assert {resolved_id, still_open_id} <= set(week2_alpha["New"])  # found in week 2, so new then
    payments_new = _sections(texts["beta"][2])["New"]
    assert _finding_of(ws, "payments", BASE + timedelta(days=14)) in payments_new, texts["beta"][2]
    _metrics_scraped(ws, prometheus)


def _slack_text(body: dict) -> str:
    """The digest as the receiver got it: the Slack blocks' text, sections and bullet lines."""
    parts = []
    for block in body["blocks"]:
        text = block.get("text", {}).get("text", "")
        for line in text.splitlines():
            if line.startswith("*") and line.endswith("*"):
                parts.append(line.strip("*") + ":")
            else:
                parts.append(line)
    return "\n".join(parts)


def _killed_mid_cycle(ws: Workspace, clock: datetime) -> None:
    """Start the cycle as a separate process, SIGKILL it once its analysis is recorded, and check
    that nothing of this period was sent and the next run has the report and digests left to do."""
    state_path = ws.store_path.parent / STATE_FILE
    key = f"{(BASE + timedelta(days=14)).isoformat()}/7d"
    process = subprocess.Popen([sys.executable, "-m", "perfops.cli", "cycle", "--at", clock.isoformat(),
                                "--workspace", str(ws.root), "--quiet"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if json.loads(state_path.read_text()).get("done", {}).get("analyze") == key:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    assert process.poll() is None, f"the cycle ended before it could be killed: {process.stderr.read()!r}"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    state = json.loads(state_path.read_text())
    assert state["done"]["analyze"] == key
    assert state["done"].get("notify") != key


def _resolve_one_of_alpha(ws: Workspace) -> tuple[str, str]:
    """Resolve one of squad alpha's week-2 findings and keep another open."""
    with open_store(ws.store_path, read_only=True) as store:
        found = store.findings.list(FindingFilter(squad="alpha", status="open"))
    week2 = [f for f in found if f.start and BASE + timedelta(days=7) <= f.start < BASE + timedelta(days=14)]
    carts = [f for f in week2 if f.service == "carts"]
    orders = [f for f in week2 if f.service == "orders"]
    assert carts and orders, [(f.service, f.kind, f.start) for f in found]
    change_status(ws, carts[0].id, "resolve", "priya", "fixed the retry loop")
    return carts[0].id, orders[0].id


def _finding_of(ws: Workspace, service: str, after: datetime) -> str:
    with open_store(ws.store_path, read_only=True) as store:
        found = [f for f in store.findings.list(FindingFilter(service=service, status="all"))
                 if f.start and f.start >= after]
    assert found, f"no finding for {service} after {after}"
    return found[0].id


def _metrics_scraped(ws: Workspace, prometheus: PrometheusServer) -> None:
    """perfops serve's /metrics scraped by the same Prometheus: the cycle's outcomes arrive."""
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "perfops.cli", "serve", "--port", str(port),
                               "--workspace", str(ws.root), "--quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics")
        config = prometheus.workdir / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: perfops\n"
                          f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        assert httpx.post(f"{prometheus.url}/-/reload", timeout=10).status_code == 200
        deadline = time.monotonic() + 60
        value = None
        while time.monotonic() < deadline and value is None:
            answer = httpx.get(f"{prometheus.url}/api/v1/query", timeout=10,
                               params={"query": 'perfops_cycle_steps_total{step="notify",outcome="ok"}'}).json()
            results = answer["data"]["result"]
            value = float(results[0]["value"][1]) if results else None
            time.sleep(0.5)
        assert value == 3.0  # three weekly digests rounds, each once
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def _wait_http(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 60 s")
