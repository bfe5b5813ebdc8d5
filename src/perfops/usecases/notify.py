"""`perfops notify`: each squad its digest and the domain digest, to the catalog's webhooks.

"New" means first seen since the last digest sent to that target (kept in
`.perfops/notify-state.json`); the first time, since `period` ago. The domain digest goes to
PERFOPS_DOMAIN_WEBHOOK when set. `--dry-run` builds everything and sends nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from perfops.errors import PerfopsError
from perfops.notify.digest import Digest, build_digests
from perfops.store import open_store
from perfops.store.findings_repo import FindingFilter
from perfops.usecases.context import newest_data, parse_period
from perfops.usecases.reports import movement_lines, newest_domain
from perfops.workspace import Workspace

STATE_FILE = "notify-state.json"
DOMAIN_WEBHOOK_ENV = "PERFOPS_DOMAIN_WEBHOOK"


@dataclass
class NotifyResult:
    digests: list[Digest]
    sent: list[tuple[str, int]] = field(default_factory=list)  # (target, attempts)
    skipped: list[str] = field(default_factory=list)  # targets without a webhook
    failed: list[tuple[str, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"sent the {t} digest ({a} attempt{'s' if a > 1 else ''})" for t, a in self.sent]
        if self.skipped:
            out.append(f"no webhook configured for: {', '.join(self.skipped)}")
        out += [f"FAILED {t}: {e}" for t, e in self.failed]
        return out


def send_digests(workspace: Workspace, *, dry_run: bool = False, period: str = "7d",
                 now: datetime | None = None, transport: httpx.BaseTransport | None = None,
                 sleep=None, already_sent: Callable[[str], bool] | None = None,
                 on_sent: Callable[[str], None] | None = None) -> NotifyResult:
    """Build every digest and send those with a webhook. `already_sent(target)` skips a target
    (perfops cycle: once per period); `on_sent(target)` is told right after each delivery, and the
    notify state is written then too, so a process killed half-way never sends a digest twice."""
    catalog = workspace.load_catalog()
    state_path = workspace.store_path.parent / STATE_FILE
    state = _read_state(state_path)
    with open_store(workspace.store_path, read_only=True) as store:
        moment = now or newest_data(store) or datetime.now()
        data = newest_domain(store, catalog)  # its findings and history are the digests' too
        findings = data.findings if data else store.findings.list(FindingFilter(status="all"))
        history = data.history if data else store.findings.history()
    movement = movement_lines(data, catalog) if data else {}
    default_since = moment - parse_period(period)
    since = {t: _parse(state.get(t)) or default_since for t in ["domain", *catalog.squad_by_name]}
    digests = build_digests(catalog, findings, history, since, moment, movement)
    result = NotifyResult(digests)
    if dry_run:
        return result
    domain_hook = os.environ.get(DOMAIN_WEBHOOK_ENV)
    from_env = {s.name: os.environ.get(s.webhook_env) for s in catalog.squads if s.webhook_env and not s.webhook}
    digests = [_with_hook(d, domain_hook) if d.target == "domain" else
               _with_hook(d, from_env[d.target]) if d.target in from_env else d for d in digests]
    if already_sent is not None:
        digests = [d for d in digests if not already_sent(d.target)]

    def delivered(target: str) -> None:
        state[target] = moment.isoformat()
        _write_state(state_path, state)
        if on_sent is not None:
            on_sent(target)

    _deliver(digests, result, transport, sleep, delivered)
    if result.failed:
        raise PerfopsError(f"{len(result.failed)} digest(s) could not be sent: " +
                           "; ".join(f"{t}: {e}" for t, e in result.failed))
    return result


def _with_hook(d: Digest, hook: str | None) -> Digest:
    return Digest(**{**d.__dict__, "webhook": hook})


def _deliver(digests: list[Digest], result: NotifyResult, transport: httpx.BaseTransport | None, sleep,
             delivered: Callable[[str], None]) -> None:
    from perfops.notify.payloads import payload_for
    from perfops.notify.sender import post_json

    for d in digests:
        if not d.webhook:
            result.skipped.append(d.target)
            continue
        kwargs = {"transport": transport} | ({"sleep": sleep} if sleep else {})
        try:
            delivery = post_json(d.webhook, payload_for(d.webhook, d), **kwargs)
        except PerfopsError as exc:
            result.failed.append((d.target, str(exc)))
            continue
        result.sent.append((d.target, delivery.attempts))
        delivered(d.target)


def _parse(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _read_state(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _write_state(path: Path, state: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(path)
