"""Locust CSV results (`locust --csv PREFIX`): a run is the files of one prefix.

- `PREFIX_stats.csv` (0.14+; `Type`/`Method`, `Request Count`/`# requests`, …, percentiles): per
  endpoint samples, failures, median/avg/min/max, requests/s and percentile columns;
- `PREFIX_stats_history.csv`: the load over time (cumulative totals, the current percentiles,
  the user count) — Aggregated rows, and per-endpoint rows with --csv-full-history;
- `PREFIX_failures.csv`, `PREFIX_exceptions.csv`: failure messages (kept as notes);
- Locust 0.x: `PREFIX_requests.csv` + `PREFIX_distribution.csv`.

Any of these files reads the whole group, so ingesting all of them gives one run (same run id).
Locust keeps summaries, not samples: its percentiles are rounded to two significant figures,
so endpoints carry `exact_percentiles = False`. Files written on Windows with a local code page
(GBK labels) and `\\r\\r\\n` line ends are read; the encoding used is noted.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.errors import InputError
from perfops.ingest.base import IngestBatch, IngestOptions, Reader
from perfops.ingest.common import LATEST_S, check_columns_limit, out_of_range
from perfops.ingest.testrun_common import (
    SERIES_STEP_S,
    derive_run_id,
    empty_series,
    endpoint_name,
    endpoints_frame,
    fold_endpoints,
    merge_summary_rows,
    read_bytes,
    resolve_service,
    run_frame,
    series_frame,
)

SUFFIXES = ("_stats_history", "_stats", "_failures", "_exceptions", "_requests", "_distribution")
ENCODINGS = ("utf-8-sig", "gb18030", "cp1252")
_SPACES = re.compile(r"\s+")
_AGGREGATE_NAMES = {"aggregated", "total", "none total"}

# canonical name -> header spellings of the Locust versions (lower-cased)
_SYNONYMS = {
    "type": ("type", "method"),
    "name": ("name",),
    "samples": ("request count", "# requests"),
    "errors": ("failure count", "# failures"),
    "median": ("median response time",),
    "avg": ("average response time",),
    "max": ("max response time",),
    "rps": ("requests/s",),
    "users": ("user count",),
    "timestamp": ("timestamp",),
    "total_requests": ("total request count",),
    "total_errors": ("total failure count",),
    "occurrences": ("occurrences",),
    "error": ("error",),
}


def _kind_of_header(line: str) -> str | None:
    low = line.lower().replace('"', "")
    if low.startswith("timestamp,user count"):
        return "history"
    if low.startswith(("method,name,error,occurrences", "method,name,error")):
        return "failures"
    if low.startswith("count,message,traceback"):
        return "exceptions"
    if low.startswith("name,# requests,50%"):
        return "distribution"
    if "name" in low.split(",")[:2] and ("request count" in low or "# requests" in low):
        return "stats"
    return None


def sniff(path: Path, head: bytes) -> bool:
    line = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf").split("\n", 1)[0].strip("\r")
    return _kind_of_header(line) is not None


# ---- decoding ---------------------------------------------------------------------------
def decode(path: Path) -> tuple[str, str]:
    """(text, encoding): UTF-8, else GB18030 (a superset of GBK), else cp1252; line ends folded."""
    raw = read_bytes(path)
    for encoding in ENCODINGS:
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text.replace("\r\r\n", "\n").replace("\r\n", "\n"), encoding
    return raw.decode("latin-1"), "latin-1"


def read_table(path: Path) -> tuple[pd.DataFrame, str]:
    """A Locust CSV as strings, headers mapped to canonical names where known; the frame's
    index is each row's line number (for errors)."""
    text, encoding = decode(path)
    rows, lines = _csv_rows(text, path)
    if not rows:
        raise InputError("the file is empty; expected a Locust CSV header", path=str(path))
    header = [h.strip() for h in rows[0]]
    check_columns_limit(len(header), path, "a Locust CSV of a few dozen columns")
    _check_unique(header, header, path)
    width = len(header)
    for number, row in zip(lines[1:], rows[1:], strict=True):
        if len(row) != width:
            raise InputError(f"expected {width} fields, found {len(row)}", path=str(path), line=number)
    frame = pd.DataFrame(rows[1:], columns=header, dtype=object, index=pd.Index(lines[1:], name="line"))
    rename: dict[str, str] = {}
    for col in header:
        for canon, spellings in _SYNONYMS.items():
            if col.lower() in spellings and canon not in rename.values():
                rename[col] = canon
    renamed = [rename.get(col, col) for col in header]
    _check_unique(renamed, header, path)  # e.g. 'Request Count' next to a column named 'samples'
    return frame.rename(columns=rename), encoding


