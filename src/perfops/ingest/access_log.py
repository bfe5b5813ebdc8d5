"""Access logs (`--format access-log`) -> 1-minute telemetry per service, endpoint and consumer.

Reads nginx and Apache `combined` and `common` (with a request time after them when present:
nginx `$request_time` in seconds, Apache `%D` in microseconds, or a `key=value` tail such as
`request_time=0.025`), ingress-nginx's default format, AWS Application Load Balancer logs, Envoy's
default access-log format, and any nginx `log_format` string the user gives
(IngestOptions.log_format); plain or gzip; as written, or as shipped (Docker json-file, JSON
`message` lines, CRI, a word such as Ambassador's `ACCESS ` before the line: shipped_logs).

How (see docs/formats/access-log.md):
- every format is an nginx-style template (`$remote_addr - $remote_user [$time_local] ...`)
  compiled to one RE2 pattern that captures only the fields this file needs (access_templates);
- the file is read in blocks of whole lines; each block becomes one Arrow binary array (lines
  split with numpy, zero copy) and is parsed by `pyarrow.compute.extract_regex`; times, statuses
  and latencies are decoded with numpy from the fixed-width bytes;
- aggregates are exact: a minute is summarised (counts, and p50/p95/p99/avg/max from the raw
  request times, never averages of percentiles) once the log has moved `LAG_MINUTES` past it, so
  memory stays bounded on a 10 GB log. Lines more than that out of order are summarised at the
  end and merged (counts stay exact; their minute's percentiles become count-weighted, noted).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from perfops.errors import InputError
from perfops.ingest import access_templates as tpl
from perfops.ingest import shipped_logs as shipped
from perfops.ingest.access_templates import (
    ALB_LATENCY,
    LATENCY_VARIABLES,
    ConsumerSource,
    LineFormat,
    compile_template,
    consumer_source,
    detect_format,
    head_lines,
    user_format,
)
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import epoch_ms, gunzip_bounded, range_text
from perfops.model.limits import LATEST

BLOCK_BYTES = 8 * 1024 * 1024
PREFETCH_BLOCKS = 3  # blocks read ahead and parsed on the two worker threads
MAX_REPORTED_SKIPS = 1000

# ---- reading blocks of lines ---------------------------------------------------------------------
def blocks(stream: BinaryIO, size: int | None = None) -> Iterator[bytes]:
    """Blocks of whole lines (the last one may lack its newline)."""
    size = size or BLOCK_BYTES
    rest = b""
    while True:
        data = stream.read(size)
        if not data:
            if rest:
                yield rest
            return
        data = rest + data
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        rest = data[cut + 1:]
        yield data[:cut + 1]


def split_lines(block: bytes) -> pa.LargeBinaryArray:
    """One Arrow binary array of the block's lines (newlines kept), sharing the block's memory."""
    raw = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10) + 1
    if not len(ends) or ends[-1] != len(raw):
        ends = np.append(ends, len(raw))
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0], offsets[1:] = 0, ends
    return pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )


# ---- decoding fields with numpy ------------------------------------------------------------------
_MONTHS = {name: i + 1 for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}


def _fixed_width(values: pa.Array, width: int) -> np.ndarray | None:
    """An (n, width) uint8 view of a binary array whose values all have `width` bytes, else None."""
    values = values.cast(pa.large_binary()) if values.type != pa.large_binary() else values
    n = len(values)
    if n == 0:
        return np.zeros((0, width), dtype=np.uint8)
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)[values.offset:values.offset + n + 1]
    if offsets[-1] - offsets[0] != n * width or not np.all(np.diff(offsets) == width):
        return None
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
    return data[offsets[0]:offsets[-1]].reshape(n, width)


def _digits(cells: np.ndarray) -> np.ndarray:
    value = np.zeros(len(cells), dtype=np.int64)
    for j in range(cells.shape[1]):
        value = value * 10 + (cells[:, j].astype(np.int64) - 48)
    return value


def days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm), vectorised."""
    year = year - (month <= 2)
    era = np.floor_divide(year, 400)
    yoe = year - era * 400
    doy = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def minutes_local(values: pa.Array) -> np.ndarray:
    """`17/May/2015:10:05:03 +0000` -> epoch minutes (UTC); -1 where the date is impossible."""
    cells = _fixed_width(values, 26)
    if cells is None:  # cannot happen for lines the pattern accepted; be safe anyway
        cells = np.array([list(v.ljust(26)[:26]) for v in values.to_pylist()], dtype=np.uint8).reshape(-1, 26)
    month_code = (cells[:, 3:6] | 0x20).astype(np.int64) @ np.array([65536, 256, 1])
    codes = np.array([ord(m[0]) * 65536 + ord(m[1]) * 256 + ord(m[2]) for m in _MONTHS])
    order = np.argsort(codes)
    slot = np.clip(np.searchsorted(codes[order], month_code), 0, 11)
    month = np.where(codes[order][slot] == month_code, order[slot] + 1, 0)
    day, year = _digits(cells[:, 0:2]), _digits(cells[:, 7:11])
    hour, minute = _digits(cells[:, 12:14]), _digits(cells[:, 15:17])
    offset = _digits(cells[:, 22:24]) * 60 + _digits(cells[:, 24:26])
    offset_hours, offset_minutes = _digits(cells[:, 22:24]), _digits(cells[:, 24:26])
    offset = offset_hours * 60 + offset_minutes
    offset = np.where(cells[:, 21] == ord("-"), -offset, offset)
    out = days_from_civil(year, np.maximum(month, 1), day) * 1440 + hour * 60 + minute - offset
    impossible = ((month == 0) | (day < 1) | (day > 31) | (hour > 23) | (minute > 59)
                  | (offset_hours > 14) | (offset_minutes > 59))  # UTC offsets run from -12:00 to +14:00
    return np.where(impossible, -1, out)


