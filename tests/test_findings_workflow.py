"""Findings: stable ids, history, the workflow, filters and output formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

from perfops.model.findings import Finding
from perfops.store import open_store
from perfops.store.findings_repo import FindingFilter
from perfops.workspace import Workspace


def regression(start: datetime, **changes) -> Finding:
    base = {
        "kind": "regression", "severity": "high", "service": "checkout-api", "squad": "checkout", "metric": "latency",
        "endpoint": "POST /checkout", "title": "POST /checkout got 60% slower after 2.3.1",
        "detail": "p95 rose from 200 ms to 320 ms", "start": start, "key": "2026-01-05",
        "evidence": {"before": 200, "after": 320}, "impact": {"requests_affected": 12000},
    }
    base.update(changes)
    return Finding(**base)


def save(ws: Workspace, *findings: Finding) -> list[Finding]:
    with open_store(ws.store_path) as store:
        return store.findings.save_analysis(findings)


def test_the_record_has_the_contract_fields_in_order():
    record = regression(datetime(2026, 1, 5, 10)).to_record()
    assert list(record) == ["id", "category", "kind", "metric", "severity", "service", "endpoint", "consumer",
                            "squad", "start", "end", "title", "detail", "evidence", "recommendation", "impact",
                            "caused_by", "event", "status"]
    assert record["category"] == "trends" and record["start"] == "2026-01-05T10:00:00Z" and record["end"] is None


def test_the_same_condition_keeps_its_id_across_runs(workspace):
    ws = Workspace(workspace)
    (first,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    # next week's run estimates the start 10 minutes later and with another key: same condition
    (again,) = save(ws, regression(datetime(2026, 1, 5, 10, 10), key="other", severity="critical"))
    assert again.id == first.id
    with open_store(ws.store_path) as store:
        assert len(store.findings.list()) == 1
        assert store.findings.get(first.id).severity == "critical"


def test_a_run_matches_its_own_findings_and_the_newest_stored_one(workspace):
    """Matching happens against the table as the run writes it: a second finding of the same
    condition in one run updates the first; of two stored episodes the newest seen is kept."""
    ws = Workspace(workspace)
    old = regression(datetime(2026, 1, 5, 10), end=datetime(2026, 1, 5, 11), key="old")
    (old,) = save(ws, old)
    newer = regression(datetime(2026, 1, 5, 12), end=datetime(2026, 1, 5, 13), key="newer")
    with open_store(ws.store_path) as store, store.transaction():  # stored apart, seen later
        store.findings.save_analysis([newer.with_(id="F-newer")], at=datetime(2030, 1, 1))
    one = regression(datetime(2026, 1, 6, 9), key="a", title="first")
    two = regression(datetime(2026, 1, 6, 9, 5), key="b", title="second")
    again = regression(datetime(2026, 1, 5, 10, 30), end=datetime(2026, 1, 5, 12, 30), key="c", title="again")
    saved = save(ws, one, two, again)
    assert [f.id for f in saved] == [one.id, one.id, "F-newer"]
    with open_store(ws.store_path) as store:
        assert store.findings.get(one.id).title == "second"
        assert store.findings.get("F-newer").title == "again" and store.findings.get(old.id).title != "again"
        found = store.con.execute("SELECT count(*) FROM finding_history WHERE finding_id = ? AND action = 'found'",
                                  [one.id]).fetchone()
        assert found == (1,) and len(store.findings.list(FindingFilter(status="all"))) == 3


def test_a_resolved_finding_that_comes_back_is_reopened_not_duplicated(workspace, cli):
    ws = Workspace(workspace)
    (f,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    assert cli("findings", "resolve", f.id, "--by", "priya", "--note", "rolled back", workspace=workspace).code == 0
    save(ws, regression(datetime(2026, 1, 5, 10)))  # the same evidence again: nothing new happened
    with open_store(ws.store_path) as store:
        assert [x.status for x in store.findings.list(FindingFilter(status="all"))] == ["resolved"]
    save(ws, regression(datetime(2026, 1, 5, 10), end=datetime(2026, 1, 12)))  # still there a week later
    with open_store(ws.store_path) as store:
        assert [x.status for x in store.findings.list()] == ["open"]
        actions = [h["action"] for h in store.findings.history(f.id)]
    assert actions == ["found", "resolved", "reopened"]


def test_workflow_keeps_history_with_who_and_why(workspace, cli):
    ws = Workspace(workspace)
    (f,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    assert cli("findings", "ack", f.id, "--by", "priya", "--note", "looking", workspace=workspace).code == 0
    assert cli("findings", "assign", f.id, "payments", "--by", "priya", workspace=workspace).code == 0
    assert cli("findings", "resolve", f.id, "--by", "sam", workspace=workspace).code == 0
    assert cli("findings", "reopen", f.id, "--by", "sam", "--note", "came back", workspace=workspace).code == 0
    with open_store(ws.store_path) as store:
        history = store.findings.history(f.id)
        current = store.findings.get(f.id)
    assert [(h["action"], h["by"], h["to_status"]) for h in history] == [
        ("found", "perfops", "open"), ("acknowledged", "priya", "acknowledged"),
        ("assigned", "priya", "acknowledged"), ("resolved", "sam", "resolved"), ("reopened", "sam", "open"),
    ]
    assert history[1]["note"] == "looking" and current.squad == "payments" and current.status == "open"
    assert "assigned to payments by priya" in cli("findings", "show", f.id, workspace=workspace).out


def test_acknowledging_a_regression_makes_its_level_the_norm(workspace, cli):
    ws = Workspace(workspace)
    (f,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    cli("findings", "ack", f.id, "--by", "priya", workspace=workspace)
    with open_store(ws.store_path) as store:
        (mark,) = store.findings.level_marks()
    assert (mark["service"], mark["endpoint"], mark["metric"], mark["at"]) == (
        "checkout-api", "POST /checkout", "latency", datetime(2026, 1, 5, 10))


def test_reopening_an_acknowledged_regression_takes_back_its_level_mark(workspace, cli):
    ws = Workspace(workspace)
    (f,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    cli("findings", "ack", f.id, "--by", "priya", workspace=workspace)
    cli("findings", "reopen", f.id, "--by", "sam", "--note", "not the new normal", workspace=workspace)
    with open_store(ws.store_path) as store:
        assert store.findings.level_marks() == []


def test_an_assignment_survives_the_next_analysis(workspace, cli):
    ws = Workspace(workspace)
    (f,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    cli("findings", "assign", f.id, "payments", workspace=workspace)
    save(ws, regression(datetime(2026, 1, 5, 10)))
    with open_store(ws.store_path) as store:
        assert store.findings.get(f.id).squad == "payments"


def test_workflow_errors_are_clear(workspace, cli):
    ws = Workspace(workspace)
    (f,) = save(ws, regression(datetime(2026, 1, 5, 10)))
    missing = cli("findings", "ack", "F-nope", workspace=workspace)
    assert missing.code == 1 and "no finding with id 'F-nope'" in missing.err
    assert "'billing' is not a squad" in cli("findings", "assign", f.id, "billing", workspace=workspace).err
    cli("findings", "ack", f.id, workspace=workspace)
    assert "already acknowledged" in cli("findings", "ack", f.id, workspace=workspace).err


def test_filters_and_formats(workspace, cli):
    ws = Workspace(workspace)
    save(
        ws,
        regression(datetime(2026, 1, 5, 10)),
        Finding(kind="over_provisioned", severity="low", service="payments", squad="payments", metric="cpu",
                title="payments uses a third of its capacity", detail="peak CPU 21%"),
    )
    everything = json.loads(cli("findings", "--format", "json", workspace=workspace).out)
    assert [f["kind"] for f in everything] == ["regression", "over_provisioned"]  # most severe first
    only = json.loads(cli("findings", "--format", "json", "--squad", "payments", workspace=workspace).out)
    assert [f["service"] for f in only] == ["payments"]
    assert json.loads(cli("findings", "--format", "json", "--category", "capacity", workspace=workspace).out)[0][
        "kind"] == "over_provisioned"
    assert len(json.loads(cli("findings", "--format", "json", "--min-severity", "high", workspace=workspace).out)) == 1
    rows = list(csv.DictReader(io.StringIO(cli("findings", "--format", "csv", workspace=workspace).out)))
    assert rows[0]["severity"] == "high" and rows[1]["squad"] == "payments"
    assert "checkout-api" in cli("findings", workspace=workspace).out
    bad = cli("findings", "--category", "speed", workspace=workspace)
    assert bad.code == 1 and "--category: 'speed' is unknown" in bad.err


def test_findings_json_on_an_empty_workspace_is_an_empty_array(workspace, cli):
    result = cli("findings", "--format", "json", workspace=workspace)
    assert result.code == 0 and json.loads(result.out) == []
