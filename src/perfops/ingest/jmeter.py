"""Apache JMeter results (JTL): CSV with or without a header, any delimiter, and XML.

CSV is read with pyarrow's multi-threaded CSV reader over 32 MB slices of the file cut at line
ends (vectorised, bounded memory: a 2 GB JTL never sits in memory), converting only the columns
needed: timeStamp, elapsed, label, success, responseMessage, allThreads. Latencies are whole milliseconds, so the per-endpoint statistics
are exact percentiles (see testrun_common.ExactHistogram).

What JMeter writes that would distort counts, and what this reader does about it:
- sub-results (`HTTP Request-0`, `HTTP Request-1` after their parent `HTTP Request`, e.g. a
  redirect): only the parent is a request; sub-result rows are dropped.
- Transaction Controller parent rows ("Number of samples in transaction : …"): their children
  are the requests; parents are dropped unless the file has nothing else.
- XML: only top-level `<httpSample>`/`<sample>` are requests; nested ones are sub-results.
  A file cut short (no `</testResults>`, a killed run) keeps every complete sample and says so.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from perfops.errors import InputError
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import LATEST_MS, TIME_RANGE, open_maybe_gzip
from perfops.ingest.testrun_common import (
    SampleAccumulator,
    derive_run_id,
    endpoint_name,
    endpoints_frame,
    fold_endpoints,
    is_gzip,
    open_text,
    resolve_service,
    run_frame,
)

BLOCK_BYTES = 16 << 20
TRANSACTION_PREFIX = "Number of samples in transaction"

# JMeter's default column sets, by version, for files written without a header
_BASE = ["timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName", "dataType", "success"]
HEADERLESS_COLUMNS: dict[int, list[str]] = {
    12: _BASE + ["bytes", "grpThreads", "allThreads", "Latency"],  # 2.x
    13: _BASE + ["failureMessage", "bytes", "grpThreads", "allThreads", "Latency"],  # 2.x + failureMessage
    14: _BASE + ["failureMessage", "bytes", "grpThreads", "allThreads", "Latency", "IdleTime"],
    15: _BASE + ["failureMessage", "bytes", "grpThreads", "allThreads", "Latency", "IdleTime", "Connect"],  # 3.0
    16: _BASE + ["failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "Latency", "IdleTime",
                 "Connect"],  # 3.1+ without URL
    17: _BASE + ["failureMessage", "bytes", "sentBytes", "grpThreads", "allThreads", "URL", "Latency",
                 "IdleTime", "Connect"],  # 3.1+ default
}
_WANTED = ("timeStamp", "elapsed", "label", "success", "responseMessage", "allThreads")
MAX_COLUMNS = 1000  # JMeter writes about 17, plus one per saved sample variable
_OK_CODE = r"^\s*[23]\d\d\s*$"  # without a success column: a 2xx or 3xx responseCode succeeded
_SUB_RESULT = re.compile(r"^(.*)-(\d+)$")
_DATETIME_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f",
                     "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y %H:%M:%S", "%m/%d/%Y %H:%M:%S")


# ---- sniffing ----------------------------------------------------------------------------
def _is_xml(head: bytes) -> bool:
    text = head[:4096].decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    return text.startswith(("<?xml", "<testResults")) and "<testResults" in text


def _lines(head: bytes) -> list[str]:
    return head.decode("utf-8", errors="replace").lstrip("\ufeff").splitlines()


def _first_line(head: bytes) -> str:
    lines = _lines(head)  # a file of only a byte-order mark has none
    return lines[0] if lines else ""


def sniff(path: Path, head: bytes) -> bool:
    if _is_xml(head):
        return True
    line = _first_line(head)
    if line.startswith("timeStamp") and "elapsed" in line:
        return True
    return _headerless_layout(line) is not None


def _headerless_layout(line: str) -> tuple[str, list[str]] | None:
    """(delimiter, column names) when a first line looks like a JTL sample row."""
    for delim in (",", "\t", ";", "|"):
        fields = next(iter(_split_row(line, delim)), [])
        if len(fields) < 8 or not fields[1].strip().isdigit():
            continue
        if not (_is_epoch_ms(fields[0]) or _parse_datetime(fields[0])):
            continue
        names = HEADERLESS_COLUMNS.get(len(fields))
        if names is None and fields[7].strip().lower() in ("true", "false"):
            names = _BASE + [f"column{i}" for i in range(8, len(fields))]
        if names and fields[names.index("success")].strip().lower() in ("true", "false"):
            return delim, names
    return None


def _split_row(line: str, delim: str) -> Iterator[list[str]]:
    return csv.reader([line], delimiter=delim)


def _is_epoch_ms(text: str) -> bool:
    text = text.strip()
    return text.isdigit() and 11 <= len(text) <= 14


def _parse_datetime(text: str) -> str | None:
    """The strptime format of a formatted JMeter timestamp, or None."""
    for fmt in _DATETIME_FORMATS:
        try:
            datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return fmt
    return None


# ---- CSV -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CsvLayout:
    delimiter: str
    names: list[str]
    header: bool
    timestamp_format: str | None  # None = epoch milliseconds


def csv_layout(path: Path, head: bytes) -> CsvLayout:
    line = _first_line(head)
    if line.startswith("timeStamp"):
        delim = max((",", "\t", ";", "|"), key=line.count)
        names = [n.strip().strip('"') for n in next(iter(_split_row(line, delim)))]
        _check_header(names, path)
        second = _first_row(_lines(head)[1:], delim)
        column = names.index("timeStamp")
        first_value = second[column] if len(second) > column else ""
        return CsvLayout(delim, names, True, _timestamp_format(first_value, path))
    layout = _headerless_layout(line)
    if layout is None:
        raise InputError(
            "not a JMeter CSV result: expected a 'timeStamp,elapsed,label,…' header or JMeter's default columns",
            path=str(path), line=1,
            hint="save results with jmeter.save.saveservice.print_field_names=true",
        )
    delim, names = layout
    first_value = next(iter(_split_row(line, delim)))[0]
    return CsvLayout(delim, names, False, _timestamp_format(first_value, path))


def _first_row(lines: list[str], delim: str) -> list[str]:
    """The fields of the first line with values (blank lines are not rows, as for pyarrow)."""
    for text in lines:
        fields = next(iter(_split_row(text, delim)), [])
        if fields:
            return fields
    return []


def _check_header(names: list[str], path: Path) -> None:
    """The columns a JTL needs; `success` may be replaced by `responseCode` (see _failures)."""
    if len(names) > MAX_COLUMNS:  # a corrupt first line; pyarrow would take seconds over it
        raise InputError(f"the JTL header has {len(names):,} columns or more; expected JMeter's few dozen",
                         path=str(path), line=1, field="header")
    for required in ("timeStamp", "elapsed", "label"):
        if required not in names:
            raise InputError(f"the JTL header has no '{required}' column", path=str(path), line=1, field=required)
    if "success" not in names and "responseCode" not in names:
        raise InputError("the JTL header has neither a 'success' nor a 'responseCode' column: failures "
                         "cannot be told", path=str(path), line=1, field="success",
                         hint="save results with jmeter.save.saveservice.successful=true")
    repeated = sorted({n for n in names if names.count(n) > 1 and n in _WANTED + ("responseCode",)})
    if repeated:
        raise InputError(f"the column '{repeated[0]}' appears more than once in the header", path=str(path),
                         line=1, field=repeated[0])


def _timestamp_format(value: str, path: Path) -> str | None:
    if not value or _is_epoch_ms(value):
        return None
    fmt = _parse_datetime(value)
    if fmt is None:
        raise InputError(f"timeStamp '{value}' is neither epoch milliseconds nor a date and time",
                         path=str(path), line=2, field="timeStamp")
    return fmt


def _arrow_options(layout: CsvLayout, newlines_in_values: bool) -> tuple[pacsv.ReadOptions, pacsv.ParseOptions,
                                                                         pacsv.ConvertOptions]:
    read = pacsv.ReadOptions(column_names=layout.names, skip_rows=1 if layout.header else 0,
                             block_size=BLOCK_BYTES, encoding="utf8")
    parse = pacsv.ParseOptions(delimiter=layout.delimiter, newlines_in_values=newlines_in_values)
    text = pa.string()
    types = {"elapsed": pa.int64(), "label": text, "success": pa.bool_(), "responseMessage": text,
             "allThreads": pa.float64(), "timeStamp": text if layout.timestamp_format else pa.int64(),
             "responseCode": text}
    wanted = _WANTED if "success" in layout.names else (*_WANTED, "responseCode")
    include = [c for c in wanted if c in layout.names]
    convert = pacsv.ConvertOptions(include_columns=include, column_types={c: types[c] for c in include},
                                   strings_can_be_null=False, quoted_strings_can_be_null=False,
                                   null_values=["", "null", "NULL"], true_values=["true", "TRUE", "True"],
                                   false_values=["false", "FALSE", "False"])
    return read, parse, convert


@dataclass
class _JtlState:
    """What one pass over a JTL accumulates: requests, transaction parents, hints, counts; and
    where the rows came from, so an error can name the line of a row."""

    requests: SampleAccumulator
    transactions: SampleAccumulator
    sub_labels: set[str]
    hints: set[str]
    path: Path
    header: bool = False  # CSV with a header line
    lines_known: bool = False  # CSV rows are lines (no quoted newlines, no skipped rows)
    rows_seen: int = 0
    sub_rows: int = 0
    transaction_rows: int = 0

    def line_of(self, row: int) -> int | None:
        """The line of the file's row-th data row (0-based), when rows are lines."""
        return _line_of_row(self.path, self.header, row) if self.lines_known else None


