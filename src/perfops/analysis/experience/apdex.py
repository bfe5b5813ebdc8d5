"""Apdex per service and endpoint (Apdex Alliance, "Apdex Technical Specification" v1.1, 2007).

Apdex_T = (satisfied + tolerating / 2) / total, satisfied = response time <= T, tolerating =
T < time <= 4T, frustrated = slower or failed. Telemetry holds percentiles, not raw times, so each
interval's latency distribution is approximated by the piecewise-linear CDF through the points
(0, 0), (p50, 0.5), (p95, 0.95), (p99, 0.99), (max, 1) — the points that are present; without a
max the CDF reaches 1 at 2 x p99. Server errors count as frustrated. The result is exact when T
falls on a known percentile and otherwise off by at most the gap between the two percentiles
around T (e.g. between 0.95 and 0.99). Intervals are weighted by their requests.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_POINTS = (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95), ("latency_p99_ms", 0.99))


def share_within(frame: pd.DataFrame, limit_ms: float) -> np.ndarray:
    """Per interval, the approximate share of requests at or under `limit_ms`."""
    n = len(frame)
    xs = [np.zeros(n)]
    ys = [np.zeros(n)]
    for column, q in _POINTS:
        if column in frame:
            xs.append(frame[column].to_numpy(np.float64))
            ys.append(np.full(n, q))
    top = frame["latency_max_ms"].to_numpy(np.float64) if "latency_max_ms" in frame else np.full(n, np.nan)
    xs.append(top)
    ys.append(np.ones(n))
    x, y = np.vstack(xs).T, np.vstack(ys).T
    measured = np.isfinite(x[:, 1]) if x.shape[1] > 2 else np.zeros(n, dtype=bool)
    for j in range(1, x.shape[1] - 1):  # a missing point repeats the one before; percentiles are monotone
        missing = ~np.isfinite(x[:, j])
        x[:, j] = np.where(missing, x[:, j - 1], np.fmax(x[:, j], x[:, j - 1]))
        y[:, j] = np.where(missing, y[:, j - 1], y[:, j])
    x[:, -1] = np.where(np.isfinite(top), np.fmax(top, x[:, -2]), 2 * x[:, -2])
    out: np.ndarray = np.ones(n)
    for j in range(x.shape[1] - 1, 0, -1):
        x0, x1, y0, y1 = x[:, j - 1], x[:, j], y[:, j - 1], y[:, j]
        inside = (limit_ms >= x0) & (limit_ms < x1)
        width = np.where(x1 > x0, x1 - x0, 1.0)
        out = np.where(inside, y0 + (limit_ms - x0) / width * (y1 - y0), out)
    return np.where(measured, out, np.nan)


def apdex(frame: pd.DataFrame, threshold_ms: float) -> float:
    """Request-weighted Apdex of a series (one row an interval). NaN when nothing was measured."""
    if frame.empty or "latency_p50_ms" not in frame:
        return float("nan")
    score, requests = _scores(frame, threshold_ms)
    return _weighted(score, requests)


def _scores(frame: pd.DataFrame, threshold_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """Per interval (row): its Apdex score and its requests."""
    satisfied = share_within(frame, threshold_ms)
    tolerating = share_within(frame, 4 * threshold_ms) - satisfied
    requests = frame["requests"].to_numpy(np.float64)
    errors = np.minimum(frame["errors"].to_numpy(np.float64), requests) if "errors" in frame else 0
    good = np.where(requests > 0, 1 - errors / np.where(requests > 0, requests, 1), 0)
    return good * (satisfied + tolerating / 2), requests


def _weighted(score: np.ndarray, requests: np.ndarray) -> float:
    ok = np.isfinite(score) & (requests > 0)
    if not ok.any():
        return float("nan")
    return float(np.average(score[ok], weights=requests[ok]))


def rating(score: float) -> str:
    """The spec's bands: excellent >= 0.94, good >= 0.85, fair >= 0.70, poor >= 0.50, else unacceptable."""
    if not np.isfinite(score):
        return "–"
    for floor, name in ((0.94, "excellent"), (0.85, "good"), (0.70, "fair"), (0.50, "poor")):
        if score >= floor:
            return name
    return "unacceptable"


def apdex_table(data: pd.DataFrame, service: str, threshold_ms: float) -> list[dict[str, object]]:
    """Apdex of the service ('' endpoint) and each endpoint, with requests, for reports."""
    rows = data[(data["service"] == service) & (data["consumer"] == "")]
    if rows.empty:
        return []
    # each interval's score depends on its own row only: scored once for every endpoint, then
    # averaged per endpoint over its rows in their order (the same figure as apdex(part))
    groups = rows.groupby("endpoint", sort=True, observed=True)
    number = groups.ngroup().to_numpy()
    score, requests = _scores(rows, threshold_ms) if "latency_p50_ms" in rows else (None, None)
    out = []
    for index, endpoint in enumerate(groups.size().index):
        at = np.flatnonzero(number == index)
        value = float("nan") if score is None or requests is None else _weighted(score[at], requests[at])
        out.append({"service": service, "endpoint": endpoint, "threshold_ms": threshold_ms,
                    "apdex": None if not np.isfinite(value) else round(value, 3), "rating": rating(value),
                    "requests": float(rows["requests"].iloc[at].sum())})
    return out
