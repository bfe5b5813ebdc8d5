"""Finds the format modules of this package and picks the reader for a file."""

from __future__ import annotations

import gzip
import importlib
import pkgutil
import zlib
from functools import cache
from pathlib import Path

from perfops.errors import InputError
from perfops.ingest.base import Reader

_NOT_FORMATS = {"base", "registry", "common"}
SNIFF_BYTES = 64 * 1024


@cache
def readers() -> dict[str, Reader]:
    """Every format module's READER, by name, in sniffing order."""
    import perfops.ingest as package

    found: list[Reader] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in _NOT_FORMATS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"perfops.ingest.{info.name}")
        reader = getattr(module, "READER", None)
        if isinstance(reader, Reader):
            found.append(reader)
    return {r.name: r for r in sorted(found, key=lambda r: (r.priority, r.name))}


def read_head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    """The first bytes of a file, decompressed when it is gzip."""
    with path.open("rb") as raw:
        head = raw.read(size)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as unzipped:
                return unzipped.read(size)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"not a readable gzip file ({exc})", path=str(path)) from exc
    return head


def _sniffs(reader: Reader, path: Path, head: bytes) -> bool:
    """A sniffer that trips over odd bytes simply does not recognise the file."""
    try:
        return bool(reader.sniff(path, head))
    except Exception:
        return False


def reader_for(path: Path, format_name: str = "auto") -> Reader:
    """The reader named by --format, or the first whose sniff accepts the file."""
    available = readers()
    if format_name != "auto":
        if format_name not in available:
            raise InputError(
                f"unknown format '{format_name}'; expected auto or one of {', '.join(available)}",
                field="--format",
            )
        return available[format_name]
    head = read_head(path)
    if not head.strip():
        raise InputError("the file is empty; expected data rows", path=str(path))
    for reader in available.values():
        if _sniffs(reader, path, head):
            return reader
    raise InputError(
        "could not tell the format of this file: " + looks_like(path, head, list(available)),
        path=str(path),
        hint=f"pass --format, one of {', '.join(available)}",
    )


# the readers of JSON documents and JSON lines, named when a JSON file is recognised by none of them
JSON_READERS = ("otlp-json", "prometheus-json", "cloudwatch-json", "k6")
_TELEMETRY_COLUMNS = ("a telemetry CSV needs the columns timestamp, service, metric, value (long form) or "
                      "timestamp, service and one column per metric (wide form), see docs/formats/telemetry.md")


def looks_like(path: Path, head: bytes, names: list[str]) -> str:
    """What an unrecognised file looks like, and what the readers of that kind of file expect."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        readers = ", ".join(n for n in JSON_READERS if n in names)
        return f"{_json_shape(text)} that is none of {readers}; use --format to say which it is"
    first = text.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    sep = max((",", "\t", ";"), key=first.count)
    cells = [c.strip().strip('"') for c in first.split(sep)] if first.count(sep) >= 1 else []
    if cells and _is_number(cells[0]) and sum(_is_number(c) for c in cells) >= 2:
        return (f"a CSV whose first line is data, not a header ({first[:80]!r}): a JMeter JTL without its "
                "header row is read with --format jmeter when it has one of JMeter's default column layouts "
                "(else save it with jmeter.save.saveservice.print_field_names=true); " + _TELEMETRY_COLUMNS)
    if cells and (path.suffix.lower() in (".csv", ".tsv", ".txt") or len(cells) >= 3):
        return f"a CSV with the header {', '.join(cells[:8])}{'…' if len(cells) > 8 else ''}; " + _TELEMETRY_COLUMNS
    return f"its first line is {first[:80]!r}, which none of the readers recognise"


def _json_shape(text: bytes) -> str:
    """`a JSON object with keys a, b, c` / `JSON lines (first object's keys: …)` / `a JSON array`."""
    import json

    lines = [x for x in text.split(b"\n") if x.strip()]
    try:
        document = json.loads(text)
    except ValueError:
        document = None
        try:
            first = json.loads(lines[0]) if lines else None
        except ValueError:
            first = None
        if isinstance(first, dict) and len(lines) > 1:
            shipped = (" — a container or shipper log, read as an access log only when its lines are "
                       "access-log lines" if {"log", "message"} & set(first) else "")
            return f"a JSON-lines file (first object's keys: {_keys(first)}){shipped}"
        return "a JSON file (cut short in its first 64 KB, or not valid JSON)"
    if isinstance(document, dict):
        return f"a JSON object with the keys {_keys(document)}"
    return "a JSON array" + (f" of objects with the keys {_keys(document[0])}"
                             if document and isinstance(document[0], dict) else "")


def _keys(found: dict) -> str:
    keys = [str(k) for k in found][:8]
    return ", ".join(keys) + ("…" if len(found) > 8 else "") if keys else "(none)"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
