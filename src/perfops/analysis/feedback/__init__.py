"""The feedback loop: performance tests and NFRs held against production.

Findings (docs/methods/feedback.md):
- `nfr_mismatch` from production alone: the peak-hour rate above nfr.peak_tps; the peak-hour mix
  drifted from nfr.transaction_mix (total variation distance); the p95 target looser than
  reality (production p95 at peak under half the target) or broken (above it);
- `test_coverage_gap`: the newest run of each service and environment tested below the
  production peak, skipped endpoints production calls, or ran a different mix;
- `test_prod_divergence`: at comparable load the test's latency or error rate is unlike
  production's;
- `test_regression`: E-divisive change points across the runs of the same service and
  environment (per endpoint p95), a last run far above its history (median + 4·MAD), or the
  newest run against its baseline.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from perfops.analysis.changepoint import e_divisive, latest_outlier
from perfops.analysis.context import AnalysisContext, area_params
from perfops.analysis.feedback.compare import (
    Comparison,
    Thresholds,
    compare_run,
    eligible_baselines,
    total_variation,
)
from perfops.analysis.feedback.prod import ProductionProfile, production_profile
from perfops.analysis.severity import feedback_risk
from perfops.model.catalog import Catalog, Service
from perfops.model.findings import Finding

PRODUCTION_LOOKBACK = timedelta(days=28)  # "the peak hour of the previous weeks"
PROD_METRICS = ("requests", "errors", "latency_p95_ms")
MIN_RUNS_FOR_CHANGEPOINTS = 5
MAX_RUNS_FOR_CHANGEPOINTS = 60  # the newest runs of a test are enough to date its last regression


def _owner(name: str) -> str:
    """'cart' -> "cart's", 'payments' -> "payments'"."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def run(ctx: AnalysisContext) -> list[Finding]:
    findings: list[Finding] = []
    thresholds = area_params(ctx, "feedback", Thresholds)
    for service in (s for s in ctx.catalog.services if s.nfr is not None):
        telemetry = ctx.telemetry([service.name], list(PROD_METRICS), ctx.now - PRODUCTION_LOOKBACK, ctx.now)
        profile = production_profile(telemetry, service.name) if not telemetry.empty else None
        if profile is not None:
            findings.extend(nfr_findings(ctx.catalog, service, profile))
    findings.extend(test_findings(ctx, thresholds))
    return findings


# ---- NFR vs production ----------------------------------------------------------------------
def nfr_findings(catalog: Catalog, service: Service, profile: ProductionProfile) -> list[Finding]:
    nfr = service.nfr
    if nfr is None:
        return []
    squad = catalog.squad_of(service.name)
    base: dict[str, Any] = {"kind": "nfr_mismatch", "service": service.name, "squad": squad,
                            "start": profile.start, "end": profile.end}
    out = []
    if nfr.peak_tps and profile.rps > nfr.peak_tps:
        ratio = profile.rps / nfr.peak_tps
        level = "high" if ratio >= 2.0 else "medium" if ratio >= 1.2 else "low"
        out.append(Finding(
            **base, metric="traffic", severity=feedback_risk(level, service.tier), key="peak",
            title=f"{service.name} peaks at {profile.rps:.0f} req/s, above the {nfr.peak_tps:g} req/s it was built and tested for",
            detail=(f"Production's busiest hour ({profile.start:%Y-%m-%d %H:00} UTC) averaged {profile.rps:.1f} req/s "
                    f"({ratio - 1:+.0%} over nfr.peak_tps {nfr.peak_tps:g}); the busiest step reached "
                    f"{profile.peak_step_rps:.1f} req/s."),
            evidence={"nfr_peak_tps": nfr.peak_tps, "observed_peak_rps": round(profile.rps, 3),
                      "observed_peak_step_rps": round(profile.peak_step_rps, 3), "ratio": round(ratio, 3),
                      "change_pct": round(100 * (ratio - 1), 1), "peak_hour": profile.start.isoformat()},
            recommendation=(f"Raise nfr.peak_tps to at least {profile.rps * 1.2:.0f} (peak + 20% headroom) and "
                            "re-run the load test at that rate; `perfops workload-model` gives the rates per endpoint."),
            impact={"requests_affected": int(profile.rps * 3600)},
        ))
    if nfr.transaction_mix and profile.endpoints:
        tv = total_variation(profile.mix, {k: v / 100 for k, v in nfr.transaction_mix.items()})
        if tv >= 0.10:
            drift = _largest_drifts(profile.mix, nfr.transaction_mix)
            out.append(Finding(
                **base, metric="mix", severity=feedback_risk("medium" if tv >= 0.2 else "low", service.tier), key="mix",
                title=f"{_owner(service.name)} production mix differs from its NFR transaction mix by {tv:.0%}",
                detail=f"At the peak hour: {drift}. Total variation distance {tv:.2f}.",
                evidence={"total_variation": round(tv, 4), "production_mix": {k: round(v, 4) for k, v in profile.mix.items()},
                          "nfr_mix": nfr.transaction_mix},
                recommendation="Update nfr.transaction_mix from production (`perfops workload-model`) and test that mix.",
            ))
    out.extend(_latency_nfr(base, service, profile))
    return out


