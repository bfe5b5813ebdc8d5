"""The demo's 5-minute telemetry, generated whole-array with numpy (no per-row Python).

Model, per endpoint e of service s at step t (see docs/demo.md):

- traffic  λ_e(t) = mean_tps_s × share_e × shape_s(t) × wander_s(t) × effects(t); requests are
  Poisson(λ × 300) (a consumer-split endpoint is the sum of its consumers' Poisson counts);
- latency  q_e(t) = (own_q_e × load(t) + Σ_calls w × q_callee(t)) × effects(t) × lognormal noise,
  for q in p50/p95/p99, computed callees first, so a slow dependency shows in its callers;
- errors   Binomial(requests, error_pct(t)), client errors likewise;
- service rows (endpoint ''): requests/errors summed, latency request-weighted; cpu_pct from
  load = requests/s ÷ (instances × max_tps_per_instance); memory_pct steady plus effects;
  instances from the catalog plus effects; cost = instances × instance_hourly / 12 + egress.

Gaps (a scrape outage) are removed rows, as a real store would have them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from perfops.demo.domain import CONSUMER_SHARES, ConsumerShare, ServiceProfile, dependency_order
from perfops.demo.effects import Effect, Grid, apply_all
from perfops.demo.seasonality import shape, wander
from perfops.model.catalog import Catalog

STEP_S = 300
QUANTILES = (("latency_p50_ms", 1.0, 0.03), ("latency_p95_ms", None, 0.06), ("latency_p99_ms", None, 0.10))
Key = tuple[str, str, str, str]  # service, endpoint, consumer, metric


@dataclass(frozen=True)
class Gap:
    """A window with no rows at all for one service (a scrape outage)."""

    service: str
    start: datetime
    end: datetime


@dataclass
class Series:
    """Every generated series by (service, endpoint, consumer, metric); NaN = no row."""

    grid: Grid
    values: dict[Key, np.ndarray] = field(default_factory=dict)

    def put(self, service: str, endpoint: str, consumer: str, metric: str, array: np.ndarray) -> None:
        self.values[(service, endpoint, consumer, metric)] = np.asarray(array, dtype=np.float64)

    def get(self, service: str, metric: str, endpoint: str = "", consumer: str = "") -> np.ndarray:
        return self.values[(service, endpoint, consumer, metric)]


def generate(catalog: Catalog, grid: Grid, effects: list[Effect], gaps: list[Gap],
             rng: np.random.Generator) -> Series:
    """All series of the demo domain over `grid`, with `effects` applied and `gaps` cut out."""
    series = Series(grid)
    latency: dict[str, dict[str, np.ndarray]] = {}  # "service:endpoint" -> quantile -> final latency
    for svc in dependency_order():
        rates = _traffic(svc, grid, effects, rng)
        _counts(series, svc, rates, grid, effects, rng)
        _latencies(series, svc, rates, latency, grid, effects, rng)
        _service_rollup(series, svc)
        _resources(series, svc, catalog, grid, effects, rng)
    _cut_gaps(series, gaps)
    return series


# ---- traffic -------------------------------------------------------------------------------
def _traffic(svc: ServiceProfile, grid: Grid, effects: list[Effect], rng: np.random.Generator,
             ) -> dict[str, np.ndarray]:
    """Expected requests/s per endpoint (consumer-split endpoints: the sum of their consumers)."""
    base = svc.mean_tps * shape(grid, svc.phase_h) * wander(grid, rng, 0.03)
    out = {}
    for ep in svc.endpoints:
        lam = base * ep.share * apply_all(np.ones(grid.n), effects, grid, "traffic", svc.name, ep.name)
        lam = lam * np.exp(rng.normal(0.0, 0.015, grid.n))
        out[ep.name] = lam
    return out


def _consumers_of(service: str, endpoint: str) -> list[ConsumerShare]:
    return [c for c in CONSUMER_SHARES if c.service == service and c.endpoint == endpoint]


def _consumer_rate(share: ConsumerShare, endpoint_rate: np.ndarray, grid: Grid, effects: list[Effect],
                   ) -> np.ndarray:
    """A consumer's expected requests/s: its share of the endpoint (flat for machine clients),
    times its own effects (e.g. polling far above its norm)."""
    rate = endpoint_rate * share.share
    if share.flat:
        rate = np.full(grid.n, endpoint_rate.mean() * share.share)
    own = [e for e in effects if e.consumer == share.consumer]
    return rate * apply_all(np.ones(grid.n), own, grid, "traffic", share.service, share.endpoint, share.consumer)


def _counts(series: Series, svc: ServiceProfile, rates: dict[str, np.ndarray], grid: Grid,
            effects: list[Effect], rng: np.random.Generator) -> None:
    """requests, errors, client_errors per endpoint and per known consumer."""
    for ep in svc.endpoints:
        err = apply_all(np.full(grid.n, ep.error_pct), effects, grid, "error_pct", svc.name, ep.name) / 100.0
        cerr = apply_all(np.full(grid.n, ep.client_error_pct), effects, grid, "client_error_pct", svc.name,
                         ep.name) / 100.0
        consumers = _consumers_of(svc.name, ep.name)
        rest = max(0.0, 1.0 - sum(c.share for c in consumers))
        total_req = rng.poisson(rates[ep.name] * rest * STEP_S).astype(np.float64)
        total_err = rng.binomial(total_req.astype(np.int64), err).astype(np.float64)
        total_cerr = rng.binomial(total_req.astype(np.int64), cerr).astype(np.float64)
        for share in consumers:
            req, e, ce = _consumer_counts(share, rates[ep.name], err, grid, effects, rng)
            for metric, values in (("requests", req), ("errors", e), ("client_errors", ce)):
                series.put(svc.name, ep.name, share.consumer, metric, values)
            total_req, total_err, total_cerr = total_req + req, total_err + e, total_cerr + ce
        series.put(svc.name, ep.name, "", "requests", total_req)
        series.put(svc.name, ep.name, "", "errors", total_err)
        series.put(svc.name, ep.name, "", "client_errors", total_cerr)


def _consumer_counts(share: ConsumerShare, endpoint_rate: np.ndarray, err: np.ndarray, grid: Grid,
                     effects: list[Effect], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    own = [e for e in effects if e.consumer == share.consumer]
    rate = _consumer_rate(share, endpoint_rate, grid, effects)
    cerr = apply_all(np.full(grid.n, share.client_error_pct), own, grid, "client_error_pct", share.service,
                     share.endpoint, share.consumer) / 100.0
    req = rng.poisson(rate * STEP_S)
    return (req.astype(np.float64), rng.binomial(req, err).astype(np.float64),
            rng.binomial(req, cerr).astype(np.float64))


# ---- latency -------------------------------------------------------------------------------
def _latencies(series: Series, svc: ServiceProfile, rates: dict[str, np.ndarray],
               latency: dict[str, dict[str, np.ndarray]], grid: Grid, effects: list[Effect],
               rng: np.random.Generator) -> None:
    """p50/p95/p99 per endpoint: own time (load-dependent) plus weighted callee latency, then
    the endpoint's effects and lognormal noise (wider when few requests make the percentile)."""
    day_factor = wander(grid, rng, 0.02)
    for ep in svc.endpoints:
        requests = series.get(svc.name, "requests", ep.name)
        load = rates[ep.name] / max(float(rates[ep.name].mean()), 1e-9)
        own_scale = np.clip(1.0 + 0.08 * (load - 1.0), 0.93, 1.25) * day_factor
        factor = apply_all(np.ones(grid.n), effects, grid, "latency", svc.name, ep.name)
        spread = np.clip(np.sqrt(1.0 + 400.0 / np.maximum(requests, 1.0)), 1.0, 3.0)
        common = rng.normal(0.0, 0.03, grid.n)
        finals: dict[str, np.ndarray] = {}
        for metric, ratio, sigma in QUANTILES:
            mult = ratio or (ep.r95 if metric == "latency_p95_ms" else ep.r99)
            value = ep.p50_ms * mult * own_scale
            for callee, weight in ep.calls.items():
                value = value + weight * latency[callee][metric]
            noise = np.exp(common + rng.normal(0.0, sigma, grid.n) * spread)
            finals[metric] = value * factor * noise
        finals["latency_p95_ms"] = np.maximum(finals["latency_p95_ms"], finals["latency_p50_ms"] * 1.05)
        finals["latency_p99_ms"] = np.maximum(finals["latency_p99_ms"], finals["latency_p95_ms"] * 1.05)
        latency[f"{svc.name}:{ep.name}"] = finals
        for metric, values in finals.items():
            series.put(svc.name, ep.name, "", metric, np.round(values, 1))


