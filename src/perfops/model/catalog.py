"""The domain catalog (`perfops.yaml`): squads, services, dependencies, SLOs, NFRs, capacity, cost.

Validated with pydantic where it is built; every problem is reported with the file's line
number (see `perfops.catalog_loader` for the YAML side). Unknown keys are errors so that a typo
never silently drops an SLO.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from perfops.model.cost_settings import CostSettings, OpenCostSource
from perfops.model.units import parse_duration

SQUAD_NAME = r"^[a-z0-9][a-z0-9-]*$"
SERVICE_NAME = r"^[a-z0-9][a-z0-9._-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Squad(_Strict):
    name: Annotated[str, Field(pattern=SQUAD_NAME)]
    lead: str | None = None
    webhook: str | None = None
    webhook_env: str | None = None  # the environment variable holding the webhook URL (a secret)

    @field_validator("webhook")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        if value is not None and not _is_http_url(value):
            raise ValueError("expected an http:// or https:// URL with a host, e.g. https://hooks.slack.com/services/...")
        return value


class Slo(_Strict):
    availability: Annotated[float, Field(gt=0, lt=100)] | None = None
    latency_p95_ms: Annotated[float, Field(gt=0)] | None = None
    window: str = "28d"

    @field_validator("availability")
    @classmethod
    def _availability_is_a_percentage(cls, value: float | None) -> float | None:
        if value is not None and value <= 1:
            raise ValueError(f"got {value:g}, which looks like a fraction; write a percentage, e.g. 99.9 for 99.9 %")
        return value

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def window_delta(self) -> timedelta:
        return parse_duration(self.window)


class Nfr(_Strict):
    peak_tps: Annotated[float, Field(gt=0)] | None = None
    latency_p95_ms: Annotated[float, Field(gt=0)] | None = None
    error_rate_pct: Annotated[float, Field(ge=0, le=100)] | None = None
    transaction_mix: dict[str, Annotated[float, Field(ge=0, le=100)]] | None = None

    @field_validator("transaction_mix")
    @classmethod
    def _mix_sums_to_100(cls, mix: dict[str, float] | None) -> dict[str, float] | None:
        if mix is not None and abs(sum(mix.values()) - 100.0) > 0.5:
            raise ValueError(f"transaction_mix sums to {sum(mix.values()):g}; expected 100")
        return mix


class Capacity(_Strict):
    instances: Annotated[int, Field(ge=0)] | None = None
    max_tps_per_instance: Annotated[float, Field(gt=0)] | None = None
    cpu_target_pct: Annotated[float, Field(gt=0, le=100)] = 70.0


class Cost(_Strict):
    instance_hourly: Annotated[float, Field(ge=0)] | None = None


class MetricSpec(_Strict):
    """A gauge judged by trends (`services[].metrics.<name>`): which way is bad, its unit, and
    the capacity it saturates at (then deviations are judged in points of that capacity)."""

    direction: Literal["up", "down", "both"] = "both"
    unit: str | None = None
    capacity: Annotated[float, Field(gt=0)] | None = None


class Service(_Strict):
    name: Annotated[str, Field(pattern=SERVICE_NAME)]
    squad: str
    tier: Literal[1, 2, 3] = 2
    depends_on: list[str] = Field(default_factory=list)
    slo: Slo | None = None
    apdex_t_ms: Annotated[float, Field(gt=0)] | None = None
    nfr: Nfr | None = None
    capacity: Capacity | None = None
    cost: Cost | None = None
    deprecated_endpoints: list[str] = Field(default_factory=list)
    metrics: dict[str, MetricSpec] = Field(default_factory=dict)

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, metrics: dict[str, MetricSpec]) -> dict[str, MetricSpec]:
        from perfops.model.tables import METRIC_NAME, METRICS

        fixed = {"requests", "errors", "client_errors", "instances", "cost", "cpu_pct", "memory_pct"}
        for name in metrics:
            if not re.match(METRIC_NAME, name):
                raise ValueError(f"metric name '{name}': expected lower case letters, digits and _ "
                                 "(e.g. queue_depth, db_connections)")
            if name in fixed or (name in METRICS and name.startswith("latency_")):
                raise ValueError(f"metric '{name}' is judged by its own analysis; its direction cannot be set here")
        return metrics

    @property
    def apdex_threshold_ms(self) -> float:
        if self.apdex_t_ms:
            return self.apdex_t_ms
        if self.slo and self.slo.latency_p95_ms:
            return self.slo.latency_p95_ms
        return 500.0


class Journey(_Strict):
    name: str
    steps: Annotated[list[str], Field(min_length=1)]
    latency_p95_ms: Annotated[float, Field(gt=0)] | None = None

    @field_validator("steps")
    @classmethod
    def _steps_name_service_and_endpoint(cls, steps: list[str]) -> list[str]:
        for step in steps:
            if ":" not in step:
                raise ValueError(f"step '{step}' must be 'service:ENDPOINT', e.g. 'cart:POST /cart/items'")
        return steps

    def parsed_steps(self) -> list[tuple[str, str]]:
        """[('cart', 'POST /cart/items'), ...]"""
        return [(s.split(":", 1)[0], s.split(":", 1)[1]) for s in self.steps]


class Consumer(_Strict):
    name: str
    owner: str | None = None


class PrometheusSource(_Strict):
    url: str
    step: str = "60s"
    queries: dict[str, str] = Field(default_factory=dict)
    timeout: str = "30s"
    max_points_per_query: Annotated[int, Field(gt=0)] = 11000
    concurrency: Annotated[int, Field(gt=0, le=32)] = 4
    bearer_token_env: str | None = None
    basic_auth_user: str | None = None
    basic_auth_password_env: str | None = None
    tls_verify: bool | str = True
    labels: dict[str, str] = Field(
        default_factory=lambda: {"service": "service", "endpoint": "endpoint", "consumer": "consumer"}
    )


    @field_validator("url")
    @classmethod
    def _url_without_credentials(cls, value: str) -> str:
        from perfops.model.redact import url_credentials

        found = url_credentials(value)
        if found:
            raise ValueError(f"the URL holds credentials ({', '.join(found)}), which would be printed and stored; "
                             "remove them and name environment variables instead: bearer_token_env for a token, "
                             "basic_auth_user with basic_auth_password_env for a password (docs/sources.md)")
        if not _is_http_url(value):
            raise ValueError("expected an http:// or https:// URL with a host, e.g. http://prometheus:9090")
        return value

    @field_validator("queries")
    @classmethod
    def _queries_name_metrics(cls, queries: dict[str, str]) -> dict[str, str]:
        from perfops.model.tables import METRICS

        unknown = [name for name in queries if name not in METRICS]
        if unknown:
            raise ValueError(f"'{unknown[0]}' is not a perfops metric; expected one of {', '.join(METRICS)}")
        return queries


class CalendarEvent(_Strict):
    """One of the domain's own dates: a sale, a campaign, a freeze (`calendar.events[]`)."""

    name: Annotated[str, Field(min_length=1)]
    start: date | datetime
    end: date | datetime | None = None  # default: the start's whole day
    kind: Literal["sale", "campaign", "freeze", "holiday", "release", "other"] = "other"
    services: list[str] = Field(default_factory=list)  # empty: every service

    @model_validator(mode="after")
    def _ends_after_start(self) -> CalendarEvent:
        if self.end is not None and _as_datetime(self.end, end=True) < _as_datetime(self.start):
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @property
    def span(self) -> tuple[datetime, datetime]:
        """[start, end) as naive datetimes; a date covers its whole day."""
        return _as_datetime(self.start), _as_datetime(self.end if self.end is not None else self.start, end=True)


