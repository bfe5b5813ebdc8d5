"""Who calls a service, how their experience differs, and `consumer_misuse`.

Works on per-consumer telemetry (rows with consumer != ''). Names in braces (`{other}`,
`{none}`) are buckets, not callers anyone can talk to: they appear in tables, never in findings.

Misuse, each judged robustly (medians and MADs, never means) and only with enough volume:
- client errors: the consumer's 4xx rate is at least 5%, 5x the peers' median rate and above
  the peers' median + 6 robust SDs (MAD x 1.4826); with no peers, at least 20%;
- retry storm: in the minutes after bursts of server errors the consumer sends >= 3x its usual
  rate while its peers do not (their amplification at most half of its own);
- polling: hours where the consumer sends >= 5x its own norm for that hour of day (learned from the
  history before the period), for >= 3 hours, while peers' traffic did not grow alike;
- deprecated endpoints: any call to an entry of the service's `deprecated_endpoints`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from perfops.analysis.experience.series import consumer_rows
from perfops.analysis.severity import by_tier
from perfops.model.catalog import Service
from perfops.model.findings import Finding


@dataclass(frozen=True)
class MisuseParams:
    min_requests: float = 200  # in the period, for the client-error comparison
    min_client_errors: float = 20
    client_error_floor: float = 0.05
    client_error_factor: float = 5.0
    lone_client_error_rate: float = 0.20
    polling_factor: float = 5.0
    polling_min_hours: int = 3
    polling_min_extra: float = 500
    retry_factor: float = 3.0
    retry_window_minutes: int = 10
    retry_min_extra: float = 100


def is_bucket(name: str) -> bool:
    return name.startswith("{") and name.endswith("}")


def consumer_table(data: pd.DataFrame, service: str, period_start: datetime, now: datetime) -> list[dict[str, object]]:
    """Per consumer over the period: volume, share, error rates, p95 and trend vs the history."""
    rows = consumer_rows(data, service)
    if rows.empty:
        return []
    recent = rows[(rows["timestamp"] >= period_start) & (rows["timestamp"] < now)]
    before = rows[rows["timestamp"] < period_start]
    total = float(recent["requests"].sum()) or 1.0
    period_days = max((now - period_start).total_seconds() / 86400, 1e-9)
    history_days = _span_days(before)
    out = []
    for consumer, part in recent.groupby("consumer", observed=True):
        requests = float(part["requests"].sum())
        weight = part["requests"].where(part["latency_p95_ms"].notna(), 0)
        p95 = float((part["latency_p95_ms"].fillna(0) * weight).sum() / weight.sum()) if weight.sum() else None
        old = before[before["consumer"] == consumer]["requests"].sum()
        trend = None
        if history_days and old > 0:
            trend = round(100 * ((requests / period_days) / (old / history_days) - 1), 1)
        out.append({
            "service": service, "consumer": consumer, "requests": requests,
            "share_pct": round(100 * requests / total, 2),
            "error_rate_pct": round(100 * part["errors"].sum() / requests, 3) if requests else None,
            "client_error_rate_pct": round(100 * part["client_errors"].sum() / requests, 3) if requests else None,
            "latency_p95_ms": None if p95 is None else round(p95, 1), "trend_pct": trend,
        })
    return sorted(out, key=lambda r: -float(r["requests"]))


def _span_days(rows: pd.DataFrame) -> float:
    if rows.empty:
        return 0.0
    return max((rows["timestamp"].max() - rows["timestamp"].min()).total_seconds() / 86400, 1 / 24)


def misuse_findings(data: pd.DataFrame, service: Service, period_start: datetime, now: datetime,
                    params: MisuseParams) -> list[Finding]:
    rows = consumer_rows(data, service.name)
    out: list[Finding] = []
    if not rows.empty:
        recent = rows[(rows["timestamp"] >= period_start) & (rows["timestamp"] < now)]
        out += client_error_findings(recent, service, params, period_start)
        out += retry_storm_findings(recent, service, params)
        out += polling_findings(rows, service, period_start, now, params)
        out = [_with_endpoint(f, data, period_start, now) for f in out]
    out += deprecated_findings(data, service, period_start, now)
    return out


def _with_endpoint(finding: Finding, data: pd.DataFrame, period_start: datetime, now: datetime) -> Finding:
    """Name the endpoint when one carries most of what the consumer does wrong (>= 60%)."""
    rows = data[(data["service"] == finding.service) & (data["consumer"] == finding.consumer)
                & (data["endpoint"] != "")]
    if rows.empty:
        return finding
    column = "client_errors" if finding.metric == "client_errors" else "requests"
    recent = rows[(rows["timestamp"] >= period_start) & (rows["timestamp"] < now)].groupby("endpoint", observed=True)[column].sum()
    if finding.metric != "client_errors":  # what grew: the period's daily rate minus the history's
        before = rows[rows["timestamp"] < period_start]
        days_before = max(_span_days(before), 1 / 24)
        days_recent = max((now - period_start).total_seconds() / 86400, 1 / 24)
        old = before.groupby("endpoint", observed=True)[column].sum().reindex(recent.index, fill_value=0)
        recent = (recent / days_recent - old / days_before).clip(lower=0)
    if recent.sum() <= 0 or recent.max() < 0.6 * recent.sum():
        return finding
    endpoint = str(recent.idxmax())
    return finding.with_(endpoint=endpoint, title=f"{finding.title} ({endpoint})")


# ---- client errors -----------------------------------------------------------------------------
def client_error_findings(recent: pd.DataFrame, service: Service, params: MisuseParams,
                          period_start: datetime) -> list[Finding]:
    totals = recent.groupby("consumer", observed=True)[["requests", "client_errors"]].sum()
    totals = totals[(totals["requests"] >= params.min_requests) & ~totals.index.map(is_bucket)]
    if totals.empty:
        return []
    rates = totals["client_errors"] / totals["requests"]
    service_requests = float(recent["requests"].sum()) or 1.0
    out = []
    for consumer, rate in rates.items():
        peers = rates.drop(consumer)
        if len(peers):
            median = float(peers.median())
            mad = float((peers - median).abs().median()) * 1.4826
            limit = max(params.client_error_floor, params.client_error_factor * median, median + 6 * mad)
        else:
            median, limit = float("nan"), params.lone_client_error_rate
        if rate < limit or totals.loc[consumer, "client_errors"] < params.min_client_errors:
            continue
        mine = recent[recent["consumer"] == consumer]
        start = _first_hour_over(mine, limit) or period_start
        since = mine[mine["timestamp"] >= start][["requests", "client_errors"]].sum()
        rate_since = float(since["client_errors"] / since["requests"]) if since["requests"] else float(rate)
        out.append(_client_error_finding(str(consumer), rate_since, median, totals.loc[consumer], service,
                                         service_requests, start))
    return out


def _first_hour_over(rows: pd.DataFrame, limit: float) -> datetime | None:
    """The first hour whose client-error rate reached the limit (with 10+ requests): the start."""
    hourly = rows.groupby(rows["timestamp"].dt.floor("h"), observed=True)[["requests", "client_errors"]].sum()
    hourly = hourly[hourly["requests"] >= 10]
    over = hourly.index[(hourly["client_errors"] / hourly["requests"]) >= limit]
    return over.min().to_pydatetime() if len(over) else None


def _client_error_finding(consumer: str, rate: float, peer_median: float, total: pd.Series, service: Service,
                          service_requests: float, start: datetime) -> Finding:
    share = float(total["requests"]) / service_requests
    severity = by_tier("medium", service.tier).level
    peers = f"its peers' median is {100 * peer_median:.2f}%" if np.isfinite(peer_median) else "it has no peers"
    return Finding(
        kind="consumer_misuse", severity=severity, service=service.name, squad=service.squad,
        consumer=consumer, metric="client_errors",
        title=f"{consumer} gets {100 * rate:.0f}% client errors from {service.name}: it calls the API wrongly",
        detail=(f"Since {start:%Y-%m-%d %H:%M} UTC {100 * rate:.1f}% of {consumer}'s requests were rejected with "
                f"a 4xx; over the period {total['client_errors']:,.0f} of its {total['requests']:,.0f} requests "
                f"({100 * share:.1f}% of the traffic); {peers}."),
        start=start, end=None,
        evidence={"client_error_rate_pct": round(100 * rate, 3),
                  "peer_median_pct": None if not np.isfinite(peer_median) else round(100 * peer_median, 3),
                  "requests": float(total["requests"]), "client_errors": float(total["client_errors"])},
        recommendation=(f"Take the 4xx responses (status and endpoint) to {consumer}'s owner: wrong parameters, "
                        "expired credentials or a missing field; fixing it also removes wasted load."),
        impact={"requests_affected": int(total["client_errors"]), "consumers_affected": 1},
        key="client_errors",
    )


# ---- retry storms --------------------------------------------------------------------------------
def retry_storm_findings(recent: pd.DataFrame, service: Service, params: MisuseParams) -> list[Finding]:
    """After each burst of server errors, compare every consumer's rate in the next minutes with its
    own rate in the 30 minutes before: a consumer that multiplies its traffic while peers don't
    retries without backoff. Local baselines keep polling or daily cycles from looking like storms."""
    per_minute = recent.pivot_table(index="timestamp", columns="consumer", values="requests", aggfunc="sum", observed=True).fillna(0)
    if per_minute.empty or len(per_minute) < 30:
        return []
    errors = recent.groupby("timestamp", observed=True)[["errors", "requests"]].sum().reindex(per_minute.index, fill_value=0)
    burst = ((errors["errors"] >= 5) & (errors["errors"] >= 0.02 * errors["requests"].clip(lower=1))).to_numpy()
    starts = np.flatnonzero(burst & ~np.r_[False, burst[:-1]])
    window = params.retry_window_minutes
    amps, extras, minutes = [], [], []
    for start in starts:
        before = per_minute.iloc[max(start - 30, 0):start]
        after = per_minute.iloc[start:start + window]
        if len(before) < 10:
            continue
        norm = before.median().clip(lower=0.5)
        amps.append(after.mean() / norm)
        extras.append((after - norm).clip(lower=0).sum())
        minutes.append(after.index)
    if not amps:
        return []
    amplification = pd.concat(amps, axis=1).median(axis=1)
    extra = pd.concat(extras, axis=1).sum(axis=1)
    when = minutes[0].append(minutes[1:]) if len(minutes) > 1 else minutes[0]
    out = []
    for consumer in per_minute.columns:
        if is_bucket(str(consumer)):
            continue
        amp = float(amplification[consumer])
        peers = amplification.drop(consumer)
        peer_amp = float(peers.median()) if len(peers) else 1.0
        if amp >= params.retry_factor and amp >= 2 * max(peer_amp, 1.0) and extra[consumer] >= params.retry_min_extra:
            out.append(_retry_finding(str(consumer), amp, peer_amp, float(extra[consumer]), when, service))
    return out


def _retry_finding(consumer: str, amp: float, peer_amp: float, extra: float, minutes: pd.DatetimeIndex,
                   service: Service) -> Finding:
    severity = by_tier("high" if amp >= 10 else "medium", service.tier).level
    return Finding(
        kind="consumer_misuse", severity=severity, service=service.name, squad=service.squad,
        consumer=consumer, metric="retries",
        title=f"{consumer} retries in storms when {service.name} returns errors",
        detail=(f"In the minutes after server errors {consumer} sent {amp:.1f}× its usual rate "
                f"({extra:,.0f} extra requests) while other consumers sent {peer_amp:.1f}×: retries without "
                "backoff that make an incident worse."),
        start=minutes.min().to_pydatetime(), end=minutes.max().to_pydatetime(),
        evidence={"amplification": round(amp, 2), "peer_amplification": round(peer_amp, 2),
                  "extra_requests": round(extra), "minutes_after_errors": int(len(minutes))},
        recommendation=f"Ask {consumer}'s owner for exponential backoff with jitter and a retry budget.",
        impact={"requests_affected": int(extra), "consumers_affected": 1},
        key="retry_storm",
    )


# ---- polling -----------------------------------------------------------------------------------
def polling_findings(rows: pd.DataFrame, service: Service, period_start: datetime, now: datetime,
                     params: MisuseParams) -> list[Finding]:
    hourly = rows.assign(hour=rows["timestamp"].dt.floor("h")).pivot_table(
        index="hour", columns="consumer", values="requests", aggfunc="sum", observed=True).fillna(0)
    before = hourly[hourly.index < period_start]
    recent = hourly[(hourly.index >= period_start) & (hourly.index < now)]
    if len(before) < 24 or recent.empty:
        return []
    norm = _hour_of_day_norm(before, recent.index)
    ratio = recent / norm
    peer_growth = (recent.median() / before.median().clip(lower=1)).clip(lower=0)
    out = []
    for consumer in recent.columns:
        if is_bucket(str(consumer)) or consumer not in before or before[consumer].sum() == 0:
            continue
        hot = ratio[consumer] >= params.polling_factor
        extra = float((recent[consumer] - norm[consumer])[hot].sum())
        if hot.sum() < params.polling_min_hours or extra < params.polling_min_extra:
            continue
        peers = peer_growth.drop(consumer)
        factor = float(ratio[consumer][hot].median())
        if len(peers) and float(peers.median()) * 3 > factor:
            continue  # everyone grew: a traffic change, not this consumer's behaviour
        out.append(_polling_finding(str(consumer), factor, extra, hot, recent, service))
    return out


def _hour_of_day_norm(before: pd.DataFrame, hours: pd.DatetimeIndex) -> pd.DataFrame:
    """Each consumer's median requests for that hour of day (all hours when history < 3 days)."""
    if len(before) >= 72:
        by_hour = before.groupby(before.index.hour, observed=True).median()
        norm = by_hour.reindex(hours.hour).set_axis(hours)
    else:
        norm = pd.DataFrame([before.median()] * len(hours), index=hours)
    return norm.clip(lower=1.0).fillna(1.0)


