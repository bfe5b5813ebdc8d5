"""Performance-test results written the way the tools write them: a JMeter CSV JTL (the 17
columns of JMeter 3.1+ with a header) and Locust's `--csv` files (`_stats.csv`,
`_stats_history.csv`, `_failures.csv` of Locust 2.x).

Samples are drawn whole-array: arrival times uniform over the run after a one-minute ramp,
endpoints by the plan's mix, latencies lognormal with the plan's p50 and p95
(σ = ln(p95/p50) / 1.645), failures Bernoulli(error_pct).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.demo.files import atomic
from perfops.demo.incidents import TestRunPlan

JTL_COLUMNS = ("timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType",
               "success", "failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency",
               "IdleTime", "Connect")
LOCUST_PERCENTILES = (0.50, 0.66, 0.75, 0.80, 0.90, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0)
RAMP_S = 60


@dataclass(frozen=True)
class Samples:
    """One run's samples, sorted by start time."""

    start_ms: np.ndarray
    endpoint: np.ndarray  # index into `names`
    elapsed_ms: np.ndarray
    failed: np.ndarray
    users: np.ndarray
    names: tuple[str, ...]


def draw_samples(plan: TestRunPlan, rng: np.random.Generator) -> Samples:
    names = tuple(plan.mix)
    n = int(plan.tps * (plan.duration_s - RAMP_S / 2))
    offset_s = _ramped_offsets(n, plan.duration_s, rng)
    endpoint = rng.choice(len(names), size=n, p=np.array([plan.mix[e] for e in names]) / sum(plan.mix.values()))
    p50 = np.array([plan.p50_ms[e] for e in names])[endpoint]
    sigma = np.log(np.array([plan.p95_ms[e] / plan.p50_ms[e] for e in names]))[endpoint] / 1.645
    elapsed = np.maximum(1, np.rint(p50 * np.exp(rng.normal(0.0, 1.0, n) * sigma))).astype(np.int64)
    failed = rng.random(n) < plan.error_pct / 100.0
    users = np.minimum(plan.users, np.ceil(plan.users * np.maximum(offset_s, 1.0) / RAMP_S)).astype(np.int64)
    start_ms = int(plan.start.replace(tzinfo=UTC).timestamp() * 1000)  # plan times are naive UTC
    return Samples(start_ms + np.rint(offset_s * 1000).astype(np.int64), endpoint, elapsed, failed, users, names)