def minutes_iso(values: pa.Array) -> np.ndarray:
    """`2019-10-11T15:01:12.376735Z` (or an offset) -> epoch minutes (UTC)."""
    head = _fixed_width(pc.binary_slice(values, 0, 16), 16)
    if head is None:
        return np.full(len(values), -1, dtype=np.int64)
    year, month, day = _digits(head[:, 0:4]), _digits(head[:, 5:7]), _digits(head[:, 8:10])
    hour, minute = _digits(head[:, 11:13]), _digits(head[:, 14:16])
    out = days_from_civil(year, month, day) * 1440 + hour * 60 + minute
    zone = pc.extract_regex(values, r"(?P<sign>[+-])(?P<h>\d\d):?(?P<m>\d\d)$")
    if zone.null_count < len(zone):
        sign = np.where(np.asarray(zone.field("sign").to_pylist(), dtype=object) == b"-", -1, 1)
        hh = _numbers(zone.field("h"))
        mm = _numbers(zone.field("m"))
        shift = np.nan_to_num(hh * 60 + mm).astype(np.int64) * sign
        out = out - shift
    impossible = (month < 1) | (month > 12) | (day < 1) | (day > 31) | (hour > 23) | (minute > 59)
    return np.where(impossible, -1, out)


def minutes_epoch(values: pa.Array) -> np.ndarray:
    seconds = _numbers(values)
    return np.where(np.isnan(seconds), -1, np.floor(np.nan_to_num(seconds) / 60)).astype(np.int64)


def _numbers(values: pa.Array) -> np.ndarray:
    """Binary digits -> float64; '-' and anything else not a number -> NaN."""
    text = values.cast(pa.large_string())
    ok = pc.match_substring_regex(text, r"^-?\d+(?:\.\d+)?$")
    cleaned = pc.if_else(ok, text, pa.scalar(None, pa.large_string()))
    return pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def statuses(values: pa.Array) -> np.ndarray:
    cells = _fixed_width(values, 3)
    if cells is not None:
        return _digits(cells).astype(np.int32)
    return np.nan_to_num(_numbers(values), nan=0).astype(np.int32)


def latencies_us(columns: dict[str, pa.Array], variable: str | None) -> np.ndarray | None:
    """Request time in whole microseconds; -1 where absent (`-`, `-1`). None: the format has none."""
    if variable is None:
        return None
    if variable == "alb":
        parts = [_numbers(columns[v]) for v in ALB_LATENCY]
        seconds = parts[0] + parts[1] + parts[2]
        seconds = np.where((parts[0] < 0) | (parts[1] < 0) | (parts[2] < 0), np.nan, seconds)
        micros = seconds * 1e6
    elif variable == "upstream_response_time":
        micros = _upstream_total(columns[variable]) * 1e6
    else:
        micros = _numbers(columns[variable]) * LATENCY_VARIABLES[variable]
    micros = np.where(micros < 0, np.nan, micros)
    return np.where(np.isnan(micros), -1, np.rint(np.nan_to_num(micros))).astype(np.int64)


