"""Scale-out: run the analyses on a Dask distributed cluster, reading telemetry in partitions.

`perfops analyze --cluster tcp://scheduler:8786` (or `cluster:` in perfops.yaml) calls
`run_analyses_on_cluster(address, ctx, areas)`:

1. the store's telemetry is exported to Parquet, one file per chunk of services
   (`part-00000.parquet`, ...), into a staging folder every worker can read: a shared file
   system path or an fsspec URL (`s3://bucket/prefix`, needs s3fs on every machine) given by
   `staging=` or the `PERFOPS_CLUSTER_STAGING` environment variable; by default a temporary
   folder, which is right for a LocalCluster on this machine;
2. the context is shipped once (`scatter`) with its telemetry loader replaced by
   `ParquetLoader`, which opens only the partitions of the services asked for and returns
   exactly what the store would (same rows, order and dtypes), so results equal the local run;
3. an area module that defines `run_services(ctx, services) -> list[Finding]` (the per-series
   work of `run` restricted to some services) runs as one task per chunk of services, and, if it
   also defines `run_shared(ctx) -> list[Finding]` (its cross-service work, e.g. journeys), one
   more task for that; `run` must equal the concatenation of `run_services` over chunks in catalog
   order, followed by `run_shared` — for any chunking (so `run_services` orders its findings by
   service). Any other area runs whole as one task. Areas also run side by side. Findings come
   back in the local order: area by area, chunk by chunk.

Workers need perfops (same version) installed; nothing else is shipped but the context.
Dask is imported here only, when a cluster is asked for.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.model.findings import Finding

CHUNK_SERVICES = 50
EXPORT_READ_SERVICES = 5  # services read from the store at a time while writing partitions
STAGING_ENV = "PERFOPS_CLUSTER_STAGING"
EVERYTHING = (datetime(1970, 1, 1), datetime(2262, 1, 1))
ORDER = ["service", "endpoint", "consumer", "metric", "timestamp"]


def service_chunks(ctx: AnalysisContext, size: int = CHUNK_SERVICES) -> list[list[str]]:
    """The catalog's services in catalog order, `size` at a time."""
    names = [s.name for s in ctx.catalog.services]
    return [names[i : i + size] for i in range(0, len(names), size)]


@dataclass(frozen=True)
class ParquetLoader:
    """A picklable TelemetryLoader over the Parquet partitions: service -> file, dtypes to restore."""

    root: str
    files: dict[str, str]  # service -> partition file name
    dtypes: dict[str, str]
    filters_rows: bool = True  # takes endpoint= and consumers= (AnalysisContext.telemetry_rows)

    def __call__(self, services: Sequence[str] | None, metrics: Sequence[str] | None,
                 start: datetime, end: datetime, *, endpoint: str | None = None,
                 consumers: bool | None = None) -> pd.DataFrame:
        import pyarrow.dataset as ds

        names = sorted(set(self.files.values()) if services is None else
                       {self.files[s] for s in services if s in self.files})
        if not names:
            return self._empty()
        where = (ds.field("timestamp") >= pd.Timestamp(start)) & (ds.field("timestamp") < pd.Timestamp(end))
        if services is not None:
            where &= ds.field("service").isin(list(services))
        if metrics is not None:
            where &= ds.field("metric").isin(list(metrics))
        if endpoint is not None:
            where &= ds.field("endpoint") == endpoint
        if consumers is not None:
            where &= (ds.field("consumer") != "") if consumers else (ds.field("consumer") == "")
        dataset = ds.dataset([_join(self.root, n) for n in names], format="parquet")
        # sorted in Arrow (keys are unique, so any sort gives the store's order), before the
        # strings become Python objects: several times cheaper than sorting the pandas frame.
        # Categorical columns come back dictionary-encoded, which Arrow cannot sort: decoded
        # first, then made categoricals again the way the store's reader makes them.
        table = _decoded(dataset.to_table(filter=where)).sort_by([(c, "ascending") for c in ORDER])
        return self._restore(table.to_pandas(strings_to_categorical=self.categorical))

    @property
    def categorical(self) -> bool:
        return "category" in self.dtypes.values()

    def _restore(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype({c: t for c, t in self.dtypes.items() if c in frame.columns})

    def _empty(self) -> pd.DataFrame:
        return self._restore(pd.DataFrame({c: pd.Series(dtype=t) for c, t in self.dtypes.items()}))


def _decoded(table: Any) -> Any:
    """The table with dictionary (categorical) columns cast to their value type."""
    import pyarrow as pa

    for i, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(column.type.value_type))
    return table


def _join(root: str, name: str) -> str:
    return f"{root.rstrip('/')}/{name}"