def _largest_drifts(prod: dict[str, float], nfr_mix: dict[str, float]) -> str:
    keys = set(prod) | set(nfr_mix)
    diffs = sorted(keys, key=lambda k: -abs(prod.get(k, 0) - nfr_mix.get(k, 0) / 100))[:3]
    return "; ".join(f"{k} {100 * prod.get(k, 0):.0f}% in production vs {nfr_mix.get(k, 0):g}% in the NFR" for k in diffs)


def _latency_nfr(base: dict[str, Any], service: Service, profile: ProductionProfile) -> list[Finding]:
    target = service.nfr.latency_p95_ms if service.nfr else None
    observed = profile.latency_p95_ms
    if not target or observed is None:
        return []
    evidence = {"nfr_latency_p95_ms": target, "observed_p95_ms": round(observed, 1),
                "ratio": round(observed / target, 3)}
    if observed > target:
        return [Finding(
            **base, metric="latency", severity=feedback_risk("medium", service.tier), key="latency",
            title=f"{_owner(service.name)} p95 at peak is {observed:.0f} ms, above its NFR of {target:g} ms",
            detail=f"At the peak hour production's p95 was {observed:.0f} ms against nfr.latency_p95_ms {target:g} ms.",
            evidence=evidence,
            recommendation="Either the service needs work to meet its NFR at real peak load, or the NFR is unrealistic: decide which.",
        )]
    if observed < 0.5 * target:
        return [Finding(
            **base, metric="latency", severity="low", key="latency",
            title=f"{_owner(service.name)} latency NFR ({target:g} ms) is far looser than reality ({observed:.0f} ms at peak)",
            detail=(f"Production's p95 at its peak hour was {observed:.0f} ms, {observed / target:.0%} of "
                    f"nfr.latency_p95_ms {target:g} ms: a test held to that target would pass a {target / observed:.1f}× slowdown."),
            evidence=evidence,
            recommendation=f"Tighten nfr.latency_p95_ms towards {observed * 1.5:.0f} ms so load tests catch regressions.",
        )]
    return []


# ---- tests vs production --------------------------------------------------------------------
def test_findings(ctx: AnalysisContext, thresholds: Thresholds) -> list[Finding]:
    runs = ctx.test_runs
    if runs is None or runs.empty:
        return []
    runs = runs.copy()
    runs["start"] = pd.to_datetime(runs["start"])
    recent = runs[(runs["start"] >= pd.Timestamp(ctx.period_start)) & (runs["start"] < pd.Timestamp(ctx.now))]
    out: list[Finding] = []
    for _, group in recent.groupby(["service", "environment"], dropna=False, observed=True):
        latest = group.sort_values("start").iloc[-1].to_dict()
        service = ctx.catalog.service_by_name.get(latest["service"])
        if service is None:
            continue
        comparison, history = evaluate_run(ctx, latest, runs, service, thresholds)
        out.extend(comparison_findings(ctx.catalog, service, latest, comparison))
        out.extend(regression_findings(ctx, service, latest, history, comparison))
    return out


