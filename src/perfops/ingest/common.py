"""Vectorised helpers readers share: timestamp parsing, row checks, progress-counting files."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from perfops.errors import InputError
from perfops.model.limits import EARLIEST, LATEST, TIME_RANGE, described, limit

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

NUMERIC_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_OFFSET_RE = r"(Z|z|[+-]\d{2}:?\d{2})$"
_ISO_RE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
EPOCH_MS_THRESHOLD = 1e11  # epoch seconds reach 1e11 only in the year 5138
EPOCH_US_THRESHOLD = 1e14  # epoch milliseconds reach 1e14 only in the year 5138
EPOCH_NS_THRESHOLD = 1e17  # epoch microseconds reach 1e17 only in the year 5138
MAX_REPORTED_SKIPS = 1000


@dataclass
class RowProblems:
    """Per-row validity, accumulated check by check: the first problem of a row is kept."""

    bad: np.ndarray  # bool, True = row rejected
    reasons: list[str | None]

    @classmethod
    def none(cls, n: int) -> RowProblems:
        return cls(np.zeros(n, dtype=bool), [None] * n)

    def add(self, mask: np.ndarray, reason: Callable[[int], str]) -> None:
        for i in np.flatnonzero(mask & ~self.bad)[:MAX_REPORTED_SKIPS]:
            self.reasons[i] = reason(int(i))
        self.bad |= mask

    def first(self) -> int | None:
        hits = np.flatnonzero(self.bad)
        return int(hits[0]) if len(hits) else None


def as_bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def parse_timestamps(strings: pa.Array | pa.ChunkedArray, notes: list[str] | None = None) -> tuple[pa.Array, np.ndarray]:
    """ISO 8601 (Z or offset; none = UTC) or epoch seconds / milliseconds / microseconds /
    nanoseconds, told apart by magnitude (`epoch_to_micros`), mixed freely; `notes` is told when
    a number was read as micro- or nanoseconds.

    Returns (naive-UTC timestamp[us] array with nulls where unparseable, bad-row mask).
    The range is not checked here: see `times_in_range`."""
    if pa.types.is_timestamp(strings.type):  # typed columns (Parquet) need no parsing
        typed = pc.cast(strings, pa.timestamp("us", tz="UTC")) if strings.type.tz else pc.cast(strings, pa.timestamp("us"))
        micros = np.asarray(pc.cast(typed, pa.int64()).to_numpy(zero_copy_only=False))
        out = micros.astype("datetime64[us]")
        return pa.array(out, type=pa.timestamp("us")), np.isnat(out)
    if pa.types.is_date(strings.type):
        strings = pc.cast(strings, pa.timestamp("us"))
        return parse_timestamps(strings, notes)
    if pa.types.is_integer(strings.type) or pa.types.is_floating(strings.type):
        # unsafe: epoch nanoseconds (19 digits) lose sub-microsecond digits only, which are dropped anyway
        values = np.asarray(pc.cast(strings, pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=float)
        out = epoch_to_micros(values, notes)
        return pa.array(out, type=pa.timestamp("us")), np.isnat(out)
    strings = trimmed(strings)
    n = len(strings)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    numeric = as_bool(pc.match_substring_regex(strings, NUMERIC_RE))
    iso = as_bool(pc.match_substring_regex(strings, _ISO_RE)) & ~numeric
    with_offset = iso & as_bool(pc.match_substring_regex(strings, _OFFSET_RE))
    if numeric.any():
        values = pc.cast(pc.filter(strings, numeric), pa.float64()).to_numpy(zero_copy_only=False)
        out[numeric] = epoch_to_micros(np.asarray(values, dtype=float), notes)
    for mask, kind in ((with_offset, pa.timestamp("us", tz="UTC")), (iso & ~with_offset, pa.timestamp("us"))):
        if mask.any():
            out[mask] = _cast_or_scan(pc.filter(strings, mask), kind)
    bad = ~(numeric | iso) | np.isnat(out)
    return pa.array(out, type=pa.timestamp("us")), bad


def epoch_to_micros(values: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """Epoch numbers to datetime64[us], the unit told by magnitude: below 1e11 seconds, then
    milliseconds, microseconds (from 1e14) and nanoseconds (from 1e17) — each unit's 1970–5138.
    Without this, microseconds read as milliseconds land in the year 57,000. NaN/inf are NaT."""
    size = np.abs(values)
    scale = np.select([size < EPOCH_MS_THRESHOLD, size < EPOCH_US_THRESHOLD, size < EPOCH_NS_THRESHOLD],
                      [1e6, 1e3, 1.0], 1e-3)
    micros = values * scale
    finite = np.isfinite(micros) & (np.abs(micros) < 9.2e18)
    out = np.rint(np.where(finite, micros, 0)).astype("int64").astype("datetime64[us]")
    out[~finite] = np.datetime64("NaT")
    if notes is not None:
        for low, high, unit in ((EPOCH_US_THRESHOLD, EPOCH_NS_THRESHOLD, "microseconds"),
                                (EPOCH_NS_THRESHOLD, np.inf, "nanoseconds")):
            count = int(((size >= low) & (size < high)).sum())
            if count:
                notes.append(f"{count} epoch time(s) of {len(str(int(low)))}+ digits read as epoch {unit} "
                             f"(by their size; milliseconds that large would be after the year 5138)")
    return out


def _cast_or_scan(strings: pa.Array, kind: pa.DataType) -> np.ndarray:
    """Vectorised cast; when one value is impossible (month 13), scan to null out just those."""
    try:
        casted = pc.cast(strings, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.array([_cast_one(s, kind) for s in strings.to_pylist()], dtype="datetime64[us]")
    if isinstance(kind, pa.TimestampType) and kind.tz:
        casted = pc.cast(casted, pa.timestamp("us", tz="UTC")).cast(pa.int64())
    else:
        casted = casted.cast(pa.int64())
    return casted.to_numpy(zero_copy_only=False).astype("datetime64[us]")


def _cast_one(text: str, kind: pa.DataType) -> np.datetime64:
    try:
        return np.datetime64(pc.cast(pa.array([text]), kind).cast(pa.int64())[0].as_py(), "us")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return np.datetime64("NaT")


def trimmed(strings: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text without surrounding blanks; copies the column only when some value has them."""
    strings = pc.cast(strings, pa.string())
    if pc.any(pc.match_substring_regex(strings, r"^\s|\s$")).as_py():
        return pc.utf8_trim_whitespace(strings)
    return strings


