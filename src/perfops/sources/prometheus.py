"""A client of the Prometheus HTTP API (`/api/v1/query_range`), also spoken by Thanos, Mimir,
Cortex and VictoriaMetrics.

- one PromQL per perfops metric (catalog `sources.prometheus.queries`); `{step}` in a query is
  replaced by the step as a PromQL duration (`60s`), so `increase(x[{step}])` counts each step;
- a range is split into chunks of at most `max_points_per_query` points (Prometheus refuses more
  than 11,000 points per series), and into at least `concurrency` chunks so that several
  queries are in flight (threads; httpx clients are thread-safe);
- 5xx answers, 429 and transport errors (timeouts, refused connections) are retried with
  exponential backoff and jitter; a 4xx answer is a bad query and shows Prometheus' own message;
- bearer token (`bearer_token_env`: the NAME of an environment variable) or basic auth
  (`basic_auth_user` + `basic_auth_password_env`); `tls_verify`: true, false, or a CA bundle path;
- the outside world is injected: `transport` (an httpx transport; tests use MockTransport),
  `env` (the environment) and `sleep`.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from perfops.errors import PerfopsError, SourceError
from perfops.model.catalog import PrometheusSource
from perfops.model.redact import redact_text, redact_url
from perfops.model.units import format_duration, parse_duration

RETRIES = 4
BACKOFF_SECONDS = 0.5
MIN_CHUNK_POINTS = 360
DOCS = "see docs/sources.md"


@dataclass(frozen=True)
class Chunk:
    """One query_range call: the metric it feeds, its PromQL and its inclusive time range."""

    metric: str
    promql: str
    start: datetime  # naive UTC, a multiple of the step
    end: datetime
    step: timedelta

    @property
    def points(self) -> int:
        return int((self.end - self.start) / self.step) + 1


def render_query(promql: str, step: timedelta) -> str:
    """`{step}` -> the step as a PromQL duration."""
    return promql.replace("{step}", format_duration(step))


def align(moment: datetime, step: timedelta) -> datetime:
    """The step boundary at or before `moment` (epoch-aligned), so runs share timestamps."""
    seconds = step.total_seconds()
    epoch = moment.replace(tzinfo=UTC).timestamp()
    return datetime.fromtimestamp(math.floor(epoch / seconds) * seconds, UTC).replace(tzinfo=None)


def plan_chunks(metric: str, promql: str, start: datetime, end: datetime, step: timedelta,
                max_points: int, concurrency: int = 1) -> list[Chunk]:
    """Cover [start, end] (aligned to the step) with chunks of at most `max_points` points, and
    at least `concurrency` chunks when the range is long enough."""
    start, end = align(start, step), align(end, step)
    if end < start:
        return []
    total = int((end - start) / step) + 1
    size = min(max_points, max(math.ceil(total / max(concurrency, 1)), MIN_CHUNK_POINTS))
    chunks, cursor = [], start
    while cursor <= end:
        last = min(cursor + (size - 1) * step, end)
        chunks.append(Chunk(metric, render_query(promql, step), cursor, last, step))
        cursor = last + step
    return chunks


def _epoch(moment: datetime) -> str:
    return f"{moment.replace(tzinfo=UTC).timestamp():.3f}"


class PrometheusClient:
    """query_range with retries, auth and TLS options; answers are `data.result` lists."""

    def __init__(
        self,
        config: PrometheusSource,
        *,
        transport: httpx.BaseTransport | None = None,
        env: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = RETRIES,
    ) -> None:
        self.config = config
        self.url = config.url.rstrip("/")
        self.shown_url = redact_url(self.url)  # what messages say: never the credentials
        self.sleep = sleep
        self.retries = retries
        self.timeout = parse_duration(config.timeout).total_seconds()
        env = os.environ if env is None else env
        self.http = httpx.Client(
            base_url=self.url, headers=_headers(config, env), auth=_basic_auth(config, env),
            verify=config.tls_verify, timeout=httpx.Timeout(self.timeout + 5.0), transport=transport,
            limits=httpx.Limits(max_connections=config.concurrency + 2),
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- one call ---------------------------------------------------------------------
    def query_range(self, chunk: Chunk) -> str:
        """The answer text of one chunk (status success); retried on 5xx, 429 and transport
        errors. The caller decodes it (perfops.ingest.prometheus_json has a fast path)."""
        form = {"query": chunk.promql, "start": _epoch(chunk.start), "end": _epoch(chunk.end),
                "step": f"{chunk.step.total_seconds():g}", "timeout": f"{self.timeout:g}s"}
        for attempt in range(self.retries + 1):
            try:
                response = self.http.post("/api/v1/query_range", data=form)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    raise self._unreachable(exc) from exc
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return self._checked(response, chunk)
                if attempt == self.retries:
                    raise self._server_error(response, chunk)
            self.sleep(BACKOFF_SECONDS * (2 ** attempt) * (1 + random.random() / 4))
        raise AssertionError("unreachable")  # pragma: no cover

    def _checked(self, response: httpx.Response, chunk: Chunk) -> str:
        text = response.text
        if response.status_code == 200 and '"status":"success"' in text[:200].replace(" ", ""):
            return text
        if response.status_code in (401, 403):
            raise SourceError(
                f"Prometheus at {self.shown_url} refused the credentials (HTTP {response.status_code})",
                hint="check sources.prometheus.bearer_token_env or basic_auth_* and the variables they name",
            )
        message = redact_text(str(_json(response).get("error") or text[:300] or f"HTTP {response.status_code}"))
        raise SourceError(
            f"Prometheus rejected the query for '{chunk.metric}': {message}",
            hint=f"fix sources.prometheus.queries.{chunk.metric} in perfops.yaml (query: {chunk.promql})",
        )

    def _unreachable(self, exc: Exception) -> SourceError:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "is unreachable"
        return SourceError(f"Prometheus at {self.shown_url} {kind} after {self.retries + 1} attempts ({redact_text(str(exc))})",
                           hint="check sources.prometheus.url and that the server is up; " + DOCS)

    def _server_error(self, response: httpx.Response, chunk: Chunk) -> SourceError:
        message = redact_text(str(_json(response).get("error") or response.text[:300]))  # may echo our headers
        return SourceError(
            f"Prometheus at {self.shown_url} failed the query for '{chunk.metric}' "
            f"(HTTP {response.status_code}) after {self.retries + 1} attempts: {message}",
            hint="the server may be overloaded: lower sources.prometheus.concurrency or max_points_per_query",
        )

    # ---- many calls -------------------------------------------------------------------
    def fetch(self, chunks: list[Chunk]) -> Iterator[tuple[Chunk, str]]:
        """Every chunk's result, as they complete, with `concurrency` queries in flight."""
        if not chunks:
            return
        with ThreadPoolExecutor(max_workers=self.config.concurrency, thread_name_prefix="perfops-prom") as pool:
            pending: dict[Future[str], Chunk] = {}
            queue = list(reversed(chunks))
            try:
                while queue or pending:
                    while queue and len(pending) < self.config.concurrency:
                        chunk = queue.pop()
                        pending[pool.submit(self.query_range, chunk)] = chunk
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield pending.pop(future), future.result()
            finally:
                for future in pending:
                    future.cancel()


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _secret(env: Mapping[str, str], name: str, field: str) -> str:
    value = env.get(name)
    if not value:
        raise PerfopsError(
            f"sources.prometheus.{field} names the environment variable {name}, which is not set",
            hint=f"export {name}=... before running perfops collect",
        )
    return value


def _headers(config: PrometheusSource, env: Mapping[str, str]) -> dict[str, str]:
    headers = {"Accept": "application/json", "User-Agent": "perfops-collect"}
    if config.bearer_token_env:
        headers["Authorization"] = "Bearer " + _secret(env, config.bearer_token_env, "bearer_token_env")
    return headers


def _basic_auth(config: PrometheusSource, env: Mapping[str, str]) -> httpx.BasicAuth | None:
    if not config.basic_auth_user:
        return None
    password = _secret(env, config.basic_auth_password_env, "basic_auth_password_env") if (
        config.basic_auth_password_env) else ""
    return httpx.BasicAuth(config.basic_auth_user, password)
