"""Incidents in the reports and digests: an ended blip is reviewed, never 'Act now'; the lead
gets next actions; the executive page opens with the answer; 'since the last report' counts."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from perfops.model.findings import Finding
from perfops.store import open_store
from perfops.usecases.reports import render_reports
from perfops.workspace import Workspace
from reports_fixture import NOW, build_workspace, record_run


def _with_ended_blip(root: Path) -> Workspace:
    """The fixture domain analysed again a week later, with a critical error burst on `ledger`
    (otherwise only a medium finding) that ended two days before that period's end."""
    ws = Workspace(build_workspace(root))
    blip = Finding(kind="anomaly", severity="critical", service="ledger", squad="payments", metric="errors",
                   title="ledger errors at 40x the norm for 40 minutes", detail="a burst",
                   start=NOW + timedelta(days=5) - timedelta(minutes=40), end=NOW + timedelta(days=5),
                   recommendation="Roll back the release that preceded it.", key="blip")
    with open_store(ws.store_path) as store:
        store.findings.save_analysis([blip], at=NOW + timedelta(days=5))
        record_run(store, ws.load_catalog(), NOW + timedelta(days=7), timedelta(days=7), 1)
    return ws


def test_an_incident_that_ended_days_ago_is_never_act_now(tmp_path: Path) -> None:
    ws = _with_ended_blip(tmp_path / "ws")
    (md,) = render_reports(ws, audience="executive", fmt="md", output=tmp_path / "exec.md", at=None)
    text = md.read_text()
    ledger_rows = [line for line in text.splitlines() if line.startswith("| ledger |")]
    assert ledger_rows and all("Act now" not in row for row in ledger_rows), ledger_rows
    assert "ended, to review: ledger errors at 40x the norm" in text
    blip_rows = [line for line in text.splitlines() if "ledger errors at 40x" in line and line.startswith("| ")]
    assert any("Review" in row and "Ended" in row for row in blip_rows), blip_rows
    assert not any("Act now" in row for row in blip_rows)
    assert "serious incident ended in the period and is to review: ledger errors" in text


def test_the_executive_page_opens_with_the_answer_and_what_changed(tmp_path: Path) -> None:
    ws = _with_ended_blip(tmp_path / "ws")
    (md,) = render_reports(ws, audience="executive", fmt="md", output=tmp_path / "exec.md", at=None)
    status = md.read_text().split("## Domain status", 1)[1]
    first = status.strip().splitlines()[0]
    assert "need you:" in first and "squad checkout" in first
    assert "Since the last report (" in status  # the second run has the first as its previous period


def test_the_lead_report_lists_next_actions_with_their_findings(tmp_path: Path) -> None:
    ws = Workspace(build_workspace(tmp_path / "ws"))
    (md,) = render_reports(ws, audience="lead", squad="checkout", fmt="md", output=tmp_path / "lead.md")
    actions = md.read_text().split("## Next actions", 1)[1].split("## ", 1)[0]
    lines = [line for line in actions.splitlines() if line.startswith("- ")]
    assert lines[0].startswith("- Act now: Roll back or fix checkout-api 2.3.1")
    assert any("Ask squad payments about payments-api" in line for line in lines)
    assert all("(F-" in line for line in lines)
