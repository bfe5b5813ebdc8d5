"""Telemetry files (contract: workspace.md): CSV or Parquet, long or wide form.

Long: timestamp, service[, endpoint][, consumer], metric, value.
Wide: timestamp, service[, endpoint][, consumer], then one column per metric.
Read with pyarrow in blocks (bounded memory, a progress callback), validated column-wise with
vectorised checks; row-by-row work happens only to describe the rows that failed.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perfops.errors import InputError
from perfops.ingest.base import BulkPlan, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import (
    CountingReader,
    RowProblems,
    as_bool,
    header_fields,
    is_gzip_file,
    open_maybe_gzip,
    parse_numbers,
    parse_timestamps,
    range_text,
    require_columns,
    times_in_range,
    trimmed,
    unknown_service,
)
from perfops.ingest.parquet_keys import proven_bounds
from perfops.ingest.telemetry_columns import (
    KEY_COLUMNS,
    alias_notes,
    check_column_count,
    check_names,
)
from perfops.model.catalog import Catalog
from perfops.model.limits import described, limit
from perfops.model.tables import METRICS, PERCENT_METRICS

BLOCK_BYTES = 64 << 20
IN_MEMORY_BYTES = 1 << 30


def canonical_names(names: list[str]) -> list[str]:
    """Header names as perfops reads them: trimmed, lower case, and Grafana's and Datadog's `time`
    column taken as `timestamp` when the file has no `timestamp` of its own."""
    names = [n.strip().lower() for n in names]
    if "timestamp" not in names and names.count("time") == 1:
        names = ["timestamp" if n == "time" else n for n in names]
    return names


# ---- unit-suffixed headers (Grafana and Datadog exports: `p95 [ms]`, `Latency (s)`, `cpu (%)`) -------------
_UNIT_SUFFIX = re.compile(r"^(?P<base>.*?)\s*[(\[]\s*(?P<unit>[^)\]]*?)\s*[)\]]$")
TIME_UNITS_TO_MS = {
    "ms": 1.0, "msec": 1.0, "millisecond": 1.0, "milliseconds": 1.0,
    "s": 1000.0, "sec": 1000.0, "secs": 1000.0, "second": 1000.0, "seconds": 1000.0,
    "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "microsecond": 1e-3, "microseconds": 1e-3,
    "ns": 1e-6, "nanosecond": 1e-6, "nanoseconds": 1e-6,
}
PERCENT_UNITS = ("%", "percent", "pct")
_STATISTICS = {"p50": "p50", "median": "p50", "p95": "p95", "p99": "p99", "avg": "avg", "mean": "avg",
               "average": "avg", "max": "max", "maximum": "max"}
_LATENCY_WORDS = ("latency", "duration", "response_time", "request_time")  # not `time`: a timestamp
_PERCENT_METRIC_WORDS = {"cpu": "cpu_pct", "memory": "memory_pct", "mem": "memory_pct"}


@dataclass(frozen=True)
class HeaderUnits:
    """What the unit suffixes of a header said: the canonical name of each column, the factor to
    the metric's canonical unit per wide metric column, the unit of a long-form `value` column."""

    names: list[str]
    factors: dict[str, float]  # wide metric column -> factor to its canonical unit
    value_unit: str | None  # long form: `value (ms)` -> "ms"
    notes: list[str]


def unit_suffixed_names(raw: list[str]) -> HeaderUnits:
    """Header names with a unit in brackets read as perfops names, applied before the columns are
    checked: `p95 [ms]` -> latency_p95_ms, `Latency (s)` -> latency_avg_ms (x1000; a latency
    without a statistic is the average, as in cloudwatch-json), `cpu (%)` -> cpu_pct, `value (ms)`
    -> value, converted row by row to the metric's unit. A suffix not understood leaves the name
    as it was, so the column check refuses it by name."""
    names, factors, notes = [], {}, []
    value_unit = None
    for name in raw:
        match = _UNIT_SUFFIX.match(name.strip())
        unit = match.group("unit").strip().lower() if match else ""
        metric = _metric_of(match.group("base"), unit) if match else None
        if metric is None:
            names.append(name)
            continue
        names.append(metric)
        if metric == "value":
            value_unit = unit
            notes.append(f"column '{name.strip()}': values in {unit}, converted to each metric's unit")
            continue
        factor = TIME_UNITS_TO_MS.get(unit, 1.0)
        factors[metric] = factor
        converted = f", x{factor:g} to ms" if factor != 1.0 else ""
        notes.append(f"column '{name.strip()}' read as {metric}{converted}")
    return HeaderUnits(names, factors, value_unit, notes)


