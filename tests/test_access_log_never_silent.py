"""Never a silent wrong number: a line the access-log reader cannot fully interpret is refused
naming its line, or skipped and listed (--skip-bad-rows), or counted in a note or a named bucket.

Hypothesis builds logs of good lines and lines with one field spoiled; the expected outcome of
each spoiled kind is written down here, and the totals are computed from the generated lines.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.errors import InputError
from perfops.ingest import access_log as al
from perfops.ingest import access_templates as tpl
from perfops.ingest.base import IngestOptions
from perfops.workspace import parse_catalog

CATALOG = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")
LOG_FORMAT = ('$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" '
              '"$http_user_agent" $request_time $upstream_response_time $upstream_status')

# kind -> what the reader must do with such a line
REFUSED = {"junk", "status", "date", "offset", "cut", "upstream_junk"}
COUNTED = {"good", "no_time", "long_time", "method", "retried"}


def line(kind: str, second: int, ms: int, text: str) -> str:
    """One nginx line of LOG_FORMAT, spoiled as `kind` says."""
    when, method, status, rt, upstream = f"01/Mar/2026:10:{second // 60:02d}:{second % 60:02d} +0000", "GET", "200", \
        f"{ms / 1000:.3f}", f"{ms / 1000:.3f} 200"
    if kind == "status":
        status = str(600 + ms % 400)
    elif kind == "date":
        when = f"3{ms % 10}/Feb/2026:25:00:00 +0000"
    elif kind == "offset":
        when = f"01/Mar/2026:10:00:00 +{15 + ms % 80:02d}00"
    elif kind == "no_time":
        rt = "-"
    elif kind == "long_time":
        rt = f"{4300 + ms}.000"  # a websocket held open over 71 minutes
    elif kind == "method":
        method = "".join(ch for ch in text if ch.isascii() and ch.isalnum())[:8].lower() or "x"
    elif kind == "retried":
        status, upstream = "502", "0.001, 0.002 : 0.003 502, 504 : 502"
    elif kind == "upstream_junk":
        upstream = "0.1; 0.2 200"
    out = (f'10.0.0.1 - - [{when}] "{method} /orders/{ms} HTTP/1.1" {status} 12 "-" "curl/8.0" {rt} '
           f"{upstream}")
    if kind == "cut":
        return out[:len(out) - len(upstream) - len(rt) - 2 - ms % 20]  # cut before the request time
    if kind == "junk":
        return "".join(ch for ch in text if ch.isprintable()) or "?"
    return out


kinds = st.sampled_from(sorted(REFUSED | COUNTED))
entry = st.tuples(kinds, st.integers(0, 179), st.integers(1, 999), st.text(min_size=1, max_size=40))
logs = st.lists(entry, min_size=1, max_size=30)


def _write(lines: list[str]) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8", errors="replace"))
    return Path(handle.name)


def _total(batch: al.IngestBatch, metric: str, endpoint: str = "") -> float:
    tel = batch.telemetry
    return tel[(tel.metric == metric) & (tel.endpoint == endpoint) & (tel.consumer == "")]["value"].sum()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.tuples(st.integers(0, 179), st.integers(1, 999)), logs)
def test_every_line_is_refused_by_number_or_counted(first, entries):
    entries = [("good", first[0], first[1], "")] + entries  # the format needs one readable line
    lines = [line(*e) for e in entries]
    path = _write(lines)
    refused = [i + 1 for i, e in enumerate(entries) if e[0] in REFUSED]
    try:
        strict = al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web", log_format=LOG_FORMAT))
    except InputError as err:
        assert err.line in refused and err.path == str(path)
    else:
        assert refused == []
        assert strict.skipped == []
    batch = al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web", log_format=LOG_FORMAT,
                                                   skip_bad_rows=True))
    assert sorted(int(s[len(f"{path}:"):].split(":", 1)[0]) for s in batch.skipped) == refused
    counted = [e for e in entries if e[0] in COUNTED]
    assert _total(batch, "requests") == len(counted)
    assert _total(batch, "errors") == sum(1 for e in counted if e[0] == "retried")
    assert _total(batch, "requests", tpl.INVALID) == sum(1 for e in counted if e[0] == "method")
    no_time = sum(1 for e in counted if e[0] == "no_time")
    assert any(f"{no_time:,} requests had no request time" in n for n in batch.notes) == (no_time > 0)
    times = [4300 + e[2] if e[0] == "long_time" else e[2] / 1000 for e in counted if e[0] != "no_time"]
    if times:
        tel = batch.telemetry
        top = tel[(tel.metric == "latency_max_ms") & (tel.endpoint == "") & (tel.consumer == "")]["value"].max()
        assert abs(top - max(times) * 1000) < 1e-6
