"""Reports and the dashboard show a stored analysis run: the newest, or the one `--at` and
`--period` name; they refuse, saying to run analyze, when there is none; two renders of the same
stored run are byte for byte the same."""

from __future__ import annotations

import json
import re
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from reports_fixture import NOW, build_workspace, record_run


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("stored") / "ws")


def _json_report(cli, root: Path, *args: str):
    result = cli("report", "--audience", "executive", "--format", "json", "--output", "-", *args, workspace=root)
    return result, (json.loads(result.out) if result.code == 0 else None)


def test_report_shows_the_newest_stored_run_and_says_its_period(ws, cli):
    result, doc = _json_report(cli, ws)
    assert result.code == 0
    assert doc["period"] == {"start": "2026-11-16T00:00:00Z", "end": "2026-11-23T00:00:00Z"}
    assert isinstance(doc["analysis_run"], int)


def test_report_at_renders_the_stored_run_of_that_time(ws, cli):
    result, doc = _json_report(cli, ws, "--at", "2026-11-23T00:00:00Z")
    assert result.code == 0 and doc["period"]["end"] == "2026-11-23T00:00:00Z"
    missing, _ = _json_report(cli, ws, "--at", "2026-11-20T00:00:00Z")
    assert missing.code == 1 and "no stored analysis for --at 2026-11-20T00:00:00Z" in missing.err
    assert "perfops analyze --at 2026-11-20T00:00:00Z" in missing.err


def test_report_period_never_mixes_periods_it_refuses_or_picks_that_run(tmp_path, cli):
    from perfops.store import open_store
    from perfops.workspace import Workspace

    root = build_workspace(tmp_path / "ws")
    refused, _ = _json_report(cli, root, "--period", "14d")
    assert refused.code == 1 and "no stored analysis covers --period 14d" in refused.err
    assert "perfops analyze --period 14d" in refused.err and "7 days" in refused.err
    ws = Workspace(root)
    with open_store(ws.store_path) as store:
        record_run(store, ws.load_catalog(), NOW, timedelta(days=14), 6)
    fourteen, doc14 = _json_report(cli, root, "--period", "14d")
    assert fourteen.code == 0 and doc14["period"]["start"] == "2026-11-09T00:00:00Z"
    seven, doc7 = _json_report(cli, root, "--period", "7d")
    assert seven.code == 0 and doc7["period"]["start"] == "2026-11-16T00:00:00Z"
    newest, doc = _json_report(cli, root)
    assert doc["analysis_run"] == doc14["analysis_run"] != doc7["analysis_run"]


