"""Posting a payload to a webhook with retries and exponential backoff.

Retries on connection errors, timeouts, 429 and 5xx (honouring Retry-After when given), up to
`attempts` times with delays base, 2·base, 4·base …; 4xx other than 429 fail at once (the URL or
payload is wrong, retrying will not help). The httpx transport and the sleep are injectable, so
tests use httpx.MockTransport and no real waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from perfops.errors import SourceError


@dataclass(frozen=True)
class Delivery:
    url: str
    status: int
    attempts: int


def post_json(url: str, payload: dict[str, Any], *, transport: httpx.BaseTransport | None = None,
              attempts: int = 4, base_delay: float = 0.5, timeout: float = 10.0,
              sleep: Callable[[float], None] = time.sleep) -> Delivery:
    last_error = ""
    with httpx.Client(transport=transport, timeout=timeout, follow_redirects=False) as client:
        for attempt in range(1, attempts + 1):
            try:
                response = client.post(url, json=payload)
            except httpx.TransportError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return Delivery(url, response.status_code, attempt)
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                if response.status_code != 429 and response.status_code < 500:
                    raise SourceError(f"webhook {_safe(url)} refused the digest ({last_error})",
                                      hint="check the webhook URL in perfops.yaml")
                if attempt < attempts:
                    sleep(_retry_after(response) or base_delay * 2 ** (attempt - 1))
                    continue
            if attempt < attempts:
                sleep(base_delay * 2 ** (attempt - 1))
    raise SourceError(f"webhook {_safe(url)} failed after {attempts} attempts ({last_error})",
                      hint="check the webhook URL and the network; 'perfops notify --dry-run' shows the digests")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), 60.0) if value else None
    except ValueError:
        return None


def _safe(url: str) -> str:
    """The URL without its path (webhook paths are secrets)."""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}/…"
