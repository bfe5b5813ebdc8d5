"""What a wide Parquet file's key columns prove before the store writes its rows: that no key
repeats among them, and the bounds of each key column (perfops.model.plans.KeyBounds). The store
then skips its own passes over the rows just written (a fifth of a 1,000-service ingest's CPU).

A wide file's rows for one metric are a subset of its rows, so when no two rows share
(timestamp, service, endpoint, consumer) no two long rows share (..., metric). The proof is
cheap for the usual export, sorted series by series: the rows form runs of one series with
strictly increasing times, and no series has two runs. Anything else proves nothing (None), and
the store checks the written rows exactly, as before.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from perfops.model.plans import KeyBounds

_TEXT_KEYS = ("service", "endpoint", "consumer")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_EPOCH = datetime(1970, 1, 1)


def proven_bounds(path: Path, schema: pa.Schema, metric_columns: list[str]) -> KeyBounds | None:
    """KeyBounds of the rows the wide plan writes (text trimmed, an absent endpoint or consumer
    ''), or None when the file's keys cannot be proven distinct this way."""
    import pyarrow.parquet as pq

    time_type = schema.field("timestamp").type
    if not pa.types.is_timestamp(time_type) or not metric_columns:
        return None  # numbers or text become times by conversions that can merge two values
    texts = [c for c in _TEXT_KEYS if c in schema.names]
    if not all(pa.types.is_string(schema.field(c).type) for c in texts):
        return None
    # one thread: half the CPU of the threaded read, at the same wall time on a busy machine
    table = pq.read_table(path, columns=["timestamp", *texts], read_dictionary=texts, use_threads=False)
    if not table.num_rows or any(table.column(c).null_count for c in table.column_names):
        return None  # a missing endpoint is stored as '', which a filled '' would then repeat
    series = np.zeros(table.num_rows, dtype=np.int64)
    span = 1
    ranges = dict.fromkeys(_TEXT_KEYS, ("", ""))
    for column in texts:
        coded = _codes(table.column(column))
        if coded is None or span * len(coded[1]) >= 1 << 62:
            return None
        codes, values = coded
        series = series * len(values) + codes
        span *= len(values)
        used = [v for v, n in zip(values, np.bincount(codes, minlength=len(values)), strict=True) if n]
        ranges[column] = (min(used), max(used))  # code point order: DuckDB's byte order of UTF-8
    times = table.column("timestamp").cast(pa.int64()).to_numpy()
    if time_type.unit == "ns" and np.any(times % 1000):
        return None  # the store truncates to microseconds: two times could become one
    if not _runs_distinct(series, times):
        return None
    per_second = _PER_SECOND[time_type.unit]
    try:  # Python integers: exact, whatever the magnitude
        first, last = (_EPOCH + timedelta(microseconds=int(t) * 1_000_000 // per_second)
                       for t in (times.min(), times.max()))
    except OverflowError:
        return None  # out of any datetime: the plan refuses those rows
    return KeyBounds(ranges["service"], ranges["endpoint"], ranges["consumer"],
                     (min(metric_columns), max(metric_columns)), (first, last))


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]] | None:
    """(code per row, value per code): equal codes exactly for equal stored values, with one
    dictionary for every chunk whose values are distinct and unchanged by the store's trim (which
    strips Unicode spaces, a subset of what str.strip strips); else None."""
    combined = column.combine_chunks()  # the chunks' dictionaries unified into one
    values = combined.dictionary.to_pylist()
    if len(set(values)) != len(values) or any(v != v.strip() for v in values):
        return None
    return np.asarray(combined.indices.to_numpy(zero_copy_only=False), dtype=np.int64), values


def _runs_distinct(series: np.ndarray, times: np.ndarray) -> bool:
    """Rows in runs of one series, times strictly increasing within a run, no series in two runs."""
    same = series[1:] == series[:-1]
    if np.any(times[1:][same] <= times[:-1][same]):
        return False
    heads = series[np.concatenate(([True], ~same))]
    return bool(np.unique(heads).size == heads.size)
