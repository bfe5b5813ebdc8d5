"""One read of a chunk of services for both the capacity and the cost analyses.

Capacity and cost need the same capacity model of each service (peaks, forecast, instances) and
the same telemetry. `assessed(ctx, services, params)` reads the chunk once, computes the model,
the weekly volumes and the spend series, and keeps that small summary (no telemetry: about
20 KB a service) in `ctx.memo` for the other analysis of the same run: the chunk is read and
forecast once, not twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perfops.analysis.capacity.costs import ServiceCost, load_costs
from perfops.analysis.capacity.model import (
    CapacityParams,
    ServiceCapacity,
    assess_loaded,
    load_chunk,
    weekly_volumes,
)
from perfops.analysis.context import AnalysisContext


@dataclass(frozen=True)
class Assessed:
    services: list[str]
    states: list[ServiceCapacity]  # capacity model, one per service, with its chart series (the figures)
    volumes: np.ndarray  # weekly requests (services x weeks), see weekly_volumes
    costs: list[ServiceCost]


def assessed(ctx: AnalysisContext, services: list[str], params: CapacityParams) -> Assessed:
    """The capacity model, weekly volumes and spend of `services`, computed once per run."""
    key = ("capacity-pass", tuple(services), params, ctx.now, ctx.period, ctx.history)
    found = ctx.memo.get(key)
    if found is None:
        data = load_chunk(ctx, services)
        found = Assessed(data.services, assess_loaded(ctx, data, params, True), weekly_volumes(ctx, data),
                         load_costs(ctx, data))
        ctx.memo[key] = found
    return found


def chunks_of(names: list[str], size: int) -> list[list[str]]:
    return [names[i : i + size] for i in range(0, len(names), max(size, 1))]