def evaluate_run(ctx: AnalysisContext, run: dict[str, Any], runs: pd.DataFrame, service: Service,
                 thresholds: Thresholds) -> tuple[Comparison, pd.DataFrame]:
    start = _dt(run.get("start")) or ctx.now
    telemetry = ctx.telemetry([service.name], list(PROD_METRICS), start - PRODUCTION_LOOKBACK, start)
    if telemetry.empty:  # production only after the test: use the analysis window
        telemetry = ctx.telemetry([service.name], list(PROD_METRICS), ctx.history_start, ctx.now)
    profile = production_profile(telemetry, service.name) if not telemetry.empty else None
    history = eligible_baselines(runs, run)
    baseline_id = str(history.iloc[-1]["run_id"]) if history is not None and len(history) else None
    baseline = ctx.load_test_endpoints(baseline_id) if baseline_id else None
    comparison = compare_run(run, ctx.load_test_endpoints(run["run_id"]), ctx.load_test_series(run["run_id"]),
                             profile, service.nfr, baseline, baseline_id, thresholds)
    return comparison, history


def _check(comparison: Comparison, name: str):
    return next((c for c in comparison.checks if c.name == name), None)


def comparison_findings(catalog: Catalog, service: Service, run: dict[str, Any], comparison: Comparison) -> list[Finding]:
    squad = catalog.squad_of(service.name)
    base: dict[str, Any] = {"service": service.name, "squad": squad, "start": _dt(run.get("start")),
                            "end": _dt(run.get("end"))}
    out = []
    gaps = [c for c in comparison.checks if c.name in ("load_vs_production", "coverage", "mix_vs_production")
            and c.verdict in ("warn", "fail")]
    if gaps:
        failed = any(c.verdict == "fail" for c in gaps)
        load = _check(comparison, "load_vs_production")
        missing = (_check(comparison, "coverage").evidence.get("missing", []) if _check(comparison, "coverage") else [])
        out.append(Finding(
            kind="test_coverage_gap", metric="traffic", key=f"{run.get('environment') or ''}",
            severity=feedback_risk("medium" if failed else "low", service.tier), **base,
            title=(f"Load test {comparison.run_id} did not model {_owner(service.name)} production workload"
                   + (f" ({load.evidence['ratio']:.0%} of peak" if load and "ratio" in load.evidence else " (")
                   + (f", {len(missing)} endpoint(s) missing)" if missing else ")")),
            detail=" ".join(c.summary + "." for c in gaps),
            evidence={"run_id": comparison.run_id, **{c.name: c.evidence for c in gaps},
                      "verdicts": {c.name: c.verdict for c in comparison.checks}},
            recommendation=(f"Generate the next run's workload from production: `perfops workload-model --service "
                            f"{service.name} --format jmeter` (or locust/k6), and run it at the production peak."),
            impact={"endpoints_untested": len(missing)},
        ))
    behaviour = _check(comparison, "behaviour_at_comparable_load")
    if behaviour and behaviour.verdict in ("warn", "fail"):
        out.append(Finding(
            kind="test_prod_divergence", metric="latency", endpoint=behaviour.evidence.get("endpoint"),
            key=f"{run.get('environment') or ''}", severity=feedback_risk("medium" if behaviour.verdict == "fail" else "low", service.tier),
            **base,
            title=f"At comparable load, {_owner(service.name)} test environment behaves unlike production",
            detail=f"Run {comparison.run_id}: {behaviour.summary}.",
            evidence={"run_id": comparison.run_id, **behaviour.evidence},
            recommendation=("Check the test environment's sizing, data volume, caches and stubs against production; "
                            "results from an unrepresentative environment do not predict production."),
        ))
    return out


