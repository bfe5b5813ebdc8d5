"""The scheduler of `perfops serve --schedule`: runs each job of perfops.yaml's `schedule:` when its
cron expression fires, as a child `perfops` process (as cron would: a crash or a memory spike in a
job never takes the dashboard down, and the store's one-writer rule holds between processes).

Jobs run one at a time; a job whose time came while another ran runs right after it. The outcomes
are counted for `/metrics`.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from perfops.model.catalog import Schedule
from perfops.usecases.schedule import Job, jobs_of, next_run

BUSY_EXIT = 75  # perfops cycle: another cycle holds the lock


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class JobStats:
    runs: dict[str, int] = field(default_factory=dict)  # outcome (ok | busy | failed) -> count
    last_seconds: float | None = None
    last_exit: int | None = None
    last_finished: datetime | None = None  # naive UTC
    next_run: datetime | None = None


def run_child(workspace: Path, job: Job) -> int:
    """Run `perfops <job args> --workspace W` with this interpreter; its exit code."""
    command = [sys.executable, "-m", "perfops.cli", *job.args, "--workspace", str(workspace)]
    return subprocess.run(command, stdin=subprocess.DEVNULL, check=False).returncode


class Scheduler:
    def __init__(self, workspace: Path, schedule: Schedule, timezone: str, *,
                 run: Callable[[Path, Job], int] = run_child, clock: Callable[[], datetime] = utc_now,
                 log: Callable[[str, dict[str, object]], None] | None = None) -> None:
        self.workspace, self.timezone = workspace, timezone
        self.jobs = jobs_of(schedule)
        self.stats = {job.name: JobStats() for job in self.jobs}
        self._run, self._clock, self._log = run, clock, log
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop, name="perfops-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def loop(self) -> None:
        now = self._clock()
        for job in self.jobs:
            self.stats[job.name].next_run = next_run(job.cron, now, self.timezone)
        while not self._stop.is_set():
            self.tick()
            due = min((s.next_run for s in self.stats.values() if s.next_run), default=None)
            wait = 60.0 if due is None else (due - self._clock()).total_seconds()
            self._stop.wait(min(max(wait, 0.05), 60.0))

    def tick(self) -> list[str]:
        """Run every job whose time has come (in schedule order); the names of those run."""
        ran = []
        for job in self.jobs:
            stats = self.stats[job.name]
            if stats.next_run is None or stats.next_run > self._clock() or self._stop.is_set():
                continue
            self._run_job(job, stats)
            stats.next_run = next_run(job.cron, self._clock(), self.timezone)
            ran.append(job.name)
        return ran

    def _run_job(self, job: Job, stats: JobStats) -> None:
        started = time.monotonic()
        try:
            code = self._run(self.workspace, job)
        except OSError as exc:  # could not start the child at all
            code = -1
            if self._log:
                self._log("schedule job could not start", {"job": job.name, "error": str(exc)})
        outcome = "ok" if code == 0 else "busy" if code == BUSY_EXIT else "failed"
        stats.runs[outcome] = stats.runs.get(outcome, 0) + 1
        stats.last_seconds = round(time.monotonic() - started, 3)
        stats.last_exit, stats.last_finished = code, self._clock()
        if self._log:
            self._log("schedule job finished", {"job": job.name, "outcome": outcome, "exit": code,
                                                 "seconds": stats.last_seconds})