def _polling_finding(consumer: str, factor: float, extra: float, hot: pd.Series, recent: pd.DataFrame,
                     service: Service) -> Finding:
    hours = hot[hot].index
    share = extra / max(float(recent.loc[hours].sum().sum()), 1.0)
    severity = by_tier("high" if share >= 0.25 else "medium", service.tier).level
    ongoing = bool(hot.iloc[-1])
    return Finding(
        kind="consumer_misuse", severity=severity, service=service.name, squad=service.squad,
        consumer=consumer, metric="traffic",
        title=f"{consumer} calls {service.name} {factor:.0f}× more often than its norm",
        detail=(f"For {len(hours)} hours {consumer} sent {factor:.1f}× its usual requests for the hour of day "
                f"({extra:,.0f} extra requests, {100 * share:.0f}% of all traffic to {service.name} in those hours); "
                "its peers did not change like this: polling or a loop, not demand."),
        start=hours.min().to_pydatetime(), end=None if ongoing else (hours.max() + pd.Timedelta(hours=1)).to_pydatetime(),
        evidence={"factor": round(factor, 2), "extra_requests": round(extra), "hours": int(len(hours)),
                  "share_of_traffic_pct": round(100 * share, 1)},
        recommendation=(f"Ask {consumer}'s owner to poll less often, use caching (ETag / If-None-Match) or a "
                        "push mechanism (webhooks, events); consider a per-consumer rate limit."),
        impact={"requests_affected": int(extra), "consumers_affected": 1},
        key="polling",
    )


