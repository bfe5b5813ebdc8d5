"""The analyses cut into tasks that can run apart: per chunk of services, and whole.

An area module that defines `run_services(ctx, services) -> list[Finding]` (the per-series work
of `run` restricted to some services) runs as one task per chunk of services, and, if it also
defines `run_shared(ctx) -> list[Finding]` (its cross-service work, e.g. journeys), one more task
for that; `run` must equal the concatenation of `run_services` over chunks in catalog order,
followed by `run_shared`, for any chunking. Any other area runs whole as one task. The Dask
cluster (perfops.analysis.cluster) and the local worker processes (perfops.analysis.processes)
both plan with `plan_tasks` and put the results back in its order, so either equals the run in
one process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import pandas as pd

from perfops.analysis.context import AnalysisContext, TelemetryLoader
from perfops.model.findings import Finding

CHUNK_SERVICES = 50

Task = tuple[str, Callable[..., list[Finding]], list[str] | None]


def service_chunks(ctx: AnalysisContext, size: int = CHUNK_SERVICES) -> list[list[str]]:
    """The catalog's services in catalog order, `size` at a time."""
    names = [s.name for s in ctx.catalog.services]
    return [names[i : i + size] for i in range(0, len(names), size)]


def plan_tasks(areas: dict[str, Callable[[AnalysisContext], list[Finding]]], chunks: list[list[str]]) -> list[Task]:
    """(area, function, services or None) in the local run's order: an area's `run_services`
    chunks, then its `run_shared` (the cross-service part, if it has one), or `run` whole."""
    tasks: list[Task] = []
    for name, run in areas.items():
        module = sys.modules.get(run.__module__)
        per_services = getattr(module, "run_services", None)
        if per_services is None:
            tasks.append((name, run, None))
            continue
        tasks.extend((name, per_services, services) for services in chunks)
        shared = getattr(module, "run_shared", None)
        if shared is not None:
            tasks.append((name, shared, None))
    return tasks


def run_task(analysis: Callable[..., list[Finding]], ctx: AnalysisContext,
             services: list[str] | None) -> list[Finding]:
    """What a worker runs: an area whole, or its `run_services` on some services."""
    if services is None:
        return analysis(ctx)
    return analysis(ctx, services)


def remote_context(ctx: AnalysisContext, loader: TelemetryLoader) -> AnalysisContext:
    """The context with store-bound loaders replaced by picklable ones: `loader` for telemetry,
    the test runs' tables read now."""
    runs = list(ctx.test_runs["run_id"]) if "run_id" in getattr(ctx.test_runs, "columns", []) else []
    endpoints = {r: ctx.load_test_endpoints(r) for r in runs}
    series = {r: ctx.load_test_series(r) for r in runs}
    # `sums` queries the store (an open connection, which does not travel): the figures that use
    # it are computed in the driver after the run
    return replace(ctx, load_telemetry=loader, load_test_endpoints=partial(_lookup, endpoints),
                   load_test_series=partial(_lookup, series), sums=None)


def _lookup(table: dict[str, pd.DataFrame], run_id: str) -> pd.DataFrame:
    return table.get(run_id, pd.DataFrame())
