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
    the value and the row (its series or run), and how many rows share the problem."""
    for table_name, columns, keys in _TIMED:
        table = getattr(batch, table_name)
        if table is None or not len(table):
            continue
        for column in columns:
            if column not in table:
                continue
            values = pd.to_datetime(table[column]).to_numpy(dtype="datetime64[us]") \
                if not np.issubdtype(np.asarray(table[column]).dtype, np.datetime64) else np.asarray(table[column])
            wrong = ~times_in_range(values, latest) & ~np.isnat(values.astype("datetime64[us]"))
            if wrong.any():
                i = int(np.flatnonzero(wrong)[0])
                row = ", ".join(f"{k} '{table[k].iloc[i]}'" for k in keys if k in table and str(table[k].iloc[i]))
                count = int(wrong.sum())
                raise InputError(
                    f"{np.datetime_as_string(values[i].astype('datetime64[s]'))}Z ({row}"
                    f"{f'; {count} rows in all' if count > 1 else ''}) is outside {range_text(latest)}; "
                    "expected the time of a measurement", path=str(path), field=column,
                    hint="a typo in the year, or a clock set wrong where the file was written?",
                )
