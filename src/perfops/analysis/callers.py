"""Do a service's callers still call it? The test behind "a silent service that its callers still
call is critical" (issue 13, docs/methods/severity.md).

A service that stopped (its traffic or CPU at near zero, or no data at all) while the services
that depend on it (catalog `depends_on`) keep sending requests is an outage users feel through
those callers; when the callers went quiet too, the whole path is idle (a night, a maintenance
window) and the silence alone is not an emergency.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from perfops.analysis.context import AnalysisContext

_HOUR = timedelta(hours=1)


def callers_still_call(ctx: AnalysisContext, service: str, start: datetime, end: datetime) -> bool | None:
    """True when a direct caller of `service` reported requests in [start, end) at at least a
    quarter of its own rate in the hour before `start`; False when callers report but less;
    None when the service has no callers or they report no requests at all."""
    callers = ctx.catalog.callers_of(service)
    if not callers or end <= start:
        return None
    before = start - (end - start) if end - start > _HOUR else start - _HOUR
    frame = ctx.telemetry_rows(services=callers, metrics=["requests"], start=before, end=end,
                               endpoint="", consumers=False)
    if frame is None or frame.empty:
        return None
    stamps = frame["timestamp"].to_numpy(dtype="datetime64[us]")
    values = frame["value"].to_numpy(dtype=float)
    during = stamps >= np.datetime64(start.replace(tzinfo=None).isoformat(), "us")
    if not during.any():
        return False
    rate_during = float(np.nansum(values[during])) / max(float((end - start).total_seconds()), 1.0)
    rate_before = float(np.nansum(values[~during])) / max(float((start - before).total_seconds()), 1.0)
    return rate_during > 0 and rate_during >= 0.25 * rate_before

