"""The answer in ten seconds: incidents (not findings), what changed since the last report, and
each squad's next actions — the report side of perfops.model.incidents, .changes and .actions.

Reads the view (the stored findings of the run and their history); computes no analysis.
"""

from __future__ import annotations

from markupsafe import Markup

from perfops.model import format as fmt
from perfops.model.actions import Action, next_actions
from perfops.model.changes import Changes, FindingTimes, changes_since
from perfops.model.findings import SEVERE
from perfops.model.incidents import Incident, group_incidents
from perfops.reports.blocks import Cell, Doc, severity_cell, status_cell
from perfops.reports.links import squads_cell
from perfops.reports.section import ReportView, Section

WORD_LEVEL = {"Act now": "red", "Plan": "amber", "Watch": "amber", "Review": "grey", "In hand": "green",
              "Resolved": "green"}
TOP_INCIDENTS = 12
ANSWER_NAMES = 3  # incidents named in the answer


def incidents_of(view: ReportView) -> list[Incident]:
    """The incidents of the view's scope at the run's end: open, acknowledged and recently resolved."""
    key = ("incidents", view.squad, view.service)
    if key not in view.cache:
        view.cache[key] = group_incidents([*view.active, *view.resolved], view.now)
    return view.cache[key]


def changes_of(view: ReportView) -> Changes | None:
    """New / still open / resolved since the previous period's analysis; None for the first one."""
    previous = view.ctx.previous
    if previous is None:
        return None
    scoped = [*view.active, *view.resolved]
    return changes_since(scoped, FindingTimes.of(view.history), previous.at, view.ctx.run.at)


def answer_lines(view: ReportView, incidents: list[Incident], services_line: str) -> list[str]:
    """Three to five lines: what needs the reader and who owns it, what ended, what changed."""
    severe = [i for i in incidents if i.needs_action]
    lines = []
    if severe:
        named = "; ".join(f"{i.lead.title.rstrip('.')} (squad {i.squad}, {_state_words(i, view)})"
                          for i in severe[:ANSWER_NAMES])
        more = f"; and {len(severe) - ANSWER_NAMES} more below" if len(severe) > ANSWER_NAMES else ""
        lines.append(f"{_count(len(severe), 'incident needs', 'incidents need')} you: {named}{more}.")
    else:
        lines.append("Nothing needs you: no critical or high incident is ongoing or standing.")
    ended = [i for i in incidents if i.state == "ended" and i.severity in SEVERE]
    if ended:
        lines.append(f"{_count(len(ended), 'serious incident', 'serious incidents')} ended in the period and "
                     f"{'is' if len(ended) == 1 else 'are'} to review: "
                     + "; ".join(f"{i.lead.title.rstrip('.')} (squad {i.squad})" for i in ended[:2]) + ".")
    changes, previous = changes_of(view), view.ctx.previous
    if changes is not None and previous is not None:  # changes_of is None without a previous run
        lines.append(f"Since the last report ({fmt.local_time(previous.period_end, view.timezone)}): "
                     f"{changes.counts()['new']} new, {changes.counts()['still_open']} still open, "
                     f"{changes.counts()['resolved']} resolved.")
    lines.append(services_line)
    return lines


def incidents_section(view: ReportView, order: int, severe_only: bool) -> Section:
    """The incidents, what needs action first, each with its state, owner, time and next step."""
    incidents = [i for i in incidents_of(view) if i.state != "resolved"]
    if severe_only:
        incidents = [i for i in incidents if i.severity in SEVERE]
    doc = Doc()
    if not incidents:
        doc.para("Nothing out of the ordinary: no critical or high incident." if severe_only
                 else "No open incident.", "calm")
        return doc.section("out-of-ordinary", "Anything out of the ordinary", order, [])
    rows, data = [], []
    for i in incidents[:TOP_INCIDENTS]:
        rows.append([status_cell(WORD_LEVEL[i.word], i.word), severity_cell(i.severity), _what(i),
                     squads_cell(view, list(i.squads)), when_text(i, view), i.advice(view.now) or "–"])
        data.append(i.to_dict(view.now))
    doc.table(["State", "Severity", "What", "Squads", "When", "Next step"], rows, cls="incidents-table")
    if len(incidents) > TOP_INCIDENTS:
        doc.note(f"{len(incidents) - TOP_INCIDENTS} more incidents are listed in the squads' reports.")
    return doc.section("out-of-ordinary", "Anything out of the ordinary", order, data)


def actions_section(view: ReportView, order: int) -> Section:
    """A lead's ordered list of what the squad should do next, with the finding ids behind each."""
    actions = next_actions(incidents_of(view), view.finding_index, view.squad, view.ctx.catalog.currency)
    doc = Doc()
    if not actions:
        doc.para("Nothing to do: no open incident for this squad.", "calm")
    else:
        doc.bullets([_action_cell(a) for a in actions[:10]])
        if len(actions) > 10:
            doc.note(f"{len(actions) - 10} more: see the findings below.")
    return doc.section("next-actions", "Next actions", order, [a.to_dict() for a in actions])


def _action_cell(a: Action) -> Cell:
    ids = ", ".join(a.findings[:3]) + (" …" if len(a.findings) > 3 else "")
    text = f"{a.word}: {a.text} ({ids})"
    html = Markup('<span class="status status-{}">{}</span> {} <span class="f-id">{}</span>').format(
        WORD_LEVEL.get(a.word, "grey"), a.word, a.text, ids)
    return Cell(text=text, html=html)


def _what(i: Incident) -> Cell:
    extra = len(i.symptoms) - 1
    event = i.lead.event if i.lead.event and i.lead.event not in i.lead.title else None
    text = i.lead.title + (f" (after {event})" if event else "") + (
        f"; with {_count(extra, 'related finding', 'related findings')}" if extra else "")
    html = Markup('<span class="f-title">{}</span>').format(i.lead.title)
    if event:
        html += Markup('<br><span class="f-event">after {}</span>').format(event)
    if extra:
        html += Markup('<br><span class="f-event">with {}</span>').format(_count(extra, "related finding",
                                                                             "related findings"))
    html += Markup('<br><span class="f-id">{}</span>').format(i.id)
    return Cell(text=f"{text} [{i.id}]", html=html)


def when_text(i: Incident, view: ReportView) -> str:
    """'since 3 days ago', 'ended 2 days ago, lasted 40 min', 'standing'."""
    if i.state == "standing":
        return "standing"
    if i.end is None:
        return f"since {fmt.relative(i.start, view.now)}" if i.start else "ongoing"
    lasted = f", lasted {fmt.duration(i.duration)}" if i.duration else ""
    return f"ended {fmt.relative(i.end, view.now)}{lasted}"


def _state_words(i: Incident, view: ReportView) -> str:
    if i.state == "standing":
        return "to plan"
    return "ongoing" + (f" since {fmt.relative(i.start, view.now)}" if i.start else "")


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
