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
3. the areas run as the tasks of perfops.analysis.tasks (per chunk of services where an area
   can, whole otherwise), side by side; findings come back in the local order.

Workers need perfops (same version) installed; nothing else is shipped but the context.
Dask is imported here only, when a cluster is asked for.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from perfops.analysis.context import AnalysisContext
from perfops.analysis.tasks import CHUNK_SERVICES, Task, plan_tasks, remote_context, run_task, service_chunks
from perfops.model.findings import Finding

EXPORT_READ_SERVICES = 5  # services read from the store at a time while writing partitions
STAGING_ENV = "PERFOPS_CLUSTER_STAGING"
EVERYTHING = (datetime(1970, 1, 1), datetime(2262, 1, 1))
ORDER = ["service", "endpoint", "consumer", "metric", "timestamp"]


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