def export_partitions(ctx: AnalysisContext, root: str, chunks: list[list[str]],
                      read_services: int = EXPORT_READ_SERVICES) -> ParquetLoader:
    """Write each chunk's telemetry (all of it: analyses may look beyond the period) to Parquet,
    reading the store `read_services` services at a time, so the client holds a few services'
    rows, not a whole partition's."""
    files: dict[str, str] = {}
    dtypes: dict[str, str] = {}
    for index, services in enumerate(chunks):
        name = f"part-{index:05d}.parquet"
        with _PartitionWriter(_join(root, name)) as writer:
            for i in range(0, len(services), max(read_services, 1)):
                frame = ctx.load_telemetry(services[i : i + read_services], None, *EVERYTHING)
                if not dtypes and len(frame.columns):
                    dtypes = {c: str(t) for c, t in frame.dtypes.items()}
                writer.write(frame)
        if writer.rows:
            files.update(dict.fromkeys(services, name))
    if not dtypes:
        dtypes = {"timestamp": "datetime64[us]", "service": "object", "endpoint": "object",
                  "consumer": "object", "metric": "object", "value": "float64"}
    return ParquetLoader(root, files, dtypes)


class _PartitionWriter:
    """One Parquet file written frame by frame (a local path or an fsspec URL); no file is left
    when nothing was written."""

    def __init__(self, path: str) -> None:
        self.path, self.rows = path, 0
        self._writer: Any = None
        self._file: Any = None

    def __enter__(self) -> _PartitionWriter:
        return self

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not len(frame):
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._writer is None:
            self._file = _open_for_writing(self.path)
            self._writer = pq.ParquetWriter(self._file, table.schema)
        self._writer.write_table(table.cast(self._writer.schema))
        self.rows += len(frame)

    def __exit__(self, *exc: object) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()


def _open_for_writing(path: str) -> Any:
    if "://" in path:
        import fsspec

        return fsspec.open(path, "wb").open()
    return Path(path).open("wb")


def _lookup(table: dict[str, pd.DataFrame], run_id: str) -> pd.DataFrame:
    return table.get(run_id, pd.DataFrame())


def remote_context(ctx: AnalysisContext, loader: ParquetLoader) -> AnalysisContext:
    """The context with store-bound loaders replaced by picklable ones."""
    runs = list(ctx.test_runs["run_id"]) if "run_id" in getattr(ctx.test_runs, "columns", []) else []
    endpoints = {r: ctx.load_test_endpoints(r) for r in runs}
    series = {r: ctx.load_test_series(r) for r in runs}
    # `sums` queries the store (an open connection, which does not travel): the figures that use
    # it are computed in the driver after the run
    return replace(ctx, load_telemetry=loader, load_test_endpoints=partial(_lookup, endpoints),
                   load_test_series=partial(_lookup, series), sums=None)


def run_task(analysis: Callable[..., list[Finding]], ctx: AnalysisContext,
             services: list[str] | None) -> list[Finding]:
    """What a worker runs: an area whole, or its `run_services` on some services."""
    if services is None:
        return analysis(ctx)
    return analysis(ctx, services)


Task = tuple[str, Callable[..., list[Finding]], list[str] | None]


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


def run_analyses_on_cluster(
    address: Any,
    ctx: AnalysisContext,
    areas: dict[str, Callable[[AnalysisContext], list[Finding]]],
    *,
    staging: str | None = None,
    chunk_size: int = CHUNK_SERVICES,
    connect_timeout: str = "20s",
) -> list[Finding]:
    """Every area's findings, computed on the Dask cluster at `address` (a `tcp://` address,
    a `distributed.Client` or a `LocalCluster`); equal to running the areas locally."""
    from perfops.errors import PerfopsError

    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise PerfopsError("running on a cluster needs Dask distributed",
                           hint='pip install "dask[distributed]" (see docs/scale-out.md)') from exc
    root = staging or os.environ.get(STAGING_ENV)
    made = root is None
    root = root or tempfile.mkdtemp(prefix="perfops-cluster-")
    chunks = service_chunks(ctx, chunk_size)
    try:
        remote = remote_context(ctx, export_partitions(ctx, root, chunks))
        client = address if isinstance(address, Client) else _connect(Client, address, connect_timeout)
        try:
            results = _run_tasks(client, remote, plan_tasks(areas, chunks))
        finally:
            if client is not address:
                client.close()
    finally:
        if made:
            shutil.rmtree(root, ignore_errors=True)
    return [finding for found in results for finding in found]


def _run_tasks(client: Any, remote: AnalysisContext, tasks: list[Task]) -> list[list[Finding]]:
    """Ship the context once, submit every task, gather the results in task order."""
    shared = client.scatter(remote, broadcast=True)
    token = uuid.uuid4().hex[:8]
    futures = [client.submit(run_task, fn, shared, services, pure=False, key=f"perfops-{name}-{i}-{token}")
               for i, (name, fn, services) in enumerate(tasks)]
    return list(client.gather(futures))


def _connect(client_class: Any, address: Any, timeout: str) -> Any:
    from perfops.errors import PerfopsError

    try:
        return client_class(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise PerfopsError(f"cannot reach the Dask scheduler at {address} ({exc})",
                           hint="check the address (tcp://host:8786) and that the scheduler runs; "
                                "see docs/scale-out.md") from exc
