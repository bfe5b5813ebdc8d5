"""Links in the HTML reports: a finding id leads to its evidence (the details block id="F-…" in
its service's developer report, named by reports/paths.py as `perfops report` writes it), and
to the dashboard's finding page when perfops.yaml sets `dashboard_url`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfops.errors import PerfopsError
from reports_fixture import CATALOG, build_workspace, findings

AT = "2026-11-23T00:00:00Z"


def _render(root: Path) -> Path:
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

    render_reports(Workspace(root), fmt="html", at=AT)
    return Workspace(root).reports_dir


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render(build_workspace(tmp_path_factory.mktemp("links") / "ws"))


def test_executive_finding_ids_link_to_the_developer_reports_evidence(reports: Path) -> None:
    slow_dep = findings()[0]  # payments-api, shown in the executive's incidents
    executive = (reports / "executive.html").read_text()
    assert f'href="developer/payments-api.html#{slow_dep.id}"' in executive
    developer = (reports / "developer" / "payments-api.html").read_text()
    assert f'id="{slow_dep.id}"' in developer
    block = developer.split(f'id="{slow_dep.id}"', 1)[1].split("</div>", 1)[0]
    assert "baseline" in block and "260 ms" in block and "390 ms" in block and "{" not in block


def test_lead_and_developer_links_go_up_one_folder_or_stay_on_the_page(reports: Path) -> None:
    regression = findings()[1]  # checkout-api
    lead = (reports / "lead" / "checkout.html").read_text()
    assert f'href="../developer/checkout-api.html#{regression.id}"' in lead
    own = (reports / "developer" / "checkout-api.html").read_text()
    assert f'href="#{regression.id}"' in own


def test_no_dashboard_link_without_dashboard_url(reports: Path) -> None:
    assert "/findings/F-" not in (reports / "executive.html").read_text()


def test_dashboard_url_adds_a_link_to_the_findings_page(tmp_path: Path) -> None:
    root = build_workspace(tmp_path / "ws")
    (root / "perfops.yaml").write_text(CATALOG + "dashboard_url: https://perfops.example.org/\n")
    executive = (_render(root) / "executive.html").read_text()
    fid = findings()[0].id
    assert f'href="https://perfops.example.org/findings/{fid}"' in executive


@pytest.mark.parametrize("bad", ["perfops.example.org", "ftp://x.example", "https://user:pw@x.example",
                                 "https://x.example/?a=1"])
def test_dashboard_url_must_be_a_plain_web_address(tmp_path: Path, bad: str) -> None:
    from perfops.workspace import Workspace

    (tmp_path / "perfops.yaml").write_text(CATALOG + f"dashboard_url: '{bad}'\n")
    with pytest.raises(PerfopsError) as err:
        Workspace(tmp_path).load_catalog()
    assert "dashboard_url" in str(err.value) + str(err.value.hint or "")


def test_index_links_every_report(reports: Path) -> None:
    index = (reports / "index.html").read_text()
    hrefs = set(re.findall(r'href="([^"#]+)"', index))
    assert {"executive.html", "lead/checkout.html", "developer/payments-api.html"} <= hrefs


def test_index_gives_each_report_its_status(reports: Path) -> None:
    index = (reports / "index.html").read_text()
    items = dict(re.findall(r'<li><a href="([^"]+)">[^<]*</a> <span class="status status-(\w+)">', index))
    # the executive is as bad as the worst service; checkout-api has a critical regression
    assert items["executive.html"] == "red" and items["developer/checkout-api.html"] == "red"
    assert items["developer/reporting.html"] in ("grey", "green")  # no telemetry, no finding
    assert set(items) >= {"lead/checkout.html", "lead/payments.html", "lead/platform.html"}


def test_squads_and_services_link_to_their_reports(reports: Path) -> None:
    executive = (reports / "executive.html").read_text()
    assert '<a href="lead/checkout.html">checkout</a>' in executive
    assert '<a href="developer/checkout-api.html">checkout-api</a>' in executive
    lead = (reports / "lead" / "checkout.html").read_text()
    assert '<a href="../developer/cart.html">cart</a>' in lead