def _new_state(path: Path, options: IngestOptions) -> _JtlState:
    def accumulator() -> SampleAccumulator:
        return SampleAccumulator(source=str(path), skip_bad=options.skip_bad_rows, fields=("timeStamp", "elapsed"))

    return _JtlState(accumulator(), accumulator(), set(), set(), path)


def _line_of_row(path: Path, header: bool, row: int) -> int | None:
    """Count the file's non-blank lines (pyarrow skips blank ones) up to the row; only on an error."""
    seen = -1
    with open_binary(path) as raw:
        for number, line in enumerate(raw, start=1):
            if (header and number == 1) or not line.strip(b"\r\n"):
                continue
            seen += 1
            if seen == row:
                return number
    return None


def _epoch_ms(column: pa.ChunkedArray | pa.Array, fmt: str | None, state: _JtlState) -> np.ndarray:
    """Epoch ms of a block's timeStamp column; an empty or unparseable one is refused with its line."""
    if fmt is None:
        missing = column.null_count
        stamps = column
    else:
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        stamps = _strptime_ms(column, fmt)
        missing = stamps.null_count
    if missing and not state.requests.skip_bad:
        row = int(np.flatnonzero(np.asarray(pc.is_null(stamps).to_numpy(zero_copy_only=False), dtype=bool))[0])
        value = column[row].as_py()
        line = state.line_of(state.rows_seen + row)
        if fmt and value:
            raise InputError(f"'{value}' does not match the format {fmt} of the first row", path=str(state.path),
                             line=line, field="timeStamp",
                             hint="write every timeStamp the same way (jmeter.save.saveservice.timestamp_format)")
        raise InputError("empty; expected the time of the sample", path=str(state.path), line=line, field="timeStamp")
    # formatted timestamps carry no zone: JMeter wrote local time; read as UTC (documented)
    values = stamps.cast(pa.int64()) if fmt else stamps
    if missing:  # --skip-bad-rows: -1 is out of range, so the accumulator drops (and counts) the row
        values = pc.fill_null(values, -1)
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)


