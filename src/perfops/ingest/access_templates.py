"""Templates of access logs: what a line looks like, and what it becomes.

What a line looks like: every format (combined, common, ALB, Envoy, a user's nginx `log_format`)
is an nginx-style template of `$variables`, compiled to one anchored RE2 pattern that captures
only the variables a file needs; the built-in formats are recognised from the first lines.

What it becomes: its endpoint template and its consumer, with bounded cardinality.

Endpoint templates fold the parts of a path that identify one object rather than an operation,
so that `/orders/8812` and `/orders/8813` are both `GET /orders/{id}`. A path segment is an id when
it is a number, a UUID, a hex hash (12+ hex characters), or a long token (20+ URL-safe characters
mixing letters and digits). Folding runs vectorised over the whole chunk (RE2 through
pyarrow); the id-free templates are few, so naming them happens once per distinct template.

Cardinality stays bounded however odd the traffic: a file gets at most `MAX_ENDPOINTS` templates
and `MAX_CONSUMERS` consumers, first come first served; the rest are counted under `{other}`, so
totals stay exact while a scanner walking 100,000 random URLs cannot explode the store.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from perfops.errors import InputError

OTHER = "{other}"  # the template or consumer that collects everything over the cap
INVALID = "{invalid}"  # a request line that is not `METHOD /path PROTOCOL` (TLS bytes, junk)
NO_CONSUMER = "{none}"  # the consumer field is empty or '-'

MAX_ENDPOINTS = 300
MAX_CONSUMERS = 200
_CACHE_LIMIT = 100_000  # distinct raw values remembered; bounded memory on any log

_UUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
# the hex and token alternatives are kept only when long enough: checked on the distinct results
_HEX_MIN, _TOKEN_MIN = 12, 20
_SEGMENT_IS_ID = re.compile(
    r"^(?:\d+(?:\.\d+)?|" + _UUID + r"|(?=[0-9A-Fa-f]*\d)(?=[0-9A-Fa-f]*[A-Fa-f])[0-9A-Fa-f]{" + str(_HEX_MIN) + ",}|"
    r"(?=[A-Za-z0-9_~=-]*\d)(?=[A-Za-z0-9_~=-]*[A-Za-z])[A-Za-z0-9_~=-]{" + str(_TOKEN_MIN) + ",})$"
)
_URL_PREFIX = r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]*"


def strip_scheme_host(paths: pa.Array) -> pa.Array:
    """`http://host:80/x` (proxies, ALB) -> `/x`; an empty path becomes `/`."""
    if pc.any(pc.match_substring_regex(paths, _URL_PREFIX)).as_py():
        paths = pc.replace_substring_regex(paths, _URL_PREFIX, "")
    return pc.if_else(pc.equal(pc.binary_length(paths), 0), pa.scalar(b"/", paths.type), paths)


def fold_ids(paths: pa.Array) -> pa.Array:
    """Vectorised first pass: numbers, UUIDs and 12+ hex characters ending at a word boundary
    become `{id}` (`/orders/8812/items` -> `/orders/{id}/items`, `/a/12.json` -> `/a/{id}.json`).

    One RE2 global replace: the boundary is not consumed, so `/1/2` folds in the same pass.
    Mixed tokens are left to `template_of`, which runs once per distinct path."""
    # the UUID first: RE2 takes the first alternative that matches, and `\d+` would stop at the
    # dash of a UUID whose first group is all digits (`/{id}-0000-…`)
    pattern = r"/(?:" + _UUID + r"|[0-9A-Fa-f]{" + str(_HEX_MIN) + r",}|\d+)\b"
    return pc.replace_substring_regex(paths, pattern, "/{id}")


def template_of(path: str) -> str:
    """The template of one (already number-folded) path: fold UUIDs, hashes and long tokens."""
    if "/" not in path:
        return path
    parts = path.split("/")
    return "/".join("{id}" if part != "{id}" and _SEGMENT_IS_ID.match(part) else part for part in parts)


def user_agent_family(agent: str) -> str:
    """A consumer name from a User-Agent: the product that matters, without its version.

    Bots by their name (`Googlebot`), browsers by family (`Chrome`, `Firefox`, `Safari`, `Edge`),
    anything else (SDKs, curl, okhttp, partner clients) by its first product token (`curl`)."""
    agent = agent.strip()
    if not agent or agent == "-":
        return NO_CONSUMER
    bot = re.search(r"([A-Za-z][\w.-]*(?:bot|spider|crawler|Crawler|Bot|Spider))", agent)
    if bot:
        return bot.group(1)
    if agent.startswith("Mozilla/"):
        for marker, family in (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"),
                               ("Chrome/", "Chrome"), ("Safari/", "Safari"), ("MSIE ", "IE"),
                               ("Trident/", "IE")):
            if marker in agent:
                return family
        return "Mozilla"
    first = re.split(r"[/\s;(]", agent, maxsplit=1)[0]
    return first[:64] or NO_CONSUMER


def client_address(value: str) -> str:
    """`10.0.0.1:56398` -> `10.0.0.1` (ALB and Envoy log the port); IPv6 `[::1]:80` -> `::1`."""
    value = value.strip()
    if not value or value == "-":
        return NO_CONSUMER
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def plain_value(value: str) -> str:
    value = value.strip()
    return NO_CONSUMER if not value or value == "-" else value[:128]


NAMERS = {"user_agent": user_agent_family, "client": client_address, "plain": plain_value}


@dataclass
class CodeTable:
    """Names to small integer codes, first come first served, with a cap: over the cap, `OTHER`.

    Code 0 is reserved for 'all' (the '' aggregate) so codes can key aggregates directly."""

    cap: int
    names: list[str] = field(default_factory=lambda: [""])
    index: dict[str, int] = field(default_factory=dict)
    overflowed: int = 0

    def code(self, name: str) -> int:
        found = self.index.get(name)
        if found is not None:
            return found
        if len(self.names) - 1 >= self.cap and name != OTHER:
            self.overflowed += 1
            return self.code(OTHER)
        self.index[name] = len(self.names)
        self.names.append(name)
        return self.index[name]


@dataclass
class EndpointNamer:
    """Turns (method, number-folded path) dictionary pairs into endpoint codes, remembering names."""

    table: CodeTable
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)

    def code(self, method: str, path: str) -> int:
        key = (method, path)
        found = self._seen.get(key)
        if found is None:
            if len(self._seen) > _CACHE_LIMIT:
                self._seen.clear()
            found = self.table.code(endpoint_name(method, path))
            self._seen[key] = found
        return found


# The IANA HTTP Method Registry (RFC 9110 section 16.1; WebDAV, RFC 5789 PATCH, RFC 9113 PRI, QUERY).
# Methods are case-sensitive: `geti` or `PATCHp` is a malformed request (nginx answers 400), not an
# endpoint, and a scanner inventing methods must not mint endpoints. PURGE: the common cache-purge method.
HTTP_METHODS = frozenset([
    "ACL", "BASELINE-CONTROL", "BIND", "CHECKIN", "CHECKOUT", "CONNECT", "COPY", "DELETE", "GET",
    "HEAD", "LABEL", "LINK", "LOCK", "MERGE", "MKACTIVITY", "MKCALENDAR", "MKCOL", "MKREDIRECTREF",
    "MKWORKSPACE", "MOVE", "OPTIONS", "ORDERPATCH", "PATCH", "POST", "PRI", "PROPFIND", "PROPPATCH",
    "PUT", "QUERY", "REBIND", "REPORT", "SEARCH", "TRACE", "UNBIND", "UNCHECKOUT", "UNLINK", "UNLOCK",
    "UPDATE", "UPDATEREDIRECTREF", "VERSION-CONTROL", "PURGE"
])


def endpoint_name(method: str, path: str) -> str:
    """`GET /orders/{id}`; a request line without a registered method or a path is `{invalid}`."""
    if method not in HTTP_METHODS or not path.startswith("/"):
        return INVALID
    return f"{method} {template_of(path)}"


@dataclass
class ConsumerNamer:
    """Raw consumer field values to consumer codes through a naming function, cached per value."""

    table: CodeTable
    namer: str
    _seen: dict[str, int] = field(default_factory=dict)

    def codes(self, values: list[str]) -> np.ndarray:
        out = np.empty(len(values), dtype=np.int32)
        name_of = NAMERS[self.namer]
        for i, value in enumerate(values):
            found = self._seen.get(value)
            if found is None:
                if len(self._seen) > _CACHE_LIMIT:
                    self._seen.clear()
                found = self.table.code(name_of(value))
                self._seen[value] = found
            out[i] = found
        return out


# ---- log formats ----------------------------------------------------------------------------------
COMBINED = '$remote_addr $remote_ident $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
COMMON = "$remote_addr $remote_ident $remote_user [$time_local] \"$request\" $status $body_bytes_sent"
ALB = (
    "$alb_type $time_iso8601 $alb_name $remote_addr $alb_target $alb_request_s $alb_target_s "
    '$alb_response_s $status $alb_target_status $alb_received $alb_sent "$request" "$http_user_agent" '
    "$ssl_cipher $ssl_protocol$tail"
)
ENVOY = (
    '[$time_iso8601] "$request" $envoy_status $response_flags $bytes_received $bytes_sent '
    '$duration_ms $upstream_service_time "$http_x_forwarded_for" "$http_user_agent" '
    '"$http_x_request_id" "$authority" "$upstream_host"$tail'
)
ENVOY_DETAILS = (
    '[$time_iso8601] "$request" $envoy_status $response_flags $response_code_details '
    '$connection_termination_details "$upstream_transport_failure_reason" $bytes_received $bytes_sent '
    '$duration_ms $upstream_service_time "$http_x_forwarded_for" "$http_user_agent" '
    '"$http_x_request_id" "$authority" "$upstream_host"$tail'
)

INGRESS_NGINX = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_length $request_time [$proxy_upstream_name] '
    "[$proxy_alternative_upstream_name] $upstream_addr $upstream_response_length "
    "$upstream_response_time $upstream_status $req_id$tail"
)
# Earlier and common variants (kubernetes/ingress-nginx internal/ingress/controller/config/config.go,
# logFormatUpstream): before 0.20 the line began `$the_real_ip - [$the_real_ip] - $remote_user` and had
# no alternative upstream; many clusters still set a layout without it. `$tail` takes what follows
# the upstream status (`$req_id`, `$host [$proxy_alternative_upstream_name]` on Alibaba Cloud).
INGRESS_NGINX_NO_ALTERNATIVE = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
    '"$http_user_agent" $request_length $request_time [$proxy_upstream_name] $upstream_addr '
    "$upstream_response_length $upstream_response_time $upstream_status$tail"
)
INGRESS_NGINX_REAL_IP = (
    '$remote_addr - [$the_real_ip] - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" $request_length $request_time [$proxy_upstream_name] $upstream_addr '
    "$upstream_response_length $upstream_response_time $upstream_status$tail"
)

_QUOTED = r'(?:[^"\\]|\\.)*'
_NUMBER = r"-?\d+(?:\.\d+)?"
_UPSTREAM_LIST = r"(?:-|\d+(?:\.\d+)?)(?:(?:, | : )(?:-|\d+(?:\.\d+)?))*"
_UPSTREAM_TOKENS = r"[^\s,]+(?:(?:, | : )[^\s,]+)*"
_TIME_LOCAL = r"\d\d/[A-Za-z]{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}"
_TIME_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?"
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")

# variable -> pattern when it is not quoted; anything else is one non-space token
_VALUE_PATTERNS = {
    "time_local": _TIME_LOCAL,
    "time_iso8601": _TIME_ISO,
    "msec": r"\d+(?:\.\d+)?",
    "status": r"\d{3}",
    "envoy_status": r"\d+",
    "request_time": _NUMBER + "|-",
    "request_time_us": r"\d+|-",
    "duration_ms": r"\d+|-",
    "upstream_response_time": _UPSTREAM_LIST,
    "upstream_connect_time": _UPSTREAM_LIST,
    "upstream_header_time": _UPSTREAM_LIST,
    "upstream_queue_time": _UPSTREAM_LIST,
    "upstream_response_length": _UPSTREAM_LIST,
    "upstream_bytes_received": _UPSTREAM_LIST,
    "upstream_bytes_sent": _UPSTREAM_LIST,
    "upstream_status": r"(?:-|\d+)(?:(?:, | : )(?:-|\d+))*",
    "alb_request_s": _NUMBER,
    "alb_target_s": _NUMBER,
    "alb_response_s": _NUMBER,
    "tail": r"[^\r\n]*",
    "tail_token": r"\S+",
    "tail_quoted": r'"' + _QUOTED + r'"',
    "kv_skip": r"(?:[^\r\n]*? )?",
}
_GENERIC = ("tail_token", "tail_quoted", "kv_skip", "tail")
# latency variables and the factor that turns them into microseconds
LATENCY_VARIABLES = {"request_time": 1e6, "request_time_us": 1.0, "duration_ms": 1e3,
                     "upstream_response_time": 1e6}
ALB_LATENCY = ("alb_request_s", "alb_target_s", "alb_response_s")
TIME_VARIABLES = ("time_local", "time_iso8601", "msec")


@dataclass(frozen=True)
class LineFormat:
    """One log format: a name for messages and an nginx-style template of `$variables`."""

    name: str
    template: str
    problem: str | None = None  # why this layout cannot be read without --log-format (refused)
    caveat: str | None = None  # an assumption the reading rests on (shown with the line count)

    @property
    def variables(self) -> list[str]:
        return [a or b for a, b in _VARIABLE.findall(self.template)]

    def latency_variable(self) -> str | None:
        names = self.variables
        if all(v in names for v in ALB_LATENCY):
            return "alb"
        return next((v for v in LATENCY_VARIABLES if v in names), None)

    def time_variable(self) -> str | None:
        return next((v for v in TIME_VARIABLES if v in self.variables), None)


def compile_template(template: str, capture: set[str]) -> str:
    """An nginx `log_format` template -> an anchored RE2 pattern capturing the `capture` variables.

    Quoted variables match an escaped string (`\\"` and `\\xNN` stay inside); `$request` is split
    into `method` and `path` (query string dropped) and still matches junk request lines."""
    out, pos, seen = ["^"], 0, set()
    for match in _VARIABLE.finditer(template):
        out.append(_literal(template[pos:match.start()]))
        name = match.group(1) or match.group(2)
        quoted = template[match.start() - 1:match.start()] == '"' and template[match.end():match.end() + 1] == '"'
        out.append(_variable_pattern(name, quoted, name in capture and name not in seen))
        seen.add(name)
        pos = match.end()
    out.append(_literal(template[pos:]))
    out.append(r"\r?\n?$")
    return "".join(out)


def _literal(text: str) -> str:
    return "".join("\\" + ch if ch in r"\.^$|?*+()[]{}" else ch for ch in text)


def _variable_pattern(name: str, quoted: bool, capture: bool) -> str:
    if name == "request":
        if capture:
            head = r'(?P<method>[A-Za-z]*) ?(?P<path>[^ ?"\\]*)' if quoted else r"(?P<method>[A-Za-z]*) ?(?P<path>[^ ?]*)"
        else:
            head = ""
        return head + (_QUOTED if quoted else r"\S*(?: \S+)?")
    specific = _VALUE_PATTERNS.get(name)
    if specific is None and name.startswith("upstream_"):
        specific = _UPSTREAM_TOKENS  # nginx writes one value per upstream tried, `, ` or ` : ` separated
    if quoted and (specific is None or name in _GENERIC or name.startswith("upstream_")):
        body = _QUOTED
    else:
        body = specific or r"\S*"
    return f"(?P<{name}>{body})" if capture else f"(?:{body})"


HEAD_LINES = 200  # lines the format is recognised from


# ---- choosing a format for a file ---------------------------------------------------------------
# request-time keys of key=value tails, preferred first (the whole request before the upstream's part)
TAIL_KEYS = ("request_time", "rt", "rtime", "req_time", "request_duration", "response_time", "duration_ms",
             "latency_ms", "urt", "upstream_response_time")
_TAIL_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\S+')
_NUMERIC = re.compile(r"^\d+(?:\.\d+)?$")


def builtin_formats() -> list[LineFormat]:
    return [
        LineFormat("AWS ALB", ALB),
        LineFormat("Envoy", ENVOY),
        LineFormat("Envoy (with response details)", ENVOY_DETAILS),
        # before combined: an ingress-nginx line is also a combined line with a tail
        LineFormat("ingress-nginx", INGRESS_NGINX),  # first: its lines also match the two below
        LineFormat("ingress-nginx (no alternative upstream)", INGRESS_NGINX_NO_ALTERNATIVE),
        LineFormat("ingress-nginx (before 0.20, [$the_real_ip])", INGRESS_NGINX_REAL_IP),
        LineFormat("combined", COMBINED + "$tail"),
        LineFormat("common", COMMON + "$tail"),
    ]


def head_lines(head: bytes, limit: int = HEAD_LINES) -> list[str]:
    """The first non-blank lines, split on newlines only (a NEL byte inside a line stays there)."""
    lines = [line.rstrip(b"\r").decode("latin-1") for line in head.split(b"\n")]
    if len(head) >= 4096 and not head.endswith(b"\n"):
        lines = lines[:-1]  # a cut line is not evidence
    return [line for line in lines if line.strip()][:limit]


def detect_format(lines: list[str], lenient: bool = False) -> LineFormat | None:
    """The built-in format most of the head lines match (lenient: any line), refined with the
    request-time tail; else the same after a word every line starts with (Ambassador's `ACCESS `)."""
    found = _detect_builtin(lines, lenient)
    if found is not None or not lines:
        return found
    words = Counter(line.split(" ", 1)[0] for line in lines)
    # strict: every line starts with the word; lenient (a container's mixed output): the commonest words
    candidates = [w for w, _ in words.most_common(3)] if lenient else list(words)[:1] if len(words) == 1 else []
    for prefix in (w for w in candidates if _PREFIX.match(w)):
        found = _detect_builtin([line[len(prefix) + 1:] for line in lines if line.startswith(prefix + " ")], lenient)
        if found is not None:
            return LineFormat(f"{found.name} after '{prefix} '", f"{prefix} {found.template}", found.problem,
                              found.caveat)
    return None


_PREFIX = re.compile(r"^[A-Za-z][\w.-]*:?$")


def _detect_builtin(lines: list[str], lenient: bool) -> LineFormat | None:
    best, best_hits = None, 0
    for fmt in builtin_formats():
        regex = re.compile(compile_template(fmt.template, {"tail"}))
        hits = sum(1 for line in lines if regex.match(line))
        if hits > best_hits:
            best, best_hits = fmt, hits
    if best is None or (best_hits * 2 < len(lines) and not lenient):
        return None
    if best.name in ("combined", "common"):
        return _with_request_time(best, lines)
    return best


def _with_request_time(fmt: LineFormat, lines: list[str]) -> LineFormat:
    """combined/common + what follows them: a `key=value` request time, or the first bare number
    (a decimal = seconds as nginx `$request_time`; an integer = microseconds as Apache `%D`)."""
    base = fmt.template.removesuffix("$tail")
    regex = re.compile(compile_template(fmt.template, {"tail"}))
    matched = [m for m in map(regex.match, lines) if m]
    tails = [m.group("tail") for m in matched if m.group("tail").strip()]
    if len(tails) * 2 < len(matched):
        return LineFormat(fmt.name, base + "$tail")
    key = _tail_key(tails)
    if key is not None:
        variable = "request_time_us" if key.endswith("_us") else "duration_ms" if key.endswith("_ms") else "request_time"
        quote = '"' if f'{key}="' in tails[0] else ""
        return LineFormat(f"{fmt.name} + {key}=", f"{base} ${{kv_skip}}{key}={quote}${variable}{quote}$tail")
    index = _first_number_index(tails)
    if index is None:
        return LineFormat(fmt.name, base + "$tail")
    tokens = _TAIL_TOKEN.findall(tails[0])
    sample = tokens[index]
    variable = "request_time" if "." in sample else "request_time_us"
    skipped = "".join(" $tail_quoted" if tok.startswith('"') else " $tail_token" for tok in tokens[:index])
    unit = "$request_time" if variable == "request_time" else "%D"
    name = f"{fmt.name} + {unit}"
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    if variable == "request_time_us" and _NUMERIC.match(following):
        # `2057 0.033`: a size ($request_length, %I) then a time, or %D then %T? Never guess.
        return LineFormat(name, f"{base}{skipped} ${variable}$tail", problem=(
            f"two bare numbers follow the {fmt.name} fields ({sample} {following}) in a layout perfops does "
            "not recognise: the first could be a size in bytes or a time in microseconds"))
    caveat = None
    if _NUMERIC.match(following):
        caveat = (f"the first of two numbers after the {fmt.name} fields ({sample} {following}) was read as "
                  "$request_time in seconds; pass --log-format if the layout differs")
    return LineFormat(name, f"{base}{skipped} ${variable}$tail", caveat=caveat)


def _tail_key(tails: list[str]) -> str | None:
    """The preferred request-time key that every tail has (`request_time=0.025`), if any."""
    for key in TAIL_KEYS:
        pattern = re.compile(r"(?:^|\s)" + key + r"=\"?(?:-|\d+(?:\.\d+)?)")
        if all(pattern.search(tail) for tail in tails):
            return key
    return None


def _first_number_index(tails: list[str]) -> int | None:
    indexes = set()
    for tail in tails:
        tokens = _TAIL_TOKEN.findall(tail)
        index = next((i for i, t in enumerate(tokens) if _NUMERIC.match(t)), None)
        if index is None:
            return None
        indexes.add(index)
    return indexes.pop() if len(indexes) == 1 else None


def user_format(log_format: str) -> LineFormat:
    """A user's nginx `log_format` string (the part in quotes, concatenated), checked for the
    fields perfops needs: a time and `$request` and `$status`."""
    text = log_format.strip().strip("'")
    fmt = LineFormat("log_format", text)
    missing = [v for v in ("$request", "$status") if v[1:] not in fmt.variables]
    if fmt.time_variable() is None:
        missing.append("$time_local, $time_iso8601 or $msec")
    if missing:
        raise InputError(
            f"the log_format lacks {', '.join(missing)}; perfops needs a time, the request line and the status",
            field="--log-format",
        )
    return fmt


# ---- the consumer ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsumerSource:
    """Where a line's consumer comes from: a format variable and how to name its values."""

    variable: str | None  # None = no consumer breakdown
    namer: str = "plain"


def consumer_source(fmt: LineFormat, consumer_field: str | None) -> ConsumerSource:
    """`header:x-api-key` -> `$http_x_api_key`; `user_agent` -> the agent's family; `client` ->
    the client address; `field:NAME` -> any variable; `none` -> no breakdown.

    Default: an API-key header when the format logs one (`$http_x_api_key`, `$http_api_key`,
    `$http_x_client_id`), else the user-agent family when the format has a user agent, else none."""
    names = fmt.variables
    choice = (consumer_field or "").strip()
    if not choice:
        for header in ("http_x_api_key", "http_api_key", "http_x_client_id", "http_x_consumer"):
            if header in names:
                return ConsumerSource(header)
        return ConsumerSource("http_user_agent", "user_agent") if "http_user_agent" in names else ConsumerSource(None)
    lowered = choice.lower()
    if lowered == "none":
        return ConsumerSource(None)
    if lowered in ("user_agent", "user-agent", "ua", "agent"):
        return _require(fmt, "http_user_agent", "user_agent", choice)
    if lowered in ("client", "remote_addr", "ip", "client_ip", "address"):
        return _require(fmt, "remote_addr", "client", choice)
    if lowered.startswith("header:"):
        variable = "http_" + lowered.split(":", 1)[1].strip().replace("-", "_")
        return _require(fmt, variable, "user_agent" if variable == "http_user_agent" else "plain", choice)
    if lowered.startswith("field:"):
        return _require(fmt, lowered.split(":", 1)[1].strip().lstrip("$"), "plain", choice)
    raise InputError(
        f"unknown consumer field '{choice}'; expected user_agent, client, header:NAME, field:VARIABLE or none",
        field="--consumer-field",
    )


def _require(fmt: LineFormat, variable: str, namer: str, choice: str) -> ConsumerSource:
    if variable not in fmt.variables:
        raise InputError(
            f"the consumer field '{choice}' is not in this log's format ({fmt.name}); it has "
            f"{', '.join('$' + v for v in fmt.variables if v not in _GENERIC)}",
            field="--consumer-field",
            hint=f"add ${variable} to the nginx log_format and pass it with --log-format",
        )
    return ConsumerSource(variable, namer)
