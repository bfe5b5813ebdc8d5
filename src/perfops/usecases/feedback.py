"""`perfops compare-test` and `perfops workload-model`: the feedback loop's use cases.

compare_test: a stored test run against production (the peak hour of the 28 days before the
run, or a window the user gives) and the service's NFRs, plus a baseline run (the user's, or the
newest earlier valid run of the same service and environment; failed or invalidated runs are
never baselines). workload_model: production's peak-hour (or peak-day) rates per endpoint.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from perfops.analysis.feedback.compare import (
    BASELINE_STATUSES,
    Comparison,
    compare_run,
    eligible_baselines,
)
from perfops.analysis.feedback.prod import Window, production_profile
from perfops.errors import NotFoundError, PerfopsError
from perfops.store import Store, open_store
from perfops.usecases.context import parse_moment
from perfops.workload.model import EndpointLoad, WorkloadModel
from perfops.workspace import Workspace

LOOKBACK = timedelta(days=28)
PROD_METRICS = ("requests", "errors", "latency_p95_ms")
GATE_EXIT_CODE = 3  # compare-test --gate: a check failed (0 ok, 1 bad input, 2 usage)


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime


def parse_window(text: str | None) -> TimeWindow | None:
    """'START..END' (ISO 8601) -> TimeWindow; None passes through."""
    if not text:
        return None
    if ".." not in text:
        raise PerfopsError(f"--window: '{text}' is not START..END, e.g. 2026-11-02T00:00Z..2026-11-09T00:00Z")
    lo, hi = text.split("..", 1)
    start, end = parse_moment(lo.strip(), "--window"), parse_moment(hi.strip(), "--window")
    if start is None or end is None or end <= start:
        raise PerfopsError(f"--window: '{text}' must be START..END with END after START")
    return TimeWindow(start, end)


def _run_or_fail(store: Store, run_id: str) -> dict:
    run = store.tests.run(run_id)
    if run is None:
        known = list(store.tests.runs()["run_id"].tail(5))
        raise NotFoundError(f"no test run '{run_id}' in the store",
                            hint=f"ingest its result file first; recent runs: {', '.join(known) or 'none'}")
    return run


def _production_window(store: Store, run: dict, window: TimeWindow | None) -> TimeWindow:
    if window is not None:
        return window
    start = run.get("start")
    if start is not None and not pd.isna(start):
        before = TimeWindow(pd.Timestamp(start).to_pydatetime() - LOOKBACK, pd.Timestamp(start).to_pydatetime())
        first, _ = store.telemetry.time_range()
        if first is not None and first < before.end:
            return before
    _, last = store.telemetry.time_range()
    if last is None:
        raise PerfopsError("the store holds no production telemetry to compare the run with",
                           hint="ingest or collect telemetry first")
    return TimeWindow(last - LOOKBACK, last + timedelta(minutes=5))


def _baseline(store: Store, run: dict, baseline: str | None) -> tuple[str | None, pd.DataFrame | None]:
    if baseline:
        chosen = _run_or_fail(store, baseline)
        if (chosen.get("status") or "") not in BASELINE_STATUSES:
            raise PerfopsError(f"run '{baseline}' has status '{chosen['status']}': failed or invalidated runs "
                               "never become baselines", hint="pick a run that passed")
        return baseline, store.tests.endpoints(baseline)
    earlier = eligible_baselines(store.tests.runs(run.get("service")), run)
    if earlier is None or earlier.empty:
        return None, None
    chosen_id = str(earlier.iloc[-1]["run_id"])
    return chosen_id, store.tests.endpoints(chosen_id)


def compare_test(workspace: Workspace, run_id: str, baseline: str | None = None,
                 window: str | TimeWindow | None = None) -> Comparison:
    catalog = workspace.load_catalog()
    span = parse_window(window) if isinstance(window, str) or window is None else window
    with open_store(workspace.store_path) as store:
        run = _run_or_fail(store, run_id)
        service = catalog.service_by_name.get(run.get("service") or "")
        if service is None:
            raise PerfopsError(f"run '{run_id}' tested service '{run.get('service')}', which is not in perfops.yaml",
                               hint="re-ingest it with --service NAME")
        prod_window = _production_window(store, run, span)
        telemetry = store.telemetry.load(services=[service.name], metrics=list(PROD_METRICS),
                                         start=prod_window.start, end=prod_window.end)
        baseline_id, baseline_eps = _baseline(store, run, baseline)
        endpoints, series = store.tests.endpoints(run_id), store.tests.series(run_id)
    profile = production_profile(telemetry, service.name) if not telemetry.empty else None
    return compare_run(run, endpoints, series, profile, service.nfr, baseline_eps, baseline_id)


def workload_model(workspace: Workspace, service: str, window: str = "peak-hour",
                   span: str | TimeWindow | None = None) -> WorkloadModel:
    """Production's rates per endpoint at the peak hour (or day) of the last 28 days of data."""
    catalog = workspace.load_catalog()
    if service not in catalog.service_by_name:
        raise NotFoundError(f"service '{service}' is not in perfops.yaml",
                            hint=f"one of: {', '.join(catalog.service_by_name)}")
    if window not in ("peak-hour", "peak-day"):
        raise PerfopsError(f"--window: '{window}' is not peak-hour or peak-day")
    peak: Window = "peak-day" if window == "peak-day" else "peak-hour"
    limits = parse_window(span) if isinstance(span, str) else span
    with open_store(workspace.store_path) as store:
        if limits is None:
            _, last = store.telemetry.time_range()
            if last is None:
                raise PerfopsError("the store holds no production telemetry", hint="ingest or collect telemetry first")
            limits = TimeWindow(last - LOOKBACK, last + timedelta(minutes=5))
        telemetry = store.telemetry.load(services=[service], metrics=list(PROD_METRICS),
                                         start=limits.start, end=limits.end)
    profile = production_profile(telemetry, service, peak) if not telemetry.empty else None
    if profile is None:
        raise PerfopsError(f"no request telemetry for '{service}' between {limits.start:%Y-%m-%d} and {limits.end:%Y-%m-%d}",
                           hint="ingest telemetry with the 'requests' metric for this service")
    return WorkloadModel(
        service=service, window=window, start=profile.start, end=profile.end, total_rps=profile.rps,
        endpoints=[EndpointLoad(e.endpoint, e.rps, e.share, e.latency_p95_ms, e.error_rate) for e in profile.endpoints],
        source=f"production telemetry, {limits.start:%Y-%m-%d}..{limits.end:%Y-%m-%d}",
    )


def junit_xml(comparison: Comparison) -> str:
    """JUnit XML for CI: one testsuite per run, one testcase per check; fail -> <failure>,
    warn -> passes with the finding in <system-out>, skip -> <skipped>."""
    checks = comparison.checks
    suite = ET.Element("testsuite", name=f"perfops compare-test {comparison.run_id}",
                       tests=str(len(checks)), failures=str(sum(c.verdict == "fail" for c in checks)),
                       skipped=str(sum(c.verdict == "skip" for c in checks)), errors="0")
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=f"perfops.{comparison.service}", name=check.name)
        if check.verdict == "fail":
            ET.SubElement(case, "failure", message=check.summary, type="fail").text = check.summary
        elif check.verdict == "skip":
            ET.SubElement(case, "skipped", message=check.summary)
        else:
            ET.SubElement(case, "system-out").text = f"{check.verdict}: {check.summary}"
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_text(path: Path, text: str) -> None:
    """Write to a temporary name, then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
