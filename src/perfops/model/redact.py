"""Secrets kept out of messages and the store: the one place that finds and hides them.

A Prometheus URL may carry credentials (`https://user:pass@host`, `?token=...`,
`?access_token=...`, `?api_key=...`). `perfops check` refuses such a URL (`url_credentials`:
the catalog points to `bearer_token_env` / `basic_auth_*`), and everything perfops prints or
stores about a source goes through `redact_url` or `redact_text` all the same, since a URL can
reach a message in other ways (a server's error body echoing the request or its headers).

    redact_url("https://bob:hunter2@prom:9090/?token=abc&x=1")
    -> "https://***@prom:9090/?token=***&x=1"
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

HIDDEN = "***"
# query parameters that carry a credential (Grafana, Thanos, cloud gateways use these names)
SECRET_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "api-key", "key", "password", "passwd",
                           "secret", "auth", "authorization", "bearer", "x-api-key", "sig", "signature"})
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
# an Authorization header or a credential pair echoed in a body: "Authorization: Bearer xyz",
# "Basic dXNlcjpwYXNz", "token=abc", '"api_key": "abc"'
_AUTH_HEADER = re.compile(r"(?i)\b(authorization|proxy-authorization|x-api-key)(\"?\s*[:=]\s*\"?)([^\r\n\",}]+)")
_SCHEME_VALUE = re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}")
_PAIR = re.compile(r"(?i)\b(" + "|".join(re.escape(p) for p in sorted(SECRET_PARAMS, key=len, reverse=True))
                   + r")(\"?\s*[:=]\s*\"?)([^\s&\",}]+)")


def url_credentials(url: str) -> list[str]:
    """What in `url` is a credential: 'user:password@' and the secret query parameters' names."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = ["user:password@" if parts.password is not None else "user@"] if parts.username is not None else []
    found += [f"?{name}=" for name, _ in parse_qsl(parts.query, keep_blank_values=True)
              if name.lower() in SECRET_PARAMS]
    return found


def redact_url(url: str) -> str:
    """`url` with its user information and secret query values replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return _PAIR.sub(lambda m: m.group(1) + m.group(2) + HIDDEN, url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = HIDDEN + "@" + netloc.rsplit("@", 1)[1]
    query = re.sub(r"(?:^|(?<=[&;]))([^=&;]+)=([^&;]*)",
                   lambda m: f"{m.group(1)}={HIDDEN}" if m.group(1).lower() in SECRET_PARAMS else m.group(0),
                   parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """`text` (a message, a server's error body) with every URL redacted and every echoed
    Authorization header, bearer/basic token or secret key=value pair hidden."""
    text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _AUTH_HEADER.sub(lambda m: m.group(1) + m.group(2) + HIDDEN, text)
    text = _SCHEME_VALUE.sub(lambda m: m.group(1) + " " + HIDDEN, text)
    return _PAIR.sub(lambda m: m.group(1) + m.group(2) + (m.group(3) if m.group(3) == HIDDEN else HIDDEN), text)