def _metric_of(base: str, unit: str) -> str | None:
    """The perfops name of a column `base (unit)`, or None when the pair means nothing known."""
    words = re.sub(r"[^0-9a-z%]+", "_", base.strip().lower()).strip("_")
    if words == "value" and (unit in TIME_UNITS_TO_MS or unit in PERCENT_UNITS):
        return "value"
    if words in METRICS:
        fits = unit in PERCENT_UNITS if words in PERCENT_METRICS else (
            unit in TIME_UNITS_TO_MS if METRICS[words] == "ms" else False)
        return words if fits else None
    tokens = words.split("_")
    if unit in PERCENT_UNITS:
        found = [_PERCENT_METRIC_WORDS[t] for t in tokens if t in _PERCENT_METRIC_WORDS]
        return found[0] if len(set(found)) == 1 else None
    if unit not in TIME_UNITS_TO_MS:
        return None
    stats = {_STATISTICS[t] for t in tokens if t in _STATISTICS}
    latency = any(w in words for w in _LATENCY_WORDS)
    if len(stats) > 1 or not (stats or latency):
        return None
    rest = [t for t in tokens if t not in _STATISTICS and t not in ("latency", "duration", "response", "request",
                                                                    "time", "http", "ms")]
    if rest:  # `db_query_p95 (ms)`: a latency of something else than the service's requests
        return None
    return f"latency_{stats.pop() if stats else 'avg'}_ms"


def unit_factors(metrics: pa.Array | pa.ChunkedArray, units: HeaderUnits, problems: RowProblems) -> np.ndarray:
    """Per row, the factor that turns the file's value into the metric's canonical unit; a long-form
    `value (unit)` whose unit does not fit the row's metric is a bad row."""
    distinct = pc.unique(metrics)
    names = distinct.to_pylist()
    factor = np.array([_factor(m, units) for m in names] + [1.0], dtype=np.float64)
    where = np.asarray(pc.fill_null(pc.index_in(metrics, value_set=distinct), len(names)).to_numpy(
        zero_copy_only=False), dtype=np.int64)
    per_row = factor[where]
    unit = units.value_unit
    problems.add(np.isnan(per_row), lambda i: f"value: the header says {unit}, but {names[where[i]]} is measured "
                                               f"in {METRICS[names[where[i]]]}; give it a value column without a unit")
    return np.nan_to_num(per_row, nan=1.0)


def _factor(metric: str, units: HeaderUnits) -> float:
    """NaN when a long-form value unit does not fit the metric (an unknown metric is refused elsewhere)."""
    if units.value_unit is None:
        return units.factors.get(metric, 1.0)
    kind = METRICS.get(metric)
    if kind == "ms" and units.value_unit in TIME_UNITS_TO_MS:
        return TIME_UNITS_TO_MS[units.value_unit]
    if kind is None or (metric in PERCENT_METRICS and units.value_unit in PERCENT_UNITS):
        return 1.0
    return float("nan")


def sniff(path: Path, head: bytes) -> bool:
    if head[:4] == b"PAR1":
        return True
    fields = canonical_names(unit_suffixed_names(header_fields(head)).names)
    if "timestamp" not in fields or "service" not in fields:
        return False
    return {"metric", "value"} <= set(fields) or any(f in METRICS for f in fields)


