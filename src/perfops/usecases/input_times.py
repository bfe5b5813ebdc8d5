"""The last line of defence for the accepted time range: every table a reader produced is checked
against [1970, `latest`) before the store sees it (perfops.model.limits).

Readers check times where they read them and name the line (telemetry, events, the load-test
readers, the metric sources); this check catches the readers that cannot know "now" (a load-test
run dated 2062) and any reader that forgets, so one far-future row can never reach the store.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from perfops.errors import InputError
from perfops.ingest.base import IngestBatch
from perfops.ingest.common import range_text, times_in_range

# (table, time columns, the columns that say which row it is)
_TIMED = (
    ("telemetry", ("timestamp",), ("service", "endpoint", "metric")),
    ("events", ("timestamp",), ("service", "type")),
    ("test_runs", ("start", "end"), ("run_id",)),
    ("test_series", ("timestamp",), ("run_id", "endpoint")),
)


def check_batch_times(batch: IngestBatch, path: Path, latest: datetime) -> None:
    """Refuse the file when any of its times is outside the accepted range, naming the field,
    the value and the row (its series or run), and how many rows share the problem. Tables may
    be pandas or Arrow (the telemetry reader's)."""
    for table_name, columns, keys in _TIMED:
        table = getattr(batch, table_name)
        if table is None or not len(table):
            continue
        names = table.column_names if isinstance(table, pa.Table) else list(table.columns)
        for column in (c for c in columns if c in names):
            values = _times(table, column)
            wrong = ~times_in_range(values, latest) & ~np.isnat(values)
            if wrong.any():
                i = int(np.flatnonzero(wrong)[0])
                cells = {k: _cell(table, k, i) for k in keys if k in names}
                row = ", ".join(f"{k} '{v}'" for k, v in cells.items() if v)
                count = int(wrong.sum())
                raise InputError(
                    f"{np.datetime_as_string(values[i].astype('datetime64[s]'))}Z ({row}"
                    f"{f'; {count} rows in all' if count > 1 else ''}) is outside {range_text(latest)}; "
                    "expected the time of a measurement", path=str(path), field=column,
                    hint="a typo in the year, or a clock set wrong where the file was written?",
                )


def _times(table: pd.DataFrame | pa.Table, column: str) -> np.ndarray:
    if isinstance(table, pa.Table):
        return np.asarray(table.column(column).cast(pa.timestamp("us")).to_numpy()).astype("datetime64[us]")
    values = table[column]
    if not np.issubdtype(np.asarray(values).dtype, np.datetime64):
        values = pd.to_datetime(values)
    return np.asarray(values).astype("datetime64[us]")


def _cell(table: pd.DataFrame | pa.Table, column: str, row: int) -> str:
    value = table.column(column)[row].as_py() if isinstance(table, pa.Table) else table[column].iloc[row]
    return "" if value is None else str(value)
