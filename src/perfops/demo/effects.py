"""What a seeded incident does to the telemetry: small declarative changes over a time window.

An `Effect` names a target (traffic, latency, error rate, memory, instances, cost, …), where it
applies (a service, optionally one endpoint or one consumer) and how (scale, set, ramp, grow).
The generator applies effects to whole numpy arrays with a time mask, so an incident is data,
not code, and the ground truth and the series come from the same definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

TARGETS = ("traffic", "latency", "error_pct", "client_error_pct", "cpu", "memory", "instances", "cost")
OPS = ("scale", "set", "ramp", "grow")


@dataclass(frozen=True)
class Effect:
    """A change to one kind of series over [start, end) (end None = to the end of the data).

    op: `scale` multiplies by `value`; `set` replaces by `value`; `ramp` adds `value` per day
    since `start`; `grow` multiplies by (1 + value) per week since `start`, compounding.
    """

    target: str
    service: str
    op: str
    value: float
    start: datetime
    end: datetime | None = None
    endpoint: str | None = None
    consumer: str | None = None

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ValueError(f"unknown effect target '{self.target}'")
        if self.op not in OPS:
            raise ValueError(f"unknown effect op '{self.op}'")

    def applies_to(self, service: str, endpoint: str | None = None, consumer: str | None = None) -> bool:
        return (self.service == service and (self.endpoint is None or self.endpoint == endpoint)
                and (self.consumer is None or self.consumer == consumer))


@dataclass(frozen=True)
class Grid:
    """The 5-minute time grid of the telemetry: n steps from `start` (naive UTC)."""

    start: datetime
    n: int
    step_s: int = 300

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.n * self.step_s)

    def seconds(self) -> np.ndarray:
        """Seconds since `start` of each step."""
        return np.arange(self.n, dtype=np.float64) * self.step_s

    def index(self, moment: datetime) -> int:
        """The first step at or after `moment`, clipped to [0, n]."""
        offset = (moment - self.start).total_seconds() / self.step_s
        return int(min(max(np.ceil(offset - 1e-9), 0), self.n))

    def mask(self, start: datetime, end: datetime | None) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        out[self.index(start):self.index(end) if end is not None else self.n] = True
        return out

    def timestamps(self) -> np.ndarray:
        base = np.datetime64(self.start.replace(tzinfo=None).isoformat(), "us")
        return base + (np.arange(self.n, dtype=np.int64) * self.step_s * 1_000_000).astype("timedelta64[us]")


def apply(series: np.ndarray, effect: Effect, grid: Grid) -> np.ndarray:
    """`series` changed by `effect` inside its window (a new array)."""
    mask = grid.mask(effect.start, effect.end)
    out = np.array(series, dtype=np.float64, copy=True)
    if not mask.any():
        return out
    elapsed_days = (grid.seconds()[mask] - (effect.start - grid.start).total_seconds()) / 86_400.0
    if effect.op == "scale":
        out[mask] *= effect.value
    elif effect.op == "set":
        out[mask] = effect.value
    elif effect.op == "ramp":
        out[mask] += effect.value * np.maximum(elapsed_days, 0.0)
    else:  # grow
        out[mask] *= (1.0 + effect.value) ** (np.maximum(elapsed_days, 0.0) / 7.0)
    return out


def apply_all(series: np.ndarray, effects: list[Effect], grid: Grid, target: str, service: str,
              endpoint: str | None = None, consumer: str | None = None) -> np.ndarray:
    """`series` with every effect on (target, service, endpoint, consumer) applied in order.

    An effect without an endpoint applies to every endpoint of its service; one without a
    consumer applies to every consumer's share too. Consumer-specific effects apply only when
    `consumer` is given."""
    for effect in effects:
        if effect.target != target or not effect.applies_to(service, endpoint, consumer):
            continue
        if effect.consumer is not None and consumer is None:
            continue
        if effect.endpoint is not None and endpoint is None:
            continue
        series = apply(series, effect, grid)
    return series
