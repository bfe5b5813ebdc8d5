"""The workload model: what production asks of a service at its peak, per endpoint."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

_ENDPOINT = re.compile(r"^([A-Z]+) (/\S*)$")
_TEMPLATE = re.compile(r"\{[^}/]*\}")


@dataclass(frozen=True)
class EndpointLoad:
    endpoint: str  # e.g. "POST /checkout"
    rps: float  # arrival rate at the peak (requests per second)
    share: float  # of the service's requests, 0..1
    latency_p95_ms: float | None = None
    error_rate: float | None = None

    @property
    def method(self) -> str:
        match = _ENDPOINT.match(self.endpoint)
        return match.group(1) if match else "GET"

    @property
    def path(self) -> str:
        """The request path with `{id}`-style templates filled with 1 (edit in the skeleton)."""
        match = _ENDPOINT.match(self.endpoint)
        raw = match.group(2) if match else "/" + re.sub(r"[^A-Za-z0-9._-]+", "-", self.endpoint).strip("-")
        return _TEMPLATE.sub("1", raw)

    @property
    def per_minute(self) -> int:
        """Arrivals per minute, at least 1 (k6 and JMeter pace in whole samples per minute)."""
        return max(1, round(self.rps * 60))


@dataclass(frozen=True)
class WorkloadModel:
    service: str
    window: str  # "peak-hour" | "peak-day"
    start: datetime
    end: datetime
    total_rps: float
    endpoints: list[EndpointLoad] = field(default_factory=list)
    source: str = "production telemetry"
    think_time_s: float = 1.0  # closed-model pacing: each virtual user waits this long between requests

    @property
    def users(self) -> int:
        """Virtual users for a closed model at one request per user per think time."""
        return max(1, math.ceil(self.total_rps * self.think_time_s * 1.2))

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service, "window": self.window,
            "start": self.start.strftime("%Y-%m-%dT%H:%M:%SZ"), "end": self.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "source": self.source, "total_rps": round(self.total_rps, 4),
            "users": self.users, "think_time_s": self.think_time_s,
            "endpoints": [
                {**{k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(e).items()},
                 "method": e.method, "path": e.path, "arrivals_per_minute": e.per_minute,
                 "weight": round(100 * e.share, 3)}
                for e in self.endpoints
            ],
        }
