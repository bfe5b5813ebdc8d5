"""`perfops cycle`: the weekly loop as one idempotent command.

One cycle: collect from the configured sources, analyze the period that closed, write the
reports, send each squad its digest and the domain digest (once per period), apply retention.

- **The period that closed**: periods are aligned in the domain's timezone (a 7d period ends on
  a Monday at 00:00, a 1d period at midnight, an hour-based one on the hour), so a cycle run on
  Monday 07:00 analyses and reports the week that ended at midnight, whenever it runs.
- **Idempotent and resumable**: `.perfops/cycle-state.json` records, for each step, the period
  it last completed; a second cycle in the same period does only what is left (collect always
  runs: it is incremental). A cycle killed at any step (crash, SIGKILL) resumes where it stopped.
  Each digest is recorded the moment its webhook accepted it, so none is sent twice.
- **One at a time**: an exclusive lock (`.perfops/cycle.lock`, flock) makes a second cycle exit at
  once with CycleBusyError instead of overlapping; the kernel releases it when a process dies.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from perfops.errors import PerfopsError
from perfops.model.catalog import Catalog, Schedule
from perfops.model.units import parse_duration
from perfops.workspace import Workspace

STEPS = ("collect", "analyze", "report", "notify", "retention")
STATE_FILE = "cycle-state.json"
LOCK_FILE = "cycle.lock"
# periods are counted from a Monday midnight, so weekly periods end on Mondays
_ANCHOR = datetime(1970, 1, 5)


class CycleBusyError(PerfopsError):
    """Another `perfops cycle` holds the workspace's cycle lock."""


@dataclass
class StepOutcome:
    step: str
    status: str  # ok | skipped | done (already, this period) | failed
    detail: str = ""
    seconds: float = 0.0