def read(path: Path, options: IngestOptions) -> IngestBatch:
    """Validate the whole file block by block; the store sees it only when every block is good
    (or, with --skip-bad-rows, with the bad rows dropped and listed)."""
    batch = IngestBatch(telemetry=None)
    try:
        tables = [_validated(block, first_line, path, options, batch) for block, first_line in _blocks(path, options)]
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:  # bytes that are not UTF-8 text in some column
        raise InputError(f"not UTF-8 text, or not CSV ({str(exc).splitlines()[0][:120]})", path=str(path),
                         hint="save the file as UTF-8 CSV or Parquet") from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:  # a gzip that breaks part-way
        raise InputError(f"not a readable gzip file ({exc})", path=str(path)) from exc
    tables = [t for t in tables if t.num_rows]
    batch.telemetry = pa.concat_tables(tables) if tables else _empty()
    return batch


def _blocks(path: Path, options: IngestOptions) -> Iterator[tuple[pa.Table, int]]:
    """(table, line number of its first row) for each block of the file.

    Files up to IN_MEMORY_BYTES are read in one multi-threaded pass with typed timestamp and
    value columns where pyarrow can infer them (the common, uniform file); larger files stream
    in blocks of text columns, so memory stays bounded whatever the size."""
    with path.open("rb") as probe:
        magic = probe.read(4)
    if magic == b"PAR1":
        yield from _parquet_blocks(path)
        return
    names = _header_names(path)
    text_columns = {n: pa.string() for n in names if n.strip().lower() in KEY_COLUMNS[1:] + ("metric",)}
    parse = pacsv.ParseOptions(delimiter=_delimiter(path), newlines_in_values=False)
    if is_gzip_file(path):
        yield from _gzip_blocks(path, names, parse, text_columns, options)
        return
    if path.stat().st_size <= IN_MEMORY_BYTES:
        try:
            table = pacsv.read_csv(path, parse_options=parse, convert_options=_convert(text_columns))
            if options.progress:
                options.progress(path.stat().st_size, path.stat().st_size)
            yield table, 2
            return
        except pa.ArrowInvalid:
            pass  # mixed forms in a column: read everything as text and check row by row below
    yield from _text_blocks(path, names, parse, options)


def _gzip_blocks(path: Path, names: list[str], parse: pacsv.ParseOptions, text_columns: dict[str, pa.DataType],
                 options: IngestOptions) -> Iterator[tuple[pa.Table, int]]:
    """A gzip CSV: in one multi-threaded pass when it decompresses to at most IN_MEMORY_BYTES (the
    common case, as fast as plain files), else streamed in blocks through a gunzip bounded by
    PERFOPS_MAX_DECOMPRESSED_BYTES, so a bomb is refused at the limit with memory bounded."""
    most = min(IN_MEMORY_BYTES, limit("decompressed_bytes"))
    try:
        # Gunzip here, then parse the buffer: Arrow's reader threads pulling from a Python stream
        # that raises (the bound) can outlive the error and abort the process at exit.
        with open_maybe_gzip(path, most) as stream:
            data = stream.read()
        table = pacsv.read_csv(pa.BufferReader(data), parse_options=parse, convert_options=_convert(text_columns))
        del data
        yield table, 2
        return
    except InputError:
        if most == limit("decompressed_bytes"):
            raise  # over the decompressed-size limit itself: refused
    except pa.ArrowInvalid:
        pass  # mixed forms in a column: text blocks, checked row by row
    yield from _text_blocks(path, names, parse, options)


def _text_blocks(path: Path, names: list[str], parse: pacsv.ParseOptions,
                 options: IngestOptions) -> Iterator[tuple[pa.Table, int]]:
    zipped = is_gzip_file(path)
    source = open_maybe_gzip(path) if zipped else CountingReader(path, options.progress)
    try:
        # A gunzip stream raises at the bound: read it on this thread, not on Arrow's read-ahead
        # threads, which can outlive the error and abort the process.
        reader = pacsv.open_csv(
            source, read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES, encoding="utf8", use_threads=not zipped),
            parse_options=parse, convert_options=_convert({n: pa.string() for n in names}),
        )
        line = 2
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch])
            yield table, line
            line += table.num_rows
    except pa.ArrowInvalid as exc:
        raise InputError(_arrow_message(exc), path=str(path), line=_line_of_row(path, _arrow_row(exc)),
                         hint="expected a CSV with one row per line") from exc
    finally:
        source.close()


