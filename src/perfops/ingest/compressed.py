"""Compressed inputs: the one place a streamed reader opens a file that may be gzip.

A `.gz` left by logrotate (or kubelet's rotated `0.log.<date>.gz`) is recognised by its magic
bytes, not by its name. Readers that stream (access logs) call `open_maybe_gzip`; readers that
read whole files use `common.read_bytes_maybe_gzip`. A limit on the decompressed size belongs here
(and there) so every reader gets it.
"""

from __future__ import annotations

import gzip
from typing import BinaryIO

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(head: bytes) -> bool:
    return head[:2] == GZIP_MAGIC


def open_maybe_gzip(raw: BinaryIO) -> BinaryIO:
    """The decompressed stream of an open binary file when it is gzip, else the file itself.

    `raw` stays the caller's (its position measures progress through the compressed bytes)."""
    position = raw.tell()
    magic = raw.read(2)
    raw.seek(position)
    return gzip.GzipFile(fileobj=raw) if is_gzip(magic) else raw  # type: ignore[return-value]
