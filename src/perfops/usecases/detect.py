"""`perfops detect`: ad-hoc streaming anomaly scores for one exported series.

Reads a `timestamp,value` CSV with the csv module (no pandas: the command starts fast), scores
it with `perfops.analysis.detector` and writes `timestamp,value,anomaly_score`, one row per
input row, in order. The output is written to a temporary name and renamed.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from perfops.analysis.steps import median_gap
from perfops.errors import InputError, PerfopsError


@dataclass(frozen=True)
class Series:
    timestamps: list[str]
    values: npt.NDArray[np.float64]
    step_seconds: float | None


def read_series(path: Path) -> Series:
    """Read `timestamp,value` (header required; extra columns ignored; empty value = missing)."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"cannot read the file ({exc.strerror})", path=str(path)) from exc
    with handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        if "timestamp" not in header or "value" not in header:
            raise InputError(f"expected a header with 'timestamp' and 'value', got {header}",
                             path=str(path), line=1)
        ti, vi = header.index("timestamp"), header.index("value")
        stamps, values = _read_rows(reader, ti, vi, str(path))
    return Series(stamps, np.asarray(values, dtype=float), step_seconds_of(stamps, str(path)))


def _read_rows(reader, ti: int, vi: int, path: str) -> tuple[list[str], list[float]]:
    stamps: list[str] = []
    values: list[float] = []
    for line, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            stamp, text = row[ti], row[vi].strip()
        except IndexError:
            raise InputError("expected 'timestamp,value'", path=path, line=line) from None
        try:
            value = float(text) if text else math.nan
        except ValueError:
            raise InputError(f"'{text}' is not a number", path=path, line=line, field="value") from None
        stamps.append(stamp)
        values.append(value)
    return stamps, values


def step_seconds_of(stamps: list[str], path: str) -> float | None:
    """The usual spacing of the first rows (ISO 8601 or epoch s/ms); None if unknown."""
    moments = [m for m in (_epoch(s) for s in stamps[:50]) if m is not None]
    return median_gap(np.asarray(moments)) if len(moments) >= 3 else None


def _epoch(text: str) -> float | None:
    text = text.strip()
    try:
        number = float(text)
        return number / 1000.0 if number > 1e11 else number
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def detect_file(path: Path, output: Path | None, method: str = "fast") -> int:
    """Score `path` with `method` ("fast" or "context"), write the CSV to `output` (stdout when
    None); returns the number of rows."""
    from perfops.analysis.detector import METHODS, DetectorParams, score_series

    if method not in METHODS:
        raise PerfopsError(f"--method: '{method}' is unknown; expected {' or '.join(METHODS)}")
    series = read_series(path)
    scores = score_series(series.values, series.step_seconds, DetectorParams(method=method))
    if output is None:
        _write(sys.stdout, series, scores)
    else:
        _write_atomic(output, series, scores)
    return len(series.timestamps)


def _write(handle, series: Series, scores: np.ndarray) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(("timestamp", "value", "anomaly_score"))
    values = ["" if math.isnan(v) else repr(v) for v in map(float, series.values)]
    writer.writerows(zip(series.timestamps, values, np.round(scores, 6).tolist(), strict=True))


def _write_atomic(output: Path, series: Series, scores: np.ndarray) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".detect-", suffix=".csv", dir=output.parent)
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            _write(handle, series, scores)
        Path(tmp).replace(output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