def _as_datetime(moment: date | datetime, end: bool = False) -> datetime:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=None) if moment.tzinfo is None else \
            moment.astimezone(UTC).replace(tzinfo=None)
    return datetime.combine(moment, time()) + (timedelta(days=1) if end else timedelta())


class Calendar(_Strict):
    """Public holidays (`country`, `subdivision`, from the `holidays` library) and the domain's
    own dates; findings on those days are reported as calendar effects, never as regressions."""

    country: str | None = None
    subdivision: str | None = None
    events: list[CalendarEvent] = Field(default_factory=list)

    @field_validator("country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        import holidays

        if value is not None and value not in holidays.list_supported_countries():
            raise ValueError(f"unknown country '{value}'; expected an ISO 3166-1 alpha-2 code the holidays "
                             "library knows, e.g. US, GB, DE, FR, AU")
        return value

    @model_validator(mode="after")
    def _known_subdivision(self) -> Calendar:
        if self.subdivision is None:
            return self
        if self.country is None:
            raise ValueError("subdivision needs a country")
        import holidays

        known = holidays.list_supported_countries()[self.country]
        if self.subdivision not in known:
            raise ValueError(f"unknown subdivision '{self.subdivision}' of {self.country}; expected one of "
                             f"{', '.join(known[:12]) or 'none'}{', …' if len(known) > 12 else ''}")
        return self


class Sources(_Strict):
    prometheus: PrometheusSource | None = None
    opencost: OpenCostSource | None = None


class Schedule(_Strict):
    """When `perfops serve --schedule` (or the printed crontab / systemd timers) runs each step.

    Cron expressions (five fields) in the domain's timezone; a step set to null is not scheduled.
    `cycle` is the whole loop for the period that closed: collect, analyze, reports, digests.
    """

    collect: str | None = "*/15 * * * *"
    analyze: str | None = "0 * * * *"
    cycle: str | None = "0 7 * * 1"
    period: str = "7d"

    @field_validator("collect", "analyze", "cycle")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"'{value}' is not a cron expression; expected five fields like '0 7 * * 1'")
        return value

    @field_validator("period")
    @classmethod
    def _period(cls, value: str) -> str:
        if parse_duration(value) < timedelta(hours=1):
            raise ValueError(f"'{value}' is shorter than an hour; expected a period like 7d or 1d")
        return value


