"""A Report as JSON: metadata, each section's data, and the findings in scope (findings.md records)."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

from perfops.model.findings import iso_utc
from perfops.reports.compose import Report


def report_document(report: Report) -> dict[str, Any]:
    view = report.view
    return {
        "title": report.title,
        "audience": report.audience,
        "scope": report.scope,
        "domain": view.ctx.catalog.domain,
        "period": {"start": iso_utc(view.ctx.period_start), "end": iso_utc(view.ctx.now)},
        "analysis_run": view.ctx.run.id,
        "generated_at": iso_utc(report.generated_at),
        "errors": [],  # kept for readers of the shape: a failed section now stops the report
        "sections": [
            {"id": s.id, "title": s.title, "order": s.order, "appendix": s in report.appendix, "data": s.data}
            for s in report.sections
        ],
        "findings": [f.to_record() for f in view.findings],
    }


def render_json(report: Report) -> str:
    return json.dumps(_clean(report_document(report)), indent=2, ensure_ascii=False, default=_default) + "\n"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str):
        return _clean(value.item())
    return value