def _arrow_row(exc: Exception) -> str | None:
    """The row text of pyarrow's "Expected 4 columns, got 5: <row>" (the only place it says which)."""
    first = str(exc).splitlines()[0]
    return first.split(": ", 2)[-1] if "columns, got" in first else None


def _line_of_row(path: Path, row: str | None) -> int | None:
    """The line a malformed row is on, found by scanning the file on the error path only."""
    if not row:
        return None
    wanted = row.encode("utf-8", errors="replace").rstrip(b"\r")
    try:
        with open_maybe_gzip(path) as f:
            for number, line in enumerate(f, start=1):
                if line.rstrip(b"\r\n") == wanted:
                    return number
    except (OSError, EOFError, zlib.error, InputError):
        return None
    return None


def _convert(column_types: dict[str, pa.DataType]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types=column_types, strings_can_be_null=False, quoted_strings_can_be_null=False,
        null_values=[""],  # only an empty cell is "not measured": `n/a`, `NaN`, `null` are refused by line
        timestamp_parsers=[pacsv.ISO8601],
    )


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
    first = _first_line(path)
    return max((",", "\t", ";"), key=first.count)


def _header_names(path: Path) -> list[str]:
    """The header's names, refused when the header is over the column or size limits (a header of
    a million commas took 8 GB in pyarrow before its refusal)."""
    first = _first_line(path).strip()
    names = [name.strip('"') for name in first.split(_delimiter(path))]
    check_column_count(len(names), path)
    return names


def _first_line(path: Path) -> str:
    most = limit("header_bytes")
    try:
        with open_maybe_gzip(path) as f:
            first = f.readline(most + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"not a readable gzip file ({exc})", path=str(path)) from exc
    if len(first) > most and not first.endswith(b"\n"):
        raise InputError(f"the header line is longer than {described('header_bytes')}; expected a telemetry "
                         "CSV of a few columns", path=str(path), line=1, field="header")
    return first.decode("utf-8-sig", errors="replace")


def _arrow_message(exc: Exception) -> str:
    text = str(exc).splitlines()[0]
    return text.replace("CSV parse error: ", "")


def _validated(
    block: pa.Table, first_line: int, path: Path, options: IngestOptions, batch: IngestBatch
) -> pa.Table:
    units = unit_suffixed_names(block.column_names)  # before any check of the columns
    names = canonical_names(units.names)
    if first_line <= 2:  # the header: checked once, with the first block; say once how it was read
        require_columns(names, ("timestamp", "service"), path)
        check_names(names, path, metric_names(options.catalog))
        batch.notes.extend(alias_notes(units.names, names))
        batch.notes.extend(units.notes)
    block = block.rename_columns(names)
    long = block if {"metric", "value"} <= set(names) else _wide_to_long(block, names, path)
    return _checked(long, first_line, path, options, batch, units)


def _wide_to_long(block: pa.Table, names: list[str], path: Path) -> pa.Table:
    metric_columns = [n for n in names if n not in KEY_COLUMNS]  # known metrics: see check_names
    if not metric_columns:
        raise InputError(
            f"no metric column; expected long form (metric, value) or wide columns named after metrics: "
            f"{', '.join(METRICS)}", path=str(path), line=1, field="header",
        )
    parts = []
    n = block.num_rows
    any_text = any(pa.types.is_string(block.column(m).type) or pa.types.is_large_string(block.column(m).type)
                   for m in metric_columns)
    value_type = pa.string() if any_text else pa.float64()
    keys = {k: block.column(k) if k in names else pa.array([""] * n) for k in KEY_COLUMNS}
    for metric in metric_columns:
        values = block.column(metric)
        present = as_bool(pc.is_valid(values)) if not pa.types.is_string(values.type) else as_bool(
            pc.not_equal(trimmed(values), ""))  # an empty cell is "not measured"
        values = pc.cast(values, value_type)  # int, float and text columns side by side: one type
        part = pa.table({**keys, "metric": pa.array([metric] * n), "value": values, "_row": np.arange(n)})
        parts.append(part.filter(pa.array(present)))
    return pa.concat_tables(parts)