def _upstream_total(values: pa.Array) -> np.ndarray:
    """`0.010, 0.250` (nginx tried two upstreams) -> 0.26: the time spent across all tries."""
    parts = pc.split_pattern_regex(values.cast(pa.large_string()), r", | : ")
    flat = _numbers(pc.list_flatten(parts))
    owner = pc.list_parent_indices(parts).to_numpy()
    total = np.bincount(owner, weights=np.nan_to_num(flat), minlength=len(values))
    seen = np.bincount(owner, weights=~np.isnan(flat), minlength=len(values))
    return np.where(seen > 0, total, np.nan)


# ---- one block ---------------------------------------------------------------------------------
@dataclass
class ParsedBlock:
    """The fields of one block's good lines, plus where its bad lines are."""

    first_line: int  # 1-based line number of the block's first line
    line_numbers: np.ndarray | None  # shipped logs: the file's line number of each line; None = consecutive
    lines: pa.Array
    bad: np.ndarray  # indexes into the block of lines no pattern accepted (blank lines excluded)
    minute: np.ndarray  # int64 epoch minutes, one per good line
    status: np.ndarray
    latency_us: np.ndarray | None
    methods: pa.DictionaryArray
    paths: pa.DictionaryArray  # id-folded paths
    consumers: pa.DictionaryArray | None  # raw consumer field values; None = no breakdown

    def line_of(self, index: int) -> int:
        """The file's line number of the block's line `index`."""
        if self.line_numbers is not None:
            return int(self.line_numbers[index])
        return self.first_line + index


@dataclass(frozen=True)
class Parser:
    """The compiled pattern of one file and how to decode what it captures."""

    fmt: LineFormat
    pattern: str
    time_variable: str
    latency_variable: str | None
    consumer: ConsumerSource

    @classmethod
    def build(cls, fmt: LineFormat, consumer: ConsumerSource) -> Parser:
        latency = fmt.latency_variable()
        wanted = {"request", "status", "envoy_status", fmt.time_variable() or ""}
        wanted |= set(ALB_LATENCY) if latency == "alb" else {latency or ""}
        if consumer.variable:
            wanted.add(consumer.variable)
        return cls(fmt, compile_template(fmt.template, wanted), fmt.time_variable() or "", latency, consumer)

    def parse(self, block: bytes, first_line: int, line_numbers: np.ndarray | None = None) -> ParsedBlock:
        lines = split_lines(block)
        found = pc.extract_regex(lines, self.pattern)
        good = found.is_valid()
        good_np = np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)
        bad = np.flatnonzero(~good_np)
        if len(bad):
            bad = bad[_not_blank(lines.take(pa.array(bad)))]
            found = found.filter(good)
        columns = {name: found.field(name) for name in _field_names(found)}
        decode = {"time_local": minutes_local, "time_iso8601": minutes_iso, "msec": minutes_epoch}
        minute = decode[self.time_variable](columns[self.time_variable])
        status_field = "status" if "status" in columns else "envoy_status"
        consumers = None
        if self.consumer.variable:
            consumers = pc.dictionary_encode(columns[self.consumer.variable])
        return ParsedBlock(
            first_line=first_line, line_numbers=line_numbers, lines=lines, bad=bad, minute=minute,
            status=statuses(columns[status_field]),
            latency_us=latencies_us(columns, self.latency_variable),
            methods=pc.dictionary_encode(columns["method"]),
            paths=pc.dictionary_encode(tpl.fold_ids(tpl.strip_scheme_host(columns["path"]))),
            consumers=consumers,
        )


def _field_names(found: pa.StructArray) -> list[str]:
    return [found.type.field(i).name for i in range(found.type.num_fields)]


def _not_blank(lines: pa.Array) -> np.ndarray:
    blank = pc.match_substring_regex(lines, r"^\s*$")
    return ~np.asarray(blank.to_numpy(zero_copy_only=False), dtype=bool)


# ---- exact per-minute aggregates ---------------------------------------------------------------
LAG_MINUTES = 5  # a minute is final once the log is this far past it
_NO_LATENCY = (1 << 32) - 1  # sorts after every request time under 71 minutes (in µs), the packed sort's range
_SUMMARY = ("minute", "endpoint", "consumer", "requests", "errors", "client_errors",
            "n_latency", "sum_latency", "max_latency", "p50", "p95", "p99")


@dataclass
class Rows:
    """Coded lines: epoch minute, endpoint code, consumer code (0 = none), status, latency µs."""

    minute: np.ndarray
    endpoint: np.ndarray
    consumer: np.ndarray
    status: np.ndarray
    latency: np.ndarray

    def take(self, mask: np.ndarray) -> Rows:
        return Rows(self.minute[mask], self.endpoint[mask], self.consumer[mask], self.status[mask], self.latency[mask])

    @staticmethod
    def concat(parts: list[Rows]) -> Rows:
        return Rows(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                      ("minute", "endpoint", "consumer", "status", "latency")))

    def __len__(self) -> int:
        return len(self.minute)


