"""`GET /metrics`: perfops observable by the tools it reads, in Prometheus' exposition format.

Written with prometheus_client: a collector builds every family at scrape time from what the
dashboard already holds (its findings snapshot), the cycle's state file, the store's size and
ledger, and the in-process scheduler of `serve --schedule` when there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from perfops.errors import PerfopsError
from perfops.model.findings import SEVERITIES
from perfops.usecases.operations import cycle_facts, store_facts, store_size
from perfops.web.data import DashboardData


def _epoch(moment: datetime | str | None) -> float | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC).timestamp() if moment.tzinfo is None else moment.timestamp()


class PerfopsCollector(Collector):
    def __init__(self, data: DashboardData, scheduler: Any = None) -> None:
        self.data, self.scheduler = data, scheduler

    def collect(self) -> Iterator[Any]:
        yield from self._findings()
        yield from self._store()
        yield from self._cycle()
        if self.scheduler is not None:
            yield from self._schedule()

    def _findings(self) -> Iterator[Any]:
        family = GaugeMetricFamily("perfops_findings", "Findings in the store by severity and status",
                                   labels=["severity", "status"])
        up = GaugeMetricFamily("perfops_store_readable", "1 when the store (or its last snapshot) could be read")
        try:
            findings = self.data.snapshot().findings
        except PerfopsError:  # nothing analysed yet, or the store unreadable: no counts, not zeros
            up.add_metric([], 0)
            yield family
            yield up
            return
        counts: dict[tuple[str, str], int] = {}
        for f in findings:
            counts[(f.severity, f.status)] = counts.get((f.severity, f.status), 0) + 1
        for severity in SEVERITIES:
            for status in ("open", "acknowledged", "resolved"):
                family.add_metric([severity, status], counts.get((severity, status), 0))
        up.add_metric([], 1)
        yield family
        yield up

    def _store(self) -> Iterator[Any]:
        ws = self.data.workspace
        size = GaugeMetricFamily("perfops_store_size_bytes", "Size of the store file and its write-ahead log")
        size.add_metric([], store_size(ws))
        yield size
        try:
            facts, _ = self.data.stored(self.data.snapshot(), "read:ops-facts", lambda: store_facts(ws))
        except PerfopsError:
            return
        rows = CounterMetricFamily("perfops_rows_ingested", "Rows stored from ingested files", labels=["via"])
        rows.add_metric(["ingest"], facts.rows_ingested)
        rows.add_metric(["collect"], cycle_facts(ws).rows_collected)
        yield rows
        files = CounterMetricFamily("perfops_files_ingested", "Files ingested into the store")
        files.add_metric([], facts.files_ingested)
        yield files
        if facts.newest_collected is not None:
            newest = GaugeMetricFamily("perfops_collect_newest_sample_timestamp_seconds",
                                       "Time of the newest sample a collect stored")
            newest.add_metric([], _epoch(facts.newest_collected) or 0)
            yield newest

    def _cycle(self) -> Iterator[Any]:
        facts = cycle_facts(self.data.workspace)
        outcomes = CounterMetricFamily("perfops_cycle_steps", "Cycle steps run, by step and outcome",
                                       labels=["step", "outcome"])
        for step, counts in sorted(facts.outcomes.items()):
            for outcome, count in sorted(counts.items()):
                outcomes.add_metric([step, outcome], count)
        yield outcomes
        seconds = GaugeMetricFamily("perfops_cycle_step_duration_seconds", "Duration of each step's last run",
                                    labels=["step", "outcome"])
        for step, last in sorted(facts.last.items()):
            seconds.add_metric([step, str(last.get("status", ""))], float(last.get("seconds", 0.0)))
        yield seconds
        success = GaugeMetricFamily("perfops_cycle_last_success_timestamp_seconds",
                                    "When each step last succeeded (collect: the last successful collect)",
                                    labels=["step"])
        for step, at in sorted(facts.last_success.items()):
            success.add_metric([step], _epoch(at) or 0)
        yield success

    def _schedule(self) -> Iterator[Any]:
        runs = CounterMetricFamily("perfops_schedule_runs", "Scheduled jobs run by serve --schedule",
                                   labels=["job", "outcome"])
        nexts = GaugeMetricFamily("perfops_schedule_next_run_timestamp_seconds", "When each job runs next",
                                  labels=["job"])
        for job, stats in sorted(self.scheduler.stats.items()):
            for outcome in ("ok", "busy", "failed"):
                runs.add_metric([job, outcome], stats.runs.get(outcome, 0))
            if stats.next_run is not None:
                nexts.add_metric([job], _epoch(stats.next_run) or 0)
        yield runs
        yield nexts


def metrics_routes(app: FastAPI, data: DashboardData, scheduler: Any = None) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PerfopsCollector(data, scheduler))

    @app.get("/metrics", include_in_schema=True, tags=["operations"],
             summary="perfops' own metrics in Prometheus exposition format",
             response_class=Response)
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
