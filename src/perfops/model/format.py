"""Numbers for people: units, thousands separators, money, and times in the catalog's timezone.

Every figure a report, page or digest shows goes through one of these functions, so the same
quantity reads the same everywhere ("1,234 req", "312 ms", "$1,204/month", "3 days ago").
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

CURRENCY_SYMBOLS = {"USD": "$", "AUD": "A$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "C$", "NZD": "NZ$"}


def _missing(value: float | int | None) -> bool:
    return value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def number(value: float | int | None, decimals: int | None = None) -> str:
    """1234567 -> '1,234,567'; 0.5 -> '0.5'; None/NaN -> '–'. Decimals shrink as numbers grow."""
    if value is None or _missing(value):
        return "–"
    v = float(value)
    if decimals is None:
        decimals = 0 if abs(v) >= 100 or v == int(v) else (1 if abs(v) >= 10 else 2)
    text = f"{v:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def compact(value: float | int | None) -> str:
    """Large counts short: 1_234_567 -> '1.2M', 12_300 -> '12.3k'."""
    if value is None or _missing(value):
        return "–"
    v = float(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{number(v / size, 1)}{suffix}"
    return number(v)


def ms(value: float | None) -> str:
    """Latency: '312 ms', '1.4 s' from 1,400 ms."""
    if value is None or _missing(value):
        return "–"
    if abs(value) >= 10_000:
        return f"{number(value / 1000, 1)} s"
    return f"{number(value, 0 if abs(value) >= 10 else 1)} ms"


def pct(value: float | None, decimals: int = 1) -> str:
    if value is None or _missing(value):
        return "–"
    return f"{number(value, decimals)}%"


def pct_pair(value: float, target: float, decimals: int = 2, most: int = 4) -> tuple[str, str]:
    """An observed percentage and its target with enough decimals to tell them apart
    ('99.895%' against '99.9%', never '99.9%' below the '99.9%' SLO)."""
    for places in range(decimals, most + 1):
        shown, goal = pct(value, places), pct(target, places)
        if shown != goal:
            break
    return shown, goal


def change(value: float | None) -> str:
    """A relative change in % with its sign and an arrow that also reads in print: '▲ +12.5%'."""
    if value is None or _missing(value):
        return "–"
    v = float(value)
    if abs(v) < 0.05:
        return "= 0%"
    arrow = "▲" if v > 0 else "▼"
    return f"{arrow} {'+' if v > 0 else '−'}{number(abs(v), 1)}%"


def money(value: float | None, currency: str = "USD", per: str | None = None) -> str:
    """'$1,204' or '$1,204/month'; unknown currencies print their code: 'CHF 1,204'."""
    if value is None or _missing(value):
        return "–"
    symbol = CURRENCY_SYMBOLS.get(currency)
    amount = number(value, 0 if abs(value) >= 100 else 2)
    text = f"{symbol}{amount}" if symbol else f"{currency} {amount}"
    return f"{text}/{per}" if per else text


def requests(value: float | None) -> str:
    return "–" if _missing(value) else f"{compact(value)} req"


def duration(delta: timedelta | None) -> str:
    """'3 days', '5 h', '12 min' — the largest unit that fits, one decimal at most for days."""
    if delta is None:
        return "–"
    seconds = delta.total_seconds()
    if seconds < 0:
        seconds = -seconds
    if seconds >= 2 * 86400:
        return f"{number(seconds / 86400, 0)} days"
    if seconds >= 86400:
        return "1 day"
    if seconds >= 3600:
        return f"{number(seconds / 3600, 0)} h"
    if seconds >= 60:
        return f"{number(seconds / 60, 0)} min"
    return f"{number(seconds, 0)} s"


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def local_time(moment: datetime | None, timezone: str = "UTC", with_zone: bool = True) -> str:
    """A naive-UTC moment in the catalog's timezone: 'Mon 12 Oct 14:05 AEDT'."""
    if moment is None:
        return "–"
    aware = _naive_utc(moment).replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
    text = aware.strftime("%a %d %b %H:%M")
    return f"{text} {aware.tzname()}" if with_zone else text


def local_iso(moment: datetime | None, timezone: str = "UTC") -> str:
    """A naive-UTC moment as an ISO 8601 date and time in the catalog's timezone, read the same in
    every country: '2026-10-12 14:05 AEDT' (the dashboard's dates)."""
    if moment is None:
        return "–"
    aware = _naive_utc(moment).replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
    return f"{aware:%Y-%m-%d %H:%M} {aware.tzname()}"


def local_date(moment: datetime | None, timezone: str = "UTC") -> str:
    if moment is None:
        return "–"
    aware = _naive_utc(moment).replace(tzinfo=UTC).astimezone(ZoneInfo(timezone))
    return aware.strftime("%d %b %Y")


def relative(moment: datetime | None, now: datetime) -> str:
    """'3 days ago', 'in 5 h', 'just now' relative to `now` (both naive UTC or aware)."""
    if moment is None:
        return "–"
    delta = _naive_utc(now) - _naive_utc(moment)
    if abs(delta.total_seconds()) < 60:
        return "just now"
    text = duration(delta)
    return f"{text} ago" if delta.total_seconds() > 0 else f"in {text}"


