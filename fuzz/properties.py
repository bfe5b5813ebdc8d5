"""What every reader must do with any input, shared by tests/test_fuzz_parsers.py (hypothesis)
and fuzz/fuzz_reader.py (atheris):

    reader.read(path, options) returns an IngestBatch whose frames are in the canonical schemas
    (perfops.model.tables) and that the store accepts, or raises a PerfopsError whose message
    names the file. Any other exception is a bug.

Also the hostile-input mutations both use: truncation, re-encoding (UTF-16, latin-1, UTF-8 BOM),
CRLF, enormous lines, NaN/inf/negative numbers, shuffled and duplicated lines, mixed time
zones, columns in another order, binary junk.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.errors import PerfopsError
from perfops.ingest.base import IngestBatch, IngestOptions, Reader
from perfops.model.catalog import Catalog
from perfops.model.tables import (
    EVENT_COLUMNS,
    EVENT_TYPES,
    METRICS,
    TELEMETRY_COLUMNS,
    TEST_ENDPOINT_COLUMNS,
    TEST_RUN_COLUMNS,
    TEST_SERIES_COLUMNS,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "fuzz" / "seeds"

CATALOG_TEXT = """\
domain: Payments
squads:
  - name: checkout
  - name: payments
services:
  - name: checkout-api
    squad: checkout
    tier: 1
    depends_on: [payments]
    nfr:
      peak_tps: 50
      transaction_mix: {"POST /checkout": 30, "GET /cart": 70}
  - name: payments
    squad: payments
consumers:
  - name: partner-acme
cost:
  match:
    - service: checkout-api
      tags: {app: checkout}
