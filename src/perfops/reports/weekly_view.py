"""The week at a glance, shared by the reports and the dashboard: the movement of the key numbers
since the previous stored analysis run, and one strip per squad (status word, open incidents,
small charts). Reads the view's stored figures (perfops.model.weekly holds the rules); computes
no analysis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime

from markupsafe import Markup

from perfops.model import format as fmt
from perfops.model import health
from perfops.model.changes import FindingTimes
from perfops.model.findings import Finding
from perfops.model.incidents import group_incidents
from perfops.model.weekly import (
    Movement,
    StripSeries,
    change_text,
    key_numbers,
    movement_words,
    strips_by_group,
    value_text,
)
from perfops.reports import charts
from perfops.reports.blocks import Doc, md_escape, status_cell
from perfops.reports.incidents_view import incidents_of
from perfops.reports.picture import build_picture, daily_rollup, hour_floor, stored_rollups
from perfops.reports.section import ReportView, Section

STRIP_LABELS = {"requests": "Requests", "latency_p95_ms": "p95", "error_rate_pct": "Errors", "cost": "Cost"}
STRIP_UNITS = {"requests": "", "latency_p95_ms": "ms", "error_rate_pct": "%", "cost": "money"}  # as value_text takes
REPORT_WEEKS = 6  # the reports' strips: one point per week


# ---- movement since the previous run -------------------------------------------------------------
def movement_of(view: ReportView) -> Movement:
    """The scope's key numbers now and at the previous stored run (None when there is none or
    it kept no figures)."""
    names = view.services_in_scope
    open_now = sum(1 for i in incidents_of(view) if i.state != "resolved")
    now = key_numbers(build_picture(view).kpis, view.ctx.figures.cost, names, open_now)
    previous, figures = view.ctx.previous, view.ctx.previous_figures
    if previous is None or figures is None or not figures.rollups:
        return Movement(now, None, previous.period_end if previous else None)
    kpis = view.cache.get("previous-kpis")
    if kpis is None:
        hourly = [frame for key, frame in stored_rollups(figures.rollups).items() if key[4] == health.HOUR]
        kpis = health.weekly_kpis(hourly[0] if hourly else None, [s.name for s in view.ctx.catalog.services],
                                  previous.period_end)
        view.cache["previous-kpis"] = kpis
    before = key_numbers(kpis, figures.cost, names, _open_incidents_at(view, previous.at, previous.period_end))
    return Movement(now, before, previous.period_end)


def _open_incidents_at(view: ReportView, moment: datetime, period_end: datetime) -> int:
    """Incidents open when the previous run was made: the scope's findings found before it and
    not resolved by then (by the workflow history), grouped as that run would have."""
    times = view.cache.get("finding-times")
    if times is None:  # read once per run: a run writes a report per service
        times = view.cache["finding-times"] = FindingTimes.of(view.history)
    then: list[Finding] = []
    for f in [*view.active, *view.resolved]:
        found = times.found.get(f.id)
        if found is None or found >= moment:
            continue
        resolved = times.resolved.get(f.id)
        if f.status == "resolved" and (resolved is None or resolved < moment):
            continue
        then.append(f if f.status != "resolved" else replace(f, status="open"))
    return sum(1 for i in group_incidents(then, period_end) if i.state != "resolved")


def movement_section(view: ReportView, order: int) -> Section:
    """'Since the previous report' as a small table: each key number now, then, and its change."""
    movement = movement_of(view)
    doc = Doc()
    currency = view.ctx.catalog.currency
    if movement.before is None:
        doc.para(movement_words(movement, currency, view.timezone), "calm")
    else:
        assert movement.previous_end is not None
        doc.note(f"This run's last 7 days against the previous stored run (period ending "
                 f"{fmt.local_date(movement.previous_end, view.timezone)}).")
        moves = movement.moves()  # the key numbers as columns: three short rows, on paper and phone alike
        doc.table(["", *(m.label for m in moves)], [
            ["Now", *(value_text(m.now, m.unit, currency) for m in moves)],
            ["Previous run", *(value_text(m.before, m.unit, currency) for m in moves)],
            ["Change", *(change_text(m) for m in moves)],
        ], cls="compact movement-table")
    return doc.section("movement", "Since the previous report", order, movement.to_dict())


# ---- squad strips --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SquadStrip:
    squad: str
    lead: str | None
    level: str
    word: str
    why: str
    open_incidents: int
    incidents: list[str]  # the open incidents' lead titles, most important first
    series: StripSeries

    def to_dict(self) -> dict[str, object]:
        return {"squad": self.squad, "lead": self.lead, "status": {"level": self.level, "word": self.word,
                                                                   "why": self.why},
                "open_incidents": self.open_incidents, "incidents": self.incidents, "series": self.series.to_dict()}


def squad_strips(view: ReportView, days: int = 7 * REPORT_WEEKS, bucket_days: int = 7) -> list[SquadStrip]:
    """One strip per squad of the scope, worst status first: its status, open incidents and its
    requests, p95, error rate and cost per bucket over `days` before the run's end."""
    cat = view.ctx.catalog
    pic = build_picture(view)
    daily = daily_rollup(view, None)
    incidents = [i for i in incidents_of(view) if i.state != "resolved"]
    squads = [s for s in cat.squads if s.name in pic.squad_status]
    series = strips_by_group(daily, {s.name: [x.name for x in cat.services_of(s.name)] for s in squads},
                             hour_floor(view.now), days, bucket_days)
    out = []
    for squad in squads:
        st = pic.squad_status[squad.name]
        own = [i for i in incidents if i.squad == squad.name]
        out.append(SquadStrip(squad.name, squad.lead, st.level, st.word, st.why, len(own),
                              [i.lead.title for i in own[:3]], series[squad.name]))
    out.sort(key=lambda s: (health.LEVELS.index(s.level), -s.open_incidents, s.squad))
    return out