def _service_rollup(series: Series, svc: ServiceProfile) -> None:
    """Service rows: counts summed over endpoints, latency weighted by each endpoint's requests."""
    for metric in ("requests", "errors", "client_errors"):
        parts = [series.get(svc.name, metric, e.name) for e in svc.endpoints]
        series.put(svc.name, "", "", metric, np.sum(parts, axis=0))
    weights = [np.maximum(series.get(svc.name, "requests", e.name), 0.5) for e in svc.endpoints]
    total = sum(weights)
    for metric, _, _ in QUANTILES:
        weighted = sum(w * series.get(svc.name, metric, e.name) for w, e in zip(weights, svc.endpoints, strict=True))
        series.put(svc.name, "", "", metric, np.round(weighted / total, 1))


# ---- resources and cost --------------------------------------------------------------------
def _resources(series: Series, svc: ServiceProfile, catalog: Catalog, grid: Grid, effects: list[Effect],
               rng: np.random.Generator) -> None:
    service = catalog.service(svc.name)
    capacity, cost = service.capacity, service.cost
    instances = apply_all(np.full(grid.n, float(capacity.instances if capacity and capacity.instances else 2)),
                          effects, grid, "instances", svc.name)
    per_instance = capacity.max_tps_per_instance if capacity and capacity.max_tps_per_instance else 50.0
    tps = series.get(svc.name, "requests") / STEP_S
    load = tps / (instances * per_instance)
    cpu = svc.cpu_idle + svc.cpu_slope * load + rng.normal(0.0, 1.2, grid.n)
    cpu = apply_all(cpu, effects, grid, "cpu", svc.name)
    memory = svc.memory_pct + 2.0 * (load / max(float(load.mean()), 1e-9) - 1.0) + rng.normal(0.0, 0.5, grid.n)
    memory = apply_all(memory, effects, grid, "memory", svc.name)
    hourly = cost.instance_hourly if cost and cost.instance_hourly is not None else 0.1
    spend = instances * hourly * STEP_S / 3600.0 + series.get(svc.name, "requests") * svc.egress_per_million / 1e6
    spend = apply_all(spend, effects, grid, "cost", svc.name)
    series.put(svc.name, "", "", "cpu_pct", np.round(np.clip(cpu, 0.5, 100.0), 1))
    series.put(svc.name, "", "", "memory_pct", np.round(np.clip(memory, 1.0, 100.0), 1))
    series.put(svc.name, "", "", "instances", instances)
    series.put(svc.name, "", "", "cost", np.round(spend, 5))


