"""Telemetry files (contract: workspace.md): CSV or Parquet, long or wide form.

Long: timestamp, service[, endpoint][, consumer], metric, value.
Wide: timestamp, service[, endpoint][, consumer], then one column per metric.
Read with pyarrow in blocks (bounded memory, a progress callback), validated column-wise with
vectorised checks; row-by-row work happens only to describe the rows that failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perfops.errors import InputError
from perfops.ingest.base import IngestBatch, IngestOptions, Reader
from perfops.ingest.common import (
    CountingReader,
    RowProblems,
    as_bool,
    header_fields,
    parse_numbers,
    parse_timestamps,
    require_columns,
)
from perfops.model.tables import METRICS, PERCENT_METRICS

KEY_COLUMNS = ("timestamp", "service", "endpoint", "consumer")
BLOCK_BYTES = 64 << 20


def sniff(path: Path, head: bytes) -> bool:
    if head[:4] == b"PAR1":
        return True
    fields = header_fields(head)
    if "timestamp" not in fields or "service" not in fields:
        return False
    return {"metric", "value"} <= set(fields) or any(f in METRICS for f in fields)


def read(path: Path, options: IngestOptions) -> IngestBatch:
    """Validate the whole file block by block; the store sees it only when every block is good
    (or, with --skip-bad-rows, with the bad rows dropped and listed)."""
    batch = IngestBatch(telemetry=None)
    tables = [_validated(block, first_line, path, options, batch) for block, first_line in _blocks(path, options)]
    tables = [t for t in tables if t.num_rows]
    batch.telemetry = pa.concat_tables(tables) if tables else _empty()
    return batch


def _blocks(path: Path, options: IngestOptions) -> Iterator[tuple[pa.Table, int]]:
    """(table, line number of its first row) for each block of the file."""
    with open(path, "rb") as probe:
        magic = probe.read(4)
    if magic == b"PAR1":
        yield from _parquet_blocks(path)
        return
    source = CountingReader(path, options.progress)
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, encoding="utf8"),
            parse_options=pacsv.ParseOptions(delimiter=_delimiter(path), newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=_all_strings(path), strings_can_be_null=False, quoted_strings_can_be_null=False
            ),
        )
        line = 2
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch])
            yield table, line
            line += table.num_rows
    except pa.ArrowInvalid as exc:
        raise InputError(_arrow_message(exc), path=str(path), hint="expected a CSV with one row per line") from exc
    finally:
        source.close()


def _parquet_blocks(path: Path) -> Iterator[tuple[pa.Table, int]]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        line = 1
        for record_batch in parquet.iter_batches(batch_size=1_000_000):
            table = pa.Table.from_batches([record_batch])
            yield table.cast(pa.schema([_parquet_field(f) for f in table.schema])), line
            line += table.num_rows
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({exc})", path=str(path)) from exc


def _parquet_field(field: pa.Field) -> pa.Field:
    """Keep typed times and numbers (no round trip through text); everything else as text."""
    typed = pa.types.is_timestamp(field.type) or pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
    return field if typed and field.name.lower() in ("timestamp", "value") or (
        typed and field.name.lower() in METRICS) else pa.field(field.name, pa.string())


def _delimiter(path: Path) -> str:
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8-sig", errors="replace")
    return max((",", "\t", ";"), key=first.count)


def _all_strings(path: Path) -> dict[str, pa.DataType]:
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8-sig", errors="replace").strip()
    return {name.strip('"'): pa.string() for name in first.split(_delimiter(path))}


def _arrow_message(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    return text.replace("CSV parse error: ", "")


def _validated(
    block: pa.Table, first_line: int, path: Path, options: IngestOptions, batch: IngestBatch
) -> pa.Table:
    names = [n.strip().lower() for n in block.column_names]
    block = block.rename_columns(names)
    require_columns(names, ("timestamp", "service"), path)
    long = block if {"metric", "value"} <= set(names) else _wide_to_long(block, names, path)
    return _checked(long, first_line, path, options, batch)


def _wide_to_long(block: pa.Table, names: list[str], path: Path) -> pa.Table:
    metric_columns = [n for n in names if n not in KEY_COLUMNS]
    unknown = [n for n in metric_columns if n not in METRICS]
    if unknown or not metric_columns:
        raise InputError(
            f"unknown metric column(s) {', '.join(unknown) or '(none given)'}; expected long form "
            f"(metric, value) or wide columns named after metrics: {', '.join(METRICS)}",
            path=str(path), line=1, field="header",
        )
    parts = []
    n = block.num_rows
    keys = {k: block.column(k) if k in names else pa.array([""] * n) for k in KEY_COLUMNS}
    for metric in metric_columns:
        values = block.column(metric)
        present = as_bool(pc.not_equal(pc.utf8_trim_whitespace(values), ""))  # empty cell: not measured
        part = pa.table({**keys, "metric": pa.array([metric] * n), "value": values, "_row": np.arange(n)})
        parts.append(part.filter(pa.array(present)))
    return pa.concat_tables(parts)


def _checked(table: pa.Table, first_line: int, path: Path, options: IngestOptions, batch: IngestBatch) -> pa.Table:
    n = table.num_rows
    row = table.column("_row").to_numpy() if "_row" in table.column_names else np.arange(n)
    problems = RowProblems.none(n)
    timestamps, bad_ts = parse_timestamps(table.column("timestamp"))
    ts_text = table.column("timestamp")
    problems.add(bad_ts, lambda i: f"timestamp: '{_short(ts_text[i])}' is not a time; expected ISO 8601 or epoch s/ms")
    services = pc.utf8_trim_whitespace(table.column("service"))
    known = as_bool(pc.is_in(services, value_set=pa.array(list(options.catalog.service_by_name))))
    problems.add(~known, lambda i: f"service: '{_short(services[i])}' is not in perfops.yaml; expected one of its services")
    metrics = pc.utf8_lower(pc.utf8_trim_whitespace(table.column("metric")))
    known_metric = as_bool(pc.is_in(metrics, value_set=pa.array(list(METRICS))))
    problems.add(~known_metric, lambda i: f"metric: '{_short(metrics[i])}' is unknown; expected one of {', '.join(METRICS)}")
    values, bad_value = parse_numbers(table.column("value"))
    value_text = table.column("value")
    problems.add(bad_value, lambda i: f"value: '{_short(value_text[i])}' is not a finite number")
    _check_units(metrics, values, problems)
    _resolve(problems, row, first_line, path, options, batch)
    keep = ~problems.bad
    optional = {c: pc.utf8_trim_whitespace(table.column(c)) if c in table.column_names else pa.array([""] * n)
                for c in ("endpoint", "consumer")}
    out = pa.table({
        "timestamp": timestamps, "service": services, "endpoint": optional["endpoint"],
        "consumer": optional["consumer"], "metric": metrics, "value": pa.array(values),
    })
    return out if keep.all() else out.filter(pa.array(keep))


def _check_units(metrics: pa.Array, values: np.ndarray, problems: RowProblems) -> None:
    metric_np = np.asarray(metrics.to_numpy(zero_copy_only=False), dtype=object)
    negative = (values < 0) & np.isin(metric_np, list(METRICS))
    problems.add(negative, lambda i: f"value: {values[i]:g} is negative; expected a count, duration or share ≥ 0")
    over = np.isin(metric_np, PERCENT_METRICS) & (values > 100)
    problems.add(over, lambda i: f"value: {values[i]:g} is above 100 for {metric_np[i]}; expected a percentage 0-100")


def _resolve(problems: RowProblems, row: np.ndarray, first_line: int, path: Path, options: IngestOptions,
             batch: IngestBatch) -> None:
    first = problems.first()
    if first is None:
        return
    line_of = lambda i: first_line + int(row[i])  # noqa: E731
    if not options.skip_bad_rows:
        raise InputError(
            str(problems.reasons[first]), path=str(path), line=line_of(first),
            hint="fix the row, or pass --skip-bad-rows to load the rest",
        )
    bad = np.flatnonzero(problems.bad)
    for i in bad:
        if problems.reasons[i] and len(batch.skipped) < 1000:
            batch.skipped.append(f"{path}:{line_of(i)}: {problems.reasons[i]}")
    batch.notes.append(f"{len(bad)} bad row(s) skipped in {path.name}")


def _short(value: object, limit: int = 60) -> str:
    text = str(value.as_py() if hasattr(value, "as_py") else value)
    return text if len(text) <= limit else text[:limit] + "…"


def _empty() -> pa.Table:
    return pa.table({
        "timestamp": pa.array([], pa.timestamp("us")), "service": pa.array([], pa.string()),
        "endpoint": pa.array([], pa.string()), "consumer": pa.array([], pa.string()),
        "metric": pa.array([], pa.string()), "value": pa.array([], pa.float64()),
    })


READER = Reader(
    name="telemetry",
    description="perfops telemetry, CSV or Parquet, long (metric,value) or wide (a column per metric)",
    sniff=sniff,
    read=read,
    priority=80,
)