def strip_sparks(strip: SquadStrip, currency: str) -> list[tuple[str, Markup, str]]:
    """(label, inline SVG, the latest value in words) per metric of a strip."""
    out = []
    for metric, label in STRIP_LABELS.items():
        values = strip.series.values[metric]
        svg = charts.sparkline(values, None, title=f"squad {strip.squad} {label.lower()}, "
                                                   f"{len(values)} × {strip.series.bucket_days} days",
                               width_in=1.1, height_in=0.32)
        out.append((label, svg, latest_text(strip, metric, currency)))
    return out


def latest_text(strip: SquadStrip, metric: str, currency: str) -> str:
    """The newest bucket of `metric` that has data, in words."""
    latest = next((v for v in reversed(strip.series.values[metric]) if not math.isnan(v)), math.nan)
    return value_text(latest, STRIP_UNITS[metric], currency)


def strips_html(strips: list[SquadStrip], currency: str, href: dict[str, str]) -> Markup:
    """The strips as cards (they wrap on a phone); `href`: squad -> its report or page."""
    cards = []
    for s in strips:
        name = Markup('<a href="{}">{}</a>').format(href[s.squad], s.squad) if s.squad in href else s.squad
        sparks = Markup("").join(
            Markup('<span class="strip-spark"><span class="strip-label">{}</span>{}'
                   '<span class="strip-value">{}</span></span>').format(label, svg, text)
            for label, svg, text in strip_sparks(s, currency))
        incidents = (Markup('<span class="strip-incidents">{}</span>').format(_incident_words(s)))
        cards.append(Markup('<div class="squad-strip strip-{}"><div class="strip-head"><strong>{}</strong> {} {}'
                            '</div><div class="strip-why">{}</div><div class="strip-sparks">{}</div></div>').format(
            s.level, name, status_cell(s.level, s.word).html, incidents, s.why, sparks))
    columns = Markup("").join(Markup("<span>{}</span>").format(label) for label in ("Squad", *STRIP_LABELS.values()))
    return Markup('<div class="squad-strips"><div class="strip-columns" aria-hidden="true">{}</div>{}</div>').format(
        columns, Markup("").join(cards))


def strips_md(strips: list[SquadStrip], currency: str) -> str:
    rows = ["| Squad | Status | Open incidents | " + " | ".join(f"{v} (latest)" for v in STRIP_LABELS.values()) + " |",
            "|" + "---|" * (3 + len(STRIP_LABELS))]
    for s in strips:
        latest = [latest_text(s, metric, currency) for metric in STRIP_LABELS]  # words only: no chart drawn
        rows.append(f"| {md_escape(s.squad)} | {md_escape(s.word)} | {s.open_incidents} | " + " | ".join(latest) + " |")
    return "\n".join(rows)


def _incident_words(s: SquadStrip) -> str:
    if not s.open_incidents:
        return "no open incident"
    return f"{s.open_incidents} open incident{'s' if s.open_incidents != 1 else ''}"