def metric_value(metric: str, value: float | None, currency: str = "USD") -> str:
    """Format a telemetry value by its metric's unit (see perfops.model.tables.METRICS)."""
    if metric.startswith("latency"):
        return ms(value)
    if metric.endswith("_pct") or metric in ("error_rate", "availability"):
        return pct(value)
    if metric == "cost":
        return money(value, currency)
    if metric in ("requests", "errors", "client_errors"):
        return compact(value)
    return number(value)


METRIC_LABELS = {
    "requests": "traffic",
    "errors": "server errors",
    "client_errors": "client errors",
    "latency_p95_ms": "p95 latency",
    "errors/requests": "server error rate",
    "latency_p50_ms": "median latency",
    "latency_p99_ms": "p99 latency",
    "cpu_pct": "CPU",
    "memory_pct": "memory",
    "cost": "cost",
    "latency": "latency",
    "traffic": "traffic",
}


def metric_label(metric: str | None) -> str:
    if not metric:
        return ""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def now_utc() -> datetime:
    """The clock, for the use-case layer only (sections receive `generated_at`)."""
    return datetime.now(UTC).replace(tzinfo=None)


# ---- evidence: labelled values with units --------------------------------------------------------
# The unit of a finding's `norm` / `observed` / `before` / `after` / `extreme` values follows its
# `telemetry_metric` (see analysis/trends/findings.py: an error rate is a fraction, shown in % with
# two decimals, as the title shows it; latency in ms; traffic in requests per step).
_LEVEL_KEYS = frozenset({"norm", "observed", "before", "after", "baseline", "limit", "peak"})
EVIDENCE_LABELS = {
    "p_value": "p-value", "deviation_z": "deviation (robust z)", "change_pct": "change",
    "telemetry_metric": "metric", "sample_size": "sample size", "norm_samples": "norm samples",
    "steps_observed": "steps observed", "severity_inputs": "severity from", "effect_size": "effect size",
    "nfr_peak_tps": "NFR peak", "observed_peak_rps": "observed peak", "nfr_latency_p95_ms": "NFR p95 latency",
}
_MAX_LIST = 8


def p_value(value: float | None) -> str:
    """'p = 1.9e-05', 'p = 0.032'; a p-value that underflowed to 0: 'p < 1e-300'."""
    if _missing(value):
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if v <= 0:
        return "p < 1e-300"
    return f"p = {v:.2g}"


def evidence_label(key: str) -> str:
    """'observed_p95_ms' -> 'observed p95' (the unit goes with the value), 'p_value' -> 'p-value'."""
    if key in EVIDENCE_LABELS:
        return EVIDENCE_LABELS[key]
    for suffix in ("_ms", "_pct", "_rps", "_tps"):
        if key.endswith(suffix):
            key = key.removesuffix(suffix)
            break
    return key.replace("_", " ")


def _level(value: float, metric: str | None) -> str:
    """A level in the unit of `metric`, with the title's rounding (analysis/trends/findings.py)."""
    if metric == "errors/requests":
        return f"{value * 100:.2f}%"
    if metric in ("cpu_pct", "memory_pct"):
        return f"{value:.1f}%" if abs(value) < 10 else f"{value:.0f}%"
    unit = {"latency_p95_ms": " ms", "requests": " req/step"}.get(metric or "", "")
    return (f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}") + unit


def evidence_value(key: str, value: object, metric: str | None = None, currency: str = "USD") -> str:
    """One evidence value for people, by what its key says it is."""
    if value is None:
        return "–"
    if isinstance(value, dict):
        return " · ".join(f"{evidence_label(str(k))} {evidence_value(str(k), v, metric, currency)}"
                          for k, v in value.items())
    if isinstance(value, list | tuple):
        shown = [evidence_value(key, v, metric, currency) for v in value[:_MAX_LIST]]
        more = f" … ({len(value)} values)" if len(value) > _MAX_LIST else ""
        return ", ".join(shown) + more
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, int | float):
        return metric_label(str(value)) if key == "telemetry_metric" else str(value)
    v = float(value)
    if _missing(v):
        return "–"
    if key == "p_value":
        return p_value(v)
    if key == "confidence":
        return f"{v * 100:.4g}%"
    if key in _LEVEL_KEYS:
        return _level(v, metric)
    if key.endswith("_ms"):
        return ms(v)
    if key.endswith(("_pct", "utilisation")):
        return change(v) if key == "change_pct" else pct(v)
    if key.endswith(("_rps", "_tps")):
        return f"{number(v)} req/s"
    if "cost" in key or "spend" in key or "saving" in key:
        return money(v, currency)
    if key.startswith("days") or key.endswith("_days"):
        return f"{number(v)} days"
    if key.endswith("_minutes") or key == "minutes":
        return f"{number(v)} min"
    return number(v)


def evidence_rows(evidence: dict[str, object] | None, currency: str = "USD") -> list[tuple[str, str]]:
    """(label, value with unit) for each evidence key, in the finding's order: what the developer
    report and the dashboard's finding page show, never a Python repr."""
    ev = evidence or {}
    metric = ev.get("telemetry_metric")
    metric = metric if isinstance(metric, str) else None
    return [(evidence_label(k), evidence_value(k, v, metric, currency)) for k, v in ev.items()]