def metric_names(catalog: Catalog) -> list[str]:
    """The metrics a telemetry file may name: perfops' own, then the gauges the catalog declares."""
    return list(METRICS) + [m for m in catalog.gauge_names if m not in METRICS]


def _checked(table: pa.Table, first_line: int, path: Path, options: IngestOptions, batch: IngestBatch,
             units: HeaderUnits | None = None) -> pa.Table:
    n = table.num_rows
    row = table.column("_row").to_numpy() if "_row" in table.column_names else np.arange(n)
    problems = RowProblems.none(n)
    time_notes: list[str] = []
    timestamps, bad_ts = parse_timestamps(table.column("timestamp"), time_notes)
    batch.notes.extend(note for note in time_notes if note not in batch.notes)
    ts_text = table.column("timestamp")
    problems.add(bad_ts, lambda i: f"timestamp: '{_short(ts_text[i])}' is not a time; expected ISO 8601 or epoch s/ms")
    problems.add(~times_in_range(timestamps, options.latest), lambda i: f"timestamp: '{_short(ts_text[i])}' "
                 f"is outside {range_text(options.latest)}; expected the time of a measurement")
    services = trimmed(table.column("service"))
    known = as_bool(pc.is_in(services, value_set=pa.array(list(options.catalog.service_by_name))))
    names = list(options.catalog.service_by_name)
    problems.add(~known, lambda i: unknown_service(_short(services[i]), names))
    metrics = trimmed(table.column("metric"))
    if pc.any(pc.match_substring_regex(metrics, "[A-Z]")).as_py():
        metrics = pc.utf8_lower(metrics)
    allowed = metric_names(options.catalog)
    known_metric = as_bool(pc.is_in(metrics, value_set=pa.array(allowed)))
    problems.add(~known_metric, lambda i: f"metric: '{_short(metrics[i])}' is unknown; expected one of {', '.join(allowed)}")
    values, bad_value = parse_numbers(table.column("value"))
    value_text = table.column("value")
    problems.add(bad_value, lambda i: f"value: '{_short(value_text[i])}' is not a finite number")
    if units is not None and (units.factors or units.value_unit):
        values = values * unit_factors(metrics, units, problems)
    _check_units(metrics, values, problems)
    _resolve(problems, row, first_line, path, options, batch)
    keep = ~problems.bad
    optional = {c: trimmed(table.column(c)) if c in table.column_names else pa.nulls(n, pa.string()).fill_null("")
                for c in ("endpoint", "consumer")}
    out = pa.table({
        "timestamp": timestamps, "service": services, "endpoint": optional["endpoint"],
        "consumer": optional["consumer"], "metric": metrics, "value": pa.array(values),
    })
    return out if keep.all() else out.filter(pa.array(keep))


def _check_units(metrics: pa.Array | pa.ChunkedArray, values: np.ndarray, problems: RowProblems) -> None:
    negative = values < 0
    problems.add(negative, lambda i: f"value: {values[i]:g} is negative; expected a count, duration or share ≥ 0")
    over = values > 100
    if over.any():
        over &= as_bool(pc.is_in(metrics, value_set=pa.array(list(PERCENT_METRICS))))
        problems.add(over, lambda i: f"value: {values[i]:g} is above 100 for {metrics[i]}; expected a percentage 0-100")


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
    value = value.as_py() if hasattr(value, "as_py") else value
    text = "" if value is None else str(value)  # an empty cell of a column pyarrow typed as null
    return text if len(text) <= limit else text[:limit] + "…"


def _empty() -> pa.Table:
    return pa.table({
        "timestamp": pa.array([], pa.timestamp("us")), "service": pa.array([], pa.string()),
        "endpoint": pa.array([], pa.string()), "consumer": pa.array([], pa.string()),
        "metric": pa.array([], pa.string()), "value": pa.array([], pa.float64()),
    })


