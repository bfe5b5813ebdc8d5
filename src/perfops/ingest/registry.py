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
    with open(path, "rb") as raw:
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
    except Exception:  # noqa: BLE001
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
    looks_tabular = path.suffix.lower() in (".csv", ".tsv", ".txt") or head[:200].count(b",") >= 2
    expected = ("; a telemetry CSV needs the columns timestamp, service, metric, value (long form) or "
                "timestamp, service and one column per metric (wide form), see docs/formats/telemetry.md"
                if looks_tabular else "")
    raise InputError(
        "could not tell the format of this file" + expected,
        path=str(path),
        hint=f"pass --format, one of {', '.join(available)}",
    )
