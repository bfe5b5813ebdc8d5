"""The `schedule:` of perfops.yaml: when each job is due, and the same schedule as crontab lines
or systemd timers (`perfops schedule --print cron|systemd`).

Jobs: `collect` (perfops cycle --steps collect), `analyze` (perfops analyze over the period up to
the newest data, for the dashboard) and `cycle` (the whole loop for the period that closed).
Cron expressions are read with croniter in the domain's timezone.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from perfops.errors import PerfopsError
from perfops.model.catalog import Schedule

JOBS = ("collect", "analyze", "cycle")


@dataclass(frozen=True)
class Job:
    name: str
    cron: str
    args: tuple[str, ...]  # perfops arguments, without the executable and --workspace


def jobs_of(schedule: Schedule) -> list[Job]:
    args = {
        "collect": ("cycle", "--steps", "collect", "--quiet"),
        "analyze": ("analyze", "--period", schedule.period, "--quiet"),
        "cycle": ("cycle", "--period", schedule.period),
    }
    return [Job(name, expr, args[name]) for name in JOBS if (expr := getattr(schedule, name))]


def next_run(cron: str, after: datetime, timezone: str) -> datetime:
    """The first time (naive UTC) strictly after `after` (naive UTC) at which `cron` fires in `timezone`."""
    from croniter import croniter

    zone = ZoneInfo(timezone)
    start = after.replace(tzinfo=UTC).astimezone(zone)
    fire = croniter(cron, start).get_next(datetime)
    return fire.astimezone(UTC).replace(tzinfo=None)


def command_line(perfops: str, workspace: Path, job: Job) -> str:
    return shlex.join([perfops, *job.args, "--workspace", str(workspace)])


def crontab(schedule: Schedule, timezone: str, workspace: Path, perfops: str) -> str:
    """Crontab lines. CRON_TZ makes cronie and systemd-cron read the times in the domain's timezone;
    Debian's classic cron ignores it and uses the machine's (see docs/deploy.md)."""
    lines = [f"# perfops schedule for {workspace} (times in {timezone})", f"CRON_TZ={timezone}"]
    for job in jobs_of(schedule):
        lines.append(f"{job.cron} {command_line(perfops, workspace, job)} >> {workspace}/.perfops/{job.name}.log 2>&1")
    return "\n".join(lines) + "\n"


def systemd_units(schedule: Schedule, timezone: str, workspace: Path, perfops: str) -> dict[str, str]:
    """A oneshot service and a timer per job, keyed by file name."""
    units: dict[str, str] = {}
    for job in jobs_of(schedule):
        units[f"perfops-{job.name}.service"] = (
            "[Unit]\n"
            f"Description=perfops {job.name} for {workspace}\n"
            "After=network-online.target\n\n"
            "[Service]\n"
            "Type=oneshot\n"
            f"WorkingDirectory={workspace}\n"
            f"ExecStart={command_line(perfops, workspace, job)}\n"
            # exit 75 = another cycle holds the lock: not a failure of this run
            "SuccessExitStatus=75\n"
        )
        units[f"perfops-{job.name}.timer"] = (
            "[Unit]\n"
            f"Description=perfops {job.name} schedule ({job.cron} in {timezone})\n\n"
            "[Timer]\n"
            f"OnCalendar={on_calendar(job.cron, timezone)}\n"
            "Persistent=true\n\n"
            "[Install]\n"
            "WantedBy=timers.target\n"
        )
    return units


_DAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def on_calendar(cron: str, timezone: str) -> str:
    """A systemd OnCalendar= for a five-field cron expression: `*`, numbers, lists, ranges,
    `*/n` and `a/n`. Cron ORs day-of-month and day-of-week when both are
    set; systemd ANDs them, so that case is refused rather than translated wrongly."""
    minute, hour, dom, month, dow = cron.split()
    if dom != "*" and dow != "*":
        raise PerfopsError(f"schedule: '{cron}' sets both day of month and day of week, which systemd cannot express",
                           hint="use --print cron, or split it into two schedules")
    days = "" if dow == "*" else ",".join(_weekdays(part, cron) for part in dow.split(",")) + " "
    date = f"*-{_field(month, cron)}-{_field(dom, cron)}"
    return f"{days}{date} {_field(hour, cron)}:{_field(minute, cron)}:00 {timezone}"


def _field(text: str, cron: str) -> str:
    out = []
    for part in text.split(","):
        base, _, step = part.partition("/")
        if base == "*":
            base = "0" if step else "*"
        elif "-" in base:
            if step:  # systemd repeats from a start, it cannot bound a repetition by a range
                raise PerfopsError(f"schedule: '{cron}': cannot express '{part}' for systemd", hint="use --print cron")
            low, high = base.split("-", 1)
            base = f"{low}..{high}"
        if not all(p.isdigit() for p in base.split("..")) and base != "*":
            raise PerfopsError(f"schedule: '{cron}': cannot express '{part}' for systemd", hint="use --print cron")
        out.append(f"{base}/{step}" if step else base)
    return ",".join(out)


def _weekdays(part: str, cron: str) -> str:
    if "/" in part:
        raise PerfopsError(f"schedule: '{cron}': cannot express '{part}' for systemd", hint="use --print cron")
    names = [_day(p, cron) for p in part.split("-")]
    return "..".join(names)


def _day(text: str, cron: str) -> str:
    if text.isdigit() and int(text) <= 7:
        return _DAYS[int(text)]
    if text[:3].title() in _DAYS:
        return text[:3].title()
    raise PerfopsError(f"schedule: '{cron}': '{text}' is not a day of the week", hint="use 0-7 or Sun..Sat")
