"""Reports: sections present and ordered, findings ranked by impact, cause squads named,
hostile names escaped in HTML, Markdown and JSON, a failing section boxed, formats for people."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from perfops.errors import PerfopsError
from perfops.workspace import Workspace
from reports_fixture import NOW, XSS, XSS_CONSUMER, build_workspace, findings


@pytest.fixture(scope="module")
def hostile_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(build_workspace(tmp_path_factory.mktemp("hostile"), hostile=True))


@pytest.fixture(scope="module")
def all_reports(hostile_ws: Workspace) -> list[Path]:
    from perfops.usecases.reports import render_reports

    return render_reports(hostile_ws)


def test_default_writes_every_audience(all_reports: list[Path], hostile_ws: Workspace) -> None:
    names = {p.relative_to(hostile_ws.reports_dir).as_posix() for p in all_reports}
    assert {"executive.html", "executive.md", "lead/checkout.html", "lead/platform.md",
            "developer/cart.html", "developer/reporting.md", "index.html"} <= names


def test_executive_has_one_page_sections_in_order(all_reports: list[Path], hostile_ws: Workspace) -> None:
    html = (hostile_ws.reports_dir / "executive.html").read_text()
    ids = ["domain-status", "out-of-ordinary", "weekly-trends", "maturity"]
    positions = [html.index(f'id="{i}"') for i in ids]
    assert positions == sorted(positions)
    assert html.index('id="service-status"') > html.index('class="appendix')
    assert "<svg" in html and "<script" not in html.split("</head>")[1].replace("&lt;script", "")
    # self-contained: nothing fetched from elsewhere (no CDN, no external stylesheet, script or image)
    assert "<link" not in html and 'src="http' not in html and "@import" not in html


def test_incidents_ranked_with_the_cause_squad_owning_its_callers_symptoms(hostile_ws: Workspace) -> None:
    from perfops.usecases.reports import render_reports

    out = hostile_ws.root / "exec.json"
    render_reports(hostile_ws, audience="executive", fmt="json", output=out)
    doc = json.loads(out.read_text())
    ranked = next(s for s in doc["sections"] if s["id"] == "out-of-ordinary")["data"]
    assert ranked[0]["severity"] == "critical" and ranked[0]["services"] == ["checkout-api"]
    assert ranked[0]["word"] == "Act now" and ranked[0]["state"] == "ongoing"
    assert all(r["severity"] in ("critical", "high") for r in ranked)
    # the slow dependency leads the incident its caller's symptom belongs to; its squad owns it
    slow = next(r for r in ranked if r["title"] == "payments-api got 50% slower on POST /pay")
    assert slow["squad"] == "payments" and slow["squads"] == ["checkout", "payments"]
    assert len(slow["symptoms"]) == 2 and slow["services"] == ["checkout-api", "payments-api"]
    titles = [r["title"] for r in ranked]
    assert "Checkout status calls slow because payments-api is slow" not in titles  # a symptom, not an incident


def test_domain_status_gives_reasons_in_words(hostile_ws: Workspace) -> None:
    from perfops.usecases.reports import render_reports

    out = hostile_ws.root / "exec2.json"
    render_reports(hostile_ws, audience="executive", fmt="json", output=out)
    status = next(s for s in json.loads(out.read_text())["sections"] if s["id"] == "domain-status")["data"]
    assert status["services"]["checkout-api"]["level"] == "red"
    assert "Checkout got 90% slower" in status["services"]["checkout-api"]["why"]
    assert status["services"]["reporting"]["level"] == "grey"
    assert status["services"]["ledger"]["level"] == "amber"


@pytest.mark.parametrize("path", ["executive.html", "lead/checkout.html", "developer/cart.html"])
def test_html_escapes_hostile_names(all_reports: list[Path], hostile_ws: Workspace, path: str) -> None:
    html = (hostile_ws.reports_dir / path).read_text()
    assert XSS not in html and XSS_CONSUMER not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("path", ["executive.md", "lead/checkout.md", "developer/cart.md"])
def test_markdown_escapes_hostile_names(all_reports: list[Path], hostile_ws: Workspace, path: str) -> None:
    md = (hostile_ws.reports_dir / path).read_text()
    assert "<script>" not in md and "<img" not in md
    assert "&lt;script&gt;" in md


def test_json_keeps_names_as_data(hostile_ws: Workspace) -> None:
    from perfops.usecases.reports import render_reports

    out = hostile_ws.root / "dev.json"
    render_reports(hostile_ws, audience="developer", service="cart", fmt="json", output=out)
    doc = json.loads(out.read_text())  # valid JSON, names kept exactly
    assert any(f["endpoint"] == XSS for f in doc["findings"])


def test_lead_report_shows_age_ack_and_dependencies(all_reports: list[Path], hostile_ws: Workspace) -> None:
    md = (hostile_ws.reports_dir / "lead" / "payments.md").read_text()
    row = next(line for line in md.splitlines() if "payments-api got 50% slower" in line and "| 3 days |" in line)
    assert "Tom Ng, " in row  # who acknowledged, and when (local time)
    checkout = (hostile_ws.reports_dir / "lead" / "checkout.md").read_text()
    assert "What dependencies did to us" in checkout and "payments-api" in checkout


def test_maturity_shows_numbers_and_next_step(hostile_ws: Workspace) -> None:
    from perfops.usecases.reports import render_reports

    out = hostile_ws.root / "lead.json"
    render_reports(hostile_ws, audience="lead", squad="platform", fmt="json", output=out)
    card = next(s for s in json.loads(out.read_text())["sections"] if s["id"] == "maturity")["data"][0]
    assert card["measures"]["telemetry"] == {"label": "services with telemetry (30 d)", "have": 1.0, "of": 2.0,
                                              "missing": ["reporting"]}
    assert card["level"] == 0 and "reporting" in card["raise_by"][0]


def test_failing_section_stops_the_report(hostile_ws: Workspace) -> None:
    """A report silently lacking a section is worse than none: compose raises, naming it."""
    from perfops.reports.compose import SectionFailed, compose, section_builders
    from perfops.store import open_store
    from perfops.usecases.reports import load_domain, make_view, select_run

    def broken(view):
        raise RuntimeError("boom <b>\nsecond line")

    builders = {**section_builders(), "zz_broken": broken}
    with open_store(hostile_ws.store_path, read_only=True) as store:
        view = make_view(load_domain(store, hostile_ws.load_catalog(), select_run(store)), "executive")
        with pytest.raises(SectionFailed) as failed:
            compose(view, builders)
    assert str(failed.value) == "the 'zz_broken' section of the executive report of domain failed: RuntimeError: boom <b>"
    assert isinstance(failed.value.__cause__, RuntimeError)


def test_bad_arguments_are_user_errors(hostile_ws: Workspace) -> None:
    from perfops.usecases.reports import render_reports

    with pytest.raises(PerfopsError, match="--squad"):
        render_reports(hostile_ws, audience="lead", squad="nope")
    with pytest.raises(PerfopsError, match="--format"):
        render_reports(hostile_ws, fmt="docx")
    with pytest.raises(PerfopsError, match="--output"):
        render_reports(hostile_ws, output=hostile_ws.root / "x.html")


def test_pdf_missing_chromium_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from perfops.reports import render_pdf

    monkeypatch.setenv("PERFOPS_CHROMIUM", str(tmp_path / "no-such-chromium"))
    with pytest.raises(PerfopsError, match="Chromium"):
        render_pdf.html_to_pdf("<p>x</p>", tmp_path / "x.pdf")


@pytest.mark.slow
def test_pdf_is_printed_from_the_html(hostile_ws: Workspace) -> None:
    from perfops.reports.render_pdf import find_chromium
    from perfops.usecases.reports import render_reports

    if find_chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    out = hostile_ws.root / "exec.pdf"
    render_reports(hostile_ws, audience="executive", fmt="pdf", output=out)
    assert out.read_bytes()[:5] == b"%PDF-"


def test_summary_text_for_the_terminal(hostile_ws: Workspace) -> None:
    from perfops.usecases.reports import executive_summary_text

    text = executive_summary_text(hostile_ws)
    assert text.startswith("Payments: ") and "need you:" in text.splitlines()[0]
    slow = next(line for line in text.splitlines() if line.startswith("  ACT NOW") and "payments-api got 50% slower" in line)
    assert "squad payments (the cause; affects squad checkout)" in slow


def test_formats_for_people() -> None:
    from perfops.model import format as fmt

    assert fmt.number(1234567) == "1,234,567"
    assert fmt.compact(1_234_567) == "1.2M"
    assert fmt.ms(312.4) == "312 ms" and fmt.ms(14_000) == "14 s"
    assert fmt.money(1204, "USD", "month") == "$1,204/month" and fmt.money(5, "CHF") == "CHF 5"
    assert fmt.change(12.5) == "▲ +12.5%" and fmt.change(-3) == "▼ −3%"
    assert fmt.relative(NOW - timedelta(days=3), NOW) == "3 days ago"
    assert fmt.local_time(datetime(2026, 1, 5, 3, 0), "Australia/Sydney") == "Mon 05 Jan 14:00 AEDT"
    assert fmt.number(float("nan")) == "–"


def test_ranking_prefers_severity_then_tier_then_money(small_catalog) -> None:
    from perfops.model import health

    fs = findings()
    ranked = health.rank_findings(fs, __import__("perfops.workspace", fromlist=["x"]).parse_catalog(
        (Path(__file__).parent / "reports_fixture.py").read_text().split('CATALOG = """\\\n')[1].split('"""')[0]))
    assert ranked[0].severity == "critical"
    assert [f.severity for f in ranked] == sorted([f.severity for f in ranked],
                                                   key=["critical", "high", "medium", "low", "info"].index)


def test_cli_report_and_parallel_workers(hostile_ws: Workspace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from perfops.cli.app import app
    from perfops.usecases import reports

    out = tmp_path / "exec.md"
    result = CliRunner().invoke(app, ["report", "--workspace", str(hostile_ws.root), "--audience", "executive",
                                      "--format", "md", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# Payments: domain performance report")
    # the default run split over two worker processes writes the same files as one process
    monkeypatch.setattr(reports, "PARALLEL_FROM", 1)
    monkeypatch.setenv("PERFOPS_REPORT_WORKERS", "2")
    paths = reports.render_reports(hostile_ws, fmt="md")
    assert len(paths) == 1 + 3 + 6 + 1
    assert all(p.exists() for p in paths)
    assert "What dependencies did to us" in (hostile_ws.reports_dir / "lead" / "checkout.md").read_text()


def test_every_overview_and_maturity_section_is_documented(hostile_ws: Workspace) -> None:
    from perfops.reports.sections import maturity, overview
    from perfops.store import open_store
    from perfops.usecases.reports import load_domain, make_view, select_run

    doc = (Path(__file__).resolve().parents[1] / "docs" / "reports.md").read_text()
    with open_store(hostile_ws.store_path, read_only=True) as store:
        data = load_domain(store, hostile_ws.load_catalog(), select_run(store))
        ids = {s.id for args in (("executive",), ("lead", "checkout"), ("developer", None, "cart"))
               for build in (overview.build, maturity.build) for s in build(make_view(data, *args))}
    assert sorted(i for i in ids if f"`{i}`" not in doc) == []


def test_an_availability_just_under_its_slo_is_shown_with_the_decimals_that_tell_them_apart():
    from perfops.model.format import pct_pair

    assert pct_pair(99.898, 99.9) == ("99.898%", "99.9%")
    assert pct_pair(99.5, 99.9) == ("99.5%", "99.9%")
    assert pct_pair(99.9, 99.9) == ("99.9%", "99.9%")  # equal at every precision: shown as equal
