"""What a wide Parquet file's key columns prove before the store writes its rows: that no key
repeats among them, and the bounds of each key column (perfops.model.plans.KeyBounds). The store
then skips its own passes over the rows just written (a fifth of a 1,000-service ingest's CPU).

A wide file's rows for one metric are a subset of its rows, so when no two rows share
(timestamp, service, endpoint, consumer) no two long rows share (..., metric). The proof is
cheap for the usual export, sorted series by series: the rows form runs of one series with
strictly increasing times, and no series has two runs. It reads the key columns in batches
(memory bounded whatever the file's size), as dictionary codes. Anything else proves nothing
(None), and the store checks the written rows exactly, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from perfops.model.plans import KeyBounds

_TEXT_KEYS = ("service", "endpoint", "consumer")
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}
_EPOCH = datetime(1970, 1, 1)
_CODE_BITS = 21  # per text column: three fit one int64 series id
_BATCH_ROWS = 1 << 20


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
    runs = _Runs(texts)
    try:
        parquet = pq.ParquetFile(path, read_dictionary=texts)
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=["timestamp", *texts], use_threads=False):
            if not runs.add(batch, time_type.unit):
                return None
    except (pa.ArrowException, OSError):
        return None  # the store's own read of the file names the problem
    return runs.bounds(time_type.unit, metric_columns)


@dataclass
class _Runs:
    """The proof so far: each text column's values with a code per value (codes equal exactly for
    equal stored values), the series seen as run heads, the last row's series and time."""

    texts: list[str]
    codes: dict[str, dict[str, int]] = field(default_factory=dict)
    heads: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    last: tuple[int, int] | None = None
    times: tuple[int, int] | None = None

    def add(self, batch: pa.RecordBatch, unit: str) -> bool:
        """Take one batch; False as soon as the keys cannot be proven distinct."""
        if not batch.num_rows:
            return True
        if any(column.null_count for column in batch.columns):
            return False  # a missing endpoint is stored as '', which a filled '' would then repeat
        series = np.zeros(batch.num_rows, dtype=np.int64)
        for name in self.texts:
            codes = self._codes(name, batch.column(name))
            if codes is None:
                return False
            series = (series << _CODE_BITS) | codes
        times = batch.column("timestamp").cast(pa.int64()).to_numpy()
        if unit == "ns" and np.any(times % 1000):
            return False  # the store keeps microseconds: two times could become one
        if self.last is not None:  # the run the previous batch ended with may go on
            series, times = np.concatenate(([self.last[0]], series)), np.concatenate(([self.last[1]], times))
        same = series[1:] == series[:-1]
        if np.any(times[1:][same] <= times[:-1][same]):
            return False
        heads = series[1:][~same] if self.last is not None else series[np.concatenate(([True], ~same))]
        if np.unique(heads).size != heads.size or np.isin(heads, self.heads).any():
            return False
        self.heads = np.union1d(self.heads, heads)
        self.last = (int(series[-1]), int(times[-1]))
        low, high = int(times.min()), int(times.max())
        self.times = (low, high) if self.times is None else (min(low, self.times[0]), max(high, self.times[1]))
        return True

    def _codes(self, name: str, column: pa.Array) -> np.ndarray | None:
        """The batch's values as this proof's codes, or None when a value is one the store's trim
        would change (it strips Unicode spaces, a subset of what str.strip strips) or there are
        too many to code."""
        known = self.codes.setdefault(name, {})
        values = column.dictionary.to_pylist()
        if any(v != v.strip() for v in values):
            return None
        mapping = np.array([known.setdefault(v, len(known)) for v in values], dtype=np.int64)
        if len(known) >= 1 << _CODE_BITS:
            return None
        return mapping[np.asarray(column.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]

    def bounds(self, unit: str, metric_columns: list[str]) -> KeyBounds | None:
        if self.times is None:
            return None  # no rows: nothing to skip
        per_second = _PER_SECOND[unit]
        try:  # Python integers: exact, whatever the magnitude
            first, last = (_EPOCH + timedelta(microseconds=t * 1_000_000 // per_second) for t in self.times)
        except OverflowError:
            return None  # out of any datetime: the plan refuses those rows
        ranges = dict.fromkeys(_TEXT_KEYS, ("", ""))
        for name in self.texts:
            used = self._used(name)
            ranges[name] = (min(used), max(used))  # code point order: DuckDB's byte order of UTF-8
        return KeyBounds(ranges["service"], ranges["endpoint"], ranges["consumer"],
                         (min(metric_columns), max(metric_columns)), (first, last))

    def _used(self, name: str) -> list[str]:
        """The column's values that some row holds (a batch's dictionary may list more)."""
        shift = _CODE_BITS * (len(self.texts) - 1 - self.texts.index(name))
        held = {int(code) for code in np.unique((self.heads >> shift) & ((1 << _CODE_BITS) - 1))}
        return [value for value, code in self.codes[name].items() if code in held]