def summarise(rows: Rows, per_consumer: bool) -> dict[str, np.ndarray]:
    """Per minute x endpoint x consumer, plus the all-endpoint ('' = code 0) and all-consumer
    aggregates: counts, and exact percentiles of the raw request times (type 7, linear)."""
    zeros = np.zeros(len(rows), dtype=rows.endpoint.dtype)
    levels = [(rows.endpoint, zeros), (zeros, zeros)]
    if per_consumer:
        levels += [(rows.endpoint, rows.consumer), (zeros, rows.consumer)]
    parts = [_summarise_level(rows, endpoint, consumer) for endpoint, consumer in levels]
    return {name: np.concatenate([p[name] for p in parts]) for name in _SUMMARY}


def _summarise_level(rows: Rows, endpoint: np.ndarray, consumer: np.ndarray) -> dict[str, np.ndarray]:
    first = int(rows.minute.min())
    n_end, n_con = int(endpoint.max()) + 1, int(consumer.max()) + 1
    key = ((rows.minute - first) * n_end + endpoint) * n_con + consumer
    # a request of 71 minutes or more (a websocket held open) does not fit the packed sort: sort exactly
    fits = len(rows.latency) == 0 or int(rows.latency.max()) < _NO_LATENCY
    no_latency = _NO_LATENCY if fits else np.iinfo(np.int64).max
    latency = np.where(rows.latency < 0, no_latency, rows.latency)
    if key.max() < (1 << 31) and fits:
        packed = np.sort((key << 32) | latency)
        key_sorted, lat_sorted = packed >> 32, packed & _NO_LATENCY
    else:
        order = np.lexsort((latency, key))
        key_sorted, lat_sorted = key[order], latency[order]
    starts = np.flatnonzero(np.r_[True, key_sorted[1:] != key_sorted[:-1]])
    keys = key_sorted[starts]
    counts = np.diff(np.r_[starts, len(key_sorted)])
    has = lat_sorted != no_latency
    n_lat = np.add.reduceat(has.astype(np.int64), starts)
    total = np.add.reduceat(np.where(has, lat_sorted, 0), starts)
    last = starts + np.maximum(n_lat, 1) - 1
    out = {
        "minute": keys // (n_end * n_con) + first,
        "endpoint": (keys // n_con) % n_end,
        "consumer": keys % n_con,
        "requests": counts,
        "errors": _count_where(keys, key, rows.status >= 500),
        "client_errors": _count_where(keys, key, (rows.status >= 400) & (rows.status < 500)),
        "n_latency": n_lat,
        "sum_latency": total.astype(np.float64),
        "max_latency": np.where(n_lat > 0, lat_sorted[last], np.nan),
    }
    for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
        out[name] = _quantile(lat_sorted, starts, n_lat, q)
    return out


def _count_where(keys: np.ndarray, key: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.bincount(np.searchsorted(keys, key[mask]), minlength=len(keys))


def _quantile(values: np.ndarray, starts: np.ndarray, n: np.ndarray, q: float) -> np.ndarray:
    """Linear-interpolation quantile (numpy's default) of each group's first n sorted values."""
    pos = q * np.maximum(n - 1, 0)
    low = np.floor(pos).astype(np.int64)
    high = np.minimum(low + 1, np.maximum(n - 1, 0))
    v_low = values[starts + low].astype(np.float64)
    v_high = values[starts + high].astype(np.float64)
    return np.where(n > 0, v_low + (v_high - v_low) * (pos - low), np.nan)


@dataclass
class MinuteAggregator:
    """Streams coded rows in; summarises each minute once the log has moved LAG_MINUTES past it."""

    per_consumer: bool
    pending: list[Rows] = field(default_factory=list)
    late: list[Rows] = field(default_factory=list)
    summaries: list[dict[str, np.ndarray]] = field(default_factory=list)
    final_before: int | None = None
    newest: int | None = None

    def add(self, rows: Rows) -> None:
        if not len(rows):
            return
        if self.final_before is not None:
            is_late = rows.minute < self.final_before
            if is_late.any():
                self.late.append(rows.take(is_late))
                rows = rows.take(~is_late)
        if not len(rows):
            return
        self.pending.append(rows)
        newest = int(rows.minute.max())
        self.newest = newest if self.newest is None else max(self.newest, newest)
        self._flush(self.newest - LAG_MINUTES)

    def _flush(self, cutoff: int) -> None:
        rows = Rows.concat(self.pending)
        ready = rows.minute < cutoff
        if ready.any():
            self.summaries.append(summarise(rows.take(ready), self.per_consumer))
            rows = rows.take(~ready)
            self.final_before = cutoff if self.final_before is None else max(self.final_before, cutoff)
        self.pending = [rows] if len(rows) else []

    def finish(self) -> tuple[pd.DataFrame, int]:
        """Every summary as one wide frame, and how many lines arrived too late to be exact."""
        if self.pending:
            self.summaries.append(summarise(Rows.concat(self.pending), self.per_consumer))
            self.pending = []
        late_lines = sum(len(r) for r in self.late)
        frames = [pd.DataFrame(s) for s in self.summaries]
        if self.late:
            frames.append(pd.DataFrame(summarise(Rows.concat(self.late), self.per_consumer)))
        if not frames:
            return pd.DataFrame(columns=list(_SUMMARY)), 0
        wide = pd.concat(frames, ignore_index=True)
        if self.late:
            wide = _merge_duplicates(wide)
        return wide, late_lines


def _merge_duplicates(wide: pd.DataFrame) -> pd.DataFrame:
    """Two summaries of one minute (late lines): counts add, max is the max, percentiles are
    weighted by each part's count of request times (an approximation, noted to the user)."""
    keys = ["minute", "endpoint", "consumer"]
    if not wide.duplicated(keys).any():
        return wide
    weighted = wide.assign(**{q: wide[q].fillna(0) * wide["n_latency"] for q in ("p50", "p95", "p99")})
    merged = weighted.groupby(keys, as_index=False).agg(
        requests=("requests", "sum"), errors=("errors", "sum"), client_errors=("client_errors", "sum"),
        n_latency=("n_latency", "sum"), sum_latency=("sum_latency", "sum"), max_latency=("max_latency", "max"),
        p50=("p50", "sum"), p95=("p95", "sum"), p99=("p99", "sum"),
    )
    for q in ("p50", "p95", "p99"):
        merged[q] = np.where(merged["n_latency"] > 0, merged[q] / merged["n_latency"].clip(lower=1), np.nan)
    return merged


def to_telemetry(wide: pd.DataFrame, service: str, endpoints: list[str], consumers: list[str]) -> pd.DataFrame:
    """Wide summaries -> the canonical long telemetry frame (latencies in ms)."""
    n = len(wide)
    timestamp = (wide["minute"].to_numpy(np.int64) * 60).astype("datetime64[s]").astype("datetime64[us]")
    endpoint = np.asarray(endpoints, dtype=object)[wide["endpoint"].to_numpy(np.int64)]
    consumer = np.asarray(consumers, dtype=object)[wide["consumer"].to_numpy(np.int64)]
    has_latency = wide["n_latency"].to_numpy() > 0
    per_ms = 1e-3
    metrics = {
        "requests": (wide["requests"].to_numpy(np.float64), None),
        "errors": (wide["errors"].to_numpy(np.float64), None),
        "client_errors": (wide["client_errors"].to_numpy(np.float64), None),
        "latency_p50_ms": (wide["p50"].to_numpy(np.float64) * per_ms, has_latency),
        "latency_p95_ms": (wide["p95"].to_numpy(np.float64) * per_ms, has_latency),
        "latency_p99_ms": (wide["p99"].to_numpy(np.float64) * per_ms, has_latency),
        "latency_avg_ms": (wide["sum_latency"].to_numpy(np.float64)
                           / np.maximum(wide["n_latency"].to_numpy(np.float64), 1) * per_ms, has_latency),
        "latency_max_ms": (wide["max_latency"].to_numpy(np.float64) * per_ms, has_latency),
    }
    frames = []
    for metric, (values, mask) in metrics.items():
        keep = np.ones(n, dtype=bool) if mask is None else mask
        if not keep.any():
            continue
        frames.append(pd.DataFrame({
            "timestamp": timestamp[keep], "service": service, "endpoint": endpoint[keep],
            "consumer": consumer[keep], "metric": metric, "value": values[keep],
        }))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in (
            ("timestamp", "datetime64[us]"), ("service", object), ("endpoint", object),
            ("consumer", object), ("metric", object), ("value", np.float64))})
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["endpoint", "consumer", "metric", "timestamp"], kind="stable", ignore_index=True)


