"""Capacity telemetry shared by the capacity and cost sections of one run.

Both sections read the same chunks of services (perfops.analysis.capacity_model.load_chunk):
the executive's transaction volumes and its spend, a squad's capacity table and its costs. Per
chunk of services (keyed by the chunk's services and the analysis window) the run's cache
(ReportView.cache) keeps what the sections derive from it — weekly volumes and the services'
costs, both small — so each chunk is read from the store once. The loaded matrices themselves
(large: services x every step of the history) are kept for the last few chunks only, for the
capacity model (perfops.analysis.capacity_model.assess_loaded) of the same view.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from perfops.analysis.capacity_costs import ServiceCost, load_costs
from perfops.analysis.capacity_model import CapacityParams, Chunk, load_chunk, weekly_volumes
from perfops.reports.section import ReportView

KEEP_CHUNKS = 4
_CHUNKS = "capacity-chunks"
_DERIVED = "capacity-derived"


@dataclass(frozen=True)
class Derived:
    volumes: np.ndarray  # weekly_volumes of the chunk: (services, weeks)
    costs: list[ServiceCost]


def split(view: ReportView, names: list[str]) -> Iterator[list[str]]:
    """`names` in the chunk size of the capacity parameters (the same split as
    perfops.analysis.capacity_model.assess, so figures do not depend on the caller)."""
    size = max(CapacityParams.from_ctx(view.ctx).chunk_size, 1)
    for i in range(0, len(names), size):
        yield names[i : i + size]


def chunks_of(view: ReportView, names: list[str]) -> Iterator[Chunk]:
    for part in split(view, names):
        yield chunk(view, part)


def derived_of(view: ReportView, names: list[str]) -> Iterator[Derived]:
    for part in split(view, names):
        yield derived(view, part)


def _key(view: ReportView, names: list[str]) -> tuple[object, ...]:
    ctx = view.ctx
    return (tuple(names), ctx.now, ctx.period, ctx.history)


def chunk(view: ReportView, names: list[str]) -> Chunk:
    store: OrderedDict[tuple[object, ...], Chunk] = view.cache.setdefault(_CHUNKS, OrderedDict())
    key = _key(view, names)
    found = store.get(key)
    if found is None:
        found = load_chunk(view.ctx, list(names))
        store[key] = found
        while len(store) > KEEP_CHUNKS:
            store.popitem(last=False)
    else:
        store.move_to_end(key)
    return found


def derived(view: ReportView, names: list[str]) -> Derived:
    store: dict[tuple[object, ...], Derived] = view.cache.setdefault(_DERIVED, {})
    key = _key(view, names)
    if key not in store:
        data = chunk(view, names)
        store[key] = Derived(weekly_volumes(view.ctx, data), load_costs(view.ctx, data))
    return store[key]
