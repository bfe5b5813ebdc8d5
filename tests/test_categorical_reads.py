"""`perfops analyze` reads telemetry as categoricals (a fraction of the memory); every area,
feedback and journeys included, must find exactly what it finds on plain string columns."""

from __future__ import annotations

import warnings

from perfops.store import open_store
from perfops.usecases.analyze import run_all
from perfops.usecases.context import build_context


def _records(findings):
    return sorted((f.id, f.kind, f.severity, f.title, str(f.start)) for f in findings)


def test_categorical_reads_give_the_same_findings_on_the_demo(demo_run):
    manifest, workspace, _ = demo_run
    catalog = workspace.load_catalog()
    with open_store(workspace.store_path, read_only=True) as store:
        plain = build_context(store, catalog, now=manifest.end, categorical=False)
        coded = build_context(store, catalog, now=manifest.end, categorical=True)
        expected, _ = run_all(plain)
        with warnings.catch_warnings():
            warnings.simplefilter("error", FutureWarning)  # e.g. pandas' observed=False deprecation
            found, _ = run_all(coded)
    assert expected and {f.category for f in expected} >= {"trends", "capacity", "experience", "feedback"}
    assert _records(found) == _records(expected)
