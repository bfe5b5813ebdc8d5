"""The chart of a finding's page: the finding's series with its stored norm and alarm line
(perfops.model.figures.SeriesBand, stored by `analyze`) and markers for the finding's start and
end and the deploys of its service and of the service named as its cause (an upstream deploy
that caused a step shows on the caller's chart). Read from the snapshot: no analysis here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from perfops.model.findings import Finding
from perfops.web.data import Snapshot

EPOCH = datetime(1970, 1, 1)
UNITS = {"latency": "ms", "errors": "% of requests", "traffic": "requests per step", "cpu": "% CPU", "memory": "% memory"}
MAX_DEPLOYS = 6


def _t(moment: datetime) -> float:
    return (pd.Timestamp(moment).tz_localize(None).to_pydatetime() - EPOCH).total_seconds()


def band_of(snap: Snapshot, f: Finding) -> Any:
    """The stored band of the finding's series, or None (not a trends finding, or none stored)."""
    bands = snap.view.ctx.figures.bands.get(f.service, []) if snap.view.ctx.figures else []
    return next((b for b in bands if b.role == f.metric and b.endpoint == (f.endpoint or "")), None)


def finding_series(snap: Snapshot, f: Finding) -> dict[str, Any] | None:
    """{t (epoch s), observed, norm, upper, unit, title, markers: [{t, label}]} or None."""
    band = band_of(snap, f)
    if band is None or not band.times:
        return None
    scale = 100.0 if band.role == "errors" else 1.0

    def scaled(values: list[float | None]) -> list[float | None]:
        return [None if v is None else v * scale for v in values]

    start, end = band.times[0], band.times[-1]
    markers = []
    if f.start and start <= f.start <= end:
        markers.append({"t": _t(f.start), "label": "finding starts"})
    if f.end and start <= f.end <= end:
        markers.append({"t": _t(f.end), "label": "finding ends"})
    cause = snap.view.finding_index.get(f.caused_by or "")
    services = [f.service] + ([cause.service] if cause is not None and cause.service != f.service else [])
    markers += _deploys(snap, services, start, end)
    who = f"{f.service} {f.endpoint or ''}".strip()
    unit = UNITS.get(band.role, "")
    return {"t": [_t(x) for x in band.times], "observed": scaled(band.observed), "norm": scaled(band.norm),
            "upper": scaled(band.upper), "unit": unit, "title": f"{who}: {band.role} ({unit}), norm band and markers",
            "markers": sorted(markers, key=lambda m: m["t"])}


def _deploys(snap: Snapshot, services: list[str], start: datetime, end: datetime) -> list[dict[str, Any]]:
    ev = snap.view.ctx.events
    if ev is None or ev.empty:
        return []
    ts = pd.to_datetime(ev["timestamp"])
    sel = ev[ev["service"].isin(services) & ev["type"].isin(["deploy", "config"]) & (ts >= start) & (ts <= end)]
    out = []
    for _, row in sel.sort_values("timestamp").tail(MAX_DEPLOYS).iterrows():
        what = str(row.get("version") or "") or str(row["type"])
        out.append({"t": _t(row["timestamp"]), "label": f"{row['type']} {row['service']} {what}"})
    return out