def _csv_rows(text: str, path: Path) -> tuple[list[list[str]], list[int]]:
    """The non-blank rows and the line each starts on. Line ends may be LF, CRLF or a bare CR
    (newline='' lets the csv module read all three)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[list[str]] = []
    lines: list[int] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return rows, lines
        except csv.Error as exc:  # a NUL byte, a field over the csv module's size limit, ...
            raise InputError(f"not a readable CSV row ({exc})", path=str(path), line=reader.line_num or start) from exc
        if row:
            rows.append(row)
            lines.append(start)


def _check_unique(names: list[str], original: list[str], path: Path) -> None:
    """A repeated column makes a row ambiguous: refuse it, naming the column."""
    seen: set[str] = set()
    for name, shown in zip(names, original, strict=True):
        key = name.lower()
        if key in seen:
            raise InputError(f"the column '{shown}' appears more than once in the header; expected each "
                             "column once", path=str(path), line=1, field=shown)
        seen.add(key)


def _number(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series.replace({"N/A": None, "": None}), errors="coerce").to_numpy(dtype=float)


_NUMBER_TEXT = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$")


def check_numbers(frame: pd.DataFrame, path: Path, columns: list[str]) -> None:
    """Every value of these columns is a number, empty or N/A (Locust's "no value"); anything
    else is refused with its line and column rather than read as "no value"."""
    for column in columns:
        if column not in frame.columns:
            continue
        text = frame[column].fillna("").astype(str).str.strip()
        bad = ~(text.isin(["", "N/A"]) | text.str.match(_NUMBER_TEXT))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"'{text.iloc[i][:40]}' is not a number; expected a number, empty or N/A",
                             path=str(path), line=int(frame.index[i]), field=column)


_MAX_COUNT = 2.0**53  # counts beyond this are not counts (and do not fit an int64 exactly)


def _counts(frame: pd.DataFrame, column: str, path: Path, missing: float | None = None) -> np.ndarray:
    """A count column as int64; a value that is not a whole number from 0 up is refused with
    its line (`missing`, when given, replaces an empty or N/A one)."""
    values = _number(frame[column])
    if missing is not None:
        values = np.where(np.isnan(values), missing, values)
    with np.errstate(invalid="ignore"):
        bad = ~((values >= 0) & (values < _MAX_COUNT))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"'{frame[column].iloc[i]}' is not a count; expected a whole number of 0 or more",
                         path=str(path), line=int(frame.index[i]), field=column)
    return values.astype(np.int64)


# ---- the group of files -------------------------------------------------------------------
def group_files(path: Path) -> dict[str, Path]:
    """The files of the same `--csv` prefix, by kind."""
    stem = path.name.removesuffix(".csv")
    prefix = stem
    for suffix in SUFFIXES:
        if stem.endswith(suffix):
            prefix = stem.removesuffix(suffix)
            break
    found = {}
    for suffix in SUFFIXES:
        candidate = path.with_name(f"{prefix}{suffix}.csv")
        if candidate.exists():
            found[suffix.lstrip("_")] = candidate
    if not any(k in found for k in ("stats", "requests")):
        found.setdefault("self", path)
    return found


def read(path: Path, options: IngestOptions) -> IngestBatch:
    files = group_files(path)
    notes: list[str] = []
    if "stats" in files:
        stats, enc = read_table(files["stats"])
        endpoints = _stats_endpoints(stats, files["stats"])
    elif "requests" in files:
        stats, enc = read_table(files["requests"])
        endpoints = _stats_endpoints(stats, files["requests"], files.get("distribution"))
    else:
        raise InputError(
            "a Locust failures/history/exceptions file alone has no per-endpoint request counts",
            path=str(path), hint="ingest the _stats.csv written with it (same --csv prefix)",
        )
    if enc != "utf-8-sig":
        notes.append(f"request names decoded as {enc} (not UTF-8)")
    history = _history(files["stats_history"]) if "stats_history" in files else None
    start, end = _time_range(history)
    notes.extend(_failure_notes(files))
    names = list(endpoints["endpoint"])
    service = resolve_service(options, names, [path.name], path)
    run_id = derive_run_id(files.get("stats", files.get("requests", path)), start, options.run_id)
    endpoints["run_id"] = run_id
    if start is not None and end is not None:
        seconds = max((end - start).total_seconds(), 1.0)
        measured = endpoints["samples"] / seconds
        endpoints["throughput_rps"] = endpoints["throughput_rps"].fillna(measured)
    notes.append("summary-level results: percentiles as Locust rounds them, no raw samples")
    if history is None:
        notes.append("no _stats_history.csv: no load over time, start and end unknown")
    series = _history_series(history, run_id) if history is not None else empty_series()
    runs = run_frame(run_id, "locust", service, options.environment, start, end, path, notes)
    return IngestBatch(test_runs=runs, test_endpoints=endpoints_frame(endpoints.to_dict("records")),
                       test_series=series, notes=notes)


def _stats_endpoints(stats: pd.DataFrame, path: Path, distribution: Path | None = None) -> pd.DataFrame:
    for required in ("name", "samples"):
        if required not in stats.columns:
            raise InputError(f"no '{required}' column; expected a Locust _stats.csv header", path=str(path),
                             line=1, field=required)
    methods = stats["type"] if "type" in stats.columns else pd.Series("", index=stats.index, dtype=object)
    keep = ~stats["name"].str.strip().str.lower().isin(_AGGREGATE_NAMES)
    stats, methods = stats[keep], methods[keep]
    samples = _counts(stats, "samples", path)
    errors = _counts(stats, "errors", path, missing=0) if "errors" in stats else 0
    check_numbers(stats, path, ["rps", "avg", "median", "max", *(c for c in stats.columns if _PERCENT_COLUMN.match(c))])
    stats, methods = stats.reset_index(drop=True), methods.reset_index(drop=True)
    if distribution is not None:
        dist = read_table(distribution)[0]
        if "name" not in dist.columns:
            raise InputError("no 'Name' column; expected a Locust _distribution.csv header", path=str(distribution),
                             line=1, field="Name")
        dist = dist[~dist["name"].str.strip().str.lower().isin(_AGGREGATE_NAMES)]
        full = [endpoint_name(n, m) for n, m in zip(stats["name"], methods, strict=True)]
        stats = stats.assign(_key=full).merge(
            dist.drop(columns=["samples"], errors="ignore").assign(_key=[endpoint_name(n) for n in dist["name"]])
            .drop(columns=["name"]).drop_duplicates("_key"), on="_key", how="left")
    out = pd.DataFrame({
        "run_id": "",
        "endpoint": [endpoint_name(n, m) for n, m in zip(stats["name"], methods, strict=True)],
        "samples": samples,
        "errors": errors,
        "throughput_rps": _number(stats["rps"]) if "rps" in stats else np.nan,
    })
    out["latency_p50_ms"] = _first_of(stats, ["50%", "median"])
    for q in (90, 95, 99):
        out[f"latency_p{q}_ms"] = _first_of(stats, [f"{q}%"])
    out["latency_avg_ms"] = _first_of(stats, ["avg"])
    out["latency_max_ms"] = _first_of(stats, ["max", "100%"])
    out["exact_percentiles"] = False
    out["endpoint"] = fold_endpoints(list(out["endpoint"]))
    return merge_summary_rows(out, _percentile_knots(stats, out))


_PERCENT_COLUMN = re.compile(r"^(\d+(?:\.\d+)?)%$")


def _percentile_knots(stats: pd.DataFrame, out: pd.DataFrame) -> pd.DataFrame:
    """Each row's percentile columns by rank (`95%` -> 95.0), the median as rank 50 and the
    max as rank 100 where those columns are missing or empty: what merging rows may rely on."""
    knots = pd.DataFrame(index=out.index)
    for col in stats.columns:
        found = _PERCENT_COLUMN.match(str(col))
        if found:
            knots[float(found.group(1))] = _number(stats[col])
    for rank, column in ((50.0, "latency_p50_ms"), (100.0, "latency_max_ms")):
        given = knots[rank].to_numpy(dtype=float) if rank in knots else np.full(len(out), np.nan)
        knots[rank] = np.where(np.isnan(given), out[column].to_numpy(dtype=float), given)
    return knots


def _first_of(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    for col in columns:
        if col in frame.columns:
            values = _number(frame[col])
            if not np.isnan(values).all():
                return values
    return np.full(len(frame), np.nan)


def _history(path: Path) -> pd.DataFrame:
    """The _stats_history.csv, its Timestamp (epoch seconds) as `seconds` (NaN where empty); a
    time outside the accepted range is refused with its line."""
    history = read_table(path)[0]
    check_numbers(history, path, ["total_requests", "total_errors", "95%", "users"])
    if "timestamp" in history.columns:
        seconds = _number(history["timestamp"])
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(seconds) & ~((seconds >= 0) & (seconds < LATEST_S))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise out_of_range(f"the time {history['timestamp'].iloc[i]} (epoch seconds)", path=path,
                               line=int(history.index[i]), field="Timestamp")
        history["seconds"] = seconds
    return history


def _time_range(history: pd.DataFrame | None):
    if history is None or "seconds" not in history.columns or history.empty:
        return None, None
    seconds = history["seconds"].to_numpy(dtype=float)
    seconds = seconds[~np.isnan(seconds)]
    if seconds.size == 0:
        return None, None
    stamps = pd.to_datetime(seconds, unit="s")
    return stamps.min().to_pydatetime(), stamps.max().to_pydatetime()


def _history_series(history: pd.DataFrame, run_id: str) -> pd.DataFrame:
    """Cumulative totals become requests and errors per 10-s interval; the window's p95 and the
    user count are kept as reported."""
    if "seconds" not in history.columns or "total_requests" not in history.columns:
        return empty_series()
    frame = pd.DataFrame({
        "timestamp": pd.to_datetime(history["seconds"].to_numpy(dtype=float), unit="s"),
        "name": history["name"].astype(str) if "name" in history else "Aggregated",
        "method": history["type"].astype(str) if "type" in history else "",
        "total": _number(history["total_requests"]),
        "failed": _number(history["total_errors"]) if "total_errors" in history else 0.0,
        "latency_p95_ms": _number(history["95%"]) if "95%" in history else np.nan,
        "users": _number(history["users"]) if "users" in history else np.nan,
    }).dropna(subset=["timestamp"])
    is_all = frame["name"].str.strip().str.lower().isin(_AGGREGATE_NAMES)
    frame["label"] = [("" if a else endpoint_name(n, m)) for a, n, m in
                      zip(is_all, frame["name"], frame["method"], strict=True)]
    frame["endpoint"] = fold_endpoints(list(frame["label"]))
    frame = frame.sort_values(["label", "timestamp"], kind="stable")
    grouped = frame.groupby("label")  # totals are cumulative per Locust name, before merging
    frame["requests"] = grouped["total"].diff().fillna(frame["total"]).clip(lower=0)
    frame["errors"] = grouped["failed"].diff().fillna(frame["failed"]).clip(lower=0)
    frame["timestamp"] = frame["timestamp"].dt.floor(f"{SERIES_STEP_S}s")
    out = frame.groupby(["timestamp", "endpoint"], as_index=False).agg(
        requests=("requests", "sum"), errors=("errors", "sum"), latency_p95_ms=("latency_p95_ms", "max"),
        users=("users", "max"))
    out["run_id"] = run_id
    return series_frame(out)


def _failure_notes(files: dict[str, Path]) -> list[str]:
    if "failures" not in files:
        return []
    failures, _ = read_table(files["failures"])
    if failures.empty or "occurrences" not in failures.columns:
        return []
    failures["n"] = np.nan_to_num(_number(failures["occurrences"]), nan=0.0, posinf=0.0, neginf=0.0)
    top = failures.sort_values("n", ascending=False).head(3)
    listed = ", ".join(f"{r.get('name', '')}: {r.get('error', '')} ×{int(r['n'])}" for r in top.to_dict("records"))
    return ["failures: " + _SPACES.sub(" ", listed)]


READER = Reader(
    name="locust",
    description="Locust CSV results: _stats.csv, _stats_history.csv, _failures.csv (0.x to 2.x)",
    sniff=sniff,
    read=read,
    priority=20,
)