class Retention(_Strict):
    """How long `perfops cycle` keeps telemetry: raw rows `raw_days`, hourly rollups `hourly_days`.

    Findings, their history and analysis runs are kept for ever.
    """

    raw_days: Annotated[int, Field(gt=0)] = 60
    hourly_days: Annotated[int, Field(gt=0)] = 400

    @model_validator(mode="after")
    def _rollups_outlive_raw(self) -> Retention:
        if self.hourly_days < self.raw_days:
            raise ValueError(f"hourly_days ({self.hourly_days}) must be at least raw_days ({self.raw_days})")
        return self


class Catalog(_Strict):
    domain: str
    timezone: str = "UTC"
    currency: str = "USD"
    squads: Annotated[list[Squad], Field(min_length=1)]
    services: Annotated[list[Service], Field(min_length=1)]
    journeys: list[Journey] = Field(default_factory=list)
    consumers: list[Consumer] = Field(default_factory=list)
    sources: Sources | None = None
    cluster: str | None = None
    schedule: Schedule | None = None
    retention: Retention | None = None
    calendar: Calendar | None = None
    cost: CostSettings = Field(default_factory=CostSettings)  # billing column, categories, cost.match rules
    dashboard_url: str | None = None  # base URL of `perfops serve`: reports link finding ids to it

    @field_validator("dashboard_url")
    @classmethod
    def _dashboard_is_a_web_address(cls, value: str | None) -> str | None:
        from urllib.parse import urlsplit

        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password \
                or parts.query or parts.fragment:
            raise ValueError("expected the base URL of perfops serve, e.g. http://127.0.0.1:8080 "
                             "(http or https, no user name, password, query or fragment)")
        return value.strip().rstrip("/")

    @field_validator("cluster")
    @classmethod
    def _cluster_is_an_address(cls, value: str | None) -> str | None:
        if value is not None and not _is_scheduler_address(value):
            raise ValueError("expected a Dask scheduler address, e.g. tcp://scheduler:8786 (docs/scale-out.md)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone '{value}'; expected an IANA name like Europe/Paris") from exc
        return value

    @model_validator(mode="after")
    def _references_hold(self) -> Catalog:
        problems = list(_reference_problems(self))
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # ---- look-ups -------------------------------------------------------------
    @cached_property
    def service_by_name(self) -> dict[str, Service]:
        return {s.name: s for s in self.services}

    @cached_property
    def squad_by_name(self) -> dict[str, Squad]:
        return {s.name: s for s in self.squads}

    def service(self, name: str) -> Service:
        return self.service_by_name[name]

    def squad_of(self, service: str) -> str:
        return self.service_by_name[service].squad

    def services_of(self, squad: str) -> list[Service]:
        return [s for s in self.services if s.squad == squad]

    @cached_property
    def gauge_names(self) -> list[str]:
        """Every metric name some service declares under `metrics:` (telemetry may use them)."""
        return sorted({name for s in self.services for name in s.metrics})

    def callers_of(self, service: str) -> list[str]:
        return [s.name for s in self.services if service in s.depends_on]

    def dependencies_closure(self, service: str) -> list[str]:
        """Every service `service` calls, directly or transitively, nearest first."""
        seen: list[str] = []
        frontier = list(self.service_by_name[service].depends_on)
        while frontier:
            nxt = frontier.pop(0)
            if nxt not in seen:
                seen.append(nxt)
                frontier.extend(self.service_by_name[nxt].depends_on)
        return seen