def parse_numbers(strings: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Strings to float64; (values with NaN where not a number, bad mask). 'nan'/'inf' are bad."""
    if pa.types.is_integer(strings.type) or pa.types.is_floating(strings.type):
        values = np.asarray(pc.cast(strings, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
        return values, ~np.isfinite(values)
    strings = pc.cast(strings, pa.string())
    ok = as_bool(pc.match_substring_regex(strings, NUMERIC_RE))
    values = np.full(len(strings), np.nan)
    if ok.any():
        values[ok] = pc.cast(pc.utf8_trim_whitespace(pc.filter(strings, ok)), pa.float64()).to_numpy(
            zero_copy_only=False
        )
    return values, ~ok | ~np.isfinite(values)


class CountingReader(io.RawIOBase):
    """A binary file that reports how many bytes were read, for progress bars."""

    def __init__(self, path: Path, progress: Callable[[int, int], None] | None) -> None:
        self._file = path.open("rb")  # closed by close()
        self._total = path.stat().st_size
        self._done = 0
        self._progress = progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        count = self._file.readinto(buffer)
        self._done += count or 0
        if self._progress:
            self._progress(self._done, self._total)
        return count or 0

    def close(self) -> None:
        self._file.close()
        super().close()


def unknown_service(name: str, known: list[str]) -> str:
    """The message for a service the catalog does not have: the nearest name, else a few of them."""
    import difflib

    near = difflib.get_close_matches(name, known, n=1)
    if near:
        return f"service: '{name}' is not in perfops.yaml; did you mean '{near[0]}'?"
    shown = ", ".join(known[:8]) + (f" and {len(known) - 8} more" if len(known) > 8 else "")
    return f"service: '{name}' is not in perfops.yaml; expected one of its services ({shown})"


def header_fields(head: bytes) -> list[str]:
    """Lower-cased names of a CSV header line (comma, tab or semicolon separated)."""
    lines = head.decode("utf-8-sig", errors="replace").splitlines()
    first = lines[0] if lines else ""
    sep = max((",", "\t", ";"), key=first.count)
    return [f.strip().strip('"').strip().lower() for f in first.split(sep)]


def check_columns_limit(count: int, path: Path | str, expected: str) -> None:
    """Refuse a header over the column limit (a 1.1 MB header of commas took 8 GB to refuse)."""
    if count > limit("columns"):
        raise InputError(f"the header has {count:,} columns, over {described('columns')}; expected {expected}",
                         path=str(path), line=1, field="header")


def require_columns(present: list[str], required: tuple[str, ...], path: Path) -> None:
    missing = [c for c in required if c not in present]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(present) or 'none'}",
            path=str(path), line=1, field="header",
        )




def read_bytes_maybe_gzip(path: Path) -> bytes:
    """The file's bytes, decompressed when it is gzip; a broken or truncated gzip is an InputError.

    For readers that hold a whole document (JSON): the bytes are bounded by the document limit,
    decompressed or not, and reading stops there (a 2 MB gzip bomb took 4.3 GB before)."""
    most = limit("document_bytes")
    if not is_gzip_file(path):
        if path.stat().st_size > most:
            raise InputError(f"the file is {path.stat().st_size:,} bytes, over {described('document_bytes')}; "
                             "split it, or raise the limit", path=str(path))
        return path.read_bytes()
    import zlib

    try:
        with open_maybe_gzip(path, most, "document_bytes") as stream:
            return stream.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"not a readable gzip file ({exc})", path=str(path)) from exc


def is_gzip_file(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_maybe_gzip(path: Path, most: int | None = None, limit_name: str = "decompressed_bytes") -> io.BufferedReader:
    """The file as a binary stream, gunzipped when it is gzip, bounded: decompressing more than
    `most` bytes (default: the decompressed-size limit) raises an InputError naming the limit.
    A broken gzip raises what `gzip` raises (OSError, EOFError, zlib.error): callers say where."""
    raw = path.open("rb")  # closed with the stream
    zipped = raw.read(2) == b"\x1f\x8b"
    raw.seek(0)
    if not zipped:
        return raw
    return gunzip_bounded(raw, path, most, limit_name)


def gunzip_bounded(raw: BinaryIO, path: Path, most: int | None = None,
                   limit_name: str = "decompressed_bytes") -> io.BufferedReader:
    """A gunzipping stream over an open gzip file that stops at the decompressed-size limit."""
    import gzip

    bound = limit(limit_name) if most is None else most
    return io.BufferedReader(_Bounded(gzip.GzipFile(fileobj=raw), bound, path, limit_name, raw))


class _Bounded(io.RawIOBase):
    """A binary stream that refuses to give more than `most` bytes: a gzip bomb (2 MB that
    decompress to gigabytes) is refused at the limit, whatever reads it."""

    def __init__(self, inner: io.BufferedIOBase, most: int, path: Path, limit_name: str,
                 also_close: BinaryIO) -> None:
        self._inner, self._most, self._path, self._name, self._also = inner, most, path, limit_name, also_close
        self._done = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        count = self._inner.readinto(buffer) or 0
        self._done += count
        if self._done > self._most:
            raise InputError(f"decompresses to more than {described(self._name)}; refused as a likely "
                             "decompression bomb (raise the limit if the file is genuine)", path=str(self._path))
        return count

    def close(self) -> None:
        self._inner.close()
        self._also.close()
        super().close()


def decode_utf8(raw: bytes, path: Path) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=str(path),
                         hint="save the file as UTF-8") from exc


def too_big_number(exc: ValueError, path: Path) -> InputError:
    """json.loads refuses integers of more than 4,300 digits with a plain ValueError."""
    return InputError(f"invalid JSON: {exc}", path=str(path))


# ---- the accepted time range -----------------------------------------------------------------
# One rule for every reader (perfops.model.limits): a time outside [EARLIEST, LATEST) is refused
# naming its file, line and field; `IngestOptions.latest` narrows LATEST to the moment of ingest plus
# the future margin, so that a typo year (2062 for 2026) is refused too.
EARLIEST_YEAR, LATEST_YEAR = EARLIEST.year, LATEST.year
LATEST_MS = int((LATEST - EARLIEST).total_seconds()) * 1000  # 2200-01-01T00:00:00Z in epoch milliseconds
LATEST_S = LATEST_MS // 1000


def epoch_ms(moment: datetime) -> int:
    """A naive-UTC datetime in epoch milliseconds."""
    return int((moment - EARLIEST).total_seconds() * 1000)


def ms_in_range(ms: np.ndarray, latest: datetime = LATEST) -> np.ndarray:
    """Mask of epoch milliseconds (int or float; NaN is out) within the accepted range."""
    values = np.asarray(ms)
    return (values >= 0) & (values < epoch_ms(latest))


def seconds_in_range(seconds: float, latest: datetime = LATEST) -> bool:
    """One epoch-seconds value (NaN and inf are out) within the accepted range."""
    return 0 <= seconds < epoch_ms(latest) / 1000


def times_in_range(times: np.ndarray | pa.Array | pa.ChunkedArray, latest: datetime = LATEST) -> np.ndarray:
    """Mask of datetime64 values (NaT is out) within the accepted range."""
    if isinstance(times, (pa.Array, pa.ChunkedArray)):
        times = times.to_numpy(zero_copy_only=False)
    values = np.asarray(times).astype("datetime64[us]")
    # numpy's stubs type datetime64(datetime, unit) only for "ns" and finer; the runtime takes any unit
    early = np.datetime64(EARLIEST, "us")  # type: ignore[call-overload]
    return (values >= early) & (values < np.datetime64(latest, "us"))  # type: ignore[call-overload]


def range_text(latest: datetime = LATEST) -> str:
    """The accepted range in words, with the future margin when `latest` is before LATEST."""
    if latest >= LATEST:
        return TIME_RANGE
    return (f"1970-01-01 UTC to {latest:%Y-%m-%d %H:%M} UTC ({limit('future_hours')} hours after now, "
            f"PERFOPS_MAX_FUTURE_HOURS)")


def out_of_range(what: str, *, path: Path | str, line: int | None = None, field: str | None = None,
                 latest: datetime = LATEST) -> InputError:
    """The error for a time outside the accepted range, naming the file, line and field."""
    return InputError(f"{what} is outside {range_text(latest)}; expected the time of a measurement",
                      path=str(path), line=line, field=field,
                      hint="a typo in the year, or epoch units the reader could not tell?" if latest < LATEST else None)
