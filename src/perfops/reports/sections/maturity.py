"""Squad maturity 0–4 with the numbers behind each level and what would raise it.

The levels and their rules are in `perfops.reports.maturity`. The executive sees every squad;
a lead sees the squad's own card with the services that hold it back; developers do not get it.
"""

from __future__ import annotations

import math

from markupsafe import Markup

from perfops.model import format as fmt
from perfops.reports.blocks import Cell, Doc
from perfops.reports.maturity import NAMES, VISIBILITY, Maturity, Measure, assess
from perfops.reports.section import ReportView, Section


def build(view: ReportView) -> list[Section]:
    if view.audience == "developer":
        return []
    cat = view.ctx.catalog
    squads = [view.squad] if view.squad else [s.name for s in cat.squads]
    every = list(view.finding_index.values()) or view.findings
    cards = [assess(cat, sq, view.inventory, view.ctx.test_runs, every, view.history, view.now)
             for sq in squads if sq]
    doc = Doc()
    doc.table(["Squad", "Level", "Telemetry", "Per endpoint", "SLOs", "NFRs", "Cost data", "Tested (30 d)",
               "Ack (median)", "Resolve (median)", "To reach the next level"],
              [_row(c) for c in cards], cls="maturity-table")
    doc.note("Levels: " + "; ".join(f"{k} {v}" for k, v in NAMES.items()) +
             ". Each level needs the ones below. What perfops can report for a squad depends on its level.")
    if view.squad and cards:
        doc.para(f"At level {cards[0].level} ({cards[0].name}), {cards[0].visibility}")
    elif cards:
        by_level: dict[int, list[str]] = {}
        for c in cards:
            by_level.setdefault(c.level, []).append(c.squad)
        doc.bullets([f"Level {lvl} ({NAMES[lvl]}: {', '.join(names)}): {VISIBILITY[lvl]}"
                     for lvl, names in sorted(by_level.items())])
    order = 58 if view.audience == "executive" else 70
    return [doc.section("maturity", "Squad maturity", order, [c.to_dict() for c in cards])]


def _row(c: Maturity) -> list[object]:
    m = c.measures
    level = Cell(text=f"{c.level} {c.name}",
                 html=Markup('<span class="level level-{0}"><b>{0}</b> {1}</span>').format(c.level, c.name))
    ack, res = m["ack_hours"].have, m["resolve_days"].have
    return [
        c.squad, level, _frac(m["telemetry"]), _frac(m["endpoints"]), _frac(m["slo"]), _frac(m["nfr"]),
        _frac(m["cost"]), _frac(m["tests"]),
        "none yet" if math.isnan(ack) else f"{fmt.number(ack, 0)} h",
        "none yet" if math.isnan(res) else f"{fmt.number(res, 1)} d",
        "; ".join(c.raise_by) if c.raise_by else "top level reached",
    ]


def _frac(measure: Measure) -> str:
    return f"{int(measure.have)}/{int(measure.of or 0)}"
