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
from typing import Any

import numpy as np

from perfops.analysis.capacity_costs import ServiceCost, load_costs
from perfops.analysis.capacity_model import (
    CapacityParams,
    Chunk,
    ServiceCapacity,
    assess_loaded,
    load_chunk,
    weekly_volumes,
)
from perfops.reports.section import ReportView

KEEP_CHUNKS = 4
_CHUNKS = "capacity-chunks"
_DERIVED = "capacity-derived"
_STATES = "capacity-states"


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
        cut = _slice_of_kept(view, store, names)
        if cut is not None:
            return cut  # cheap to cut again: not kept, so it does not push the squad's chunk out
        found = load_chunk(view.ctx, list(names))
        store[key] = found
        while len(store) > KEEP_CHUNKS:
            store.popitem(last=False)
    else:
        store.move_to_end(key)
    return found


def states(view: ReportView, names: list[str]) -> list[ServiceCapacity]:
    """perfops.analysis.capacity_model.assess_loaded over the run's chunks, kept per service for
    the run: a squad's lead report computes its services' figures (with the forecast series the
    developer charts draw) and each developer report reuses its service's. The model is computed
    row by row of a chunk, so a service's figures do not depend on the reports that asked."""
    memo: dict[tuple[object, ...], ServiceCapacity] = view.cache.setdefault(_STATES, {})
    tag = _key(view, [])[1:]
    missing = [n for n in dict.fromkeys(names) if (n, *tag) not in memo]
    if missing:
        params = CapacityParams.from_ctx(view.ctx)
        for part in split(view, missing):
            for state in assess_loaded(view.ctx, chunk(view, part), params, True):
                memo[(state.service, *tag)] = state
    return [memo[(n, *tag)] for n in names if (n, *tag) in memo]


def derived(view: ReportView, names: list[str]) -> Derived:
    store: dict[tuple[object, ...], Derived] = view.cache.setdefault(_DERIVED, {})
    key = _key(view, names)
    if key not in store:
        data = chunk(view, names)
        store[key] = Derived(weekly_volumes(view.ctx, data), load_costs(view.ctx, data))
    return store[key]


def _slice_of_kept(view: ReportView, store: OrderedDict[tuple[object, ...], Chunk], names: list[str]) -> Chunk | None:
    """`names` cut from a kept chunk that holds them all (a developer report after its squad's
    lead report: the service's rows of the squad's matrices, on the squad's grid), else None."""
    tail = _key(view, names)[1:]
    for key, kept in reversed(store.items()):
        if key[1:] != tail:
            continue
        index = {name: i for i, name in enumerate(kept.services)}
        if all(n in index for n in names):
            return sub_chunk(kept, [index[n] for n in names])
    return None


def sub_chunk(data: Chunk, rows: list[int]) -> Chunk:
    """The chunk of some of `data`'s services (rows of its matrices), on the same grid."""
    def take(matrix: np.ndarray | None) -> np.ndarray | None:
        return None if matrix is None else matrix[rows]

    return Chunk([data.services[i] for i in rows], data.grid, data.tps[rows], data.cpu[rows],
                 data.memory[rows], data.instances[rows], take(data.cost))


def derived_entries(view: ReportView, names: list[str]) -> dict[tuple[object, ...], Derived]:
    """The derived figures of `names` (one chunk of the split) as cache entries, for a worker to
    compute and another process to adopt (see adopt)."""
    return {_key(view, names): derived(view, names)}


def adopt(cache: dict[Any, Any], entries: dict[tuple[object, ...], Derived]) -> None:
    """Put derived figures computed elsewhere into a run's cache (ReportView.cache)."""
    cache.setdefault(_DERIVED, {}).update(entries)