# ---- the reader --------------------------------------------------------------------------------
@dataclass
class FileState:
    """What one read accumulates besides the aggregates: names, skipped lines, counts."""

    path: Path
    skip_bad_rows: bool
    endpoints: tpl.EndpointNamer
    consumers: tpl.ConsumerNamer | None
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    not_http: int = 0
    no_request_time: int = 0  # requests whose request time is `-` or `-1`
    lines: int = 0
    latest: datetime = LATEST  # the accepted range's end (IngestOptions.latest)

    def reject(self, line_number: int, reason: str) -> None:
        if not self.skip_bad_rows:
            raise InputError(reason, path=str(self.path), line=line_number,
                             hint="fix the line, pass --log-format, or pass --skip-bad-rows to skip such lines")
        self.skipped_count += 1
        if len(self.skipped) < MAX_REPORTED_SKIPS:
            self.skipped.append(f"{self.path}:{line_number}: {reason}")


def _service(options: IngestOptions, path: Path) -> str:
    if not options.service:
        raise InputError("an access log does not say which service it belongs to", path=str(path),
                         field="--service", hint="pass --service NAME, e.g. --service web")
    if options.service not in options.catalog.service_by_name:
        known = ", ".join(sorted(options.catalog.service_by_name))
        raise InputError(f"service '{options.service}' is not in perfops.yaml; known: {known}", field="--service")
    return options.service


