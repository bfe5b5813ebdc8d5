"""A client of the OpenCost (and Kubecost) allocation API, `GET /allocation/compute`.

- `window` is an RFC 3339 pair `START,END` of whole steps (`sources.opencost.step`, 1h or 1d),
  `step` the same, `accumulate=false`, `aggregate` from the catalog (namespace, deployment,
  label:app, ...); a long range is asked in pieces of at most MAX_STEPS steps;
- 5xx answers, 429 and transport errors are retried with exponential backoff; other answers
  that are not `code: 200` show OpenCost's own message;
- `bearer_token_env` names the environment variable that holds a token; `tls_verify` as for
  Prometheus; the outside world (`transport`, `env`, `sleep`) is injected so tests use
  httpx.MockTransport.
API: https://www.opencost.io/docs/integrations/api (parameters window, aggregate, step, accumulate).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from perfops.errors import PerfopsError, SourceError
from perfops.model.cost_settings import OpenCostSource
from perfops.model.units import parse_duration

RETRIES = 4
BACKOFF_SECONDS = 0.5
MAX_STEPS = 240  # ten days of hours, 240 days of days: one answer stays small


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def windows(start: datetime, end: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    """[start, end) cut into pieces of at most MAX_STEPS whole steps."""
    out, cursor = [], start
    while cursor < end:
        stop = min(cursor + step * MAX_STEPS, end)
        out.append((cursor, stop))
        cursor = stop
    return out


class OpenCostClient:
    def __init__(self, config: OpenCostSource, *, transport: httpx.BaseTransport | None = None,
                 env: Mapping[str, str] | None = None, sleep: Callable[[float], None] = time.sleep,
                 retries: int = RETRIES) -> None:
        self.config = config
        self.url = config.url.rstrip("/")
        self.sleep = sleep
        self.retries = retries
        env = os.environ if env is None else env
        headers = {"Accept": "application/json", "User-Agent": "perfops-collect"}
        if config.bearer_token_env:
            token = env.get(config.bearer_token_env)
            if not token:
                raise PerfopsError(f"sources.opencost.bearer_token_env names the environment variable "
                                   f"{config.bearer_token_env}, which is not set",
                                   hint=f"export {config.bearer_token_env}=... before running perfops collect")
            headers["Authorization"] = "Bearer " + token
        timeout = parse_duration(config.timeout).total_seconds()
        self.http = httpx.Client(base_url=self.url, headers=headers, verify=config.tls_verify,
                                 timeout=httpx.Timeout(timeout), transport=transport)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OpenCostClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def allocation(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The answer for [start, end) in steps of the configured step (decoded JSON)."""
        params = {"window": f"{_rfc3339(start)},{_rfc3339(end)}", "aggregate": self.config.aggregate,
                  "step": self.config.step, "accumulate": "false"}
        for attempt in range(self.retries + 1):
            try:
                response = self.http.get("/allocation/compute", params=params)
            except httpx.TransportError as exc:
                if attempt == self.retries:
                    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "is unreachable"
                    raise SourceError(f"OpenCost at {self.url} {kind} after {self.retries + 1} attempts ({exc})",
                                      hint="check sources.opencost.url and that the service is up") from exc
            else:
                if response.status_code < 500 and response.status_code != 429:
                    return self._checked(response)
                if attempt == self.retries:
                    raise SourceError(f"OpenCost at {self.url} answered HTTP {response.status_code} after "
                                      f"{self.retries + 1} attempts: {response.text[:300]}")
            self.sleep(BACKOFF_SECONDS * (2 ** attempt) * (1 + random.random() / 4))
        raise AssertionError("unreachable")  # pragma: no cover

    def _checked(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code in (401, 403):
            raise SourceError(f"OpenCost at {self.url} refused the credentials (HTTP {response.status_code})",
                              hint="check sources.opencost.bearer_token_env and the variable it names")
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise SourceError(f"OpenCost at {self.url} answered something that is not JSON "
                              f"(HTTP {response.status_code}): {response.text[:200]}") from exc
        if response.status_code != 200 or not isinstance(body, dict) or body.get("code", 200) != 200:
            message = body.get("message") if isinstance(body, dict) else None
            raise SourceError(f"OpenCost at {self.url} rejected the query (HTTP {response.status_code}): "
                              f"{message or response.text[:300]}",
                              hint="check sources.opencost.aggregate and step in perfops.yaml")
        return body


def align_down(moment: datetime, step: timedelta) -> datetime:
    """The UTC step boundary at or before `moment`."""
    seconds = step.total_seconds()
    epoch = moment.replace(tzinfo=UTC).timestamp()
    return datetime.fromtimestamp(epoch // seconds * seconds, UTC).replace(tzinfo=None)
