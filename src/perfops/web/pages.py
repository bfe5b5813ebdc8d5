"""Page and API content of the dashboard, from a snapshot (no SQL, no statistics here: the
statuses, ranking and figures come from perfops.model.health / picture, as in the reports)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup
from pydantic import BaseModel

from perfops.errors import NotFoundError, PerfopsError
from perfops.model import format as fmt
from perfops.model import health
from perfops.model.findings import CATEGORIES, SEVERE, SEVERITIES, STATUSES, Finding
from perfops.reports import weekly_view
from perfops.reports.overview_team import finding_age
from perfops.web.data import Snapshot
from perfops.web.picker import current


@lru_cache(maxsize=1)
def _env() -> Any:
    """The reports' one Jinja environment (perfops.reports.templating: autoescape, strict
    undefined, people's formats as filters) looking in the dashboard's templates first."""
    from jinja2 import ChoiceLoader, PackageLoader

    from perfops.reports.templating import environment

    base = environment()
    env = base.overlay(loader=ChoiceLoader([PackageLoader("perfops.web", "templates"), base.loader]))
    env.globals["write_key"] = lambda: uuid.uuid4().hex  # a form's idempotency key (web/idempotency.py)
    env.globals["keep"] = keep_view  # a link inside the dashboard keeps ?run= and ?range=
    return env


def keep_view(url: str) -> str:
    """`url` carrying the request's ?run= and ?range= (web/picker.py)."""
    return current().link(url)


def render(template: str, **values: Any) -> str:
    return _env().get_template(template).render(**values)


# ---- look-ups ----------------------------------------------------------------------------------
def require_squad(snap: Snapshot, squad: str) -> None:
    if squad not in snap.catalog.squad_by_name:
        raise NotFoundError(f"no squad '{squad}' in this domain")


def require_service(snap: Snapshot, service: str) -> None:
    if service not in snap.catalog.service_by_name:
        raise NotFoundError(f"no service '{service}' in this domain")


def filter_findings(snap: Snapshot, squad: str | None, service: str | None, category: str | None, status: str,
                    min_severity: str | None) -> list[Finding]:
    if status not in (*STATUSES, "all"):
        raise PerfopsError(f"status '{status}' is unknown; expected open, acknowledged, resolved or all")
    if min_severity and min_severity not in SEVERITIES:
        raise PerfopsError(f"min_severity '{min_severity}' is unknown; expected one of {', '.join(SEVERITIES)}")
    if category and category not in CATEGORIES:
        raise PerfopsError(f"category '{category}' is unknown; expected one of {', '.join(CATEGORIES)}")
    if squad and squad not in snap.catalog.squad_by_name:
        raise PerfopsError(f"squad '{squad}' is unknown; expected one of {', '.join(snap.catalog.squad_by_name)}")
    if service and service not in snap.catalog.service_by_name:
        raise PerfopsError(f"service '{service}' is not a service in perfops.yaml")
    limit = SEVERITIES.index(min_severity) if min_severity else len(SEVERITIES)
    chosen = [f for f in snap.findings
              if (not squad or f.squad == squad) and (not service or f.service == service)
              and (not category or f.category == category) and (status == "all" or f.status == status)
              and SEVERITIES.index(f.severity) <= limit]
    return health.rank_findings(chosen, snap.catalog)


def _service_row(snap: Snapshot, name: str) -> dict[str, Any]:
    st = snap.picture.status[name]
    k = snap.picture.kpis.get(name)
    svc = snap.catalog.service(name)
    return {"name": name, "squad": svc.squad, "tier": svc.tier, "status": st.to_dict(),
            "kpis": k.to_dict() if k else None,
            "changes": {m: (None if k is None else _finite(k.change(m))) for m in health.WOW_METRICS},
            "open_findings": len(snap.picture.active_by_service.get(name, []))}


def _finite(v: float) -> float | None:
    return None if v != v else round(v, 2)  # NaN check


def _finding_row(snap: Snapshot, f: Finding) -> dict[str, Any]:
    cause_sq, cause_svc = health.cause_squad(f, snap.view.finding_index, snap.catalog)
    seen = snap.view.first_seen.get(f.id) or f.start
    return {**f.to_record(), "cause_squad": cause_sq, "cause_service": cause_svc,
            "impact_words": health.impact_words(f, snap.catalog.currency),
            "age": finding_age(f, seen, snap.view.now)}