def bulk_plan(path: Path, options: IngestOptions) -> list[BulkPlan] | None:
    """CSV (long form) and Parquet (long or wide): let the store's engine read, convert and
    check in one parallel pass, with no round trip through Python.

    For CSV, two plans, fastest first: typed columns (ISO times, plain numbers: the usual
    export), then text columns converted row by row (epoch times, mixed forms, blanks). Every
    plan mirrors the checks of `read` (known service and metric, finite non-negative values,
    percentages ≤ 100); when they all fail the caller falls back to `read`, which names the line.

    Set membership is checked by a cast to an ENUM of the allowed names, not `IN (list)`: the
    engine plans IN as a join, and a join lets the rows of a file land out of file order, which
    would break "the last row of a file wins" for a key the file repeats."""
    with path.open("rb") as probe:
        head = probe.read(4096)
    services = list(options.catalog.service_by_name)
    allowed = metric_names(options.catalog)
    if head[:4] == b"PAR1":
        return _parquet_plan(path, services, allowed, options.latest)
    if head[:3] == b"\xef\xbb\xbf" or head[:2] == b"\x1f\x8b":
        return None  # a BOM; gzip: `read` streams it through a bounded gunzip
    raw_names = _header_names(path)
    names = [n.strip().lower() for n in raw_names]
    if names != raw_names or not {"timestamp", "service", "metric", "value"} <= set(names):
        return None
    if len(set(names)) != len(names) or set(names) - set(_LONG_COLUMNS):
        return None
    params: dict[str, object] = {"path": str(path), "delim": _delimiter(path), "latest": options.latest}
    text = dict.fromkeys(names, "VARCHAR")
    typed = {n: ("TIMESTAMPTZ" if n == "timestamp" else "DOUBLE" if n == "value" else "VARCHAR") for n in names}
    return [
        BulkPlan(_checked_select("CAST(timestamp AS TIMESTAMP)", "service", "metric", "value", names, services,
                                 allowed, f"read_csv($path, columns = {typed!r}, {_CSV_DIALECT})"), params),
        BulkPlan(_checked_select(_TEXT_TIME, "trim(service)", "lower(trim(metric))", "TRY_CAST(trim(value) AS DOUBLE)",
                                 names, services, allowed, f"read_csv($path, columns = {text!r}, {_CSV_DIALECT})"),
                 params),
    ]


