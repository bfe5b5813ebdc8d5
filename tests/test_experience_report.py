"""The experience report sections for each audience, on the seeded synthetic domain."""

from __future__ import annotations

import pytest

from experience_synthetic import context, telemetry
from perfops.analysis import experience
from perfops.reports.section import ReportView
from perfops.reports.sections import experience as section
from reports_fixture import report_context


@pytest.fixture(scope="module")
def seeded():
    ctx = context(telemetry())
    return ctx, experience.run(ctx)


def _view(seeded, audience, **scope):
    ctx, findings = seeded
    return ReportView(ctx=report_context(ctx, findings), findings=findings, audience=audience, **scope)


def test_executive_gets_slo_status_and_budget_left_per_service(seeded):
    sections = section.build(_view(seeded, "executive"))
    assert [s.id for s in sections] == ["experience-slos"]
    md = sections[0].markdown
    assert "payments" in md and "missed" in md and "Budget left" in md
    assert "burned its error budget" in md or "error budget" in md


def test_lead_sees_slos_months_journeys_and_misusing_consumers(seeded):
    sections = {s.id: s for s in section.build(_view(seeded, "lead", squad="checkout"))}
    assert set(sections) == {"experience-slos", "experience-journeys", "experience-consumers"}
    assert "Month by month" in sections["experience-slos"].markdown
    assert "purchase" in sections["experience-journeys"].markdown
    consumers = sections["experience-consumers"]
    assert "globex" in consumers.markdown and "initech" in consumers.markdown and "hooli" in consumers.markdown
    names = {f["consumer"] for f in consumers.data["misuse"]}
    assert names == {"globex", "initech", "hooli"}


def test_developer_gets_apdex_per_endpoint(seeded):
    sections = {s.id: s for s in section.build(_view(seeded, "developer", service="web"))}
    apdex = sections["experience-apdex"]
    assert {r["endpoint"] for r in apdex.data} == {"", "GET /product"}
    assert all(0 <= r["apdex"] <= 1 for r in apdex.data)


def test_sections_escape_names_from_data(seeded):
    ctx, findings = seeded
    odd = [f.with_(consumer="<script>x</script>") if f.consumer == "globex" else f for f in findings]
    view = ReportView(ctx=report_context(ctx, odd), findings=odd, audience="lead", squad="checkout")
    html = next(s.html for s in section.build(view) if s.id == "experience-consumers")
    assert "<script>x" not in html and "&lt;script&gt;" in html