# ---- JSON ----------------------------------------------------------------------------------------
def domain_json(snap: Snapshot) -> dict[str, Any]:
    from perfops.reports.overview_domain import headline

    pic = snap.picture
    severe = [f for f in snap.view.active if f.severity in SEVERE]
    return {
        "domain": snap.catalog.domain, "now": snap.view.now.isoformat() + "Z",
        "headline": headline(pic.counts(), len(pic.services)), "counts": pic.counts(),
        "squads": [{"name": s.name, "lead": s.lead, "status": pic.squad_status[s.name].to_dict(),
                    "services": len(snap.catalog.services_of(s.name))}
                   for s in snap.catalog.squads if s.name in pic.squad_status],
        "services": [_service_row(snap, n) for n in pic.services],
        "out_of_ordinary": [_finding_row(snap, f) for f in health.rank_findings(severe, snap.catalog)],
        "movement": weekly_view.movement_of(snap.view).to_dict(),
        "squad_strips": [s.to_dict() for s in weekly_view.squad_strips(snap.view, days=current().days, bucket_days=1)],
    }


def squad_json(snap: Snapshot, squad: str) -> dict[str, Any]:
    require_squad(snap, squad)
    names = [s.name for s in snap.catalog.services_of(squad)]
    sq = snap.catalog.squad_by_name[squad]
    active = snap.index.active_by_squad.get(squad, [])
    return {"name": squad, "lead": sq.lead, "status": snap.picture.squad_status[squad].to_dict(),
            "services": [_service_row(snap, n) for n in names],
            "findings": [_finding_row(snap, f) for f in health.rank_findings(active, snap.catalog)]}


def service_json(snap: Snapshot, service: str) -> dict[str, Any]:
    require_service(snap, service)
    svc = snap.catalog.service(service)
    active = snap.index.active_by_service.get(service, [])
    endpoints = sorted({f.endpoint for f in active if f.endpoint} | snap.index.endpoints.get(service, frozenset()))
    return {**_service_row(snap, service), "depends_on": svc.depends_on, "callers": snap.catalog.callers_of(service),
            "slo": svc.slo.model_dump() if svc.slo else None, "endpoints": endpoints,
            "findings": [_finding_row(snap, f) for f in health.rank_findings(active, snap.catalog)]}


def finding_json(found: Any) -> dict[str, Any]:
    """A finding record with its `history` (from perfops.usecases.workflow.FindingWithHistory)."""
    history = [{k: (v.isoformat() + "Z" if hasattr(v, "isoformat") else v) for k, v in row.items()}
               for row in found.history]
    return {**found.finding.to_record(), "history": history}


# ---- the stored runs (?run=, web/picker.py) ----------------------------------------------------
class RunItem(BaseModel):
    id: int
    period_start: str  # ISO 8601 in the domain's timezone, with its offset
    period_end: str
    analysed_at: str
    findings: int
    newest: bool  # the run the dashboard shows without ?run=
    url: str  # the domain page of this run


class RunsView(BaseModel):
    timezone: str
    runs: list[RunItem]  # newest first


def runs_view(snap: Snapshot) -> RunsView:
    tz = snap.catalog.timezone
    newest = snap.view.ctx.run.id
    return RunsView(timezone=tz, runs=[
        RunItem(id=r.id, period_start=_local(r.period_start, tz), period_end=_local(r.period_end, tz),
                analysed_at=_local(r.at, tz), findings=r.findings, newest=r.id == newest,
                url="/" if r.id == newest else f"/?run={r.id}") for r in snap.runs])


def _local(moment: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(tz)).isoformat()


# ---- pages ---------------------------------------------------------------------------------------
def base_values(snap: Snapshot) -> dict[str, Any]:
    """What every page's frame shows: the domain, the data's time, the run and the view picker."""
    from perfops.web.picker import picker_values

    return {"domain": snap.catalog.domain, "generated": fmt.local_iso(snap.view.now, snap.catalog.timezone),
            "tz": snap.catalog.timezone, "run": snap.view.ctx.run.describe(),
            "picker": picker_values(snap.runs, snap.view.ctx.run.id, snap.catalog.timezone), "days": current().days}


DOMAIN_PAGE_SERVICES = 60