def choose_format(path: Path, lines: list[str], log_format: str | None, lenient: bool = False) -> LineFormat:
    """The format of a file from its first (unwrapped) lines: the user's log_format, else detected."""
    if not lines:
        raise InputError("the file has no lines; expected access-log lines", path=str(path))
    if log_format:
        fmt = user_format(log_format)
        regex = re.compile(compile_template(fmt.template, set()))
        if not any(regex.match(line) for line in lines):
            raise InputError(
                f"no line matches the given log_format; line 1 is: {lines[0][:160]!r}",
                path=str(path), line=1, field="--log-format",
            )
        return fmt
    detected = detect_format(lines, lenient)
    if detected is None:
        raise InputError(
            f"not a recognised access log (nginx/Apache combined or common, ingress-nginx, AWS ALB, Envoy); "
            f"line 1 is: {lines[0][:160]!r}",
            path=str(path), line=1,
            hint="pass --log-format with the nginx log_format string that wrote this file",
        )
    if detected.problem:
        raise InputError(detected.problem + f"; line 1 is: {lines[0][:160]!r}", path=str(path), line=1,
                         field="--log-format",
                         hint="pass --log-format with the log_format string that wrote this file, e.g. "
                              "'... \"$http_user_agent\" $request_length $request_time'")
    return detected


@dataclass(frozen=True)
class FileLayout:
    """How a file's lines are wrapped (plain, Docker JSON, CRI) and the format of the inner lines."""

    fmt: LineFormat
    shipping: shipped.Shipping


def inspect_file(path: Path, head: bytes, log_format: str | None, lenient: bool = False) -> FileLayout:
    """Unwrap the head when it is a shipped log, choose the inner format, keep the streams that
    carry access lines (see shipped_logs)."""
    raw_lines = [line.encode("latin-1") for line in head_lines(head)]
    shipping = shipped.recognise(raw_lines)
    if shipping.kind is None:
        return FileLayout(choose_format(path, head_lines(head), log_format, lenient), shipping)
    entries = shipped.head_entries(shipping, raw_lines)
    lines = [e.text.decode("latin-1") for e in entries if e.text.strip()]
    if not lines:
        raise InputError(f"a {shipping.label} whose first lines hold no text", path=str(path), line=1)
    # container logs mix the access log with start-up and error lines: any access line decides
    fmt = choose_format(path, lines, log_format, lenient=True)
    regex = re.compile(compile_template(fmt.template, set()))
    streams = frozenset(e.stream for e in entries if regex.match(e.text.decode("latin-1")))
    return FileLayout(fmt, replace(shipping, streams=streams or None))


