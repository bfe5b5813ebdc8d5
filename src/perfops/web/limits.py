"""Request limits for the dashboard: a body size cap and a write rate limit, as plain ASGI
middleware (no dependency), answering in the API's one JSON error shape.

    app.add_middleware(BodySizeLimit, max_bytes=64 * 1024)
    app.add_middleware(WriteRateLimit, per_minute=30)

`BodySizeLimit` refuses a request whose declared Content-Length is over the cap, and one whose
streamed (chunked) body grows past it, with 413 before the route runs. `WriteRateLimit` is a
token bucket per client address for every method but GET/HEAD/OPTIONS (the writes: workflow
actions, token guesses), answering 429 with Retry-After. The clock is injected for tests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
READS = ("GET", "HEAD", "OPTIONS")
TRUSTED_PROXIES_ENV = "PERFOPS_WEB_TRUSTED_PROXIES"


async def send_error(send: Send, status: int, message: str, hint: str | None = None,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"error": {"status": status, "message": message, "hint": hint}}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in READS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _TooLarge
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await send_error(send, 413, f"the request body is larger than {self.max_bytes} bytes",
                         "send less: workflow actions take a short note")


class WriteRateLimit:
    """The client is the connection's peer address. X-Forwarded-For is believed only when that
    peer is one of `trusted_proxies` (default: PERFOPS_WEB_TRUSTED_PROXIES, comma separated;
    none), and then the client is the right-most address in it that is not a trusted proxy:
    anyone can send the header, so without a configured proxy it would let a client pick a new
    address for every guess."""

    def __init__(self, app: ASGIApp, per_minute: float = 30, burst: int | None = None,
                 clock: Callable[[], float] = time.monotonic, trusted_proxies: Sequence[str] | None = None) -> None:
        self.app, self.rate, self.burst, self.clock = app, per_minute / 60.0, burst or int(per_minute), clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        if trusted_proxies is None:
            trusted_proxies = os.environ.get(TRUSTED_PROXIES_ENV, "").split(",")
        self.proxies = frozenset(p.strip() for p in trusted_proxies if p.strip())

    def client_of(self, scope: Scope) -> str:
        peer = str((scope.get("client") or ("?", 0))[0])
        if peer not in self.proxies:
            return peer
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers") or [] if k == b"x-forwarded-for"]
        hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
        for hop in reversed(hops):
            if hop not in self.proxies:
                return hop
        return peer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in READS:
            await self.app(scope, receive, send)
            return
        wait = self._take(self.client_of(scope))
        if wait > 0:
            await send_error(send, 429, "too many writes from this address", f"retry in {wait:.0f} s",
                             [(b"retry-after", str(max(1, round(wait))).encode())])
            return
        await self.app(scope, receive, send)

    def _take(self, client: str) -> float:
        """0 when a token was taken, else the seconds until one is available."""
        now = self.clock()
        tokens, at = self.buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens >= 1:
            self.buckets[client] = (tokens - 1, now)
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate
