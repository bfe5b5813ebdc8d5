"""The `cost:` section of perfops.yaml and `sources.opencost`: which billing column to read, which
charge categories count as a service's spend, and the rules that give a billing row to a service.

A rule names a service and one or more conditions; every condition of a rule must hold, and the
first rule that holds wins. A pattern is a shell glob (`checkout-*`, matched case-sensitively
against the whole value) or, with the prefix `re:`, a Python regular expression that must match
the whole value (`re:^i-0[0-9a-f]+$`). See docs/catalog.md ("cost") and docs/formats/focus.md.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
ChargeCategory = Literal["Usage", "Purchase", "Tax", "Credit", "Adjustment"]
DEFAULT_CATEGORIES: tuple[ChargeCategory, ...] = ("Usage", "Purchase")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A glob, or a regular expression after `re:`, as one compiled whole-value pattern."""
    if pattern.startswith("re:"):
        try:
            return re.compile(pattern[3:])
        except re.error as exc:
            raise ValueError(f"'{pattern}' is not a valid regular expression ({exc})") from exc
    return re.compile(fnmatch.translate(pattern))


class CostMatch(_Strict):
    """One rule: `service` gets the rows that satisfy every condition given."""

    service: str
    tags: dict[str, str] | None = None  # tag key -> pattern of its value (FOCUS Tags, x_ columns, labels)
    resource_id: str | None = None  # FOCUS ResourceId
    resource_name: str | None = None  # FOCUS ResourceName
    service_name: str | None = None  # FOCUS ServiceName (the provider's offering, e.g. 'Amazon RDS')
    name: str | None = None  # OpenCost allocation name (namespace, deployment, label value)

    @model_validator(mode="after")
    def _has_a_condition(self) -> CostMatch:
        conditions = (self.tags, self.resource_id, self.resource_name, self.service_name, self.name)
        if all(c is None for c in conditions) or self.tags == {}:
            raise ValueError("a cost.match rule needs at least one of tags, resource_id, resource_name, "
                             "service_name, name")
        for pattern in self._patterns():
            compile_pattern(pattern)
        return self

    def _patterns(self) -> list[str]:
        fields = [self.resource_id, self.resource_name, self.service_name, self.name]
        return [p for p in fields if p is not None] + list((self.tags or {}).values())

    @cached_property
    def _compiled(self) -> dict[str, re.Pattern[str]]:
        out = {key: compile_pattern(value) for key, value in (("resource_id", self.resource_id),
               ("resource_name", self.resource_name), ("service_name", self.service_name), ("name", self.name))
               if value is not None}
        for key, value in (self.tags or {}).items():
            out["tag:" + key] = compile_pattern(value)
        return out

    def matches(self, fields: Mapping[str, str | None], tags: Mapping[str, str]) -> bool:
        """Whether a row with these fields (resource_id, resource_name, service_name, name) and tags
        satisfies every condition; a missing field or tag fails its condition."""
        for key, pattern in self._compiled.items():
            value = tags.get(key[4:]) if key.startswith("tag:") else fields.get(key)
            if value is None or not pattern.fullmatch(value):
                return False
        return True


class CostSettings(_Strict):
    """The domain's cost settings (top-level `cost:`)."""

    column: Literal["EffectiveCost", "BilledCost"] | None = None  # None: EffectiveCost where present
    charge_categories: Annotated[list[ChargeCategory], Field(min_length=1)] = Field(
        default_factory=lambda: list(DEFAULT_CATEGORIES))
    match: list[CostMatch] = Field(default_factory=list)

    def service_for(self, fields: Mapping[str, str | None], tags: Mapping[str, str]) -> str | None:
        """The service of the first rule that holds, else None."""
        for rule in self.match:
            if rule.matches(fields, tags):
                return rule.service
        return None


class OpenCostSource(_Strict):
    """`sources.opencost`: where `perfops collect` reads the allocation API."""

    url: str
    aggregate: str = "namespace"
    step: Literal["1h", "1d"] = "1d"
    window: str = "7d"  # how far back the first collect reaches; later ones continue from the last
    timeout: str = "60s"
    bearer_token_env: str | None = None
    tls_verify: bool | str = True

    @field_validator("aggregate")
    @classmethod
    def _one_aggregate(cls, value: str) -> str:
        if not re.fullmatch(r"(namespace|deployment|controller|service|pod|cluster|label:[\w./-]+|annotation:[\w./-]+)",
                            value):
            raise ValueError(f"'{value}' is not an OpenCost aggregate perfops maps to services; expected namespace, "
                             "deployment, controller, service, pod, cluster, label:NAME or annotation:NAME")
        return value

    @field_validator("window", "timeout")
    @classmethod
    def _is_duration(cls, value: str) -> str:
        from perfops.model.units import parse_duration

        parse_duration(value)
        return value