def read_access_log(path: Path, options: IngestOptions) -> IngestBatch:
    """Parse an access log into 1-minute telemetry for `options.service` (see module docstring)."""
    service = _service(options, path)
    from perfops.ingest.registry import read_head

    # lenient: the format a few head lines match; every other line is then a bad line with its number
    layout = inspect_file(path, read_head(path), options.log_format, lenient=True)
    fmt = layout.fmt
    source = consumer_source(fmt, options.consumer_field)
    parser = Parser.build(fmt, source)
    state = FileState(
        path=path, skip_bad_rows=options.skip_bad_rows, latest=options.latest,
        endpoints=tpl.EndpointNamer(tpl.CodeTable(tpl.MAX_ENDPOINTS)),
        consumers=tpl.ConsumerNamer(tpl.CodeTable(tpl.MAX_CONSUMERS), source.namer) if source.variable else None,
    )
    unwrapper = shipped.Unwrapper(layout.shipping) if layout.shipping.kind else None
    aggregator = MinuteAggregator(per_consumer=source.variable is not None)
    for parsed in _parsed_blocks(path, parser, options, unwrapper):
        aggregator.add(_code_rows(parsed, state))
    wide, late = aggregator.finish()
    if wide.empty:
        raise InputError("no request lines found in the file", path=str(path),
                         hint="check --log-format, or whether the file is an access log")
    consumer_names = state.consumers.table.names if state.consumers else [""]
    telemetry = to_telemetry(wide, service, state.endpoints.table.names, consumer_names)
    notes = _notes(fmt, source, state, late)
    if unwrapper is not None:
        notes[0] = f"unwrapped from a {layout.shipping.label}; " + notes[0]
        ignored = shipped.ignored_note(unwrapper)
        notes += [DataWarning(ignored)] if ignored else []
    return IngestBatch(telemetry=telemetry, skipped=state.skipped, notes=notes)


def _parsed_blocks(path: Path, parser: Parser, options: IngestOptions,
                   unwrapper: shipped.Unwrapper | None = None) -> Iterator[ParsedBlock]:
    """Blocks parsed two at a time on worker threads (Arrow kernels release the GIL), in order.

    Shipped logs are unwrapped here, in file order (a partial line may continue in the next block)."""
    total = path.stat().st_size
    with path.open("rb") as raw, ThreadPoolExecutor(max_workers=2) as pool:
        stream: BinaryIO = gunzip_bounded(raw, path) if raw.read(2) == b"\x1f\x8b" else raw
        raw.seek(0)
        in_flight: list = []
        line = 1
        for numbers, block in _inner_blocks(_readable_blocks(stream, path), unwrapper):
            in_flight.append(pool.submit(parser.parse, block, line, numbers))
            line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
            if len(in_flight) >= PREFETCH_BLOCKS:
                yield in_flight.pop(0).result()
                if options.progress:
                    options.progress(raw.tell(), total)
        for future in in_flight:
            yield future.result()
        if options.progress:
            options.progress(total, total)


def _inner_blocks(blocks_in: Iterator[bytes], unwrapper: shipped.Unwrapper | None,
                  ) -> Iterator[tuple[np.ndarray | None, bytes]]:
    """(line numbers or None, block of lines): plain blocks as they are, shipped ones unwrapped."""
    if unwrapper is None:
        for block in blocks_in:
            yield None, block
        return
    line = 1
    for block in blocks_in:
        inner, numbers = unwrapper.block(block, line)
        line += block.count(b"\n") + (0 if block.endswith(b"\n") else 1)
        if len(numbers):
            yield numbers, inner
    inner, numbers = unwrapper.finish()
    if len(numbers):
        yield numbers, inner


def _readable_blocks(stream: BinaryIO, path: Path) -> Iterator[bytes]:
    """blocks(), with a corrupt or truncated gzip reported as the file's problem."""
    import zlib

    try:
        yield from blocks(stream)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"not a readable gzip file ({exc})", path=str(path)) from exc


def _code_rows(parsed: ParsedBlock, state: FileState) -> Rows:
    """Bad lines reported, names turned into codes, non-HTTP lines (Envoy TCP, status 0) dropped."""
    room = MAX_REPORTED_SKIPS - len(state.skipped)
    for index in parsed.bad[:max(room, 0 if state.skip_bad_rows else 1)]:
        state.reject(parsed.line_of(int(index)), _bad_line_reason(parsed.lines[int(index)].as_py()))
    if state.skip_bad_rows and len(parsed.bad) > max(room, 0):
        state.skipped_count += len(parsed.bad) - max(room, 0)  # counted, not listed
    n = len(parsed.minute)
    not_a_status = (parsed.status != 0) & ((parsed.status < 100) | (parsed.status > 599))
    after = parsed.minute >= epoch_ms(state.latest) // 60_000  # the accepted time range (model.limits)
    invalid = (parsed.minute < 0) | not_a_status | after
    good_indexes = None
    if invalid.any():
        good_indexes = np.setdiff1d(np.arange(len(parsed.lines)), parsed.bad)
        for i in np.flatnonzero(invalid):
            reason = ("impossible date or time" if parsed.minute[i] < 0 and not after[i]
                      else f"time: outside {range_text(state.latest)}; expected the time of the request" if after[i]
                      else f"status {int(parsed.status[i])} is not an HTTP status (100-599)")
            state.reject(parsed.line_of(int(good_indexes[i])), reason)
        parsed.minute[after] = -1  # skipped with --skip-bad-rows, as impossible times are
    endpoint = _endpoint_codes(parsed, state.endpoints)
    consumer = np.zeros(n, dtype=np.int32)
    if state.consumers is not None and parsed.consumers is not None:
        values = [_text(v) for v in parsed.consumers.dictionary.to_pylist()]
        codes = state.consumers.codes(values)
        consumer = codes[parsed.consumers.indices.to_numpy(zero_copy_only=False)]
    latency = parsed.latency_us if parsed.latency_us is not None else np.full(n, -1, dtype=np.int64)
    keep = ~invalid & (parsed.status > 0)
    state.not_http += int((~invalid & (parsed.status == 0)).sum())
    if parsed.latency_us is not None:
        state.no_request_time += int((keep & (latency < 0)).sum())
    state.lines += len(parsed.lines)
    rows = Rows(parsed.minute, endpoint, consumer, parsed.status, latency)
    return rows if keep.all() else rows.take(keep)


