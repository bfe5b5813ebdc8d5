"""Browser-facing protections of the dashboard, as plain ASGI middleware (no dependency), for a
dashboard that runs on a laptop next to the user's browser:

- `HostCheck`: DNS rebinding. A page on evil.example can point its own name at 127.0.0.1 and
  read every answer of a local server that answers any Host header. Only the loopback names
  (127.0.0.1, localhost, [::1]), the address `serve --host` binds and the names in
  PERFOPS_WEB_ALLOWED_HOSTS (comma separated, for a dashboard reached by a DNS name) are
  answered, with or without a port; any other Host gets 421 Misdirected Request.
- `OriginCheck`: cross-site request forgery. A write (any method but GET/HEAD/OPTIONS) that
  carries an Origin (or, without one, a Referer) of another host is refused with 403; a
  write with neither (curl, scripts) passes on to the token check. Browsers send Origin on
  every cross-origin POST (https://fetch.spec.whatwg.org/#origin-header).
- `SecurityHeaders`: on every answer, a Content-Security-Policy allowing only the dashboard's
  own scripts, styles and fetches (the templates hold no inline script or style), no framing
  (frame-ancestors 'none' and X-Frame-Options: DENY), X-Content-Type-Options: nosniff and
  Referrer-Policy: same-origin. /docs and /redoc (Swagger UI / ReDoc from the bundled assets
  of fastapi-offline, no CDN, no inline script) get a policy that also allows the inline
  styles those libraries set on their elements.

Order in create_app: SecurityHeaders outermost (so refusals carry the headers too), then
HostCheck, OriginCheck, then the rate and size limits of web/limits.py.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import urlsplit

from perfops.web.limits import READS, ASGIApp, Message, Receive, Scope, Send, send_error

ALLOWED_HOSTS_ENV = "PERFOPS_WEB_ALLOWED_HOSTS"
LOOPBACK = ("127.0.0.1", "localhost", "::1")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# /docs and /redoc: Swagger UI and ReDoc from the dashboard's own bundled assets (fastapi-offline),
# no CDN; both set inline styles on elements and ReDoc runs a worker from a blob
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "font-src 'self'; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
            "frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")
HEADERS = ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"same-origin"), (b"cross-origin-opener-policy", b"same-origin"))


def host_name(value: str) -> str:
    """The host of a Host header or a --host value, lower case, without port or brackets."""
    value = value.strip().lower()
    if value.startswith("["):  # [::1]:8080
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:  # name:port (a bare IPv6 address has several colons)
        return value.split(":", 1)[0]
    return value


def allowed_hosts(bind: str | None = None, extra: Iterable[str] | None = None) -> frozenset[str]:
    """The loopback names, the bound address (unless it binds every interface) and `extra`
    (default: PERFOPS_WEB_ALLOWED_HOSTS)."""
    names = set(LOOPBACK)
    if bind and host_name(bind) not in ("0.0.0.0", "::", ""):
        names.add(host_name(bind))
    if extra is None:
        extra = os.environ.get(ALLOWED_HOSTS_ENV, "").split(",")
    names.update(host_name(e) for e in extra if e.strip())
    return frozenset(names)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return str(value.decode("latin-1"))
    return None


# answered whatever the Host: Prometheus scrapes and Kubernetes probes address a pod by its IP,
# and /metrics holds counts only (no names, no findings), nothing a rebinding page could use
OPEN_PATHS = frozenset({"/metrics"})


class HostCheck:
    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("path") not in OPEN_PATHS:
            host = _header(scope, b"host")
            if host is None or host_name(host) not in self.hosts:
                await send_error(send, 421, "this dashboard does not answer to that host name",
                                 f"open it as http://127.0.0.1 or http://localhost, or add the name to {ALLOWED_HOSTS_ENV}")
                return
        await self.app(scope, receive, send)


class OriginCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") not in READS and not self._same_origin(scope):
            await send_error(send, 403, "a change sent from another site is refused",
                             "use the dashboard's own pages, or send the request without an Origin header "
                             "(scripts) with the token")
            return
        await self.app(scope, receive, send)

    @staticmethod
    def _same_origin(scope: Scope) -> bool:
        host = _header(scope, b"host")
        source = _header(scope, b"origin") or _header(scope, b"referer")
        if source is None:
            return True  # not a browser form or fetch: the token decides
        try:
            parts = urlsplit(source)
        except ValueError:
            return False
        return bool(host) and bool(parts.netloc) and parts.netloc.lower() == str(host).strip().lower()


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(DOCS_PATHS)
        policy = (DOCS_CSP if docs else CSP).encode()

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers") or []}
                added = [(k, v) for k, v in ((b"content-security-policy", policy), *HEADERS) if k not in present]
                message["headers"] = [*(message.get("headers") or []), *added]
            await send(message)

        await self.app(scope, receive, with_headers)