def _reference_problems(cat: Catalog) -> list[str]:
    """Problems between objects: dangling names, duplicates, dependency cycles."""
    data = {
        "squads": [{"name": s.name} for s in cat.squads],
        "services": [{"name": s.name, "squad": s.squad, "depends_on": s.depends_on} for s in cat.services],
        "journeys": [{"name": j.name, "steps": j.steps} for j in cat.journeys],
        "cost": {"match": [{"service": rule.service} for rule in cat.cost.match]},
        "calendar": {"events": [{"name": e.name, "services": e.services}
                                for e in (cat.calendar.events if cat.calendar else [])]},
    }
    return [message for _, message in reference_problems(data)]


def _names(items: object) -> list[str]:
    if not isinstance(items, list):
        return []
    return [item["name"] for item in items if isinstance(item, dict) and isinstance(item.get("name"), str)]


def _entries(data: dict, key: str) -> list[tuple[int, dict]]:
    items = data.get(key)
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def reference_problems(data: dict) -> list[tuple[tuple[str | int, ...], str]]:
    """Problems between objects, each with where it is (a pydantic-style location) so the loader
    can give its line: dangling squad, dependency and journey names, duplicates, cycles. Works on
    the raw YAML mapping too, so these are listed together with type errors, not after them."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    squads, services = set(_names(data.get("squads"))), set(_names(data.get("services")))
    for key, what in (("squads", "squad"), ("services", "service")):
        seen: set[str] = set()
        for i, item in _entries(data, key):
            name = item.get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(((key, i, "name"), f"{what} '{name}' is defined twice; {what} names must be unique"))
            seen.add(name)
    squads_listed, services_listed = isinstance(data.get("squads"), list), isinstance(data.get("services"), list)
    for i, svc in _entries(data, "services"):
        name, squad, deps = svc.get("name"), svc.get("squad"), svc.get("depends_on")
        if squads_listed and isinstance(squad, str) and squad not in squads:
            problems.append((("services", i, "squad"),
                             f"service '{name}' names squad '{squad}', which is not in squads"
                             + _did_you_mean(squad, squads, "; expected one of ")))
        for j, dep in enumerate(deps if isinstance(deps, list) else []):
            if services_listed and isinstance(dep, str) and dep not in services:
                problems.append((("services", i, "depends_on", j),
                                 f"service '{name}' depends on '{dep}', which is not in services"
                                 + _did_you_mean(dep, services, "; expected one of ")))
    for i, journey in _entries(data, "journeys"):
        steps = journey.get("steps")
        for j, step in enumerate(steps if isinstance(steps, list) else []):
            service = step.split(":", 1)[0] if isinstance(step, str) and ":" in step else None
            if services_listed and service is not None and service not in services:
                problems.append((("journeys", i, "steps", j),
                                 f"journey '{journey.get('name')}' has a step on '{service}', which is not in services"))
    problems.extend(_cost_rule_problems(data, services, services_listed))
    calendar = data.get("calendar")
    events = calendar.get("events") if isinstance(calendar, dict) else None
    for i, event in enumerate(events if isinstance(events, list) else []):
        named = event.get("services") if isinstance(event, dict) else None
        for j, service in enumerate(named if isinstance(named, list) else []):
            if services_listed and isinstance(service, str) and service not in services:
                problems.append((("calendar", "events", i, "services", j),
                                 f"calendar event '{event.get('name')}' names service '{service}', which is not in "
                                 "services" + _did_you_mean(service, services, "; expected one of ")))
    graph = {svc["name"]: [d for d in (svc.get("depends_on") or []) if isinstance(d, str) and d in services]
             for _, svc in _entries(data, "services")
             if isinstance(svc.get("name"), str) and isinstance(svc.get("depends_on") or [], list)}
    cycle = find_cycle(graph)
    if cycle:
        index = next((i for i, svc in _entries(data, "services") if svc.get("name") == cycle[0]), None)
        where: tuple[str | int, ...] = ("services", index, "depends_on") if index is not None else ()
        text = f"service '{cycle[0]}' depends on itself" if len(cycle) == 2 else " -> ".join(cycle)
        problems.append((where, f"dependency cycle: {text}"))
    return problems


def _cost_rule_problems(data: dict, services: set[str], services_listed: bool) -> list[tuple[tuple[str | int, ...], str]]:
    """cost.match rules that name a service the catalog does not have."""
    cost = data.get("cost")
    rules = cost.get("match") if isinstance(cost, dict) else None
    problems: list[tuple[tuple[str | int, ...], str]] = []
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        name = rule.get("service") if isinstance(rule, dict) else None
        if services_listed and isinstance(name, str) and name not in services:
            problems.append((("cost", "match", i, "service"),
                             f"cost.match rule {i + 1} gives spend to '{name}', which is not in services"
                             + _did_you_mean(name, services, "; expected one of ")))
    return problems


def _did_you_mean(value: str, choices: set[str], prefix: str) -> str:
    """'; did you mean 'x'?' for a near miss, else the list of choices when it is short."""
    import difflib

    close = difflib.get_close_matches(value, sorted(choices), n=1, cutoff=0.75)
    if close:
        return f"; did you mean '{close[0]}'?"
    if 0 < len(choices) <= 12:
        return prefix + ", ".join(sorted(choices))
    return ""


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in a dependency graph as [a, b, ..., a], or None. Iterative DFS."""
    state: dict[str, int] = {}
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, idx = stack.pop()
            if idx == 0:
                state[node] = 1
                path.append(node)
            children = graph.get(node, [])
            if idx < len(children):
                stack.append((node, idx + 1))
                child = children[idx]
                if state.get(child) == 1:
                    return path[path.index(child):] + [child]
                if not state.get(child):
                    stack.append((child, 0))
            else:
                state[node] = 2
                path.pop()
    return None


ENDPOINT_RE = re.compile(r"^[A-Z]+ /\S*$")


def _is_http_url(value: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "inproc", "ucx")  # Dask distributed's comm protocols


def _is_scheduler_address(value: str) -> bool:
    """scheme://host:port as `distributed.Client` takes it (a bare host:port means tcp)."""
    from urllib.parse import urlsplit

    text = value.strip()
    if "://" not in text:
        text = "tcp://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in SCHEDULER_SCHEMES and bool(parts.hostname) and (
        port is not None or parts.scheme.lower() == "inproc")