@dataclass
class CycleResult:
    period_start: datetime
    period_end: datetime
    timezone: str
    steps: list[StepOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[StepOutcome]:
        return [s for s in self.steps if s.status == "failed"]

    def summary(self) -> str:
        """One line: the period and each step's outcome (cron mails and log shippers read it)."""
        local = self.period_end.replace(tzinfo=UTC).astimezone(ZoneInfo(self.timezone))
        parts = [f"{s.step} {s.status}" + (f" ({s.detail})" if s.detail else "") for s in self.steps]
        return f"cycle for the period ending {local:%Y-%m-%d %H:%M} {self.timezone}: " + "; ".join(parts)


def closed_period_end(now: datetime, period: timedelta, timezone: str) -> datetime:
    """The end (naive UTC) of the newest period of length `period` that has closed by `now`
    (naive UTC), periods aligned on Monday 00:00 in `timezone`."""
    zone = ZoneInfo(timezone)
    local = now.replace(tzinfo=UTC).astimezone(zone).replace(tzinfo=None)
    periods = (local - _ANCHOR) // period
    end_local = (_ANCHOR + periods * period).replace(tzinfo=zone)
    return end_local.astimezone(UTC).replace(tzinfo=None)


def schedule_of(catalog: Catalog) -> Schedule:
    return catalog.schedule or Schedule()


@dataclass
class CycleDeps:
    """The outside world, injectable for tests: HTTP transport (sources and webhooks), env, sleep."""

    transport: httpx.BaseTransport | None = None
    env: dict[str, str] | None = None
    sleep: Callable[[float], None] | None = None


def run_cycle(workspace: Workspace, *, now: datetime, steps: Sequence[str] = STEPS,
              period: str | None = None, deps: CycleDeps | None = None,
              progress: Callable[[str], None] | None = None) -> CycleResult:
    """Run the steps asked for, in order, for the period that closed by `now` (naive UTC)."""
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise PerfopsError(f"--steps: unknown step '{unknown[0]}'; expected some of {', '.join(STEPS)}")
    catalog = workspace.load_catalog()
    period_text = period or schedule_of(catalog).period
    length = _period(period_text)
    end = closed_period_end(now, length, catalog.timezone)
    result = CycleResult(end - length, end, catalog.timezone)
    with cycle_lock(workspace):
        state = CycleState.read(workspace)
        runner = _Runner(workspace, catalog, state, result, period_text, now, deps or CycleDeps())
        for step in STEPS:
            if step in steps:
                if progress:
                    progress(step)
                runner.run(step)
    return result


def _period(text: str) -> timedelta:
    try:
        length = parse_duration(text)
    except ValueError as exc:
        raise PerfopsError(f"--period: {exc}") from exc
    if length < timedelta(hours=1):
        raise PerfopsError(f"--period: '{text}' is shorter than an hour", hint="use a period like 7d or 1d")
    return length


@contextmanager
def cycle_lock(workspace: Workspace) -> Iterator[None]:
    path = workspace.store_path.parent / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")  # held for the whole cycle, closed below
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise CycleBusyError(f"another perfops cycle is running in {workspace.root} ({holder})",
                                 hint="it will finish on its own; this run did nothing") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock


@dataclass
class CycleState:
    """What each step last completed, written after every step (atomically: temp file + rename)."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def read(cls, workspace: Workspace) -> CycleState:
        path = workspace.store_path.parent / STATE_FILE
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        return cls(path, data if isinstance(data, dict) else {})

    def done(self, step: str, key: str) -> bool:
        return self.data.get("done", {}).get(step) == key

    def mark_done(self, step: str, key: str) -> None:
        self.data.setdefault("done", {})[step] = key
        self.write()

    def digest_sent(self, target: str, key: str) -> bool:
        return self.data.get("digests", {}).get(target) == key

    def mark_digest(self, target: str, key: str) -> None:
        self.data.setdefault("digests", {})[target] = key
        self.write()

    def record(self, outcome: StepOutcome, at: datetime) -> None:
        self.data.setdefault("last", {})[outcome.step] = {**asdict(outcome), "at": at.isoformat()}
        if outcome.status in ("ok", "done"):
            self.data.setdefault("last_success", {})[outcome.step] = at.isoformat()
        counts = self.data.setdefault("outcomes", {}).setdefault(outcome.step, {})
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
        self.write()

    def add_rows(self, rows: int) -> None:
        self.data["rows_collected"] = int(self.data.get("rows_collected", 0)) + rows

    def write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True))
        tmp.replace(self.path)


@dataclass
class _Runner:
    workspace: Workspace
    catalog: Catalog
    state: CycleState
    result: CycleResult
    period: str
    now: datetime
    deps: CycleDeps
    started: float = field(default_factory=time.monotonic)

    def moment(self) -> datetime:
        """The cycle's clock: `now` plus the time spent since it started, and never earlier than a
        moment an earlier (killed) run of this period already used, so the findings of a period
        are found before its digests are sent, on a real or a simulated clock alike."""
        moment = self.now + timedelta(seconds=time.monotonic() - self.started)
        used = self.state.data.get("clock")
        if used and datetime.fromisoformat(used) >= moment:
            moment = datetime.fromisoformat(used) + timedelta(milliseconds=1)
        self.state.data["clock"] = moment.isoformat()
        return moment

    @property
    def key(self) -> str:
        return f"{self.result.period_end.isoformat()}/{self.period}"

    def run(self, step: str) -> None:
        started = time.monotonic()
        needs = {"report": "analyze", "notify": "analyze"}.get(step)
        if needs and not self.state.done(needs, self.key):
            outcome = StepOutcome(step, "skipped", f"the {needs} step has not completed for this period")
        else:
            try:
                outcome = getattr(self, f"_{step}")()
            except PerfopsError as exc:
                outcome = StepOutcome(step, "failed", str(exc))
        outcome.seconds = round(time.monotonic() - started, 3)
        self.result.steps.append(outcome)
        self.state.record(outcome, datetime.now(UTC).replace(tzinfo=None))

    def _collect(self) -> StepOutcome:
        source = self.catalog.sources.prometheus if self.catalog.sources else None
        if source is None or not source.queries:
            return StepOutcome("collect", "skipped", "no source configured")
        from perfops.usecases.collect import collect

        report = collect(self.workspace, now=self.now, transport=self.deps.transport, env=self.deps.env)
        self.state.add_rows(report.rows)
        return StepOutcome("collect", "ok", f"{report.rows:,} points")

    def _analyze(self) -> StepOutcome:
        if self.state.done("analyze", self.key):
            return StepOutcome("analyze", "done", "already analysed this period")
        from perfops.usecases.analyze import analyze

        result = analyze(self.workspace, period=self.period, at=self.result.period_end.isoformat(),
                         recorded_at=self.moment())
        self.state.mark_done("analyze", self.key)
        return StepOutcome("analyze", "ok", f"{len(result.findings)} findings")

    def _report(self) -> StepOutcome:
        if self.state.done("report", self.key):
            return StepOutcome("report", "done", "reports already written for this period")
        from perfops.usecases.reports import render_reports

        written = render_reports(self.workspace, period=self.period, at=self.result.period_end.isoformat())
        self.state.mark_done("report", self.key)
        return StepOutcome("report", "ok", f"{len(written)} files")

    def _notify(self) -> StepOutcome:
        if self.state.done("notify", self.key):
            return StepOutcome("notify", "done", "digests already sent for this period")
        from perfops.usecases.notify import send_digests

        key = self.key
        sent = send_digests(
            self.workspace, period=self.period, now=self.moment(), transport=self.deps.transport,
            sleep=self.deps.sleep, already_sent=lambda target: self.state.digest_sent(target, key),
            on_sent=lambda target: self.state.mark_digest(target, key),
        )
        self.state.mark_done("notify", key)
        detail = f"{len(sent.sent)} sent"
        if sent.skipped:
            detail += f", {len(sent.skipped)} without a webhook"
        return StepOutcome("notify", "ok", detail)

    def _retention(self) -> StepOutcome:
        policy = self.catalog.retention
        if policy is None:
            return StepOutcome("retention", "skipped", "no retention configured")
        from perfops.store import open_store
        from perfops.usecases.context import DEFAULT_HISTORY

        hour = self.now.replace(minute=0, second=0, microsecond=0)
        wanted = hour - timedelta(days=policy.raw_days)
        # never delete raw rows the next analysis reads (its period and the norm's history)
        needed = (self.result.period_start - DEFAULT_HISTORY).replace(minute=0, second=0, microsecond=0)
        with open_store(self.workspace.store_path) as store, store.transaction():
            done = store.retention.apply(min(wanted, needed), hour - timedelta(days=policy.hourly_days))
        detail = (f"{done.deleted_raw:,} raw rows rolled up into {done.rolled_up:,} hourly, "
                  f"{done.deleted_hourly:,} hourly deleted")
        if needed < wanted:
            detail += f"; kept raw rows from {needed:%Y-%m-%d} on, which the analysis reads (raw_days is shorter)"
        return StepOutcome("retention", "ok", detail)