def _strptime_ms(column: pa.ChunkedArray | pa.Array, fmt: str) -> pa.ChunkedArray | pa.Array:
    """Formatted timestamps to epoch ms (null where one does not match). Arrow's strptime has no
    %f, so JMeter's common `yyyy/MM/dd HH:mm:ss.SSS` is read as the seconds plus the fraction."""
    if not fmt.endswith(".%f"):
        return pc.strptime(column, format=fmt, unit="ms", error_is_null=True).cast(pa.int64())
    parts = pc.extract_regex(column, pattern=r"^(?P<base>.*)\.(?P<frac>[0-9]{1,9})$")
    seconds = pc.strptime(pc.struct_field(parts, "base"), format=fmt[:-3], unit="ms", error_is_null=True)
    millis = pc.utf8_rpad(pc.utf8_slice_codeunits(pc.struct_field(parts, "frac"), 0, 3), width=3, padding="0")
    return pc.add(seconds.cast(pa.int64()), millis.cast(pa.int64()))


def _failures(batch: pa.RecordBatch) -> np.ndarray:
    """Failed samples: `success` false; without that column, a responseCode other than 2xx/3xx."""
    if "success" in batch.schema.names:
        return ~np.asarray(pc.fill_null(batch.column("success"), True).to_numpy(zero_copy_only=False), dtype=bool)
    codes = batch.column("responseCode")
    if pa.types.is_dictionary(codes.type):
        codes = codes.cast(pa.string())
    return ~np.asarray(pc.fill_null(pc.match_substring_regex(codes, _OK_CODE), False)
                       .to_numpy(zero_copy_only=False), dtype=bool)


