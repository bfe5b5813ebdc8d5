"""OpenCost / Kubecost allocation API answers (`GET /allocation/compute`, JSON), saved to a file or
pulled by `perfops collect` (perfops.sources.opencost).

An answer is `{"code": 200, "data": [SET, ...]}`, one SET per `step` of the window (a single
object instead of the list is accepted too, as older Kubecost answers give); a SET maps an
allocation name (a namespace, deployment or label value, per `aggregate`) to an allocation with
`start`, `end` (and `window`), `totalCost` and its parts (`cpuCost`, `ramCost`, `gpuCost`,
`pvCost`, `networkCost`, `loadBalancerCost`, `sharedCost`, `externalCost`).

Each allocation's `totalCost` (else the sum of its parts) is stored as the `cost` of a service:
the first `cost.match` rule that holds (its `name` pattern against the allocation name, its `tags`
against the Kubernetes labels and the properties namespace, cluster, controller, controllerKind,
pod and node), else the catalog service of that name (exact, case-folded or slugged; for
`deployment:checkout` or `shop/checkout`, the last part). OpenCost's own `__idle__`,
`__unallocated__` and `__unmounted__` allocations (alone or as a part), and names no service takes,
are unallocated: counted and totalled in a warning. Periods of up to a day keep their start as
timestamp; longer ones are spread per UTC day (ingest._cost).
API: https://www.opencost.io/docs/integrations/api ; format page: docs/formats/opencost.md.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfops.errors import InputError
from perfops.ingest._cost import CostTally
from perfops.ingest._series import Problems, ServiceResolver
from perfops.ingest.base import DataWarning, IngestBatch, IngestOptions, Reader
from perfops.model.catalog import Catalog

PARTS = ("cpuCost", "gpuCost", "ramCost", "pvCost", "networkCost", "loadBalancerCost", "sharedCost", "externalCost")
OPENCOST_OWN = ("__idle__", "__unallocated__", "__unmounted__")
PROPERTIES = ("namespace", "cluster", "controller", "controllerKind", "pod", "node")
MAP_HINT = "add cost.match rules (name: or tags:) to perfops.yaml, or name services like the allocations"
MAX_BYTES = 512 * 1024 * 1024


def sniff(path: Path, head: bytes) -> bool:
    text = head.lstrip()[:1]
    return text == b"{" and b'"totalCost"' in head and b'"data"' in head


def allocation_sets(document: Any, where: str) -> list[dict[str, Any]]:
    """The answer's allocation sets, oldest first; an error naming what is wrong otherwise."""
    if not isinstance(document, dict) or "data" not in document:
        raise InputError("expected an OpenCost allocation answer: an object with 'data'", path=where,
                         hint="see docs/formats/opencost.md")
    code = document.get("code", 200)
    if code != 200:
        raise InputError(f"the answer has code {code}: {str(document.get('message') or '')[:200]}", path=where,
                         field="code")
    data = document["data"]
    sets = data if isinstance(data, list) else [data]
    for i, one in enumerate(sets):
        if one is not None and not isinstance(one, dict):
            raise InputError(f"is a {type(one).__name__}; expected an object of allocations", path=where,
                             field=f"data[{i}]")
    return [one for one in sets if one]


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not an RFC 3339 date-time") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _period(alloc: dict[str, Any]) -> tuple[datetime, datetime]:
    """The allocation's window (the step it was asked for, so a re-fetched step lands on the same
    timestamps), else its own start and end."""
    window: dict[str, Any] = alloc["window"] if isinstance(alloc.get("window"), dict) else {}
    start = _moment(window.get("start") or alloc.get("start"))
    end = _moment(window.get("end") or alloc.get("end"))
    if end < start:
        raise ValueError(f"end {end:%Y-%m-%dT%H:%M:%SZ} is before start {start:%Y-%m-%dT%H:%M:%SZ}")
    return start, end


def _total(alloc: dict[str, Any]) -> float:
    value: object = alloc.get("totalCost")
    if value is None:
        parts = [alloc[p] for p in PARTS if alloc.get(p) is not None]
        if not parts:
            raise ValueError("has no totalCost and none of " + ", ".join(PARTS))
        value = sum(float(p) for p in parts)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise ValueError(f"totalCost {value!r} is not a finite number")
    return float(value)


def _labels(alloc: dict[str, Any]) -> dict[str, str]:
    props: dict[str, Any] = alloc["properties"] if isinstance(alloc.get("properties"), dict) else {}
    tags = {str(k): str(v) for k, v in (props.get("labels") or {}).items()} if isinstance(props.get("labels"), dict) else {}
    for key in PROPERTIES:
        if isinstance(props.get(key), str):
            tags.setdefault(key, props[key])
    return tags


def read_document(document: Any, catalog: Catalog, where: str, *, service: str | None = None,
                  skip_bad: bool = False) -> IngestBatch:
    """An allocation answer as cost telemetry (pure: also used by `perfops collect`)."""
    problems = Problems(where, skip_bad)
    tally = CostTally(catalog.currency)
    names = ServiceResolver(catalog, service)
    for i, one in enumerate(allocation_sets(document, where)):
        for key, alloc in one.items():
            name = str(alloc.get("name") or key) if isinstance(alloc, dict) else str(key)
            try:
                if not isinstance(alloc, dict):
                    raise ValueError("is not an object")
                start, end = _period(alloc)
                amount = _total(alloc)
            except ValueError as exc:
                problems.report(str(exc), field=f"data[{i}].{name}")
                continue
            target = _service_of(name, _labels(alloc), catalog, names)
            if target is None:
                tally.unallocated(name, amount)
            else:
                tally.add(target, start, end, amount)
    return IngestBatch(telemetry=tally.frame(), skipped=problems.skipped, notes=["spend read from totalCost", *(DataWarning(w) for w in tally.warnings(MAP_HINT))])


def _service_of(name: str, tags: dict[str, str], catalog: Catalog, names: ServiceResolver) -> str | None:
    """The --service, else the first rule that holds, else the catalog service named like the
    allocation. OpenCost names a controller `deployment:checkout` and a multi-aggregation
    `shop/checkout` (parts joined by '/'; see GenerateKey in opencost core/pkg/opencost/
    allocationprops.go): the last part, without its kind, is tried too."""
    if names.override:
        return names.override
    parts = name.split("/")
    if any(part in OPENCOST_OWN for part in parts):
        return None
    ruled = catalog.cost.service_for({"name": name}, tags)
    if ruled:
        return ruled
    return names.resolve(name) or names.resolve(parts[-1].split(":")[-1])


def read(path: Path, options: IngestOptions) -> IngestBatch:
    if path.stat().st_size > MAX_BYTES:
        raise InputError(f"the answer is over {MAX_BYTES >> 20} MB; query a shorter window", path=str(path))
    try:
        document = json.loads(path.read_bytes())
    except ValueError as exc:
        raise InputError(f"not JSON ({exc})", path=str(path)) from exc
    return read_document(document, options.catalog, str(path), service=options.service,
                         skip_bad=options.skip_bad_rows)


READER = Reader(
    name="opencost",
    description="OpenCost / Kubecost allocation API answer (JSON): cost per namespace, deployment or label",
    sniff=sniff,
    read=read,
    priority=18,
)