def _parquet_plan(path: Path, services: list[str], allowed: list[str], latest: datetime) -> list[BulkPlan] | None:
    """Parquet, long or wide: the engine reads the columns it needs straight from the file."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError):
        return None
    names = schema.names
    if len(set(names)) != len(names) or "timestamp" not in names or "service" not in names:
        return None
    params: dict[str, object] = {"path": str(path), "latest": latest}
    time = _parquet_time(schema.field("timestamp").type)
    if {"metric", "value"} <= set(names) and not set(names) - set(_LONG_COLUMNS):
        value = "CAST(value AS DOUBLE)" if _is_number(schema.field("value").type) else "TRY_CAST(trim(value) AS DOUBLE)"
        select = _checked_select(time, "trim(service)", "lower(trim(metric))", value, names, services, allowed,
                                 "read_parquet($path)")
        return [BulkPlan(select, params)]
    metric_columns = [n for n in names if n not in KEY_COLUMNS]
    if not metric_columns or set(metric_columns) - set(allowed) or not all(
            _is_number(schema.field(m).type) for m in metric_columns):
        return None  # unknown or text metric columns: `read` checks them cell by cell and names the line
    return [BulkPlan(_wide_select(time, names, metric_columns, services), params,
                     proven_bounds(path, schema, metric_columns))]


def _is_number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind))


def _parquet_time(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "CAST(timestamp AS TIMESTAMP)"
    if _is_number(kind):
        return _EPOCH.format(n="CAST(timestamp AS DOUBLE)")
    return _TEXT_TIME


def _one_of(names: list[str]) -> str:
    """An ENUM type of `names`, as SQL: `TRY_CAST(x AS <it>)` is NULL unless x is one of them."""
    return "ENUM(" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + ")"


def _wide_select(time: str, names: list[str], metric_columns: list[str], services: list[str]) -> str:
    """Wide Parquet: one select per metric column, each checking the keys and the column's
    numbers where a cell is filled (an empty cell is "not measured"), chained with UNION ALL.
    Rows come out metric by metric, each in file order: the last row of a file wins a key it
    repeats, and the store gets long runs of one series (service, endpoint, metric) in time
    order, the order analyses read them in. Metric names were checked against the canonical
    list, so they are safe to name in SQL."""
    optional = {c: f"coalesce(trim(CAST({c} AS VARCHAR)), '')" if c in names else "''" for c in ("endpoint", "consumer")}
    keys = (f"CASE WHEN {_BAD_TIME} THEN error('timestamp') ELSE t END, "
            f"CASE WHEN TRY_CAST(s AS {_one_of(services)}) IS NULL THEN error('service') ELSE s END, e, c")
    columns = f"{time} AS t, trim(service) AS s, {optional['endpoint']} AS e, {optional['consumer']} AS c"
    parts = []
    for m in metric_columns:
        limit = " OR v > 100" if m in PERCENT_METRICS else ""
        parts.append(
            f"SELECT {keys}, '{m}', CASE WHEN NOT isfinite(v) OR v < 0{limit} THEN error('value') ELSE v END "
            f"FROM (SELECT {columns}, CAST({m} AS DOUBLE) AS v FROM read_parquet($path)) WHERE v IS NOT NULL"
        )
    return "\nUNION ALL\n".join(parts)


_LONG_COLUMNS = ("timestamp", "service", "endpoint", "consumer", "metric", "value")
# Epoch seconds or milliseconds by magnitude; larger numbers (micro- or nanoseconds) are left to
# `read`, which converts them and says so in the notes (common.epoch_to_micros).
_EPOCH = ("make_timestamp(CAST(CASE WHEN abs({n}) >= 1e14 THEN NULL WHEN abs({n}) >= 1e11 THEN {n} * 1e3 "
          "ELSE {n} * 1e6 END AS BIGINT))")
# The accepted time range (perfops.model.limits), `$latest` being the ingest's now + margin.
_BAD_TIME = "t IS NULL OR t < TIMESTAMP '1970-01-01' OR t >= $latest"
# Every dialect setting given, none sniffed: DuckDB's sniffer looks at the first 20,480 rows only,
# and a file whose first quoted field comes later kept its quotes (`"GET /say ""hi"""` stored as a
# new endpoint). RFC 4180 quoting, the delimiter of the header line, one header row.
_CSV_DIALECT = "header = true, delim = $delim, quote = '\"', escape = '\"', auto_detect = false"
_NUMBER = "TRY_CAST(trim(timestamp) AS DOUBLE)"
_TEXT_TIME = f"coalesce(TRY_CAST(TRY_CAST(trim(timestamp) AS TIMESTAMPTZ) AS TIMESTAMP), {_EPOCH.format(n=_NUMBER)})"


def _checked_select(time: str, service: str, metric: str, value: str, names: list[str], services: list[str],
                    metrics: list[str], source: str) -> str:
    optional = {c: f"coalesce(trim(CAST({c} AS VARCHAR)), '')" if c in names else "''" for c in ("endpoint", "consumer")}
    return f"""
        SELECT CASE WHEN {_BAD_TIME} THEN error('timestamp') ELSE t END,
               CASE WHEN TRY_CAST(s AS {_one_of(services)}) IS NULL THEN error('service') ELSE s END,
               e, c,
               CASE WHEN TRY_CAST(m AS {_one_of(metrics)}) IS NULL THEN error('metric') ELSE m END,
               CASE WHEN v IS NULL OR NOT isfinite(v) OR v < 0
                         OR (v > 100 AND TRY_CAST(m AS {_one_of(list(PERCENT_METRICS))}) IS NOT NULL)
                    THEN error('value') ELSE v END
        FROM (SELECT {time} AS t, {service} AS s, {optional['endpoint']} AS e, {optional['consumer']} AS c,
                     {metric} AS m, {value} AS v FROM {source})
    """


READER = Reader(
    name="telemetry",
    description="perfops telemetry, CSV or Parquet, long (metric,value) or wide (a column per metric)",
    sniff=sniff,
    read=read,
    priority=80,
    bulk=bulk_plan,
)