def test_serve_refuses_without_a_stored_analysis(workspace, cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli("serve", "--port", str(port), workspace=workspace)
    assert result.code == 1 and "no stored analysis" in result.err and "perfops analyze" in result.err


def test_two_renders_of_the_same_stored_run_are_byte_for_byte_the_same(ws, tmp_path):
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    workspace = Workspace(ws)
    outputs = []
    for _ in range(2):
        written = render_reports(workspace, fmt="json", output=None)
        written += render_reports(workspace, output=None)
        outputs.append({p.relative_to(workspace.reports_dir).as_posix(): p.read_bytes() for p in written})
    assert outputs[0].keys() == outputs[1].keys() and len(outputs[0]) > 10
    assert outputs[0] == outputs[1]


def test_every_dashboard_get_route_is_the_same_between_two_reads_of_a_run(ws):
    """Every GET route of `perfops serve` (pages, JSON API, figures, /metrics, the OpenAPI
    schema), with its path parameters filled from the stored run, gives the same bytes from two
    dashboards over the same store. The one thing that differs by design is a finding form's
    idempotency key, fresh with every rendering (perfops.web.idempotency)."""
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    bodies = []
    for _ in range(2):
        app = create_app(ws, token="t")
        client = TestClient(app)
        paths = _get_paths(app, client)
        responses = {p: client.get(p) for p in paths}
        assert {p: r.status_code for p, r in responses.items() if r.status_code != 200} == {}
        bodies.append({p: FORM_KEY.sub(b'name="idempotency_key" value=""', r.content) for p, r in responses.items()})
    assert len(bodies[0]) >= 25
    assert bodies[0] == bodies[1]


FORM_KEY = re.compile(rb'name="idempotency_key" value="[0-9a-f]+"')


def _get_paths(app, client) -> list[str]:
    """The app's GET routes with their parameters taken from what the store holds."""
    findings = client.get("/api/findings").json()
    finding = findings[0]
    endpoint = next(f for f in findings if f.get("endpoint"))
    values = {"squad": finding["squad"], "service": finding["service"], "finding_id": finding["id"]}
    paths = []
    for route in app.routes:
        if "GET" not in (getattr(route, "methods", None) or ()):
            continue
        path = route.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        if path.endswith("/endpoint"):
            path = path.replace(finding["service"], endpoint["service"]) + "?name=" + endpoint["endpoint"]
        assert "{" not in path, f"no value for a parameter of {route.path}"
        paths.append(path)
    return paths


def test_two_pdf_prints_of_the_same_stored_run_are_byte_for_byte_the_same(ws, tmp_path, monkeypatch):
    """A PDF carries the report's own time (not the clock) and no temporary folder's name; a
    relative --output works."""
    from perfops.reports.render_pdf import find_chromium
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    if find_chromium() is None:
        pytest.skip("chromium is not installed (make system-deps)")
    monkeypatch.chdir(tmp_path)
    out = Path("executive.pdf")
    prints = []
    for _ in range(2):
        render_reports(Workspace(ws), audience="executive", fmt="pdf", output=out)
        prints.append(out.read_bytes())
    assert prints[0][:5] == b"%PDF-" and b"/CreationDate (D:20261123000000+00'00')" in prints[0]
    assert prints[0] == prints[1]
    assert [p.name for p in tmp_path.iterdir()] == ["executive.pdf"]  # the printed page is removed


def test_a_pdf_date_is_stamped_in_place():
    from datetime import datetime

    from perfops.reports.render_pdf import stamp_dates

    pdf = b"<</CreationDate (D:20261207123137+00'00')\n/ModDate (D:20261207123137+00'00')>>"
    stamped = stamp_dates(pdf, datetime(2026, 11, 23))
    assert stamped == b"<</CreationDate (D:20261123000000+00'00')\n/ModDate (D:20261123000000+00'00')>>"
    assert len(stamped) == len(pdf)


def test_two_analyses_of_the_same_data_store_the_same_figures(tmp_path):
    """The figures a run stores (rollups summed by DuckDB among them) are the same bytes when
    the same data is analysed again, so two runs render the same reports."""
    from perfops.store import open_store
    from perfops.workspace import Workspace

    workspace = Workspace(build_workspace(tmp_path / "ws"))
    payloads = []
    with open_store(workspace.store_path) as store:
        for _ in range(2):
            run_id = record_run(store, workspace.load_catalog(), NOW, timedelta(days=7), 6)
            payloads.append(store.con.execute(
                "SELECT kind, service, payload FROM figures WHERE run_id = ? ORDER BY kind, service, payload",
                [run_id]).fetchall())
    assert len(payloads[0]) > 10 and any(kind == "rollup" for kind, _, _ in payloads[0])
    assert payloads[0] == payloads[1]


def test_a_store_analysed_by_an_older_perfops_says_to_analyze_again(tmp_path, cli):
    import duckdb

    from perfops.store.migrations import MIGRATIONS

    (tmp_path / "perfops.yaml").write_text((Path(__file__).parent / "reports_fixture.py").read_text()
                                           .split('CATALOG = """\\\n', 1)[1].split('"""', 1)[0])
    from perfops.workspace import Workspace

    store_path = Workspace(tmp_path).store_path
    store_path.parent.mkdir(parents=True)
    con = duckdb.connect(str(store_path))
    con.execute("CREATE TABLE schema_version (version INTEGER)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_version VALUES (1)")
    con.execute("INSERT INTO analysis_runs VALUES ('2026-11-23 01:00', '2026-11-16', '2026-11-23', 3)")
    con.close()
    from perfops.store import open_store

    with open_store(store_path) as store:  # migrates: the old run gets an id, and no figures
        runs = store.analysis_runs.runs()
    assert [r.id for r in runs] == [1] and runs[0].period == timedelta(days=7)
    result, _ = _json_report(cli, tmp_path)
    assert result.code == 1 and "has no figures" in result.err and "perfops analyze" in result.err


def test_figures_round_trip_through_the_store(ws):
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(ws).store_path, read_only=True) as store:
        run = store.analysis_runs.runs()[0]
        figures = store.analysis_runs.figures(run.id)
        again = store.analysis_runs.figures(run.id)
        capacity_only = store.analysis_runs.figures(run.id, kinds=("capacity",), services=["auth"])
    assert figures == again and set(figures.capacity) >= {"auth", "cart", "checkout-api"}
    assert figures.experience["checkout-api"].slo and figures.journeys[0].name == "purchase"
    assert list(capacity_only.capacity) == ["auth"] and not capacity_only.cost
    assert capacity_only.capacity["auth"] == figures.capacity["auth"]


def test_the_stored_rollups_are_the_stores_rollups(ws):
    """Report processes read the week-over-week and trend rollups analyze stored; they are the
    rows the store's rollup query gives (without empty values)."""
    import pandas as pd

    from perfops.model.health import rollup_windows
    from perfops.reports.picture import stored_rollups
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(ws).store_path, read_only=True) as store:
        run = store.analysis_runs.runs()[0]
        frames = stored_rollups(store.analysis_runs.figures(run.id).rollups)
        for w in rollup_windows(run.period_end):
            order = ["service", "metric", "bucket"]
            got = frames[(None, w.metrics, w.start, w.end, w.bucket_seconds)].sort_values(order, ignore_index=True)
            want = store.telemetry.rollup(None, w.metrics, w.start, w.end, w.bucket_seconds)
            want = want[want["value"].notna()].sort_values(order, ignore_index=True)
            assert len(got) > 100
            pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_the_stored_inventory_is_the_stores_inventory(ws):
    import pandas as pd

    from perfops.reports.picture import stored_inventory
    from perfops.store import open_store
    from perfops.workspace import Workspace

    with open_store(Workspace(ws).store_path, read_only=True) as store:
        run = store.analysis_runs.runs()[0]
        got = stored_inventory(store.analysis_runs.figures(run.id).inventory)
        want = store.telemetry.inventory()
    order = ["service", "endpoint", "metric"]
    assert len(got) > 20
    pd.testing.assert_frame_equal(got.sort_values(order, ignore_index=True), want.sort_values(order, ignore_index=True),
                                  check_dtype=False)
