"""Per-service aggregates the team sections read, fetched for a batch of services at once.

The endpoint table and charts and the endpoint cost shares of a lead or
developer report need sums over a service's rows, not the rows. `Aggregates` names the three
questions; the use case injects the store's answer (perfops.store.report_queries, one DuckDB
statement per batch of services), and `FrameAggregates` answers them from the context's raw
telemetry with pandas (the reference: sections built alone and tests use it).

`for_services` asks for a whole batch when one service misses: the services of the run in the
order the run renders them (`RUN_SERVICES` in the view's cache, set by the use case), in slices
of `BATCH`, so the squad's lead report and its developers' reports share one query.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pandas as pd

# A batch's answers are held while its reports render: at 1,000 services (10 endpoints, 14 days of
# hours) a report process peaked at 730 MB with batches of 50 kept twice, 622 MB with 25 kept once,
# 571 MB with 10, at the same CPU (the store prunes by service); docs/bench/reports.md.
BATCH = 20
KEEP_BATCHES = 1
RUN_SERVICES = "run-services"


class Aggregates(Protocol):
    def endpoint_hours(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                       end: datetime) -> pd.DataFrame:
        """Rows for all consumers: (service, endpoint, metric, hour, total, n), sum and count."""

    def consumer_totals(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
        """Per-consumer rows summed: (service, consumer, metric, value)."""

    def endpoint_totals(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
        """Endpoint rows (endpoint not '') for all consumers summed: (service, endpoint, metric, value)."""


@dataclass(frozen=True)
class FrameAggregates:
    """The aggregates computed with pandas from raw rows (`load_telemetry(services, metrics,
    start, end)`, e.g. a report context's loader)."""

    load_telemetry: Any

    def _raw(self, services: Sequence[str], metrics: Sequence[str], start: datetime, end: datetime) -> pd.DataFrame:
        raw = self.load_telemetry(list(services), list(metrics), start, end)
        return raw if raw is not None else pd.DataFrame()

    def endpoint_hours(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                       end: datetime) -> pd.DataFrame:
        raw = self._raw(services, metrics, start, end)
        columns = ["service", "endpoint", "metric", "hour", "total", "n"]
        if raw.empty:
            return pd.DataFrame(columns=columns)
        raw = raw[raw["consumer"] == ""]
        hour = pd.to_datetime(raw["timestamp"]).dt.floor("h")
        grouped = raw.groupby([raw["service"], raw["endpoint"], raw["metric"], hour.rename("hour")])["value"]
        out = pd.DataFrame({"total": grouped.sum(), "n": grouped.count()}).reset_index()
        return out[columns]

    def consumer_totals(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
        raw = self._raw(services, metrics, start, end)
        if raw.empty:
            return pd.DataFrame(columns=["service", "consumer", "metric", "value"])
        raw = raw[raw["consumer"] != ""]
        return raw.groupby(["service", "consumer", "metric"])["value"].sum().reset_index()

    def endpoint_totals(self, services: Sequence[str], metrics: Sequence[str], start: datetime,
                        end: datetime) -> pd.DataFrame:
        raw = self._raw(services, metrics, start, end)
        if raw.empty:
            return pd.DataFrame(columns=["service", "endpoint", "metric", "value"])
        raw = raw[(raw["consumer"] == "") & (raw["endpoint"] != "")]
        return raw.groupby(["service", "endpoint", "metric"])["value"].sum().reset_index()


def for_services(view: Any, question: str, services: Sequence[str], metrics: Sequence[str], start: datetime,
                 end: datetime) -> pd.DataFrame:
    """The answer of `view.aggregates.<question>` for `services`, read a batch at a time and kept
    in the run's cache (per question, metrics and window), so every report of the run that asks
    about a service of the same batch reads nothing. The run renders squad after squad, so only
    the last KEEP_BATCHES batches are kept (a service asked again later is read again)."""
    memo: _Memo = view.cache.setdefault(("aggregates", question, tuple(metrics), start, end), _Memo())
    missing = [s for s in dict.fromkeys(services) if s not in memo.frames]
    source = view.aggregates if view.aggregates is not None else FrameAggregates(view.ctx.load_telemetry)
    for batch in _batches(view, missing):
        frame = getattr(source, question)(batch, metrics, start, end)
        parts = dict(tuple(frame.groupby("service", sort=False))) if len(frame) else {}
        memo.keep(batch, {name: parts[name] if name in parts else frame.iloc[0:0] for name in batch}, set(services))
    frames = [memo.frames[s] for s in services if s in memo.frames and len(memo.frames[s])]
    if not frames:
        return memo.empty if memo.empty is not None else pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


@dataclass
class _Memo:
    """Answers per service, for the last KEEP_BATCHES batches read."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    batches: list[list[str]] = field(default_factory=list)
    empty: pd.DataFrame | None = None

    def keep(self, batch: list[str], frames: dict[str, pd.DataFrame], asked: set[str]) -> None:
        """Add a batch's answers; forget the oldest batches' (but not the services now asked)."""
        self.batches.append(batch)
        while len(self.batches) > KEEP_BATCHES:
            for name in self.batches.pop(0):
                if name not in asked:
                    self.frames.pop(name, None)
        self.frames.update(frames)
        if self.empty is None and frames:
            self.empty = next(iter(frames.values())).iloc[0:0]


def _batches(view: Any, missing: list[str]) -> list[list[str]]:
    """The run's batches (slices of BATCH services in run order) holding the missing services;
    services not in the run come in one more batch."""
    if not missing:
        return []
    run: list[str] = view.cache.get(RUN_SERVICES) or []
    position = {name: i for i, name in enumerate(run)}
    starts = sorted({position[s] // BATCH * BATCH for s in missing if s in position})
    batches = [run[i : i + BATCH] for i in starts]
    outside = [s for s in missing if s not in position]
    return batches + ([outside] if outside else [])