def _cut_gaps(series: Series, gaps: list[Gap]) -> None:
    for gap in gaps:
        mask = series.grid.mask(gap.start, gap.end)
        for key, values in series.values.items():
            if key[0] == gap.service:
                values[mask] = np.nan


# ---- the long table --------------------------------------------------------------------------
def to_table(series: Series) -> pa.Table:
    """The long-form telemetry table (perfops.model.tables.TELEMETRY_COLUMNS), gap rows dropped.

    Text columns are dictionary-encoded: a few hundred distinct keys over millions of rows."""
    stamps = series.grid.timestamps()
    keys = list(series.values)
    blocks = np.stack([series.values[k] for k in keys])  # (series, time)
    present = ~np.isnan(blocks)
    key_index = np.repeat(np.arange(len(keys)), present.sum(axis=1))
    time_index = np.nonzero(present)[1]
    columns = {}
    for position, name in enumerate(("service", "endpoint", "consumer", "metric")):
        labels = sorted({k[position] for k in keys})
        code = {label: i for i, label in enumerate(labels)}
        codes = np.array([code[k[position]] for k in keys], dtype=np.int32)[key_index]
        columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(labels, pa.string()))
    return pa.table({
        "timestamp": pa.array(stamps[time_index], pa.timestamp("us")),
        "service": columns["service"], "endpoint": columns["endpoint"], "consumer": columns["consumer"],
        "metric": columns["metric"], "value": pa.array(blocks[present], pa.float64()),
    })
