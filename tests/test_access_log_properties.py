"""Property tests: whatever junk a log holds, the reader loads it or says which line is wrong."""

from __future__ import annotations

import re
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
GOOD = '10.0.0.1 - - [01/Mar/2026:10:00:{:02d} +0000] "GET /orders/{} HTTP/1.1" {} 12 "-" "curl/8.0" 0.{:03d}'

good_line = st.builds(lambda s, i, code, ms: GOOD.format(s, i, code, ms),
                      st.integers(0, 59), st.integers(0, 10**6), st.sampled_from([200, 301, 404, 500, 503]),
                      st.integers(0, 999))
junk_line = st.text(alphabet=st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)),
                    min_size=1, max_size=80).filter(lambda t: t.strip())
lines = st.lists(st.one_of(good_line, good_line, junk_line), min_size=3, max_size=40)


def _write(text: str) -> Path:
    with tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False) as handle:
        handle.write(text.encode("utf-8", errors="surrogateescape"))
    return Path(handle.name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_junk_lines_load_or_fail_with_a_line_number(content):
    path = _write("\n".join(content) + "\n")
    good = sum(1 for x in content if x.startswith("10.0.0.1 - - [") and re.match(
        tpl.compile_template(tpl.COMBINED + " $request_time$tail", set()), x))
    try:
        batch = al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web"))
    except InputError as err:
        assert err.line is not None and 1 <= err.line <= len(content)
        assert err.path == str(path)
    else:
        assert batch.telemetry is not None
    if good == 0:  # nothing to recognise the format by: a clear error naming line 1
        try:
            al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web", skip_bad_rows=True))
        except InputError as err:
            assert err.line == 1
            return
    batch = al.read_access_log(path, IngestOptions(catalog=CATALOG, service="web", skip_bad_rows=True))
    requests = batch.telemetry
    counted = requests[(requests.metric == "requests") & (requests.endpoint == "") & (requests.consumer == "")]
    assert counted["value"].sum() == good
    assert len(batch.skipped) == len(content) - good
    for entry in batch.skipped:
        where, _, reason = entry.partition(": ")
        assert where.startswith(f"{path}:") and int(where.rsplit(":", 1)[1]) >= 1 and reason
