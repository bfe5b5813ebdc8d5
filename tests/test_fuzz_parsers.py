"""Every reader, fed hostile input (hypothesis): it loads the file into the canonical schema, or
refuses it with a PerfopsError that names the file — never another exception. And through the
ingest use case, a refused file leaves the store exactly as it was.

Inputs are real seeds (fuzz/seeds/<reader>/, and ../shared/samples when present) put through the
mutations of fuzz/properties.py: truncation, UTF-16 / latin-1 / BOM, CRLF, enormous lines,
NaN / inf / negative numbers, shuffled and duplicated lines, mixed time zones, columns in another
order, empty files, binary junk. The same property drives the atheris fuzzers (fuzz/README.md);
this is the small-budget version that runs with `make test`.

Known bugs, found by the fuzzers and not yet fixed by the reader's owner, are listed in KNOWN with
their minimal input: the property test tolerates exactly those signatures, and
`test_known_bug_still_reproduces` (strict xfail) turns red the day one is fixed, so the entry is
removed and the property guards it from then on.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from perfops.errors import PerfopsError
from perfops.ingest.base import IngestBatch, IngestOptions
from perfops.ingest.registry import readers
from perfops.store import open_store

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "fuzz"))
import properties as P  # noqa: E402

READERS = sorted(readers())
MUTATIONS = sorted(P.MUTATIONS)
EXAMPLES = int(os.environ.get("PERFOPS_FUZZ_EXAMPLES", "30"))  # per reader; raise it for a long run

# (reader, exception type, innermost perfops file:function) -> (file to fix, minimal input, what breaks).
# Found by fuzz/run_all.sh and this file on 2026-11-27 (docs/reliability.md); remove an entry when
# test_known_bug_still_reproduces says it is fixed.
BAD_GZIP = b"\x1f\x8b\x08\x00broken gzip"
TRUNCATED_GZIP = b"\x1f\x8b*4-"
HUGE_INT = b"9" * 5000  # more digits than Python's int() accepts (sys.get_int_max_str_digits)
GATLING = b"RUN\tSim\tsim-1\t1767607200000\t \t3.9.5\nUSER\tB\tSTART\t1767607200100\n"
JTL_XML = b'<?xml version="1.0"?>\n<testResults version="1.2">\n<httpSample %s s="true" lb="GET /cart" rc="200"/>\n</testResults>\n'
K6_POINT = (b'{"metric":"http_req_duration","type":"Point","data":{"time":"2026-01-05T10:00:00Z","value":5,'
            b'"tags":{"name":"GET /cart"}}}\n')
KNOWN: dict[tuple[str, str, str], tuple[str, bytes, str]] = {
    ("prometheus-text", "Violation", "prometheus-text.telemetry.timestamp"):
        ("ingest/prometheus_text.py", b'http_server_requests_total{service="checkout-api",endpoint="GET /cart",code="200"} '
         b'1027 17676072000000\n' * 2 + b"# EOF",
         "a sample time in the year 2530 becomes a NaT row (the store's NOT NULL then refuses the file)"),
    ("otlp-json", "OverflowError", "otlp_json.py:_metric_points"):
        ("ingest/otlp_json.py", b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"x","sum":'
         b'{"aggregationTemporality":Infinity,"dataPoints":[{}]}}]}]}]}', "int(Infinity) of aggregationTemporality"),
    ("gatling", "OverflowError", "gatling.py:_assemble"):
        ("ingest/gatling.py", GATLING + b"REQUEST\t\tPOST /checkout\t99999999999999999999\t1767607200300\tOK\t \n",
         "a timestamp beyond int64"),
    ("gatling", "ValueError", "testrun_common.py:epoch_ms_to_naive"):
        ("ingest/testrun_common.py", GATLING + b"REQUEST\t\tPOST /checkout\t1767607200200\t9999999999999999\tOK\t \n",
         "datetime.fromtimestamp: year out of range"),
    ("gatling", "InputError", "testrun_common.py:add"):
        ("ingest/testrun_common.py", GATLING + b"REQUEST\t\tPOST /a\t1767607200200\t1767607200300\tOK\t \n"
         b"REQUEST\t\tPOST /a\t767607200200\t767607200300\tOK\t \n",
         "'the samples span more than 15 days' does not name the file (InputError without path=)"),
    ("gatling", "IndexError", "testrun_common.py:<listcomp>"):
        ("ingest/testrun_common.py", b"REQUEST\touter,inner  with comma\tGET /slow\t1788379665736\t0788379667239\tOK\t ",
         "endpoint code out of range in the stats (line 295)"),
    ("jmeter", "IndexError", "jmeter.py:_first_line"):
        ("ingest/jmeter.py", b"\xef\xbb\xbf", "sniff of a BOM-only file: splitlines()[0] of ''"),
    ("jmeter", "IndexError", "jmeter.py:csv_layout"):
        ("ingest/jmeter.py", b"timeStamp\telapsed\tlabel\r\n\r\n1488473413202\t1008\tGET /cart\r\n",
         "a blank line after the header (CRLF)"),
    ("jmeter", "ValueError", "jmeter.py:_xml_row"):
        ("ingest/jmeter.py", JTL_XML % b't="1,5" ts="1767607200000"', "int('1,5') of an XML attribute"),
    ("jmeter", "OverflowError", "jmeter.py:_flush_xml"):
        ("ingest/jmeter.py", JTL_XML % b't="100" ts="99999999999999999999999"', "an XML ts beyond int64"),
    ("jmeter", "InputError", "testrun_common.py:add"):
        ("ingest/testrun_common.py", b"timeStamp,elapsed,label,responseCode,success\n1767607200000,10,GET /cart,200,true\n"
         b"767607200000,10,GET /cart,200,true\n", "'the samples span more than 15 days' does not name the file"),
    ("jmeter", "InputError", "jmeter.py:_epoch_ms"):
        ("ingest/jmeter.py", b"timeStamp,elapsed,label,responseCode,success\n2019/12/05 12:37:24,10,GET /cart,200,true\n"
         b"2019-12-05T12:37:25,10,GET /cart,200,true\n", "'a timeStamp does not match the format' does not name the file"),
    ("k6", "ValueError", "k6.py:_epoch_ms"):
        ("ingest/k6.py", K6_POINT.replace(b"10:00:00Z", b"10:00:00.1+0x1A:00"), "fromisoformat of a bad offset"),
    ("k6", "KeyError", "k6.py:read_ndjson"):
        ("ingest/k6.py", K6_POINT + b'{"metric":"http_req_duration","type":"Point","data":{"value":1}}\n',
         "a Point without data.time"),
    ("k6", "InputError", "testrun_common.py:add"):
        ("ingest/testrun_common.py", K6_POINT + K6_POINT.replace(b"2026-01-05", b"2026-03-05"),
         "'the samples span more than 15 days' does not name the file"),
    ("k6", "ValueError", "k6.py:read_summary"):
        ("ingest/k6.py", HUGE_INT, "json.loads: integer with more than 4300 digits"),
    ("locust", "Error", "locust.py:read_table"):
        ("ingest/locust.py", b"Name,Error,Occurrences\r\r,Method\n", "csv.Error: new-line character in unquoted field"),
    ("locust", "AttributeError", "locust.py:_stats_endpoints"):
        ("ingest/locust.py", b"Type,Name,Request Count,Failure Count,Name\nGET,/a,1,0,/b\n",
         "a repeated column name makes stats['Name'] a DataFrame"),
    ("locust", "TypeError", "locust.py:_number"):
        ("ingest/locust.py", b"Type,Name,Request Count,Request Count\nGET,/a,1,2\n", "a repeated numeric column"),
    ("locust", "ValueError", "locust.py:<listcomp>"):
        ("ingest/locust.py", b"Type,Name,Request Count,Failure Count,Type\nGET,/a,1,0,POST\n",
         "a repeated Type column: zip(strict=True) of names and methods"),
    ("jmeter", "KeyError", "jmeter.py:_add_block"):
        ("ingest/jmeter.py", b"timeStamp,elapsed,label,responseCode\n1767607202750,197,GET /cart,200\n",
         "a header without a success column"),
    ("jmeter", "LookupError", "jmeter.py:read_xml_jtl"):
        ("ingest/jmeter.py", b'<?xml version="1.0" encoding="UTV-8"?>\n<testResults version="1.2">',
         "an unknown XML encoding"),
    ("gatling", "OutOfBoundsDatetime", "testrun_common.py:run_frame"):
        ("ingest/testrun_common.py", b"REQUEST\t\t03_Create_Post\t1767826094567\t176782609458715\tOK\t ",
         "an end time in the year 7572 overflows pandas nanoseconds"),
    ("cloudwatch-json", "Violation", "cloudwatch-json.telemetry.timestamp"):
        ("ingest/cloudwatch_json.py", b'{"Label": "CPUUtilization", "Datapoints": [{"Average": 0.466, "Unit": "Percent"}]}',
         "a datapoint without Timestamp becomes a NaT row (the store's NOT NULL then refuses the file)"),
}


def shared_root() -> Path | None:
    """../shared when present (the `shared_dir` fixture's rule, without skipping)."""
    env = os.environ.get("PERFOPS_SHARED")
    for candidate in ([Path(env)] if env else []) + [ROOT.parent / "shared", ROOT.parent.parent / "shared"]:
        if (candidate / "samples").is_dir():
            return candidate
    return None


SHARED = shared_root()
SEEDS = {name: P.seed_files(name, SHARED, max_bytes=128 * 1024) for name in READERS}
ALL_SEEDS = sorted({p for files in SEEDS.values() for p in files})


@pytest.fixture(scope="module")
def catalog():
    return P.load_catalog()


@pytest.fixture(scope="module")
def scratch():
    folder = Path(tempfile.mkdtemp(prefix="perfops-fuzz-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def memory_store():
    store = open_store(None)
    yield store
    store.close()


def signature(reader: str, exc: BaseException) -> tuple[str, str, str]:
    cause = exc.__cause__ if isinstance(exc, P.Violation) and exc.__cause__ else exc
    frames = [f for f in traceback.extract_tb(cause.__traceback__) if "/perfops/" in f.filename]
    where = f"{Path(frames[-1].filename).name}:{frames[-1].name}" if frames else "?"
    if isinstance(cause, P.Violation):  # a broken schema: the field it concerns
        where = str(cause).split(":", 1)[0]
    return reader, type(cause).__name__, where


def check(reader_name: str, path: Path, options: IngestOptions, store) -> P.Outcome | None:  # noqa: ANN001
    """The property, tolerating only the KNOWN bugs of this reader."""
    try:
        return P.read_checked(readers()[reader_name], path, options, store)
    except Exception as exc:
        if signature(reader_name, exc) in KNOWN:
            return None
        raise


hostile_input = st.fixed_dictionaries({
    "seed": st.integers(min_value=0),
    "mutations": st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3),
    "rng": st.integers(min_value=0, max_value=2**32 - 1),
    "service": st.sampled_from([None, "checkout-api"]),
    "skip_bad_rows": st.booleans(),
    "own_name": st.booleans(),
})


@pytest.mark.parametrize("reader_name", READERS)
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(case=hostile_input)
def test_a_reader_loads_hostile_input_or_refuses_it_naming_the_file(reader_name, case, catalog, scratch,
                                                                   memory_store):
    seeds = SEEDS[reader_name] or ALL_SEEDS  # a new format without seeds is fed every other format
    seed = seeds[case["seed"] % len(seeds)]
    data = P.mutate(seed.read_bytes(), case["mutations"], case["rng"])
    folder = Path(tempfile.mkdtemp(dir=scratch))  # alone: some readers also open companion files
    path = folder / (seed.name if case["own_name"] else P.FILE_NAMES.get(reader_name, seed.name))
    path.write_bytes(data)
    options = IngestOptions(catalog=catalog, service=case["service"], skip_bad_rows=case["skip_bad_rows"])
    check(reader_name, path, options, memory_store)


@pytest.mark.parametrize("reader_name", READERS)
def test_every_seed_of_a_reader_loads(reader_name, catalog, scratch, memory_store):
    """The seeds are valid files: the mutations start from something the reader accepts."""
    own = [p for p in SEEDS[reader_name] if p.parent.parent == P.SEEDS]
    assert own, f"fuzz/seeds/{reader_name}/ is empty: add a valid file (fuzz/make_seeds.py)"
    for seed in own:
        outcome = check(reader_name, seed, IngestOptions(catalog=catalog, service="checkout-api"), memory_store)
        assert outcome is None or outcome.status == "loaded", (seed, outcome)


@pytest.mark.parametrize("reader_name", READERS)
@pytest.mark.parametrize("content", [b"", b"\n", b"\xef\xbb\xbf", b"\x00" * 64, b"\xff\xfe\x00\x00garbage",
                                     b"\x1f\x8b\x08\x00broken gzip"], ids=["empty", "newline", "bom", "nul",
                                                                        "utf32-bom", "bad-gzip"])
def test_degenerate_files_are_refused_or_empty(reader_name, content, catalog, scratch, memory_store):
    path = scratch / f"degenerate-{reader_name}" / P.FILE_NAMES.get(reader_name, "input.txt")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)
    outcome = check(reader_name, path, IngestOptions(catalog=catalog, service="checkout-api"), memory_store)
    assert outcome is None or outcome.status == "refused" or outcome.rows == 0


@pytest.mark.parametrize("key", sorted(KNOWN), ids=lambda k: f"{k[0]}-{k[1]}-{k[2]}")
def test_known_bug_still_reproduces(key, catalog, scratch):
    reader_name, _, _ = key
    owner, data, what = KNOWN[key]
    path = scratch / f"known-{reader_name}" / P.FILE_NAMES.get(reader_name, "input.txt")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    try:
        P.read_checked(readers()[reader_name], path, IngestOptions(catalog=catalog, service="checkout-api"))
    except Exception as exc:
        if signature(reader_name, exc) == key:
            pytest.xfail(f"known bug in {owner}: {what}")
        raise
    pytest.fail(f"{key} no longer reproduces: it is fixed — remove it from KNOWN")


# ---- through the use case: a refused file changes nothing ------------------------------------
def store_state(workspace) -> tuple:  # noqa: ANN001
    with open_store(workspace.store_path) as store:
        tables = tuple(store.con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                       for t in ("test_runs", "test_endpoints", "test_series", "ingested_files"))
        return store.telemetry.snapshot(), tables


@settings(max_examples=max(25, EXAMPLES // 2), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=hostile_input, reader_index=st.integers(min_value=0))
def test_ingest_of_hostile_input_is_all_or_nothing(case, reader_index, tmp_path_factory):
    from perfops.usecases.ingest import ingest_paths
    from perfops.workspace import Workspace

    root = tmp_path_factory.mktemp("ws")
    (root / "perfops.yaml").write_text(P.CATALOG_TEXT)
    workspace = Workspace(root)
    baseline = P.SEEDS / "telemetry" / "long.csv"
    ingest_paths(workspace, [baseline])
    before = store_state(workspace)
    reader_name = READERS[reader_index % len(READERS)]
    seeds = SEEDS[reader_name] or ALL_SEEDS
    seed = seeds[case["seed"] % len(seeds)]
    path = root / "in" / (seed.name if case["own_name"] else P.FILE_NAMES.get(reader_name, seed.name))
    path.parent.mkdir()
    path.write_bytes(P.mutate(seed.read_bytes(), case["mutations"], case["rng"]))
    try:
        results = ingest_paths(workspace, [path], service=case["service"] or "checkout-api",
                               skip_bad_rows=case["skip_bad_rows"])
    except PerfopsError as exc:
        assert str(path) in str(exc) or path.name in str(exc), str(exc)
        assert store_state(workspace) == before
        return
    except Exception as exc:
        if signature(reader_name, exc) in KNOWN or any(signature(r, exc) in KNOWN for r in READERS):
            assert store_state(workspace) == before
            return
        raise
    assert [r.status for r in results] in (["loaded"], ["unchanged"])


# ---- the checker itself catches what it should ------------------------------------------------
def _telemetry(**changes) -> IngestBatch:  # noqa: ANN003
    row = {"timestamp": pd.Timestamp("2026-01-05 10:00"), "service": "payments", "endpoint": "", "consumer": "",
           "metric": "requests", "value": 1.0, **changes}
    frame = pd.DataFrame([row])
    if isinstance(row["timestamp"], pd.Timestamp) and row["timestamp"].tzinfo is None:
        frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    return IngestBatch(telemetry=frame)


@pytest.mark.parametrize("changes", [
    {"value": float("nan")}, {"value": float("inf")}, {"service": "ghost"}, {"metric": "bogus"},
    {"endpoint": None}, {"timestamp": None}, {"timestamp": pd.Timestamp("2026-01-05 10:00", tz="UTC")},
])
def test_the_schema_check_refuses_broken_batches(changes, catalog):
    with pytest.raises(P.Violation):
        P.check_batch(_telemetry(**changes), catalog, "test")


def test_the_schema_check_accepts_a_good_batch_and_refuses_an_error_without_the_file(catalog, scratch):
    P.check_batch(_telemetry(), catalog, "test")
    path = scratch / "named.csv"
    path.write_bytes(b"x")

    def refuse(p, options):  # noqa: ANN001, ANN202
        raise PerfopsError("something is wrong")

    unnamed = readers()["events"].__class__(name="stub", description="", sniff=lambda p, h: False, read=refuse)
    with pytest.raises(P.Violation, match="does not name the file"):
        P.read_checked(unnamed, path, IngestOptions(catalog=catalog))
