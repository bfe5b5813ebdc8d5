"""Writes that a client may safely send again: the answer of a write is kept under the client's
idempotency key, so a retry (after a timeout, a dropped connection or a 503) gets the first
answer back instead of changing the finding twice.

The API takes the key as an `Idempotency-Key` header (the IETF httpapi draft
draft-ietf-httpapi-idempotency-key-header; Stripe and others use the same name), the finding
page's form sends a fresh one with every rendering (a hidden `idempotency_key` field), so a
form submitted twice (reload, back button) is applied once. A write refused with 503 "NOT saved"
keeps nothing, so its retry is applied. Keys are kept in memory for the MAX_KEYS writes made
last, per dashboard process; the same key sent for another change is refused.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Callable, Hashable
from typing import TypeVar

from perfops.errors import PerfopsError
from perfops.web.data import Lru

T = TypeVar("T")
MAX_KEYS = 10_000
MAX_KEY_LENGTH = 200
STRIPES = 64  # locks: one write per key at a time, unrelated keys do not wait for each other
_MISSING = object()


class WriteLedger:
    def __init__(self, size: int = MAX_KEYS) -> None:
        self._done = Lru(size)  # key -> (what was asked, its answer)
        self._locks = [threading.Lock() for _ in range(STRIPES)]

    def run(self, key: str | None, asked: Hashable, write: Callable[[], T]) -> T:
        """`write()`'s answer; for a key seen before, the answer it got then, without writing."""
        if not key:
            return write()
        if len(key) > MAX_KEY_LENGTH:
            raise PerfopsError(f"the idempotency key is longer than {MAX_KEY_LENGTH} characters",
                               hint="send a UUID or a similar short random string")
        with self._locks[zlib.crc32(key.encode()) % STRIPES]:
            done = self._done.get(key, _MISSING)
            if done is not _MISSING:
                first, answer = done
                if first != asked:
                    raise PerfopsError("this idempotency key was used for another change",
                                       hint="send a new key with every new change")
                return answer
            answer = write()  # WorkspaceBusyError (not saved) keeps nothing: the retry writes
            self._done.put(key, (asked, answer))
            return answer
