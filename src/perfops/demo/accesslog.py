"""An nginx access log of the partner gateway: the `combined` format with `$request_time`
appended, the partners told apart by their user agent ("partner-acme/3.2.1").

    log_format timed '$remote_addr - $remote_user [$time_local] "$request" $status '
                     '$body_bytes_sent "$http_referer" "$http_user_agent" $request_time';

The gateway fronts checkout-api, orders and catalog for partners. Its consumers behave as in
the main telemetry: partner-acme well, partner-globex with a quarter of its checkouts rejected
(4xx), affiliate-feed polling order status far more than it needs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from perfops.demo.files import atomic

SERVICE = "partner-gateway"
HOURS = 3
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Caller:
    agent: str  # the user agent, whose product token is the consumer name
    subnet: str
    rps: float
    mix: dict[str, float]  # endpoint -> share
    client_error_pct: float


CALLERS = (
    Caller("partner-acme/3.2.1 (+https://acme.example/bot)", "203.0.113.", 0.6,
           {"POST /checkout": 0.2, "GET /orders/{id}": 0.5, "GET /products": 0.3}, 0.4),
    Caller("partner-globex/1.0.4 python-requests/2.31.0", "198.51.100.", 0.3,
           {"POST /checkout": 0.6, "GET /orders/{id}": 0.4}, 25.0),
    Caller("affiliate-feed/0.9.2", "192.0.2.", 0.5, {"GET /orders/{id}": 0.9, "GET /products": 0.1}, 0.5),
)
# median and p95 of $request_time per endpoint, in ms (the gateway adds ~5 ms to the upstream)
TIMING = {"POST /checkout": (330.0, 760.0), "GET /orders/{id}": (18.0, 40.0), "GET /products": (45.0, 105.0)}


def write_access_log(path: Path, end: datetime, rng: np.random.Generator) -> int:
    """The last HOURS hours before `end`; returns the number of lines."""
    start = end - timedelta(hours=HOURS)
    parts = [_caller_lines(c, start, rng) for c in CALLERS]
    stamps = np.concatenate([p[0] for p in parts])
    lines = np.concatenate([p[1] for p in parts])
    order = np.argsort(stamps, kind="stable")
    with atomic(path) as tmp, tmp.open("w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines[order].tolist()))
        f.write("\n")
    return int(lines.size)


def _caller_lines(caller: Caller, start: datetime, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    n = int(rng.poisson(caller.rps * HOURS * 3600))
    offsets = np.sort(rng.random(n) * HOURS * 3600)
    names = list(caller.mix)
    endpoint = rng.choice(len(names), size=n, p=np.array(list(caller.mix.values())))
    p50 = np.array([TIMING[e][0] for e in names])[endpoint]
    sigma = np.log(np.array([TIMING[e][1] / TIMING[e][0] for e in names]))[endpoint] / 1.645
    seconds = p50 * np.exp(rng.normal(0.0, 1.0, n) * sigma) / 1000.0
    status = _statuses(names, endpoint, caller.client_error_pct, rng)
    size = np.where(status >= 400, rng.integers(60, 200, n), rng.integers(400, 4800, n))
    base = datetime(1970, 1, 1)
    lines = np.empty(n, dtype=object)
    ip = rng.integers(2, 250, n)
    ids = rng.integers(1_000_000, 9_999_999, n)
    for i in range(n):  # string formatting only; every number above is drawn whole-array
        moment = start + timedelta(seconds=float(offsets[i]))
        method, route = names[endpoint[i]].split(" ", 1)
        target = route.replace("{id}", str(ids[i])) + ("?page=1&size=50" if route == "/products" else "")
        lines[i] = (f'{caller.subnet}{ip[i]} - - [{_nginx_time(moment)}] "{method} {target} HTTP/1.1" '
                    f'{status[i]} {size[i]} "-" "{caller.agent}" {seconds[i]:.3f}')
    stamps = np.array([(start - base).total_seconds()]) + offsets
    return stamps, lines


def _statuses(names: list[str], endpoint: np.ndarray, client_error_pct: float, rng: np.random.Generator,
              ) -> np.ndarray:
    n = endpoint.size
    ok = np.where(np.array([e.startswith("POST") for e in names])[endpoint], 201, 200)
    client = rng.random(n) < client_error_pct / 100.0
    server = rng.random(n) < 0.0008
    rejected = rng.choice(np.array([400, 422, 404, 429]), size=n, p=[0.55, 0.35, 0.05, 0.05])
    return np.where(server, 502, np.where(client, rejected, ok))


def _nginx_time(moment: datetime) -> str:
    """nginx $time_local for a UTC server: 22/Nov/2026:21:00:01 +0000."""
    m = moment.replace(tzinfo=UTC)
    return f"{m.day:02d}/{MONTHS[m.month - 1]}/{m.year}:{m:%H:%M:%S} +0000"