"""

# the file name a fuzzed input is written under, per reader (some readers look at the name)
FILE_NAMES = {
    "telemetry": "telemetry.csv", "events": "events.csv", "jmeter": "results.jtl",
    "locust": "run_stats.csv", "k6": "k6.json", "gatling": "simulation.log",
    "access-log": "access.log", "otlp-json": "otlp.json", "prometheus-json": "query_range.json",
    "cloudwatch-json": "cloudwatch.json", "prometheus-text": "metrics.prom",
    "focus": "focus.csv", "opencost": "allocation.json",
}

# ../shared/samples folders, by the reader that reads them
SHARED_FOLDERS = {
    "access-log": ("access-log-apache", "access-log-aws-alb", "access-log-envoy", "access-log-nginx"),
    "cloudwatch-json": ("cloudwatch-metrics-json",),
    "gatling": ("gatling-simulation-log",),
    "jmeter": ("jmeter-jtl-csv", "jmeter-jtl-xml"),
    "k6": ("k6-json-ndjson", "k6-summary-json"),
    "locust": ("locust-csv",),
    "otlp-json": ("otlp-json-metrics",),
    "prometheus-json": ("prometheus-query-range",),
    "prometheus-text": ("prometheus-exposition",),
}


class Violation(AssertionError):
    """The property does not hold: a reader broke its contract."""


def load_catalog() -> Catalog:
    from perfops.workspace import parse_catalog

    return parse_catalog(CATALOG_TEXT)


def seed_files(reader: str, shared: Path | None = None, max_bytes: int = 256 * 1024) -> list[Path]:
    """The seeds of a reader: fuzz/seeds/<reader>/ and, when given, the shared samples."""
    files = sorted(p for p in (SEEDS / reader).glob("*") if p.is_file())
    for folder in SHARED_FOLDERS.get(reader, ()) if shared else ():
        files += sorted(p for p in (shared / "samples" / folder).glob("*")
                        if p.is_file() and p.name != "PROVENANCE.md" and p.stat().st_size <= max_bytes)
    return files


# ---- the property --------------------------------------------------------------------------
@dataclass
class Outcome:
    status: str  # loaded | refused
    rows: int = 0
    message: str = ""


def read_checked(reader: Reader, path: Path, options: IngestOptions, store=None) -> Outcome:  # noqa: ANN001
    """Run the reader; raise Violation when the outcome breaks the property."""
    head = path.read_bytes()[:65536]
    try:
        reader.sniff(path, head)  # a sniff says yes or no; it never raises
    except Exception as exc:  # noqa: BLE001 - any exception is the finding
        raise Violation(f"{reader.name}.sniff raised {type(exc).__name__}: {exc}") from exc
    try:
        batch = reader.read(path, options)
    except PerfopsError as exc:
        text = str(exc)
        if str(path) not in text and path.name not in text:
            raise Violation(f"{reader.name}: error does not name the file: {text!r}") from exc
        return Outcome("refused", message=text)
    check_batch(batch, options.catalog, reader.name)
    if store is not None:
        store_rolled_back(store, batch, reader.name)
    return Outcome("loaded", rows=batch.rows())


def store_rolled_back(store, batch: IngestBatch, name: str) -> None:  # noqa: ANN001
    """The store accepts the batch (then forget it, so one store serves many inputs)."""
    from perfops.usecases.ingest import store_batch

    store.con.execute("BEGIN TRANSACTION")
    try:
        store_batch(store, batch)
    except Exception as exc:  # noqa: BLE001
        raise Violation(f"{name}: the store refused the batch: {type(exc).__name__}: {exc}") from exc
    finally:
        store.con.execute("ROLLBACK")


def _frame(table) -> pd.DataFrame | None:  # noqa: ANN001
    if table is None:
        return None
    return table if isinstance(table, pd.DataFrame) else table.to_pandas()


def check_batch(batch: IngestBatch, catalog: Catalog, name: str) -> None:
    if not isinstance(batch, IngestBatch):
        raise Violation(f"{name}: read returned {type(batch).__name__}, not an IngestBatch")
    services = set(catalog.service_by_name)
    telemetry = _frame(batch.telemetry)
    if telemetry is not None and len(telemetry):
        _columns(telemetry, TELEMETRY_COLUMNS, f"{name}.telemetry")
        _naive_times(telemetry["timestamp"], f"{name}.telemetry.timestamp")
        _texts(telemetry, ("service", "endpoint", "consumer", "metric"), f"{name}.telemetry")
        _within(telemetry["service"], services, f"{name}.telemetry.service")
        _within(telemetry["metric"], set(METRICS), f"{name}.telemetry.metric")
        _finite(telemetry["value"], f"{name}.telemetry.value")
    events = _frame(batch.events)
    if events is not None and len(events):
        _columns(events, EVENT_COLUMNS, f"{name}.events")
        _naive_times(events["timestamp"], f"{name}.events.timestamp")
        _texts(events, ("service", "type", "version", "description"), f"{name}.events")
        _within(events["type"], set(EVENT_TYPES), f"{name}.events.type")
    _check_tests(batch, services, name)


def _check_tests(batch: IngestBatch, services: set[str], name: str) -> None:
    runs = _frame(batch.test_runs)
    if runs is None or not len(runs):
        return
    _columns(runs, TEST_RUN_COLUMNS, f"{name}.test_runs")
    if runs["run_id"].isna().any() or runs["run_id"].duplicated().any():
        raise Violation(f"{name}.test_runs.run_id: empty or repeated run ids {list(runs['run_id'])}")
    _within(runs["service"], services, f"{name}.test_runs.service")
    run_ids = set(runs["run_id"])
    for label, table, columns in (("test_endpoints", batch.test_endpoints, TEST_ENDPOINT_COLUMNS),
                                  ("test_series", batch.test_series, TEST_SERIES_COLUMNS)):
        frame = _frame(table)
        if frame is None or not len(frame):
            continue
        _columns(frame, columns, f"{name}.{label}")
        _within(frame["run_id"], run_ids, f"{name}.{label}.run_id")
        if "timestamp" in frame:
            _naive_times(frame["timestamp"], f"{name}.{label}.timestamp")


def _columns(frame: pd.DataFrame, expected: tuple[str, ...], where: str) -> None:
    if tuple(frame.columns) != expected and set(frame.columns) != set(expected):
        raise Violation(f"{where}: columns {list(frame.columns)}, expected {list(expected)}")


def _naive_times(column: pd.Series, where: str) -> None:
    if not pd.api.types.is_datetime64_dtype(column.dtype) or getattr(column.dtype, "tz", None) is not None:
        raise Violation(f"{where}: dtype {column.dtype}, expected naive datetime64")
    if column.isna().any():
        raise Violation(f"{where}: missing timestamps")


def _texts(frame: pd.DataFrame, columns: tuple[str, ...], where: str) -> None:
    for column in columns:
        values = frame[column]
        if values.isna().any() or not all(isinstance(v, str) for v in values):
            raise Violation(f"{where}.{column}: null or non-text values")


def _within(values: pd.Series, allowed: set[str], where: str) -> None:
    unknown = set(values.dropna().unique()) - allowed
    if unknown:
        raise Violation(f"{where}: unexpected values {sorted(map(str, unknown))[:5]}")


def _finite(values: pd.Series, where: str) -> None:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(numbers).all():
        raise Violation(f"{where}: {int((~np.isfinite(numbers)).sum())} values are NaN or infinite")


# ---- hostile mutations (bytes -> bytes), deterministic given the rng -----------------------
_NUMBER = re.compile(rb"(?<![A-Za-z_])-?\d+(\.\d+)?")
_ZULU = re.compile(rb"(\d{2}:\d{2}:\d{2}(\.\d+)?)(Z|[+-]\d{2}:?\d{2})")
HOSTILE_NUMBERS = (b"NaN", b"nan", b"inf", b"-inf", b"Infinity", b"-1", b"-0", b"1e308", b"1e999",
                   b"", b"0x1A", b"9223372036854775808", b"-9223372036854775809", b"1,5", b"\"\"")
OFFSETS = (b"Z", b"+00:00", b"+05:30", b"-08:00", b"+14:00", b"", b"+2500", b" UTC")


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)] if data else data


def reencode(data: bytes, rng: random.Random) -> bytes:
    text = data.decode("utf-8", errors="replace")
    choice = rng.randrange(5)
    if choice == 0:
        return text.encode("utf-16")  # with a BOM
    if choice == 1:
        return text.encode("utf-16-le")  # without one
    if choice == 2:
        return ("é" + text.replace("a", "ä", 3)).encode("latin-1", errors="replace")
    if choice == 3:
        return b"\xef\xbb\xbf" + data
    return text.replace("e", "\u00e9\u4e2d", 2).encode("gb18030", errors="replace")


def crlf(data: bytes, rng: random.Random) -> bytes:
    out = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return out.replace(b"\r\n", b"\r") if rng.random() < 0.2 else out


def enormous_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    size = rng.choice((70_000, 300_000, 1_100_000))
    filler = rng.choice((b"x", b"9", b",", b"\"", b"{", b" "))
    at = rng.randrange(len(lines) + 1)
    if rng.random() < 0.5 and lines:
        index = min(at, len(lines) - 1)
        lines[index] = lines[index] + filler * size
    else:
        lines.insert(at, filler * size)
    return b"\n".join(lines)


def hostile_numbers(data: bytes, rng: random.Random) -> bytes:
    matches = list(_NUMBER.finditer(data))
    if not matches:
        return data
    out = bytearray(data)
    for m in sorted(rng.sample(matches, min(len(matches), rng.randint(1, 6))), key=lambda m: -m.start()):
        out[m.start():m.end()] = rng.choice(HOSTILE_NUMBERS)
    return bytes(out)


def shuffle_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    head, body = lines[:1], lines[1:]
    rng.shuffle(body)
    return b"\n".join(head + body)


def duplicate_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    if len(lines) < 2:
        return data + data
    picks = [rng.randrange(1, len(lines)) for _ in range(rng.randint(1, 5))]
    for index in sorted(picks, reverse=True):
        lines.insert(index, lines[index])
    return b"\n".join(lines)


def mixed_timezones(data: bytes, rng: random.Random) -> bytes:
    return _ZULU.sub(lambda m: m.group(1) + rng.choice(OFFSETS), data)


def reorder_columns(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    first = lines[0] if lines else b""
    sep = max((b",", b"\t", b";"), key=first.count)
    width = first.count(sep) + 1
    if width < 2:
        return data
    order = list(range(width))
    rng.shuffle(order)
    out = []
    for line in lines:
        cells = line.split(sep)
        out.append(sep.join(cells[i] for i in order if i < len(cells)) if len(cells) == width else line)
    return b"\n".join(out)


def binary_junk(data: bytes, rng: random.Random) -> bytes:
    junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    at = rng.randrange(len(data) + 1)
    return data[:at] + junk + data[at:] if rng.random() < 0.7 else junk


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def empty(data: bytes, rng: random.Random) -> bytes:
    return rng.choice((b"", b"\n", b"\r\n", b"\xef\xbb\xbf", b" \n\n", data.split(b"\n", 1)[0] + b"\n"))


def drop_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    keep = [line for line in lines if rng.random() > 0.3]
    return b"\n".join(keep)


MUTATIONS = {
    "truncate": truncate, "reencode": reencode, "crlf": crlf, "enormous_line": enormous_line,
    "hostile_numbers": hostile_numbers, "shuffle_lines": shuffle_lines, "duplicate_lines": duplicate_lines,
    "mixed_timezones": mixed_timezones, "reorder_columns": reorder_columns, "binary_junk": binary_junk,
    "flip_bytes": flip_bytes, "empty": empty, "drop_lines": drop_lines,
}


def mutate(data: bytes, names: list[str], seed: int) -> bytes:
    """Apply the named mutations in order (deterministic for a given seed)."""
    rng = random.Random(seed)
    for name in names:
        data = MUTATIONS[name](data, rng)
    return data