def regression_findings(ctx: AnalysisContext, service: Service, run: dict[str, Any], history: pd.DataFrame,
                        comparison: Comparison) -> list[Finding]:
    """Per endpoint: E-divisive over the p95 of the runs (history + this run), else the last run
    far above its history, else the baseline check."""
    squad = ctx.catalog.squad_of(service.name)
    ids = [*(list(history["run_id"]) if history is not None else []), run["run_id"]]
    p95 = _p95_matrix(ctx, ids)
    out, flagged = [], set()
    for endpoint in p95.columns:
        values = p95[endpoint].dropna().iloc[-MAX_RUNS_FOR_CHANGEPOINTS:]
        found = _regression_in(values)
        if found is None:
            continue
        at, before, after, method, p_value = found
        flagged.add(endpoint)
        change = (after - before) / before
        run_at = values.index[at]
        run_row = ctx.test_runs[ctx.test_runs["run_id"] == run_at]
        started = _dt(run_row["start"].iloc[0]) if len(run_row) else None
        out.append(Finding(
            kind="test_regression", metric="latency", endpoint=endpoint, key=str(run_at),
            severity=feedback_risk("high" if change >= 1.0 else "medium", service.tier),
            service=service.name, squad=squad, start=started, end=None,
            title=f"{service.name} {endpoint} got {change:.0%} slower in load tests from run {run_at}",
            detail=(f"p95 went from {before:.0f} ms to {after:.0f} ms ({method}) across {len(values)} runs of "
                    f"{service.name} in {run.get('environment') or 'test'}."),
            evidence={"run_id": run_at, "baseline_p95_ms": round(before, 1), "observed_p95_ms": round(after, 1),
                      "change_pct": round(100 * change, 1), "method": method, "p_value": p_value,
                      "runs": list(values.index)},
            recommendation="Compare the changes shipped between the runs before and after this one; bisect with a re-run.",
        ))
    baseline = _check(comparison, "regression_vs_baseline")
    if baseline and baseline.verdict == "fail" and baseline.evidence.get("endpoint") not in flagged:
        ev = baseline.evidence
        out.append(Finding(
            kind="test_regression", metric="latency", endpoint=ev.get("endpoint"), key=str(run["run_id"]),
            severity=feedback_risk("medium", service.tier), service=service.name, squad=squad,
            start=_dt(run.get("start")), end=None,
            title=f"{service.name} {ev.get('endpoint')} is {ev['ratio'] - 1:.0%} slower than in baseline run {ev['baseline']}",
            detail=f"Run {run['run_id']}: {baseline.summary}.",
            evidence={"run_id": run["run_id"], **ev, "method": "baseline"},
            recommendation="Compare the changes shipped since the baseline run.",
        ))
    return out


def _p95_matrix(ctx: AnalysisContext, run_ids: list[str]) -> pd.DataFrame:
    """Rows = runs (in order), columns = endpoints, values = p95 ms."""
    frames = []
    for run_id in run_ids:
        eps = ctx.load_test_endpoints(run_id)
        if eps is None or eps.empty:
            continue
        eps = eps[eps["endpoint"].fillna("") != ""]
        frames.append(eps.set_index("endpoint")["latency_p95_ms"].rename(run_id))
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, axis=1).T.astype(float)


def _regression_in(values: pd.Series) -> tuple[int, float, float, str, float | None] | None:
    """(index, before, after, method, p) when the latest regime is ≥ 20 % worse than the one
    before it (E-divisive), or the last run alone is far above its history; else None."""
    x = values.to_numpy(dtype=float)
    if x.size >= MIN_RUNS_FOR_CHANGEPOINTS:
        points = e_divisive(x)
        if points and points[-1].change >= 0.2:  # the current regime is the worse one
            c = points[-1]
            return c.index, c.before, c.after, "e-divisive", round(c.p_value, 4)
    jump = latest_outlier(x)
    if jump is not None:
        before = float(np.median(x[:-1]))
        return x.size - 1, before, float(x[-1]), "last run above its history (median + 4 MAD)", None
    return None


def _dt(value: Any) -> datetime | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    return value
