"""The analyses in worker processes on this machine, when the domain is large enough to pay.

Threads do not help here: the analyses are numpy and pandas work that holds the GIL for most of
its time (measured: the areas in two threads ran as long, for 15% more CPU). Processes do. The
areas are cut into the tasks of perfops.analysis.tasks and grouped into jobs, one per chunk of
services (every area's `run_services` on that chunk, in area order, so capacity and cost share
the chunk's capacity model in the worker's memo, as they do in one process) and one per area
that runs whole. Each worker gets the context once, with a telemetry loader that opens the store
read-only in that worker (`remote_context`); the caller must have closed its own connection,
since DuckDB lets several processes read a file only when none writes it.

What a task leaves in the worker's memo comes back with its findings: the capacity model of each
chunk (the figures are drawn from it afterwards), the notes (series not judged), replayed in task
order, and what an optional `prepare` step computed of each chunk for the figures
(perfops.analysis.figures.prepare_figures: the Apdex and consumer tables, which do not depend
on the run's findings). So the findings, their order, the notes and the memo equal those of one
process, and the figures computed afterwards from that memo equal those computed without it.

Every worker is spawned, not forked, with the caller's main module hidden (`_main_not_rerun`):
a user's script without a main guard is not run again in each worker.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from perfops.analysis.capacity.model import CapacityParams
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.tasks import Task, plan_tasks, run_task
from perfops.errors import PerfopsError
from perfops.model.findings import Finding

WORKERS_ENV = "PERFOPS_ANALYZE_WORKERS"
MIN_SERVICES = 200  # below this, starting the workers (~2 s each) costs more than they save
MAX_WORKERS = 4  # each holds a chunk's telemetry (~1-2 GB at 100 services x 6 weeks)
NOTES = "notes"  # the memo key perfops.analysis.notes keeps its notes under

Areas = dict[str, Callable[[AnalysisContext], list[Finding]]]
# (task index, area, function, services or None)
IndexedTask = tuple[int, str, Callable[..., list[Finding]], list[str] | None]
# per task of a job: (task index, area, findings, notes, memo entries it added)
TaskResult = tuple[int, str, list[Finding], list[str], dict[Any, Any]]


def worker_count(services: int, cpus: int | None = None) -> int:
    """How many processes analyse a domain of `services`: PERFOPS_ANALYZE_WORKERS when set
    (1 = in this process), else one per core up to MAX_WORKERS from MIN_SERVICES services on."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise PerfopsError(f"{WORKERS_ENV}: '{text}' is not a number of processes",
                               hint="a whole number, 1 or more (1 analyses in the perfops process itself)")
        return int(text)
    if services < MIN_SERVICES:
        return 1
    return max(1, min(cpus or os.cpu_count() or 1, MAX_WORKERS))


Prepare = Callable[[AnalysisContext, list[str]], list[Finding]]  # fills the memo, finds nothing
PREPARE = "prepare"  # the name of its tasks, in no area


def plan_jobs(ctx: AnalysisContext, areas: Areas, prepare: Prepare | None = None) -> list[list[IndexedTask]]:
    """The tasks grouped into jobs: each whole-area task alone, first (the longest single
    pieces), then one job per chunk of services with every area's part of it in area order,
    and last `prepare` on the chunk (what the figures will read of it, into the memo).
    Chunks are the capacity analysis' own (its model is memoised per chunk and the figures look
    it up by the same chunk), which the other areas' chunk sizes divide."""
    size = area_params(ctx, "capacity", CapacityParams).chunk_size
    names = [s.name for s in ctx.catalog.services]
    chunks = [names[i : i + size] for i in range(0, len(names), max(size, 1))]
    tasks: list[Task] = plan_tasks(areas, chunks)
    whole: list[list[IndexedTask]] = [[(i, area, fn, None)] for i, (area, fn, services) in enumerate(tasks)
                                      if services is None]
    by_chunk: dict[int, list[IndexedTask]] = {}
    for i, (area, fn, services) in enumerate(tasks):
        if services is not None:
            by_chunk.setdefault(chunks.index(services), []).append((i, area, fn, services))
    if prepare is not None:
        for c, services in enumerate(chunks):
            by_chunk.setdefault(c, []).append((len(tasks) + c, PREPARE, prepare, services))
    return whole + [by_chunk[c] for c in sorted(by_chunk)]


def run_in_processes(ctx: AnalysisContext, areas: Areas, workers: int,
                     progress: Callable[[str, int, int], None] | None = None, prepare: Prepare | None = None,
                     ) -> tuple[dict[str, list[Finding]], dict[Any, Any]]:
    """Each area's findings (areas and findings in the order of one process), and what the
    areas left in the memo (to be merged into the caller's context). `ctx` must travel: its
    loaders picklable and opening the store themselves (perfops.analysis.tasks.remote_context)."""
    jobs = plan_jobs(ctx, areas, prepare)
    # the processes share the cores: trends' own threads over its chunks only add switching
    trends = {**ctx.params.get("trends", {}), "workers": 1}
    ctx = replace(ctx, params={**ctx.params, "trends": trends})
    results: list[TaskResult] = []
    spawn = multiprocessing.get_context("spawn")  # no fork of a process with DuckDB and BLAS threads
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)) or 1, mp_context=spawn,
                             initializer=_start, initargs=(ctx,)) as pool:
        with _main_not_rerun():  # the workers start at the first submits
            futures = [pool.submit(_run_job, job) for job in jobs]
        for done, future in enumerate(as_completed(futures), start=1):
            results += future.result()
            if progress:
                progress(f"analyzing in {workers} processes", done, len(jobs))
    results.sort(key=lambda r: r[0])
    by_area: dict[str, list[Finding]] = {name: [] for name in areas}
    memo: dict[Any, Any] = {}
    notes: dict[str, None] = {}
    for _, area, found, task_notes, added in results:
        if area in by_area:
            by_area[area] += found
        notes.update(dict.fromkeys(task_notes))
        memo.update(added)
    if notes:
        memo[NOTES] = notes
    return by_area, memo


@contextmanager
def _main_not_rerun() -> Iterator[None]:
    """Hide the main module from the workers being spawned: they need nothing of it, and a
    spawned process would otherwise run a user's script (`__main__` without a main guard) again,
    side effects and all, and fail to start."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved: dict[str, Any] = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__dict__["__spec__"] = None
    try:
        yield
    finally:
        main.__dict__.pop("__spec__", None)
        main.__dict__.update(saved)


_CONTEXT: list[AnalysisContext] = []  # the worker's context, set once by _start


def _start(ctx: AnalysisContext) -> None:
    _CONTEXT[:] = [ctx]


def _run_job(job: list[IndexedTask]) -> list[TaskResult]:
    ctx = _CONTEXT[0]
    out: list[TaskResult] = []
    for index, area, fn, services in job:
        before = set(ctx.memo)
        found = run_task(fn, ctx, services)
        notes = list(ctx.memo.pop(NOTES, {}))
        out.append((index, area, found, notes, {k: ctx.memo[k] for k in set(ctx.memo) - before}))
    ctx.memo.clear()  # the next job is another chunk: nothing here is read again
    return out
