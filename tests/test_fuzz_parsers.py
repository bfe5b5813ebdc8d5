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
# Add an entry only for a bug found and not yet fixed; remove it when test_known_bug_still_reproduces
# says it is fixed. The 24 reader bugs found on 2026-11-27 (docs/reliability.md) are fixed: their
# minimal inputs are regression tests in tests/test_reader_hostile_inputs.py.
KNOWN: dict[tuple[str, str, str], tuple[str, bytes, str]] = {
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


def check(reader_name: str, path: Path, options: IngestOptions, store) -> P.Outcome | None:
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
def store_state(workspace) -> tuple:
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
def _telemetry(**changes) -> IngestBatch:
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

    def refuse(p, options):
        raise PerfopsError("something is wrong")

    unnamed = readers()["events"].__class__(name="stub", description="", sniff=lambda p, h: False, read=refuse)
    with pytest.raises(P.Violation, match="does not name the file"):
        P.read_checked(unnamed, path, IngestOptions(catalog=catalog))
