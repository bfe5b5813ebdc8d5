"""The accountability workflow: list, acknowledge, resolve, reopen, assign, comment.

The CLI (`perfops findings ...`) and the web dashboard call these same functions. Every change
is kept in the finding's history. Acknowledging a regression also records a level mark, so
later analyses measure against the new level instead of raising it again every week.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from perfops.errors import NotFoundError, PerfopsError
from perfops.model.findings import CATEGORIES, SEVERITIES, STATUSES, Finding
from perfops.store import Store, open_store
from perfops.store.findings_repo import FindingFilter
from perfops.workspace import Workspace

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "acknowledge": (("open",), "acknowledged"),
    "resolve": (("open", "acknowledged"), "resolved"),
    "reopen": (("resolved", "acknowledged"), "open"),
}
LEVEL_SHIFT_KINDS = ("regression", "improvement", "volume_growth")


@dataclass(frozen=True)
class FindingWithHistory:
    finding: Finding
    history: list[dict[str, Any]]


def validate_filter(flt: FindingFilter, workspace: Workspace) -> None:
    if flt.squad or flt.service:  # parsing the catalog costs; only names need it
        catalog = workspace.load_catalog()
        if flt.squad and flt.squad not in catalog.squad_by_name:
            raise PerfopsError(f"--squad: '{flt.squad}' is not a squad in perfops.yaml; "
                               f"expected one of {', '.join(catalog.squad_by_name)}")
        if flt.service and flt.service not in catalog.service_by_name:
            raise PerfopsError(f"--service: '{flt.service}' is not a service in perfops.yaml")
    elif not workspace.catalog_path.exists():
        workspace.load_catalog()  # the usual "no perfops.yaml" error
    if flt.category and flt.category not in CATEGORIES:
        raise PerfopsError(f"--category: '{flt.category}' is unknown; expected one of {', '.join(CATEGORIES)}")
    if flt.status != "all" and flt.status not in STATUSES:
        raise PerfopsError(f"--status: '{flt.status}' is unknown; expected open, acknowledged, resolved or all")
    if flt.min_severity and flt.min_severity not in SEVERITIES:
        raise PerfopsError(f"--min-severity: '{flt.min_severity}' is unknown; expected one of {', '.join(SEVERITIES)}")


def list_findings(workspace: Workspace, flt: FindingFilter = FindingFilter()) -> list[Finding]:
    validate_filter(flt, workspace)
    if not workspace.store_path.exists():
        return []
    with open_store(workspace.store_path, read_only=True) as store:
        return store.findings.list(flt)


def get_finding(workspace: Workspace, finding_id: str) -> FindingWithHistory:
    with open_store(workspace.store_path, read_only=True) as store:
        finding = _existing(store, finding_id)
        return FindingWithHistory(finding, store.findings.history(finding.id))


def change_status(workspace: Workspace, finding_id: str, action: str, by: str | None, note: str | None) -> Finding:
    """acknowledge | resolve | reopen, with who and why kept in the history."""
    allowed_from, target = TRANSITIONS[action]
    with open_store(workspace.store_path) as store:
        finding = _existing(store, finding_id)
        if finding.status == target:
            raise PerfopsError(f"finding {finding.id} is already {target}")
        if finding.status not in allowed_from:
            raise PerfopsError(f"finding {finding.id} is {finding.status}; '{action}' applies to {' or '.join(allowed_from)}")
        with store.transaction():
            store.findings.set_status(finding.id, target, _past(action), by or "unknown", note)
            if action == "reopen":  # not the new normal after all: judge it against the old level again
                store.findings.remove_level_marks(finding.id)
            if action == "acknowledge" and finding.kind in LEVEL_SHIFT_KINDS and finding.start:
                store.findings.add_level_mark(
                    finding.service, finding.endpoint or "", finding.metric or "", finding.start,
                    note or f"acknowledged {finding.kind}", by or "unknown", finding.id,
                )
        updated = store.findings.get(finding.id)
    assert updated is not None
    return updated


def assign(workspace: Workspace, finding_id: str, squad: str, by: str | None, note: str | None) -> Finding:
    catalog = workspace.load_catalog()
    if squad not in catalog.squad_by_name:
        raise PerfopsError(f"'{squad}' is not a squad in perfops.yaml; expected one of {', '.join(catalog.squad_by_name)}")
    with open_store(workspace.store_path) as store:
        finding = _existing(store, finding_id)
        with store.transaction():
            store.findings.assign(finding.id, squad, by or "unknown", note)
        updated = store.findings.get(finding.id)
    assert updated is not None
    return updated


def comment(workspace: Workspace, finding_id: str, by: str | None, note: str) -> None:
    if not note.strip():
        raise PerfopsError("a comment needs text")
    with open_store(workspace.store_path) as store:
        finding = _existing(store, finding_id)
        store.findings.comment(finding.id, by or "unknown", note)


def _existing(store: Store, finding_id: str) -> Finding:
    finding = store.findings.get(finding_id)
    if finding is None:
        matches = [f for f in store.findings.list(FindingFilter(status="all")) if f.id.startswith(finding_id)]
        if len(matches) == 1:
            return matches[0]
        raise NotFoundError(f"no finding with id '{finding_id}'", hint="list them with 'perfops findings --status all'")
    return finding


def _past(action: str) -> str:
    return {"acknowledge": "acknowledged", "resolve": "resolved", "reopen": "reopened"}[action]
