"""A synthetic domain for the capacity and cost tests (and bench/capacity_scale.py).

`SvcSpec` describes one service's traffic and resources; `build_frame` turns specs into long-form
5-minute telemetry; `build_context` wraps them in an AnalysisContext with an in-memory loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.model.catalog import Catalog

NOW = datetime(2026, 3, 2)  # a Monday, midnight UTC


@dataclass(frozen=True)
class SvcSpec:
    name: str
    peak_tps: float = 100.0  # peak of the 5-minute traffic at the start of the history
    growth_per_week: float = 0.0  # compounded
    instances: int = 6
    max_tps_per_instance: float | None = 40.0
    cpu_at_peak: float = 50.0  # CPU % at the starting peak on `instances` instances
    idle_cpu: float = 3.0
    tier: int = 2
    instance_hourly: float | None = 0.5
    last_week_factor: float = 1.0  # traffic multiplier over the last 7 days
    cost_spike_day: int | None = None  # days before NOW whose spend triples
    cost_telemetry: bool = False
    unit_cost_factor: float = 1.0  # last-week spend multiplier (instances scale up) at same traffic
    extra: dict[str, float] = field(default_factory=dict)


def _traffic(spec: SvcSpec, hours: np.ndarray, rng: np.random.Generator, days: int) -> np.ndarray:
    daily = 0.35 + 0.65 * np.clip(np.sin(2 * np.pi * (hours % 24 - 6) / 24), 0, None) ** 1.5
    weekend = np.where((hours // 24) % 7 >= 5, 0.7, 1.0)
    growth = (1 + spec.growth_per_week) ** (hours / 168)
    tps = spec.peak_tps * daily * weekend * growth * (1 + rng.normal(0, 0.03, len(hours)))
    last_week = hours >= (days - 7) * 24
    return np.where(last_week, tps * spec.last_week_factor, tps).clip(min=0)


def build_frame(specs: list[SvcSpec], *, now: datetime = NOW, days: int = 35, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = now - timedelta(days=days)
    stamps = pd.date_range(start, now, freq="5min", inclusive="left")
    hours = np.arange(len(stamps)) / 12.0
    parts = []
    for spec in specs:
        tps = _traffic(spec, hours, rng, days)
        inst = np.full(len(stamps), float(spec.instances))
        last_week = hours >= (days - 7) * 24
        inst = np.where(last_week, inst * spec.unit_cost_factor, inst)
        cpu = spec.idle_cpu + (spec.cpu_at_peak - spec.idle_cpu) * tps / spec.peak_tps * spec.instances / inst
        metrics = {"requests": tps * 300, "cpu_pct": cpu.clip(0, 100), "memory_pct": np.full(len(stamps), 45.0),
                   "instances": inst}
        if spec.cost_telemetry:
            cost = inst * (spec.instance_hourly or 0.5) / 12
            if spec.cost_spike_day is not None:
                day0 = (days - spec.cost_spike_day) * 288
                cost[day0 : day0 + 288] *= 3
            metrics["cost"] = cost
        for metric, values in metrics.items():
            parts.append(pd.DataFrame({"timestamp": stamps, "service": spec.name, "endpoint": "", "consumer": "",
                                       "metric": metric, "value": values}))
    return pd.concat(parts, ignore_index=True)


def build_catalog(specs: list[SvcSpec]) -> Catalog:
    services = []
    for spec in specs:
        svc: dict = {"name": spec.name, "squad": "team-a" if spec.tier == 1 else "team-b", "tier": spec.tier,
                     "capacity": {"instances": spec.instances, "cpu_target_pct": 70}}
        if spec.max_tps_per_instance:
            svc["capacity"]["max_tps_per_instance"] = spec.max_tps_per_instance
        if spec.instance_hourly is not None:
            svc["cost"] = {"instance_hourly": spec.instance_hourly}
        services.append(svc)
    return Catalog(domain="Test", squads=[{"name": "team-a"}, {"name": "team-b"}], services=services)


def memory_loader(frame: pd.DataFrame):
    def load(services, metrics, start, end):
        keep = (frame["timestamp"] >= start) & (frame["timestamp"] < end)
        if services is not None:
            keep &= frame["service"].isin(list(services))
        if metrics is not None:
            keep &= frame["metric"].isin(list(metrics))
        return frame.loc[keep].reset_index(drop=True)

    return load


def build_context(specs: list[SvcSpec], *, now: datetime = NOW, days: int = 35, **params) -> AnalysisContext:
    frame = build_frame(specs, now=now, days=days)
    return AnalysisContext(
        catalog=build_catalog(specs), now=now, period=timedelta(days=7), history=timedelta(days=days - 7),
        load_telemetry=memory_loader(frame), params={"capacity": params} if params else {},
    )