def domain_page(snap: Snapshot) -> str:
    """The domain at a glance: the movement since the previous run, one strip per squad over the
    range, then the services that matter now (not normal first, then tier and traffic), at most
    DOMAIN_PAGE_SERVICES; /services lists every one."""
    d = domain_json(snap)
    order = {"red": 0, "amber": 1, "grey": 2, "green": 3}
    ranked = sorted(d["services"], key=lambda s: (order[s["status"]["level"]], s["tier"],
                                                   -((s["kpis"] or {}).get("requests") or 0), s["name"]))
    state = current()
    strips = weekly_view.squad_strips(snap.view, days=state.days, bucket_days=1)
    href = {s.squad: state.link(f"/squads/{quote(s.squad)}") for s in strips}
    movement = weekly_view.movement_section(snap.view, order=0)
    return render("domain.html.j2", **base_values(snap), d=d, shown=ranked[:DOMAIN_PAGE_SERVICES],
                  total=len(ranked), strips=weekly_view.strips_html(strips, snap.catalog.currency, href),
                  movement=Markup(movement.html))  # built escaped by reports.blocks.Doc


def services_page(snap: Snapshot) -> str:
    d = domain_json(snap)
    return render("services.html.j2", **base_values(snap), services=d["services"])


def squad_page(snap: Snapshot, squad: str) -> str:
    return render("squad.html.j2", **base_values(snap), s=squad_json(snap, squad))


def service_page(snap: Snapshot, service: str) -> str:
    return render("service.html.j2", **base_values(snap), s=service_json(snap, service))


def endpoint_page(snap: Snapshot, service: str, endpoint: str) -> str:
    active = [f for f in snap.index.active_by_service.get(service, []) if f.endpoint == endpoint]
    return render("endpoint.html.j2", **base_values(snap), service=service, endpoint=endpoint,
                  squad=snap.catalog.squad_of(service),
                  findings=[_finding_row(snap, f) for f in health.rank_findings(active, snap.catalog)])


def findings_page(snap: Snapshot, chosen: list[Finding], filters: dict[str, Any]) -> str:
    return render("findings.html.j2", **base_values(snap), findings=[_finding_row(snap, f) for f in chosen],
                  filters=filters, squads=[s.name for s in snap.catalog.squads],
                  services=[s.name for s in snap.catalog.services], categories=CATEGORIES,
                  severities=SEVERITIES, statuses=(*STATUSES, "all"))


@dataclass(frozen=True)
class WorkflowForm:
    """The finding page's workflow form: the browser session's CSRF token (None: no session yet,
    so the form asks for the token) and, after a refused write, what was typed and why."""

    csrf: str | None = None
    by: str = ""
    note: str = ""
    squad: str = ""
    error: str | None = None


def finding_page(snap: Snapshot, found: Any, message: str | None, writable: bool,
                 history_missing: bool = False, form: WorkflowForm | None = None) -> str:
    f = finding_json(found)
    for row in f["history"]:
        row["when"] = fmt.local_iso(_parse(row.get("at")), snap.catalog.timezone)
    return render("finding.html.j2", **base_values(snap), f=f, message=message, writable=writable,
                  evidence=fmt.evidence_rows(f.get("evidence"), snap.catalog.currency),
                  squads=[s.name for s in snap.catalog.squads], history_missing=history_missing,
                  form=form or WorkflowForm(), has_band=_has_band(snap, found.finding))


def _has_band(snap: Snapshot, f: Finding) -> bool:
    from perfops.web.finding_chart import band_of

    return band_of(snap, f) is not None


def finding_from_snapshot(snap: Snapshot, finding_id: str) -> Any:
    """The finding as the snapshot holds it, without its history (for a busy store); None when
    the snapshot does not hold that id."""
    from perfops.usecases.workflow import FindingWithHistory

    found = next((f for f in snap.findings if f.id == finding_id), None)
    return None if found is None else FindingWithHistory(found, [])


def _parse(text: Any) -> Any:
    from datetime import datetime

    if not isinstance(text, str):
        return text
    return datetime.fromisoformat(text.removesuffix("Z"))


def error_page(status: int, message: str, hint: str | None) -> str:
    return render("error.html.j2", domain="perfops", generated="", tz="", status=status, message=message, hint=hint)
