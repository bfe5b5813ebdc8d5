"""The feedback loop in the reports.

* lead: test feedback for the squad's services — the open feedback findings (NFRs that no longer
  match production, tests that did not model it, divergences, test regressions);
* developer: the same, plus the newest test run of each service held against production per
  endpoint (share of requests, p95 and error rate, test vs production);
* executive: nothing of its own (the critical/high feedback findings reach it through the
  overview).
"""

from __future__ import annotations

from typing import Any

from perfops.reports.blocks import Doc, severity_cell
from perfops.reports.section import ReportView, Section

FEEDBACK_KINDS = ("nfr_mismatch", "test_coverage_gap", "test_prod_divergence", "test_regression")


def build(view: ReportView) -> list[Section]:
    if view.audience == "executive":
        return []
    sections = [findings_section(view)]
    if view.audience == "developer":
        sections.append(endpoints_section(view))
    return sections


def findings_section(view: ReportView) -> Section:
    scope = set(view.services_in_scope)
    found = [f for f in view.findings if f.kind in FEEDBACK_KINDS and f.service in scope]
    doc = Doc()
    if not found:
        doc.para("No feedback findings: the NFRs match production and the latest load tests modelled it "
                 "(or there are no test runs in the period).", "empty")
    else:
        doc.para(f"{len(found)} finding(s) where load tests or NFRs drifted from production.", "headline")
        rows = [[severity_cell(f.severity), f.service, f.kind.replace("_", " "), f.title, f.recommendation]
                for f in found]
        doc.table(["Severity", "Service", "Kind", "What", "What to do"], rows)
    data = [f.to_record() for f in found]
    return doc.section("feedback-tests", "Load tests and NFRs against production", 60, data)


def endpoints_section(view: ReportView) -> Section:
    doc = Doc()
    data: list[dict[str, Any]] = []
    stored = view.ctx.figures.tests  # the newest run of each service against production (analyze)
    for name in view.services_in_scope:
        comparison = stored.get(name)
        if comparison is None:
            continue
        data.append(comparison.model_dump(mode="json"))
        doc.heading(f"{name}: run {comparison.run_id} ({comparison.verdict})")
        doc.table(["Check", "Verdict", "What was seen"], [[c.name, c.verdict, c.summary] for c in comparison.checks])
        doc.table(["Endpoint", "Test %", "Prod %", "Test p95 ms", "Prod p95 ms", "Test err %", "Prod err %"],
                  [[e["endpoint"], _pct(e["test_share"]), _pct(e["production_share"]), _ms(e["test_p95_ms"]),
                    _ms(e["production_p95_ms"]), _pct(e["test_error_rate"], 2), _pct(e["production_error_rate"], 2)]
                   for e in comparison.endpoints])
    if not data:
        doc.para("No load-test runs for these services.", "empty")
    return doc.section("feedback-endpoints", "Test vs production per endpoint", 61, data)


def _pct(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}"


def _ms(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.0f}"
