"""The sample domain behind `perfops demo`, with its ground truth.

`generate_demo(root)` writes a workspace that looks like production — an online shop of five
squads and fifteen services — and returns a `DemoManifest`: every file with the format and
options to ingest it with, and the seeded incidents the analysis must find. Nothing else in the
data is out of the ordinary: normal seasonality and noise, routine deploys that change nothing.

    root/perfops.yaml                    the catalog (a commented example)
    root/data/telemetry.parquet          6 weeks of 5-minute telemetry, long form
    root/data/events.csv                 deploys, config changes, scaling, test runs
    root/data/tests/*.jtl, *_stats.csv   JMeter and Locust results
    root/data/access/partner-gateway.log nginx combined + $request_time
    root/ground_truth.json               the seeded incidents, with what the data shows of each

Deterministic: the same seed, weeks and end give byte-identical data files. See docs/demo.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pyarrow as pa

from perfops.demo import accesslog, loadtests
from perfops.demo.domain import catalog_text, demo_catalog
from perfops.demo.effects import Grid
from perfops.demo.files import write_events, write_json, write_parquet, write_text
from perfops.demo.incidents import Scenario, SeededIncident, TestRunPlan, build_scenario
from perfops.demo.observe import observe
from perfops.demo.telemetry import STEP_S, generate, to_table
from perfops.errors import InputError

__all__ = ["DEFAULT_END", "DemoManifest", "InputFile", "SeededIncident", "generate_demo"]

DEFAULT_END = datetime(2026, 11, 23)  # a Monday 00:00 UTC; the CLI passes the current hour instead
MIN_WEEKS, MAX_WEEKS = 2, 26
ENVIRONMENT = "perf"


class IngestKeywords(TypedDict, total=False):
    """The keyword arguments of `perfops.usecases.ingest.ingest_paths` a demo input needs."""

    service: str
    run_id: str
    environment: str
    consumer_field: str


@dataclass(frozen=True)
class InputFile:
    """A file to ingest: where it is, the `--format` to read it with, and the ingest options
    (keyword arguments of `perfops.usecases.ingest.ingest_paths`)."""

    path: Path  # absolute
    relative: str  # relative to the demo root, forward slashes
    format: str
    options: IngestKeywords = field(default_factory=lambda: IngestKeywords())


@dataclass(frozen=True)
class DemoManifest:
    """What `generate_demo` wrote, and what the analysis must find in it."""

    root: Path
    catalog: Path
    telemetry: tuple[Path, ...]
    events: Path
    test_files: tuple[Path, ...]
    access_logs: tuple[Path, ...]
    ground_truth: Path
    inputs: tuple[InputFile, ...]  # everything to ingest, in order
    incidents: tuple[SeededIncident, ...]
    start: datetime  # first telemetry step (naive UTC)
    end: datetime  # end of the data, exclusive: the period to analyze is [end - 7 days, end)
    seed: int
    weeks: int
    telemetry_rows: int

    @property
    def period_start(self) -> datetime:
        return self.end - timedelta(days=7)

    def explaining(self, kind: str, service: str) -> list[SeededIncident]:
        """The incidents that explain a finding of `kind` on `service` (empty: unexplained)."""
        return [i for i in self.incidents if i.explains(kind, service)]


def generate_demo(root: Path, *, weeks: int = 6, seed: int = 42, end: datetime | None = None) -> DemoManifest:
    """Write the demo workspace into `root` and return its manifest (see the module docstring).

    `end`: the end of the data (exclusive), floored to 5 minutes; naive = UTC. Default
    DEFAULT_END, a fixed moment, so that tests are reproducible."""
    if not MIN_WEEKS <= weeks <= MAX_WEEKS:
        raise InputError(f"{weeks} weeks is out of range; expected {MIN_WEEKS} to {MAX_WEEKS}", field="--weeks")
    if seed < 0:
        raise InputError(f"{seed} is negative; expected a seed of 0 or more", field="--seed")
    end = _floor_to_step(end or DEFAULT_END)
    root = Path(root)
    seeds = np.random.SeedSequence(seed).spawn(4)
    rng_events, rng_telemetry, rng_tests, rng_log = (np.random.default_rng(s) for s in seeds)
    catalog = demo_catalog()
    callers = {s.name: catalog.callers_of(s.name) for s in catalog.services}
    scenario = build_scenario(end, weeks, rng_events, callers)
    grid = Grid(end - timedelta(weeks=weeks), weeks * 7 * 86_400 // STEP_S, STEP_S)
    series = generate(catalog, grid, scenario.effects, scenario.gaps, rng_telemetry)
    table = to_table(series)

    paths = _write_files(root, scenario, table, end, rng_tests, rng_log)
    observed = observe(series, scenario, catalog, paths.summaries, end)
    incidents = tuple(replace(i, details={**i.details, "observed": observed[i.id]}) for i in scenario.incidents)
    truth = root / "ground_truth.json"
    write_json(truth, _ground_truth(scenario, incidents, grid, end, seed, weeks, paths.summaries))
    return DemoManifest(
        root=root, catalog=root / "perfops.yaml", telemetry=(paths.telemetry,), events=paths.events,
        test_files=tuple(i.path for i in paths.tests), access_logs=(paths.access_log,), ground_truth=truth,
        inputs=(_input(root, paths.telemetry, "telemetry"), _input(root, paths.events, "events"), *paths.tests,
                _input(root, paths.access_log, "access-log", service=accesslog.SERVICE, consumer_field="user_agent")),
        incidents=incidents, start=grid.start, end=end, seed=seed, weeks=weeks, telemetry_rows=table.num_rows,
    )


@dataclass(frozen=True)
class _Written:
    telemetry: Path
    events: Path
    tests: list[InputFile]
    access_log: Path
    summaries: dict[str, Any]  # run id -> per-endpoint summary of the test run


def _write_files(root: Path, scenario: Scenario, table: pa.Table, end: datetime, rng_tests: np.random.Generator,
                 rng_log: np.random.Generator) -> _Written:
    write_text(root / "perfops.yaml", catalog_text())
    telemetry, events = root / "data" / "telemetry.parquet", root / "data" / "events.csv"
    write_parquet(telemetry, table)
    write_events(events, scenario.events)
    tests, summaries = _write_tests(root, scenario.test_runs, rng_tests)
    log = root / "data" / "access" / f"{accesslog.SERVICE}.log"
    accesslog.write_access_log(log, end, rng_log)
    return _Written(telemetry, events, tests, log, summaries)


def _floor_to_step(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    seconds = int((moment - datetime(1970, 1, 1)).total_seconds())
    return datetime(1970, 1, 1) + timedelta(seconds=seconds - seconds % STEP_S)


def _input(root: Path, path: Path, format_name: str, **options: Unpack[IngestKeywords]) -> InputFile:
    return InputFile(path, path.relative_to(root).as_posix(), format_name, options)


def _write_tests(root: Path, runs: list[TestRunPlan], rng: np.random.Generator,
                 ) -> tuple[list[InputFile], dict[str, Any]]:
    """Each run in its tool's format; the inputs to ingest and a per-run summary."""
    folder = root / "data" / "tests"
    inputs, summaries = [], {}
    for plan in runs:
        options = IngestKeywords(service=plan.service, run_id=plan.run_id, environment=ENVIRONMENT)
        if plan.tool == "jmeter":
            path = folder / f"{plan.run_id}.jtl"
            samples = loadtests.write_jtl(path, plan, rng)
            inputs.append(_input(root, path, "jmeter", **options))
        else:
            samples = loadtests.write_locust(folder / plan.run_id, plan, rng)
            inputs.append(_input(root, folder / f"{plan.run_id}_stats.csv", "locust", **options))
        summaries[plan.run_id] = loadtests.summary(samples, plan.duration_s)
    return inputs, summaries


def _ground_truth(scenario: Scenario, incidents: tuple[SeededIncident, ...], grid: Grid, end: datetime,
                  seed: int, weeks: int, tests: dict[str, Any]) -> dict[str, Any]:
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "domain": demo_catalog().domain, "seed": seed, "weeks": weeks,
        "data": {"start": grid.start.strftime(iso), "end": end.strftime(iso), "step_seconds": grid.step_s},
        "period": {"start": (end - timedelta(days=7)).strftime(iso), "end": end.strftime(iso)},
        "matching": "A finding is explained by an incident when (kind, service) equal the incident's or are "
                    "among its `related` pairs ('*' = any service). Every incident should be found at "
                    "`expected_min_severity` or above; no unexplained finding should be high or critical.",
        "incidents": [i.to_json() for i in incidents],
        "gaps": [{"service": g.service, "start": g.start.strftime(iso), "end": g.end.strftime(iso)}
                 for g in scenario.gaps],
        "test_runs": tests,
    }