def _starts_with(column: pa.Array, prefix: str) -> np.ndarray:
    """Row mask: the (dictionary-encoded) text column starts with prefix; tests the
    dictionary's few values, not every row."""
    if pa.types.is_dictionary(column.type):
        hits = np.asarray([bool(v) and v.startswith(prefix) for v in column.dictionary.to_pylist()], dtype=bool)
        idx = np.asarray(pc.fill_null(column.indices, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
        return hits[idx] if hits.size else np.zeros(len(column), dtype=bool)
    return np.asarray(pc.fill_null(pc.starts_with(column, prefix), False).to_numpy(zero_copy_only=False), dtype=bool)


def _add_block(state: _JtlState, batch: pa.RecordBatch, fmt: str | None) -> None:
    labels = batch.column("label")
    encoded = labels if pa.types.is_dictionary(labels.type) else pc.dictionary_encode(labels)
    dictionary = encoded.dictionary.to_pylist()
    indices = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    known = set(state.requests.names) | set(state.transactions.names) | set(dictionary)
    for name in dictionary:
        match = _SUB_RESULT.match(name or "")
        if match and match.group(1) in known:
            state.sub_labels.add(name)
    is_sub = np.array([name in state.sub_labels for name in dictionary], dtype=bool)[indices]
    if "responseMessage" in batch.schema.names:
        is_tx = _starts_with(batch.column("responseMessage"), TRANSACTION_PREFIX) & ~is_sub
    else:
        is_tx = np.zeros(len(indices), dtype=bool)
    state.sub_rows += int(is_sub.sum())
    state.transaction_rows += int(is_tx.sum())
    ts = _epoch_ms(batch.column("timeStamp"), fmt, state)
    elapsed = np.asarray(pc.fill_null(batch.column("elapsed"), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    failed = _failures(batch)
    users = (np.asarray(batch.column("allThreads").to_numpy(zero_copy_only=False), dtype=float)
             if "allThreads" in batch.schema.names else None)
    if len(state.hints) < 50:
        state.hints.update(d for d in dictionary[:50] if d)
    for acc, mask in ((state.requests, ~is_sub & ~is_tx), (state.transactions, is_tx)):
        if mask.any():
            codes = acc.codes(dictionary)[indices[mask]]
            acc.add(ts[mask], codes, elapsed[mask], failed[mask], users[mask] if users is not None else None,
                    line_of=_lines_of_block(state, state.rows_seen, mask))
    state.rows_seen += batch.num_rows


def _lines_of_block(state: _JtlState, first_row: int, mask: np.ndarray) -> Callable[[int], int | None]:
    """The line of the i-th masked row of a block (computed only when an error needs it)."""
    return lambda i: state.line_of(first_row + int(np.flatnonzero(mask)[i]))


def read_csv_jtl(path: Path, head: bytes, options: IngestOptions) -> tuple[_JtlState, list[str]]:
    """Stream the CSV in blocks; quoted newlines (rare, slower to parse) only on a second try."""
    layout = csv_layout(path, head)
    hints = _url_hints(head, layout)
    try:
        state, notes = _stream_csv(path, layout, options, newlines_in_values=False)
        state.hints.update(hints)
        return state, notes
    except pa.ArrowInvalid:
        pass
    try:
        state, notes = _stream_csv(path, layout, options, newlines_in_values=True)
        state.hints.update(hints)
        return state, notes
    except pa.ArrowInvalid as exc:
        hint = ("--skip-bad-rows skips rows with a wrong number of fields, not a value of the wrong type or "
                "text that is not UTF-8: fix or remove the row" if options.skip_bad_rows
                else "pass --skip-bad-rows to skip malformed rows")
        found = _first_bad_row(path, layout)
        if found is not None:
            line, field, what = found
            raise InputError(what, path=str(path), line=line, field=field, hint=hint) from exc
        raise InputError(f"not a readable JMeter CSV ({_arrow_message(exc)})", path=str(path), hint=hint) from exc


_INTEGER = re.compile(r"^[+-]?\d+$")
_NULLS = ("", "null", "NULL")
_BOOLEANS = ("true", "TRUE", "True", "false", "FALSE", "False")


def _first_bad_row(path: Path, layout: CsvLayout) -> tuple[int, str | None, str] | None:
    """(line, field, what is wrong) of the first row the fast parser refused: a slow pass with
    the csv module, made only to name the line (pyarrow says neither the row nor, for a value of
    the wrong type, its text)."""
    checks: dict[str, Callable[[str], object]] = {"elapsed": _INTEGER.match, "success": lambda v: v in _BOOLEANS,
              "allThreads": _is_float, **({} if layout.timestamp_format else {"timeStamp": _INTEGER.match})}
    where = {name: layout.names.index(name) for name in checks if name in layout.names}
    with open_text(path) as text:
        rows = csv.reader(text, delimiter=layout.delimiter)
        start, index = 1, -1
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return None
            except csv.Error as exc:  # a NUL byte, a field over the csv module's size limit
                return start, None, f"not a readable CSV row ({exc})"
            index += 1
            line, start = start, rows.line_num + 1
            if (index == 0 and layout.header) or not row:
                continue
            if len(row) != len(layout.names):
                return line, None, f"expected {len(layout.names)} fields, found {len(row)}"
            for name, column in where.items():
                value = row[column]
                if value not in _NULLS and not checks[name](value):
                    return line, name, f"'{value[:40]}' is not a valid {name}"


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _url_hints(head: bytes, layout: CsvLayout) -> set[str]:
    """URLs of the first rows (service names often appear in their host)."""
    if "URL" not in layout.names:
        return set()
    import io

    lines = head.decode("utf-8", errors="replace").splitlines()[1 if layout.header else 0:200]
    col = layout.names.index("URL")
    rows = csv.reader(io.StringIO("\n".join(lines[:-1])), delimiter=layout.delimiter)
    return {r[col] for r in rows if len(r) > col and r[col] not in ("", "null")}


def _stream_csv(path: Path, layout: CsvLayout, options: IngestOptions, *, newlines_in_values: bool):
    """Parse the file in CHUNK_BYTES slices cut at line ends, each with pyarrow's multi-threaded
    reader: at most one slice and its columns are in memory at a time. (pyarrow's own streaming
    reader reads ahead without a bound.) Quoted newlines cannot be cut at line ends, so that
    rare mode streams with pyarrow's reader instead."""
    state, skipped, cut = _new_state(path, options), [], []
    state.header, state.lines_known = layout.header, not newlines_in_values
    last_line = _unterminated_last_line(path)

    def bad_row(row: object) -> str:
        try:
            text = getattr(row, "text", "")
        except UnicodeDecodeError:  # not UTF-8: cannot be shown or skipped; the read fails clearly
            return "error"
        if last_line and text and last_line.startswith(text.rstrip("\r")):
            cut.append(text)
            return "skip"
        if not options.skip_bad_rows:
            return "error"
        skipped.append(f"{path}: {text[:80]}")
        state.lines_known = False  # rows are no longer lines
        return "skip"

    read, parse, convert = _arrow_options(layout, newlines_in_values)
    parse.invalid_row_handler = bad_row
    total, done = path.stat().st_size, 0
    for batch, size in _batches(path, layout, read, parse, convert, newlines_in_values):
        _add_block(state, batch, layout.timestamp_format)
        done += size
        if options.progress:
            options.progress(min(done, total), total)
    notes = [f"{len(skipped)} malformed rows skipped"] if skipped else []
    if cut:
        notes.append(DataWarning("the file ends early: the last row is incomplete (1 row, cut short) and was not read"))
    if "success" not in layout.names:
        notes.append("no success column: a sample failed when its responseCode is not 2xx or 3xx")
    return state, notes


CHUNK_BYTES = 32 << 20


def _batches(path: Path, layout: CsvLayout, read, parse, convert, newlines_in_values: bool):
    """(record batch, bytes it came from) over the whole file."""
    if newlines_in_values:
        source = open_binary(path) if is_gzip(path) else pa.input_stream(str(path))
        with pacsv.open_csv(source, read_options=read, parse_options=parse, convert_options=convert) as reader:
            for batch in reader:
                yield batch, batch.nbytes
        return
    chunk_read = pacsv.ReadOptions(column_names=read.column_names, skip_rows=0, block_size=BLOCK_BYTES)
    for chunk in _line_chunks(path, skip_header=layout.header):
        table = pacsv.read_csv(pa.BufferReader(pa.py_buffer(chunk)), read_options=chunk_read, parse_options=parse,
                               convert_options=convert)
        for batch in table.to_batches():
            yield batch, len(chunk) * batch.num_rows // max(table.num_rows, 1)


def _line_chunks(path: Path, skip_header: bool):
    """The file's bytes in slices of about CHUNK_BYTES that end at a line end (the last slice
    takes whatever is left), header line and byte-order mark removed. One buffer is reused for
    every slice: the caller must be done with a slice (and release it) before asking for the next."""
    buf = bytearray(CHUNK_BYTES)
    start = 0  # bytes carried over from the previous slice, at the front of buf
    with open_binary(path) as raw:
        if skip_header:
            raw.readline()
        elif raw.read(3) != b"\xef\xbb\xbf":  # a UTF-8 byte-order mark is not data
            raw.seek(0)
        while True:
            if start == len(buf):  # one line longer than the buffer: a bigger one (a new object,
                buf = buf + bytes(len(buf))  # as the old one may still be exported)
            got = raw.readinto(memoryview(buf)[start:])
            if not got:
                break
            end = start + got
            cut = buf.rfind(b"\n", 0, end) + 1
            if cut == 0:
                start = end
                continue
            yield memoryview(buf)[:cut]  # parsed into new arrays before the next slice is read
            buf[: end - cut] = buf[cut:end]  # same-size assignment: allowed while exported
            start = end - cut
    if buf[:start].strip():
        yield bytes(buf[:start])


def _unterminated_last_line(path: Path) -> str:
    """The file's last line when it does not end with a newline (a run killed mid-write)."""
    if is_gzip(path):
        return ""
    with path.open("rb") as raw:
        size = raw.seek(0, 2)
        raw.seek(max(0, size - 65536))
        tail = raw.read()
    if not tail or tail.endswith(b"\n"):
        return ""
    return tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")


def _arrow_message(exc: Exception) -> str:
    text = str(exc).split("\n")[0]
    return text.removeprefix("CSV parse error: ")


def open_binary(path: Path):
    """The file, gunzipped (bounded: PERFOPS_MAX_DECOMPRESSED_BYTES) when it is gzip."""
    return open_maybe_gzip(path)


# ---- XML -------------------------------------------------------------------------------------
_SAMPLE_TAGS = ("httpSample", "sample")
_XML_BLOCK = 65536


def read_xml_jtl(path: Path, options: IngestOptions) -> tuple[_JtlState, list[str]]:
    """Top-level samples only (nested ones are sub-results), streamed with iterparse."""
    state = _new_state(path, options)
    notes: list[str] = []
    rows: dict[str, list] = {k: [] for k in ("ts", "t", "lb", "s", "na", "tx", "url")}
    depth = samples = refused = 0
    try:
        with open_binary(path) as raw:
            for event, elem in ET.iterparse(raw, events=("start", "end")):
                if elem.tag not in _SAMPLE_TAGS:
                    continue
                depth += 1 if event == "start" else -1
                if event == "start" or depth:
                    continue
                samples += 1
                refused += _xml_row(rows, elem, path, samples, options.skip_bad_rows)
                elem.clear()
                if len(rows["ts"]) >= _XML_BLOCK:
                    _flush_xml(state, rows)
    except ET.ParseError as exc:
        if not rows["ts"] and not state.requests.names:
            raise InputError(f"not a readable JMeter XML result ({exc})", path=str(path)) from exc
        notes.append(DataWarning(f"the file ends early ({exc}; a killed run?): every complete sample was read"))
    except LookupError as exc:  # <?xml encoding="..."?> names an encoding Python does not know
        raise InputError(f"not a readable JMeter XML result ({exc})", path=str(path), line=1,
                         field="encoding", hint="save the results as UTF-8") from exc
    _flush_xml(state, rows)
    if refused:
        notes.append(f"{refused} samples with an unreadable ts, t or na attribute skipped")
    return state, notes


def _xml_row(rows: dict[str, list], elem: ET.Element, path: Path, number: int, skip: bool) -> int:
    """Add one sample's attributes; 1 when it was skipped (--skip-bad-rows), else 0. An
    attribute that is not a number (or a time outside the accepted range) is refused, naming
    the sample: its position among the file's top-level samples."""
    attr = elem.attrib
    try:
        ts, t = _xml_int(attr.get("ts") or "0", "ts"), _xml_int(attr.get("t") or "0", "t")
        users = float(attr.get("na", "nan") or "nan")
    except ValueError as exc:
        if skip:
            return 1
        raise InputError(f"sample {number} (<{elem.tag} lb=\"{attr.get('lb', '')[:60]}\">): {exc}",
                         path=str(path)) from exc
    rows["ts"].append(ts)
    rows["t"].append(t)
    rows["lb"].append(attr.get("lb", ""))
    rows["s"].append(attr.get("s", "true").lower() == "true")
    rows["na"].append(users)
    rows["tx"].append(attr.get("rm", "").startswith(TRANSACTION_PREFIX))
    url = elem.find("java.net.URL")
    rows["url"].append(url.text if url is not None and url.text else "")
    return 0


def _xml_int(text: str, name: str) -> int:
    """A whole number of milliseconds that fits the accepted time range (so int64 too)."""
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{name}=\"{text[:40]}\" is not a whole number of milliseconds") from None
    if not -LATEST_MS < value < LATEST_MS:  # the accumulator says which of time or duration is wrong
        raise ValueError(f"{name}=\"{text[:40]}\" is outside {TIME_RANGE}" if name == "ts"
                         else f"{name}=\"{text[:40]}\" is not a response time")
    return value


def _flush_xml(state: _JtlState, rows: dict[str, list]) -> None:
    if not rows["ts"]:
        return
    batch = pa.RecordBatch.from_pydict({
        "timeStamp": pa.array(rows["ts"], pa.int64()), "elapsed": pa.array(rows["t"], pa.int64()),
        "label": pa.array(rows["lb"], pa.string()),
        "success": pa.array(rows["s"], pa.bool_()),
        "responseMessage": pa.array([TRANSACTION_PREFIX if t else "" for t in rows["tx"]], pa.string()),
        "allThreads": pa.array(rows["na"], pa.float64()),
    })
    if len(state.hints) < 100:
        state.hints.update(u for u in rows["url"][:50] if u)
    _add_block(state, batch, None)
    for values in rows.values():
        values.clear()


# ---- the reader ------------------------------------------------------------------------------
def read(path: Path, options: IngestOptions) -> IngestBatch:
    from perfops.ingest.registry import read_head

    head = read_head(path)
    is_xml = _is_xml(head)
    try:
        if is_xml:
            state, notes = read_xml_jtl(path, options)
        else:
            state, notes = read_csv_jtl(path, head, options)
    except (OSError, EOFError, zlib.error) as exc:
        if not is_gzip(path):
            raise
        raise InputError(f"not a readable gzip file ({exc})", path=str(path)) from exc
    return assemble(path, options, state, notes, "xml" if is_xml else "csv")


def assemble(path: Path, options: IngestOptions, state: _JtlState, notes: list[str], kind: str) -> IngestBatch:
    acc = state.requests
    if not acc.names and state.transactions.names:
        acc = state.transactions
        notes.append(f"only Transaction Controller samples: {state.transaction_rows} transactions read as requests")
    elif state.transaction_rows:
        notes.append(f"{state.transaction_rows} Transaction Controller parent rows not counted (their children are)")
    if state.sub_rows:
        notes.append(f"{state.sub_rows} sub-result rows not counted (their parent sample is)")
    if acc.skipped:
        notes.append(f"{acc.skipped} samples with an empty or impossible time or elapsed skipped")
    if not acc.names or acc.first_ms is None:  # none, or every one skipped (--skip-bad-rows)
        raise InputError("no samples in this JMeter result", path=str(path))
    acc = acc.regrouped(fold_endpoints([endpoint_name(n) for n in acc.names]))
    service = resolve_service(options, acc.names, sorted(state.hints), path)
    run_id = derive_run_id(path, acc.start, options.run_id)
    runs = run_frame(run_id, "jmeter", service, options.environment, acc.start, acc.end, path,
                     [f"JMeter {kind.upper()} JTL", *notes])
    return IngestBatch(test_runs=runs, test_endpoints=endpoints_frame(acc.endpoint_rows(run_id)),
                       test_series=acc.series(run_id), notes=notes)


READER = Reader(
    name="jmeter",
    description="Apache JMeter results: JTL CSV (with or without header, any delimiter) and XML",
    sniff=sniff,
    read=read,
    priority=20,
)