# ---- deprecated endpoints --------------------------------------------------------------------------
def deprecated_findings(data: pd.DataFrame, service: Service, period_start: datetime, now: datetime) -> list[Finding]:
    if not service.deprecated_endpoints:
        return []
    rows = data[(data["service"] == service.name) & data["endpoint"].isin(service.deprecated_endpoints)
                & (data["timestamp"] >= period_start) & (data["timestamp"] < now)]
    out = []
    for endpoint, part in rows.groupby("endpoint", observed=True):
        callers = part[(part["consumer"] != "") & ~part["consumer"].map(is_bucket)]
        totals = callers.groupby("consumer", observed=True)["requests"].sum()
        totals = totals[totals > 0]
        if totals.empty:
            whole = float(part[part["consumer"] == ""]["requests"].sum())
            if whole > 0:
                out.append(_deprecated_finding(None, str(endpoint), whole, part, service))
            continue
        for consumer, calls in totals.items():
            out.append(_deprecated_finding(str(consumer), str(endpoint), float(calls),
                                           callers[callers["consumer"] == consumer], service))
    return out


def _deprecated_finding(consumer: str | None, endpoint: str, calls: float, part: pd.DataFrame,
                        service: Service) -> Finding:
    who = consumer or "Some consumer (the data has no consumer breakdown)"
    days = max((part["timestamp"].max() - part["timestamp"].min()).total_seconds() / 86400, 1 / 24)
    severity = "medium" if calls / days >= 10_000 and service.tier == 1 else "low"
    return Finding(
        kind="consumer_misuse", severity=severity, service=service.name, squad=service.squad,
        consumer=consumer, endpoint=endpoint, metric="traffic",
        title=f"{who} still calls the deprecated {endpoint} on {service.name}",
        detail=(f"{calls:,.0f} calls to {endpoint}, deprecated in perfops.yaml, between "
                f"{part['timestamp'].min():%Y-%m-%d} and {part['timestamp'].max():%Y-%m-%d}."),
        start=part["timestamp"].min().to_pydatetime(), end=None,
        evidence={"calls": calls, "calls_per_day": round(calls / days, 1), "endpoint": endpoint},
        recommendation=f"Tell {consumer or 'its callers'} the replacement and a removal date; "
                       "keep the endpoint until the calls stop.",
        impact={"requests_affected": int(calls), "consumers_affected": 1},
        key=f"deprecated:{endpoint}",
    )
