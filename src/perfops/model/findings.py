"""The finding record of the contract (findings.md) and its vocabulary."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

CATEGORIES = ("trends", "capacity", "cost", "experience", "feedback")
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERE = SEVERITIES[:2]  # the severities that need action now: digests, summaries, stale counts
STATUSES = ("open", "acknowledged", "resolved")

KINDS: dict[str, str] = {
    "anomaly": "trends",
    "regression": "trends",
    "improvement": "trends",
    "resource_growth": "trends",
    "saturation_risk": "capacity",
    "under_provisioned": "capacity",
    "over_provisioned": "capacity",
    "volume_growth": "capacity",
    "cost_anomaly": "cost",
    "unit_cost_increase": "cost",
    "savings_opportunity": "cost",
    "slo_breach": "experience",
    "error_budget_burn": "experience",
    "journey_degradation": "experience",
    "consumer_misuse": "experience",
    "nfr_mismatch": "feedback",
    "test_coverage_gap": "feedback",
    "test_prod_divergence": "feedback",
    "test_regression": "feedback",
    # data quality (an addition to the contract: gaps and stale sources are not anomalies)
    "data_gap": "trends",
}


def severity_rank(severity: str) -> int:
    """critical=0 .. info=4: lower is more severe."""
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class Finding:
    """One thing out of the ordinary, owned by the squad of its service.

    `key` is the analysis' own discriminator for the condition (e.g. the hour an anomaly began);
    the id is derived from the identity fields and `key`, so the same condition found again on a
    later run keeps its id. The store additionally matches overlapping findings of the same
    identity so that a shifting change-point estimate does not mint a new id.
    """

    kind: str
    severity: str
    service: str
    squad: str
    title: str
    detail: str
    start: datetime | None = None
    end: datetime | None = None
    metric: str | None = None
    endpoint: str | None = None
    consumer: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    recommendation: str = ""
    impact: dict[str, Any] = field(default_factory=dict)
    caused_by: str | None = None
    event: str | None = None
    status: str = "open"
    key: str = ""
    id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown finding kind '{self.kind}'")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity '{self.severity}'")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status '{self.status}'")
        if not self.id:
            object.__setattr__(self, "id", finding_id(self))

    @property
    def category(self) -> str:
        return KINDS[self.kind]

    @property
    def identity(self) -> tuple[str, str, str, str, str]:
        return (self.kind, self.service, self.endpoint or "", self.consumer or "", self.metric or "")

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def to_record(self) -> dict[str, Any]:
        """The JSON record of findings.md (field order as documented)."""
        data = asdict(self)
        return {
            "id": self.id,
            "category": self.category,
            "kind": self.kind,
            "metric": self.metric,
            "severity": self.severity,
            "service": self.service,
            "endpoint": self.endpoint,
            "consumer": self.consumer,
            "squad": self.squad,
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "title": self.title,
            "detail": self.detail,
            "evidence": data["evidence"],
            "recommendation": self.recommendation,
            "impact": data["impact"],
            "caused_by": self.caused_by,
            "event": self.event,
            "status": self.status,
        }


def finding_id(f: Finding) -> str:
    """Stable id from what the condition is, not when it was computed: 'F-' + 10 hex chars."""
    text = "|".join((*f.identity, f.key))
    return "F-" + hashlib.sha1(text.encode()).hexdigest()[:10]


def iso_utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
