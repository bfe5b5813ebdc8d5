"""Root cause across dependencies: deepest plausible cause, severity lowered, title says why."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from perfops.analysis.rootcause import link_causes
from perfops.model.findings import Finding
from perfops.workspace import parse_catalog

CAT = """\
domain: D
squads: [{name: a}, {name: b}, {name: c}]
services:
  - {name: web, squad: a, tier: 1, depends_on: [api]}
  - {name: api, squad: b, tier: 1, depends_on: [db]}
  - {name: db, squad: c, tier: 2}
  - {name: other, squad: c, tier: 2}
"""
T0 = datetime(2026, 3, 1, 12, 0)


@pytest.fixture
def cat():
    return parse_catalog(CAT)


def finding(service, kind="regression", metric="latency", start=T0, severity="high", event=None):
    return Finding(kind=kind, severity=severity, service=service, squad="x", title=f"{service} t",
                   detail="d.", start=start, metric=metric, event=event)


def test_deepest_cause_wins_along_a_chain(cat):
    web, api, db = finding("web"), finding("api"), finding("db", event="db 9.1", start=T0 - timedelta(minutes=5))
    out = {f.service: f for f in link_causes([web, api, db], cat)}
    assert out["web"].caused_by == db.id and out["api"].caused_by == db.id
    assert out["db"].caused_by is None and out["db"].severity == "high"
    assert out["web"].severity == "medium"
    assert out["web"].title == "web slow because db regressed after 9.1"
    assert out["web"].evidence["cause_squad"] == "c"


def test_unrelated_or_distant_findings_are_not_linked(cat):
    web = finding("web")
    other = finding("other")  # not a dependency
    late_api = finding("api", start=T0 + timedelta(hours=3))  # starts after the effect
    out = link_causes([web, other, late_api], cat)
    assert all(f.caused_by is None for f in out)


def test_traffic_findings_are_not_explained_by_dependencies(cat):
    web = finding("web", kind="anomaly", metric="traffic")
    out = link_causes([web, finding("api")], cat)
    assert out[0].caused_by is None