def _endpoint_codes(parsed: ParsedBlock, namer: tpl.EndpointNamer) -> np.ndarray:
    methods, paths = parsed.methods, parsed.paths
    m_idx = methods.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    p_idx = paths.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pairs, inverse = np.unique(m_idx * len(paths.dictionary) + p_idx, return_inverse=True)
    method_names = [_text(v) for v in methods.dictionary.to_pylist()]
    path_names = [_text(v) for v in paths.dictionary.to_pylist()]
    codes = np.fromiter(
        (namer.code(method_names[p // len(path_names)], path_names[p % len(path_names)]) for p in pairs.tolist()),
        dtype=np.int32, count=len(pairs),
    )
    return codes[inverse.reshape(-1)]


def _text(value: bytes | None) -> str:
    return "" if value is None else value.decode("utf-8", errors="replace")


def _bad_line_reason(line: bytes | None) -> str:
    text = _text(line).rstrip("\r\n")
    return f"not a line of this log's format; got {text[:120]!r}"


def _notes(fmt: LineFormat, source: ConsumerSource, state: FileState, late: int) -> list[str]:
    notes = [f"read as {fmt.name}; consumer from "
             + (f"${source.variable}" + (" (user-agent family)" if source.namer == "user_agent" else "")
                if source.variable else "nothing (no consumer breakdown)")]
    if fmt.latency_variable() is None:
        notes.append("this format has no request time: requests and errors only, no latency")
    if fmt.caveat:  # an assumption about the numbers: shown without -v
        notes.append(DataWarning(f"{fmt.caveat} ({state.lines:,} lines)"))
    if state.skipped_count > len(state.skipped):
        notes.append(f"{state.skipped_count:,} lines skipped; the first {len(state.skipped):,} are listed")
    if state.no_request_time:
        notes.append(DataWarning(f"{state.no_request_time:,} requests had no request time ('-' or -1): counted "
                                 "as requests, left out of the latency figures"))
    if state.not_http:
        notes.append(f"{state.not_http:,} non-HTTP lines (status 0, e.g. Envoy TCP proxy) ignored")
    if state.endpoints.table.overflowed:
        notes.append(f"more than {tpl.MAX_ENDPOINTS} endpoint templates: the rest counted as {tpl.OTHER}")
    if state.consumers is not None and state.consumers.table.overflowed:
        notes.append(f"more than {tpl.MAX_CONSUMERS} consumers: the rest counted as {tpl.OTHER}")
    if late:
        notes.append(f"{late:,} lines were more than {LAG_MINUTES} minutes out of order: their minutes' "
                     "counts are exact, their percentiles count-weighted across the two parts")
    return notes


def sniff(path: Path, head: bytes) -> bool:
    """Cheap: most of the first lines match a built-in access-log format; or the file is a shipped
    log (Docker JSON, CRI) whose unwrapped head holds access lines."""
    lines = head_lines(head, limit=20)
    if not lines:
        return False
    if detect_format(lines) is not None:
        return True
    raw_lines = [line.encode("latin-1") for line in head_lines(head)]
    shipping = shipped.recognise(raw_lines)
    if shipping.kind is None:
        return False
    inner = [e.text.decode("latin-1") for e in shipped.head_entries(shipping, raw_lines) if e.text.strip()]
    return bool(inner) and detect_format(inner, lenient=True) is not None


READER = Reader(
    name="access-log",
    description="web access logs: nginx/Apache combined or common (+ request time), ingress-nginx, AWS ALB, "
                "Envoy, or any nginx log_format (--log-format); gzip too; plain or shipped (Docker json-file, "
                "CRI, JSON lines)",
    sniff=sniff,
    read=read_access_log,
    priority=30,
)
