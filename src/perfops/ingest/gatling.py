"""Gatling `simulation.log`: the text layouts of Gatling 2.0 to 3.11, and the binary log of 3.14.

The record layouts differ by version (tab-separated):
- 2.0/2.1:  `scenario  userId  REQUEST  groups  name  reqStart  reqEnd  respStart  respEnd  OK|KO  msg`
- 2.2/2.3:  `REQUEST  scenario  userId  groups  name  start  end  OK|KO  [msg]`
- 3.0–3.3:  `REQUEST  userId  groups  name  start  end  OK|KO  msg`
- 3.4–3.11: `REQUEST  groups  name  start  end  OK|KO  msg`
so a REQUEST record is read by its anchors rather than by position: the `REQUEST` token, the
`OK`/`KO` status, the run of epoch-ms timestamps before the status and the name before them.
Response time = last timestamp - first (Gatling's own definition). Whole milliseconds, so the
percentiles are exact.

Gatling 3.12 and later write a binary log (gatling/gatling#4596). Its layout is internal to
Gatling (its own reader refuses a log of another version); the one of 3.14 is read here as
Gatling's LogFileReader reads it: big-endian Java DataOutput, a RUN record then
USER/REQUEST/GROUP/ERROR records, request names and messages in a string cache, times as int
offsets from the run start. A binary log of another version,
or one that does not parse, is refused with a message saying exactly that and how to get a
readable result.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from perfops.errors import InputError
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.ingest.common import LATEST_MS, TIME_RANGE, open_maybe_gzip
from perfops.ingest.common import out_of_range as out_of_range_error
from perfops.ingest.testrun_common import (
    SampleAccumulator,
    derive_run_id,
    endpoint_name,
    endpoints_frame,
    fold_endpoints,
    resolve_service,
    run_frame,
    text_lines,
)

BINARY_MESSAGE = (
    "this is a binary Gatling simulation.log (Gatling 3.12 or later, here {version}); "
    "perfops reads the text simulation.log of Gatling 2.0-3.11 and the binary one of 3.14 only"
)
BINARY_VERSIONS = ("3.14.",)  # binary layouts verified on a real log (Gatling checks versions itself)
BINARY_HINT = (
    "the binary layout is internal to Gatling and changes between releases; for a log perfops reads, "
    "run the simulation with Gatling 3.14, or 3.11 or earlier (text), "
    "or load-test with JMeter, Locust or k6, whose results perfops reads"
)
_RECORDS = (b"RUN\t", b"REQUEST\t", b"USER\t", b"ASSERTION\t", b"GROUP\t", b"ERROR\t")


def binary_version(head: bytes) -> str | None:
    """The Gatling version of a binary log: it starts with a 0 byte, a length and '3.1x.y'."""
    if len(head) >= 6 and head[0] == 0 and head[:4] == b"\x00\x00\x00\x00":
        length = head[4]
        text = head[5:5 + length]
        if 1 <= length <= 20 and text[:1].isdigit() and all(48 <= b <= 57 or b == 46 for b in text):
            return text.decode("ascii")
    return None


def sniff(path: Path, head: bytes) -> bool:
    if binary_version(head) is not None:
        return True
    first = head.split(b"\n", 1)[0]
    if first.startswith(_RECORDS):
        return True
    fields = first.split(b"\t")
    return len(fields) >= 4 and fields[2] == b"RUN"  # 2.0 layout


def _digits(text: str) -> bool:
    """ASCII digits only ('²'.isdigit() is true, and int('²') fails)."""
    return text.isascii() and text.isdigit()


def _parse_request(fields: list[str]) -> tuple[str, list[int], bool] | None:
    """(name, timestamps, ok) of a REQUEST record of any text layout, or None."""
    try:
        at = fields.index("REQUEST")
    except ValueError:
        return None
    status = next((i for i in range(at + 1, len(fields)) if fields[i] in ("OK", "KO")
                   and _digits(fields[i - 1])), None)
    if status is None:
        return None
    first = status
    while first - 1 > at and _digits(fields[first - 1]) and len(fields[first - 1]) >= 10:
        first -= 1
    if first == status or first - 1 <= at:
        return None
    stamps = [int(f) for f in fields[first:status]]
    return fields[first - 1], stamps, fields[status] == "OK"


_KNOWN_KINDS = frozenset({"RUN", "USER", "REQUEST", "GROUP", "ERROR", "ASSERTION"})


def read(path: Path, options: IngestOptions) -> IngestBatch:
    from perfops.ingest.registry import read_head

    version = binary_version(read_head(path, 64))
    if version is not None:
        return read_binary(path, options, version)
    records = _Records()
    active, bad, out_of_range = 0, 0, 0
    run_version, simulation = "", ""
    for number, line in text_lines(path):
        fields = line.rstrip("\r\n").split("\t")
        kind = "REQUEST" if "REQUEST" in fields[:3] else fields[0]
        if kind == "USER" or (len(fields) > 3 and fields[2] == "USER"):
            active += 1 if "START" in fields else -1 if "END" in fields else 0
            continue
        if "RUN" in fields[:3] and not run_version and len(fields) > 1:
            simulation, run_version = fields[0 if fields[0] != "RUN" else 1], fields[-1].strip()
            continue
        if kind != "REQUEST":
            if not _KNOWN_KINDS.intersection(fields[:3]) and line.strip():
                bad += 1  # no record kind Gatling writes: a damaged line, maybe a request
            continue
        parsed = _parse_request(fields)
        if parsed is None:
            bad += 1
            continue
        name, stamps, ok = parsed
        impossible = next((stamp for stamp in stamps if not 0 <= stamp < LATEST_MS), None)
        if impossible is not None:  # refused here, before an int64 array overflows
            if not options.skip_bad_rows:
                raise out_of_range_error(f"the time {impossible} (epoch ms)", path=path, line=number,
                                         field="timestamp")
            out_of_range += 1
            continue
        records.append(number, stamps[0], stamps[-1] - stamps[0], name, not ok, max(active, 0))
    if not records.ts:
        raise InputError("no REQUEST records: expected a Gatling simulation.log", path=str(path))
    notes = [f"Gatling simulation.log (log version {run_version or '?'}, {simulation})"]
    if bad:
        notes.append(DataWarning(f"{bad} unreadable records skipped (REQUEST or unknown kind; a file cut mid-line?)"))
    if out_of_range:
        notes.append(f"{out_of_range} REQUEST records with a time outside {TIME_RANGE} skipped")
    return _assemble(path, options, records, notes)


@dataclass
class _Records:
    """The requests of a log, column by column (with the line each came from, for errors)."""

    lines: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    elapsed: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    failed: list[bool] = field(default_factory=list)
    users: list[int] = field(default_factory=list)

    def append(self, line: int, ts: int, elapsed: int, name: str, failed: bool, users: int) -> None:
        self.lines.append(line)
        self.ts.append(ts)
        self.elapsed.append(elapsed)
        self.names.append(name)
        self.failed.append(failed)
        self.users.append(users)


# ---- the binary log of Gatling 3.12+ ---------------------------------------------------------
_RUN, _REQUEST, _USER, _GROUP, _ERROR = 0, 1, 2, 3, 4
_INT, _LONG = struct.Struct(">i"), struct.Struct(">q")
_NO_END = -(2**31)  # an unmatched incoming event: no response, not a request


class _Truncated(Exception):
    """The log ends inside a record (a run that was killed)."""


@dataclass
class _BinaryLog:
    """A cursor over a binary simulation.log (Java DataOutput: big-endian)."""

    raw: BinaryIO
    cache: dict[int, str] = field(default_factory=dict)

    def take(self, n: int) -> bytes:
        data = self.raw.read(n)
        if len(data) < n:
            raise _Truncated
        return data

    def int_(self) -> int:
        return _INT.unpack(self.take(4))[0]

    def long_(self) -> int:
        return _LONG.unpack(self.take(8))[0]

    def bool_(self) -> bool:
        return self.take(1) != b"\x00"

    def string(self) -> str:
        """Length, the bytes of a Java String, its coder (0 = Latin-1, 1 = UTF-16)."""
        length = self.int_()
        if length <= 0:
            return ""
        value, coder = self.take(length), self.take(1)
        return value.decode("utf-16-le" if coder == b"\x01" else "latin-1", errors="replace")

    def cached(self) -> str:
        """A string given once (index >= 0, then the string) and later by -index."""
        index = self.int_()
        if index >= 0:
            self.cache[index] = self.string()
            return self.cache[index]
        return self.cache.get(-index, "")


def _binary_header(log: _BinaryLog) -> tuple[str, str, int, list[str]]:
    """(version, simulation class, run start epoch ms, scenarios) of the RUN record."""
    if log.take(1) != bytes([_RUN]):
        raise ValueError("the log does not start with a RUN record")
    version, simulation, start = log.string(), log.string(), log.long_()
    log.string()  # run description
    scenarios = [log.string() for _ in range(log.int_())]
    for _ in range(log.int_()):  # assertions: pickled, not needed
        log.take(log.int_())
    return version, simulation, start, scenarios


def read_binary(path: Path, options: IngestOptions, version: str) -> IngestBatch:
    if not version.startswith(BINARY_VERSIONS):
        raise InputError(BINARY_MESSAGE.format(version=version), path=str(path), hint=BINARY_HINT)
    records = _Records()
    truncated = False
    with open_binary_file(path) as raw:
        log = _BinaryLog(raw)
        try:
            _, simulation, start, _ = _binary_header(log)
            if not 0 <= start < LATEST_MS:  # request times are int offsets from it
                raise ValueError(f"the run start {start} (epoch ms) is outside {TIME_RANGE}")
            truncated = _binary_records(log, start, records)
        except (ValueError, struct.error, UnicodeDecodeError) as exc:
            raise InputError(BINARY_MESSAGE.format(version=version) + f"; this one does not parse ({exc})",
                             path=str(path), hint=BINARY_HINT) from exc
        except _Truncated:
            raise InputError(BINARY_MESSAGE.format(version=version) + "; it ends inside its header",
                             path=str(path), hint=BINARY_HINT) from None
    if not records.ts:
        raise InputError("no REQUEST records in this binary Gatling simulation.log", path=str(path))
    notes = [f"Gatling binary simulation.log (Gatling {version}, {simulation})"]
    if truncated:
        notes.append(DataWarning("the file ends early: the log ends inside a record (a killed run?); every complete record was read"))
    return _assemble(path, options, records, notes)


def _binary_records(log: _BinaryLog, start: int, records: _Records) -> bool:
    """Read every record after the header; True when the log ends inside one. A record's
    'line' is its number in the log (the RUN record is 1)."""
    active, number = 0, 1
    while True:
        header = log.raw.read(1)
        number += 1
        if not header:
            return False
        try:
            kind = header[0]
            if kind == _USER:
                log.int_()  # scenario index
                active += 1 if log.bool_() else -1
                log.int_()  # timestamp
            elif kind == _REQUEST:
                for _ in range(log.int_()):
                    log.cached()  # groups
                name, begin, end, ok = log.cached(), log.int_(), log.int_(), log.bool_()
                log.cached()  # message
                if end != _NO_END:
                    records.append(number, start + begin, end - begin, name, not ok, max(active, 0))
            elif kind == _GROUP:
                for _ in range(log.int_()):
                    log.cached()
                log.take(13)  # start, end, cumulated response time, status
            elif kind == _ERROR:
                log.cached()
                log.int_()
            else:
                raise ValueError(f"unknown record type {kind}")
        except _Truncated:
            return True


def open_binary_file(path: Path) -> BinaryIO:
    return open_maybe_gzip(path)  # gunzipped when gzip, bounded: PERFOPS_MAX_DECOMPRESSED_BYTES


def _assemble(path: Path, options: IngestOptions, records: _Records, notes: list[str]) -> IngestBatch:
    acc = SampleAccumulator(source=str(path), skip_bad=options.skip_bad_rows, fields=("timestamp", "response time"))
    labels, inverse = np.unique(np.asarray(records.names, dtype=object), return_inverse=True)
    endpoints, merged = np.unique(np.asarray(fold_endpoints([endpoint_name(str(n)) for n in labels]), dtype=object),
                                  return_inverse=True)
    codes = acc.codes([str(x) for x in endpoints])[merged[inverse]]
    lines = records.lines
    acc.add(np.asarray(records.ts, dtype=np.int64), codes, np.asarray(records.elapsed, dtype=np.int64),
            np.asarray(records.failed, dtype=bool), np.asarray(records.users, dtype=float),
            line_of=lambda i: lines[i])
    if not acc.names or acc.first_ms is None:
        raise InputError("no readable REQUEST records: expected a Gatling simulation.log", path=str(path))
    if acc.skipped:
        notes.append(f"{acc.skipped} REQUEST records with an impossible time or response time skipped")
    service = resolve_service(options, acc.names, [notes[0]], path)
    run_id = derive_run_id(path, acc.start, options.run_id)
    runs = run_frame(run_id, "gatling", service, options.environment, acc.start, acc.end, path, notes)
    return IngestBatch(test_runs=runs, test_endpoints=endpoints_frame(acc.endpoint_rows(run_id)),
                       test_series=acc.series(run_id), notes=notes[1:])


READER = Reader(
    name="gatling",
    description="Gatling simulation.log: text (Gatling 2.0-3.11) and binary (3.14)",
    sniff=sniff,
    read=read,
    priority=20,
)
