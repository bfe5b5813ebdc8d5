"""Integer codes of a telemetry column, fast for the long sorted runs the store returns.

Shared by the telemetry grid (`analysis/grid.py`) and the step inference (`analysis/steps.py`),
which both lay series out by code; it imports neither, so neither imports the other to use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def codes_of(column: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes and their values: a categorical's own codes, else those of `pd.factorize`
    (values numbered in order of first appearance, -1 for missing). A column read from the store
    is sorted into long runs of one value; then only the first value of each run is hashed."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), list(column.cat.categories)
    values = column.to_numpy()
    if values.dtype == object and len(values) > 1:
        try:
            heads = np.flatnonzero(values[1:] != values[:-1]) + 1
        except (TypeError, ValueError):  # values that do not compare elementwise
            heads = None
        if heads is not None and heads.size < len(values) // RUNS_PER_HASH:
            return _codes_by_runs(values, heads)
    codes, names = pd.factorize(column)
    return codes, list(names)


RUNS_PER_HASH = 64  # rows per run from which comparing neighbours beats hashing every row


def _codes_by_runs(values: np.ndarray, heads: np.ndarray) -> tuple[np.ndarray, list]:
    """`pd.factorize` codes of an object array whose runs of equal values start at `heads`."""
    starts = np.concatenate(([0], heads))
    seen: dict[object, int] = {}
    run_codes = np.empty(starts.size, dtype=np.intp)
    for i, value in enumerate(values[starts].tolist()):
        run_codes[i] = -1 if pd.isna(value) else seen.setdefault(value, len(seen))
    return np.repeat(run_codes, np.diff(np.append(starts, len(values)))), list(seen)
