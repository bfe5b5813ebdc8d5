"""Access logs as log shippers and container runtimes leave them: unwrap, then read the inner line.

Recognised from the first lines (docs/formats/access-log.md, "Logs as they are shipped"):

- **Docker json-file** (`/var/lib/docker/containers/<id>/<id>-json.log`): one JSON object per line,
  `{"log": "<line>\\n", "stream": "stdout", "time": "..."}`. Docker splits a line longer than 16 KiB
  into several entries; only the last one ends with `\\n`, so an entry without it continues in the
  next entry of the same stream (moby/moby, daemon/logger/jsonfilelog). Fluentd's Docker driver
  writes the same object with `source` for `stream` and no newline (then every entry is whole).
- **JSON lines with a `message`** (Filebeat, Logstash, Vector, Fluent Bit outputs): `{"message": "<line>"}`.
- **CRI** (containerd and CRI-O under Kubernetes, `/var/log/pods/.../0.log`):
  `2024-01-01T00:00:00.000000000Z stdout F <line>`; tag `P` marks a partial line continued by the
  next entry of the stream until an `F` (kubernetes pkg/kubelet/kuberuntime/logs/logs.go, parseCRILog).

A stream that carries no access line in the head (nginx writes its error log to stderr, the access
log to stdout) is left out; its lines are counted in a note, never read as requests. A wrapper
line that cannot be unwrapped (broken JSON, a CRI line cut short) is passed on unchanged, so the
access-log reader reports it as a bad line with its own line number. Line numbers always refer to
the shipped file: a joined partial line carries the number of its first piece.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np

CRI_LINE = re.compile(rb"^(\d{4}-\d\d-\d\dT\S+) (stdout|stderr) ([FP])(?: (.*))?$", re.DOTALL)
MESSAGE_KEYS = ("log", "message")
STREAM_KEYS = ("stream", "source")
MAX_JOINED_BYTES = 1 << 20  # a partial line longer than this is passed on as it is (then a bad line)


@dataclass(frozen=True)
class Shipping:
    """How the lines of a file are wrapped: `kind` None = plain access-log lines."""

    kind: str | None = None  # "cri" | "json"
    key: str = "log"  # json: the key holding the line
    newline_partials: bool = False  # json: an entry without a trailing newline continues
    streams: frozenset[str] | None = None  # streams read; None = all

    @property
    def label(self) -> str:
        if self.kind == "cri":
            return "CRI container log"
        if self.kind == "json":
            return "Docker json-file log" if self.newline_partials else f'JSON lines ("{self.key}")'
        return ""


@dataclass
class Entry:
    """One unwrapped record: its stream, the inner text, whether it is complete."""

    stream: str
    text: bytes
    complete: bool


def recognise(lines: list[bytes]) -> Shipping:
    """The wrapping most of the first non-blank lines share; plain lines when none does."""
    lines = [x for x in lines if x.strip()]
    if not lines:
        return Shipping()
    if sum(1 for x in lines if CRI_LINE.match(x)) * 2 >= len(lines):
        return Shipping("cri")
    objects = [_json_object(x) for x in lines]
    for key in MESSAGE_KEYS:
        values = [o[key] for o in objects if o is not None and isinstance(o.get(key), str)]
        if values and len(values) * 2 >= len(lines):
            partials = key == "log" and any(v.endswith("\n") for v in values)
            return Shipping("json", key, partials)
    return Shipping()


def _json_object(line: bytes) -> dict | None:
    text = line.strip()
    if not text.startswith(b"{"):
        return None
    try:
        found = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return found if isinstance(found, dict) else None


def unwrap_line(shipping: Shipping, line: bytes) -> Entry | None:
    """The inner record of one shipped line; None when the line is not of the wrapping."""
    line = line.rstrip(b"\r\n")
    if shipping.kind == "cri":
        match = CRI_LINE.match(line)
        if match is None:
            return None
        return Entry(match.group(2).decode(), match.group(4) or b"", match.group(3) == b"F")
    found = _json_object(line)
    if found is None or not isinstance(found.get(shipping.key), str):
        return None
    stream = next((found[k] for k in STREAM_KEYS if isinstance(found.get(k), str)), "")
    text: str = found[shipping.key]
    complete = text.endswith("\n") or not shipping.newline_partials
    text = text.rstrip("\r\n").replace("\n", "\\n").replace("\r", "\\r")
    return Entry(stream, text.encode("utf-8", errors="replace"), complete)


def head_entries(shipping: Shipping, lines: list[bytes]) -> list[Entry]:
    """The unwrapped head lines (partials joined) for recognising the inner format."""
    unwrapper = Unwrapper(shipping, record=True)
    block = b"".join(x + b"\n" for x in lines)
    unwrapper.block(block, 1)
    unwrapper.finish()
    return unwrapper.seen


@dataclass
class Unwrapper:
    """Turns blocks of shipped lines into blocks of inner lines, with their shipped line numbers.

    Stateful: a partial line may continue in the next block."""

    shipping: Shipping
    ignored: dict[str, int] = field(default_factory=dict)  # stream -> lines left out
    record: bool = False  # head mode: keep every joined entry in `seen`
    seen: list[Entry] = field(default_factory=list)
    _pending: dict[str, tuple[int, list[bytes], int]] = field(default_factory=dict)

    def block(self, block: bytes, first_line: int) -> tuple[bytes, np.ndarray]:
        """(inner lines joined by newlines, the shipped line number of each)."""
        if self.shipping.kind == "json" and not self._pending and not self.record:
            fast = self._json_block(block, first_line)
            if fast is not None:
                return fast
        out: list[bytes] = []
        numbers: list[int] = []
        for offset, line in enumerate(block.split(b"\n")[:-1] if block.endswith(b"\n") else block.split(b"\n")):
            if not line.strip():
                continue
            self._take(line, first_line + offset, out, numbers)
        return _joined(out, numbers)

    def _json_block(self, block: bytes, first_line: int) -> tuple[bytes, np.ndarray] | None:
        """The common case in one vectorised pass (Arrow's JSON reader): every line an object whose
        line is a string holding exactly one newline, at its end. None: take the line-by-line path."""
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as pajson

        key = self.shipping.key
        schema = pa.schema([(key, pa.large_string()), ("stream", pa.string())])
        try:
            table = pajson.read_json(pa.BufferReader(block), parse_options=pajson.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore", newlines_in_values=False))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return None
        lines = block.split(b"\n")
        if lines and not lines[-1]:
            lines.pop()
        filled = [i for i, x in enumerate(lines) if x.strip()]
        texts = table.column(key).combine_chunks()
        if len(filled) != len(texts) or texts.null_count:
            return None
        if not self.shipping.newline_partials:  # every entry is a whole line, with or without its newline
            empty, newline = pa.scalar("", pa.large_string()), pa.scalar("\n", pa.large_string())
            texts = pc.binary_join_element_wise(pc.replace_substring_regex(texts, "\r?\n$", ""), empty, newline)
        if not pc.all(pc.equal(pc.count_substring(texts, "\n"), 1)).as_py() or \
                not pc.all(pc.ends_with(texts, "\n")).as_py():
            return None
        numbers = first_line + np.asarray(filled, dtype=np.int64)
        if self.shipping.streams is not None:
            streams = pc.fill_null(table.column("stream").combine_chunks(), "")
            keep = np.asarray(pc.is_in(streams, value_set=pa.array(sorted(self.shipping.streams))).to_numpy(
                zero_copy_only=False), dtype=bool)
            if not keep.all():
                for stream, count in zip(*np.unique(np.asarray(streams.to_pylist(), dtype=object)[~keep],
                                                    return_counts=True), strict=True):
                    self.ignored[stream] = self.ignored.get(stream, 0) + int(count)
                texts, numbers = texts.filter(pa.array(keep)), numbers[keep]
        if not len(texts):
            return b"", numbers
        offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)[texts.offset:texts.offset + len(texts) + 1]
        return texts.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]], numbers

    def finish(self) -> tuple[bytes, np.ndarray]:
        """Partial lines still open at the end of the file, passed on as they are."""
        out: list[bytes] = []
        numbers: list[int] = []
        for stream in list(self._pending):
            self._flush(stream, out, numbers)
        return _joined(out, numbers)

    def _take(self, line: bytes, number: int, out: list[bytes], numbers: list[int]) -> None:
        entry = unwrap_line(self.shipping, line)
        if entry is None:  # not of the wrapping: the reader names it as a bad line
            out.append(line.rstrip(b"\r"))
            numbers.append(number)
            return
        streams = self.shipping.streams
        if streams is not None and entry.stream not in streams:
            self.ignored[entry.stream] = self.ignored.get(entry.stream, 0) + 1
            return
        first, parts, size = self._pending.pop(entry.stream, (number, [], 0))
        parts.append(entry.text)
        size += len(entry.text)
        if entry.complete or size > MAX_JOINED_BYTES:
            self._emit(entry.stream, first, b"".join(parts), out, numbers)
        else:
            self._pending[entry.stream] = (first, parts, size)

    def _flush(self, stream: str, out: list[bytes], numbers: list[int]) -> None:
        first, parts, _ = self._pending.pop(stream)
        self._emit(stream, first, b"".join(parts), out, numbers)

    def _emit(self, stream: str, number: int, text: bytes, out: list[bytes], numbers: list[int]) -> None:
        if self.record:
            self.seen.append(Entry(stream, text, True))
        out.append(text)
        numbers.append(number)


def _joined(lines: list[bytes], numbers: list[int]) -> tuple[bytes, np.ndarray]:
    if not lines:
        return b"", np.zeros(0, dtype=np.int64)
    return b"\n".join(lines) + b"\n", np.asarray(numbers, dtype=np.int64)


def ignored_note(unwrapper: Unwrapper) -> str | None:
    """The note for lines of streams that carry no access log, counted per stream."""
    if not unwrapper.ignored:
        return None
    parts = ", ".join(f"{count:,} {stream or 'unnamed-stream'}" for stream, count in sorted(unwrapper.ignored.items()))
    return f"lines of streams without access-log lines left out ({parts}), e.g. nginx's error log on stderr"
