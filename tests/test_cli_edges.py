"""CLI edges a first-time user meets: a report to stdout, and `serve` on a bad or taken port."""

from __future__ import annotations

import json
import socket


def test_report_output_dash_writes_the_report_to_stdout(demo_run, cli):
    _, workspace, _ = demo_run
    result = cli("report", "--audience", "executive", "--format", "json", "--output", "-", workspace=workspace.root)
    assert result.code == 0, result
    assert isinstance(json.loads(result.out), dict)
    assert not (workspace.root / "-").exists()


def test_serve_refuses_a_port_out_of_range(workspace, cli):
    result = cli("serve", "--port", "99999", workspace=workspace)
    assert result.code == 2 and "--port" in result.err and "65535" in result.err


def test_serve_on_a_taken_port_is_a_clear_error(workspace, cli):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", "--port", str(port), workspace=workspace)
    assert result.code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.err and "--port" in result.err


def test_a_bad_store_memory_setting_is_named(tmp_path, monkeypatch):
    import pytest

    from perfops.errors import PerfopsError
    from perfops.store import database

    monkeypatch.setattr(database, "STORE_MEMORY", "lots")
    with pytest.raises(PerfopsError, match="PERFOPS_STORE_MEMORY: 'lots' is not a memory size"):
        database.open_store(tmp_path / "store.duckdb")


def test_report_before_any_analysis_refuses_and_says_to_analyze(workspace, cli):
    result = cli("report", "--audience", "executive", "--format", "md", "--output", "-", workspace=workspace)
    assert result.code == 1 and "no stored analysis" in result.err and result.out == ""
    assert "perfops analyze" in result.err


def test_report_after_an_analysis_does_not_warn(demo_run, cli):
    _, workspace, _ = demo_run
    result = cli("report", "--audience", "executive", "--format", "md", "--output", "-", workspace=workspace.root)
    assert result.code == 0 and "no analysis has run" not in result.err
