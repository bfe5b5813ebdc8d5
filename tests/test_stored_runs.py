"""Reports and the dashboard show a stored analysis run: the newest, or the one `--at` and
`--period` name; they refuse, saying to run analyze, when there is none; two renders of the same
stored run are byte for byte the same."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path

import pytest

from reports_fixture import NOW, build_workspace, record_run


@pytest.fixture(scope="module")
def ws(tmp_path_factory) -> Path:
    return build_workspace(tmp_path_factory.mktemp("stored") / "ws")


def _json_report(cli, root: Path, *args: str):  # noqa: ANN202
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


def test_dashboard_pages_are_the_same_between_two_reads_of_a_run(ws):
    from fastapi.testclient import TestClient

    from perfops.web.app import create_app

    paths = ["/", "/squads/checkout", "/services/checkout-api", "/api/findings", "/api/domain"]
    bodies = []
    for _ in range(2):
        client = TestClient(create_app(ws, token="t"))
        bodies.append({p: client.get(p).content for p in paths})
    assert all(client.get(p).status_code == 200 for p in paths)
    assert bodies[0] == bodies[1]