def _ramped_offsets(n: int, duration_s: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted arrival offsets (s): rate rising linearly over RAMP_S, then flat (inverse CDF)."""
    u = np.sort(rng.random(n))
    flat = duration_s - RAMP_S
    total = RAMP_S / 2 + flat
    x = u * total
    in_ramp = x < RAMP_S / 2
    return np.where(in_ramp, np.sqrt(2 * RAMP_S * np.minimum(x, RAMP_S / 2)), RAMP_S + (x - RAMP_S / 2))


def _filled_paths(names: tuple[str, ...], endpoint: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Request paths with `{id}` replaced by an id, per sample."""
    ids = rng.integers(100_000, 999_999, endpoint.size).astype(str)
    paths = np.array([n.split(" ", 1)[1] for n in names], dtype=object)[endpoint]
    parts = [p.split("{id}") for p in paths]
    return np.array([p[0] if len(p) == 1 else p[0] + i + p[1] for p, i in zip(parts, ids, strict=True)],
                    dtype=object)


# ---- JMeter ---------------------------------------------------------------------------------
def write_jtl(path: Path, plan: TestRunPlan, rng: np.random.Generator) -> Samples:
    """A JMeter CSV JTL with header, labels = endpoint names ("POST /checkout")."""
    s = draw_samples(plan, rng)
    n = s.start_ms.size
    code = np.where(s.failed, "500", np.where(np.array([e.startswith("POST") for e in s.names])[s.endpoint],
                                               "201", "200"))
    thread = (rng.integers(0, plan.users, n) + 1).astype(str)
    frame = pd.DataFrame({
        "timeStamp": s.start_ms, "elapsed": s.elapsed_ms, "label": np.array(s.names, dtype=object)[s.endpoint],
        "responseCode": code,
        "responseMessage": np.where(s.failed, "Internal Server Error", np.where(code == "201", "Created", "OK")),
        "threadName": np.char.add("Checkout Users 1-", thread), "dataType": "text",
        "success": np.where(s.failed, "false", "true"), "failureMessage": "",
        "bytes": rng.integers(900, 2600, n), "sentBytes": rng.integers(350, 900, n),
        "grpThreads": s.users, "allThreads": s.users,
        "URL": np.char.add(plan.base_url, _filled_paths(s.names, s.endpoint, rng).astype(str)),
        "Latency": np.maximum(1, s.elapsed_ms - rng.integers(0, 4, n)), "IdleTime": 0,
        "Connect": np.where(rng.random(n) < 0.05, rng.integers(15, 45, n), rng.integers(0, 3, n)),
    }, columns=list(JTL_COLUMNS))
    with atomic(path) as tmp:
        frame.to_csv(tmp, index=False, lineterminator="\n")
    return s


# ---- Locust ---------------------------------------------------------------------------------
def locust_round(ms: np.ndarray) -> np.ndarray:
    """Response times as Locust keeps them for percentiles: whole ms under 100, then rounded to
    2 significant figures (locust.stats.StatsEntry._log_time_of_request)."""
    ms = np.asarray(ms, dtype=float)
    out = np.rint(ms)
    for lower, upper, digits in ((100, 1_000, -1), (1_000, 10_000, -2), (10_000, np.inf, -3)):
        mask = (ms >= lower) & (ms < upper)
        out[mask] = np.round(ms[mask], digits)
    return out


def _percentiles(values: np.ndarray) -> list[str]:
    if values.size == 0:
        return ["N/A"] * len(LOCUST_PERCENTILES)
    rounded = np.sort(locust_round(values))
    ranks = np.minimum(rounded.size - 1, np.floor(np.array(LOCUST_PERCENTILES) * rounded.size).astype(int))
    return [f"{int(v)}" for v in rounded[ranks]]


def write_locust(prefix: Path, plan: TestRunPlan, rng: np.random.Generator) -> Samples:
    """`<prefix>_stats.csv`, `<prefix>_stats_history.csv` and `<prefix>_failures.csv`."""
    s = draw_samples(plan, rng)
    content = rng.normal(2400, 300, s.start_ms.size)
    _write_stats(Path(f"{prefix}_stats.csv"), s, content, plan.duration_s)
    _write_history(Path(f"{prefix}_stats_history.csv"), s, content)
    _write_failures(Path(f"{prefix}_failures.csv"), s)
    return s


def _stats_row(method: str, name: str, mask: np.ndarray, s: Samples, content: np.ndarray, seconds: float,
               ) -> list[str]:
    elapsed = s.elapsed_ms[mask].astype(float)
    failures = int(s.failed[mask].sum())
    median = _percentiles(elapsed)[0]
    return [method, name, str(int(mask.sum())), str(failures), median, f"{elapsed.mean():.6f}",
            f"{elapsed.min():.6f}", f"{elapsed.max():.6f}", f"{content[mask].mean():.1f}",
            f"{mask.sum() / seconds:.6f}", f"{failures / seconds:.6f}", *_percentiles(elapsed)]


def _write_stats(path: Path, s: Samples, content: np.ndarray, duration_s: int) -> None:
    header = ["Type", "Name", "Request Count", "Failure Count", "Median Response Time", "Average Response Time",
              "Min Response Time", "Max Response Time", "Average Content Size", "Requests/s", "Failures/s",
              *[_pct_label(p) for p in LOCUST_PERCENTILES]]
    rows = []
    for index, name in enumerate(s.names):
        method, route = name.split(" ", 1)
        rows.append(_stats_row(method, route, s.endpoint == index, s, content, duration_s))
    rows.append(_stats_row("", "Aggregated", np.ones(s.endpoint.size, dtype=bool), s, content, duration_s))
    _write_rows(path, header, rows)


def _pct_label(p: float) -> str:
    text = f"{p * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _write_history(path: Path, s: Samples, content: np.ndarray) -> None:
    """One Aggregated row a second: current rate and percentiles over the last 10 s, totals so
    far. Percentiles come from per-second histograms of the Locust-rounded times (cumulative
    sums), so the whole file is a few array operations."""
    header = ["Timestamp", "User Count", "Type", "Name", "Requests/s", "Failures/s",
              *[_pct_label(p) for p in LOCUST_PERCENTILES], "Total Request Count", "Total Failure Count",
              "Total Median Response Time", "Total Average Response Time", "Total Min Response Time",
              "Total Max Response Time", "Total Average Content Size"]
    second = (s.start_ms - s.start_ms[0]) // 1000
    seconds = int(second[-1]) + 1
    values, bucket = np.unique(locust_round(s.elapsed_ms), return_inverse=True)
    hist = np.zeros((seconds + 1, values.size), dtype=np.int64)
    np.add.at(hist, (second + 1, bucket), 1)
    total = hist.cumsum(axis=0)[1:]  # samples so far, per rounded value
    lagged = np.vstack([np.zeros((10, values.size), dtype=np.int64), total])[:seconds]
    current = total - lagged  # the last 10 seconds
    span = np.minimum(10, np.arange(seconds) + 1)
    ends = np.searchsorted(second, np.arange(seconds), side="right")
    failed, elapsed = np.cumsum(s.failed), s.elapsed_ms.astype(float)
    fails_now = failed[ends - 1] - np.r_[np.zeros(10, dtype=np.int64), failed[ends - 1]][:seconds]
    running = {name: func.accumulate(elapsed)[ends - 1] for name, func in (("min", np.minimum), ("max", np.maximum))}
    mean = np.cumsum(elapsed)[ends - 1] / ends
    size = np.cumsum(content)[ends - 1] / ends
    table = [_histogram_percentiles(current, values, p) for p in LOCUST_PERCENTILES]
    medians = _histogram_percentiles(total, values, 0.5)
    rows = []
    first_s = int(s.start_ms[0] // 1000)
    for t in range(seconds):
        rows.append([str(first_s + t), str(int(s.users[ends[t] - 1])), "", "Aggregated",
                     f"{current[t].sum() / span[t]:.6f}", f"{fails_now[t] / span[t]:.6f}",
                     *[column[t] for column in table], str(int(ends[t])), str(int(failed[ends[t] - 1])),
                     medians[t], f"{mean[t]:.6f}", f"{running['min'][t]:.6f}", f"{running['max'][t]:.6f}",
                     f"{size[t]:.6f}"])
    _write_rows(path, header, rows)


def _histogram_percentiles(counts: np.ndarray, values: np.ndarray, p: float) -> list[str]:
    """Per row of `counts` (samples per value), the value at rank floor(p × n); 'N/A' if empty."""
    n = counts.sum(axis=1)
    rank = np.minimum(np.floor(p * n), np.maximum(n - 1, 0))
    index = (counts.cumsum(axis=1) <= rank[:, None]).sum(axis=1)
    picked = values[np.minimum(index, values.size - 1)]
    return [f"{int(v)}" if k else "N/A" for v, k in zip(picked, n, strict=True)]


def _write_failures(path: Path, s: Samples) -> None:
    rows = []
    for index, name in enumerate(s.names):
        count = int((s.failed & (s.endpoint == index)).sum())
        if count:
            method, route = name.split(" ", 1)
            rows.append([method, route, f"HTTPError('503 Server Error: Service Unavailable for url: {route}')",
                         str(count)])
    _write_rows(path, ["Method", "Name", "Error", "Occurrences"], rows)


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with atomic(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def summary(s: Samples, duration_s: int) -> dict[str, dict[str, float]]:
    """Per endpoint: samples, throughput (req/s), p50 and p95 (ms) — for the ground truth."""
    out = {}
    for index, name in enumerate(s.names):
        elapsed = s.elapsed_ms[s.endpoint == index]
        out[name] = {"samples": int(elapsed.size), "throughput_rps": round(elapsed.size / duration_s, 2),
                     "p50_ms": round(float(np.percentile(elapsed, 50)), 1),
                     "p95_ms": round(float(np.percentile(elapsed, 95)), 1)}
    return out
