"""Report file names: every service name the catalog accepts gets its own, safe file.

`orders.api` and `orders.worker` both wrote `developer/orders.md` (the name was cut at its first
dot) and one report was lost while the command counted both."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from perfops.model.catalog import SERVICE_NAME
from perfops.usecases.reports import FORMATS, report_file

DOTTED = """\
domain: Orders
squads:
  - name: orders
services:
  - name: orders.api
    squad: orders
  - name: orders.worker
    squad: orders
  - name: checkout-api
    squad: orders
"""


def test_two_dotted_services_get_two_reports(tmp_path, cli):
    from conftest import analysed_workspace

    (tmp_path / "perfops.yaml").write_text(DOTTED)
    analysed_workspace(tmp_path, ["orders.api", "orders.worker", "checkout-api"], cli)
    result = cli("report", "-v", workspace=tmp_path)
    assert result.code == 0, result
    developer = tmp_path / "reports" / "developer"
    assert sorted(p.name for p in developer.iterdir()) == [
        "checkout-api.html", "checkout-api.md", "orders.api.html", "orders.api.md",
        "orders.worker.html", "orders.worker.md"]
    assert "orders.api" in (developer / "orders.api.md").read_text().splitlines()[0]
    assert "orders.worker" in (developer / "orders.worker.md").read_text().splitlines()[0]
    index = (tmp_path / "reports" / "index.html").read_text()
    for name in ("orders.api", "orders.worker", "checkout-api"):
        assert f'href="developer/{name}.html"' in index
    printed = [line for line in result.out.splitlines() if line.strip()]
    assert len(printed) == len(set(printed)) == 2 + 2 + 6 + 1  # executive, lead, developer (html and md), index


@given(st.lists(st.from_regex(SERVICE_NAME, fullmatch=True).filter(lambda s: len(s) < 60), min_size=1,
                max_size=20, unique=True))
def test_every_catalog_name_maps_to_a_unique_safe_file(names):
    folder = Path("/reports/developer")
    files = [report_file(folder / name, fmt) for name in names for fmt in FORMATS]
    assert len(set(files)) == len(files)
    for path in files:
        assert path.parent == folder
        assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9._-]*", path.name) and path.name not in (".", "..")
        assert path.name.split(".", 1)[0].lower() not in ("con", "prn", "aux", "nul")


def test_ordinary_names_are_unchanged():
    assert report_file(Path("r/developer/checkout-api"), "html") == Path("r/developer/checkout-api.html")
    assert report_file(Path("r/lead/payments"), "md") == Path("r/lead/payments.md")
    assert report_file(Path("r/developer/con"), "html") == Path("r/developer/_con.html")
