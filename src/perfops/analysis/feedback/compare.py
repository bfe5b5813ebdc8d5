"""A performance-test run held against production and the NFRs: checks with pass/warn/fail.

Pure: the run, its endpoints and load over time, a ProductionProfile, the NFR and a baseline
run's endpoints in; a `Comparison` out. The checks (docs/methods/feedback.md):

- load vs production: sustained test throughput / production peak-hour rate;
- load vs NFR: sustained test throughput / nfr.peak_tps;
- mix vs production and vs NFR: total variation distance TV = ½ Σ |p_i - q_i| between the
  per-endpoint shares (0 = same mix, 1 = disjoint); endpoints production calls that the test
  never did (missing coverage);
- behaviour at comparable load: per endpoint, test p95 and error rate vs production in the hours
  whose load was within ±25 % of the test's;
- regression vs baseline: per endpoint p95 ratio and error-rate change vs the baseline run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from perfops.analysis.feedback.prod import ProductionProfile, comparable_hours
from perfops.analysis.steps import median_gap
from perfops.model.catalog import Nfr

Verdict = Literal["pass", "warn", "fail", "skip"]
_ORDER = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}
BASELINE_STATUSES = ("ok", "passed", "")  # failed / invalidated runs never become baselines


@dataclass(frozen=True)
class Thresholds:
    load_warn: float = 1.0  # test/prod below this: warn
    load_fail: float = 0.8  # below this: fail
    nfr_load_fail: float = 0.9
    mix_warn: float = 0.10  # total variation distance
    mix_fail: float = 0.20
    missing_share_fail: float = 0.01  # a missing endpoint carrying >= 1 % of prod traffic fails
    latency_ratio_warn: float = 1.5
    latency_ratio_fail: float = 2.0
    error_pp_warn: float = 1.0  # percentage points
    error_pp_fail: float = 5.0
    regression_warn: float = 1.2  # p95 ratio vs baseline
    regression_fail: float = 1.5
    comparable_tolerance: float = 0.25


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    run_id: str
    service: str
    environment: str
    test_rps: float
    production: dict[str, Any] | None
    baseline_run_id: str | None
    checks: list[Check]
    endpoints: list[dict[str, Any]]

    @property
    def verdict(self) -> Verdict:
        return max((c.verdict for c in self.checks), key=_ORDER.__getitem__, default="skip")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "service": self.service, "environment": self.environment,
            "verdict": self.verdict, "test_rps": _round(self.test_rps), "production": self.production,
            "baseline_run_id": self.baseline_run_id, "checks": [_clean(asdict(c)) for c in self.checks],
            "endpoints": [_clean(e) for e in self.endpoints],
        }


def _round(x: float | None, digits: int = 3) -> float | None:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return None
    return round(float(x), digits)


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if isinstance(obj, float | np.floating):
        return _round(float(obj), 4)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """½ Σ |p_i − q_i| over the union of keys (each mix normalised to sum 1)."""
    sp, sq = sum(p.values()) or 1.0, sum(q.values()) or 1.0
    keys = set(p) | set(q)
    return 0.5 * sum(abs(p.get(k, 0.0) / sp - q.get(k, 0.0) / sq) for k in keys)


def sustained_rps(endpoints: pd.DataFrame, series: pd.DataFrame | None) -> float:
    """The test's steady-state throughput: the median rate of the 10-s intervals at ≥ half the
    run's 90th-percentile interval (ramp-up, ramp-down and stalls left out; the median is not
    pulled up by noisy intervals as a mean of the busiest ones would be); else the run average."""
    if series is not None and len(series):
        total = series[series["endpoint"].fillna("") == ""].sort_values("timestamp")
        if len(total) >= 3:
            step = median_gap(pd.to_datetime(total["timestamp"]).to_numpy()) or 1.0
            rps = total["requests"].to_numpy(dtype=float) / max(step, 1.0)
            steady = rps[rps >= 0.5 * np.percentile(rps, 90)]
            return float(np.median(steady))
    rows = endpoints[endpoints["endpoint"].fillna("") != ""] if (endpoints["endpoint"] != "").any() else endpoints
    return float(np.nansum(rows["throughput_rps"].to_numpy(dtype=float)))


def test_mix(endpoints: pd.DataFrame) -> dict[str, float]:
    rows = endpoints[endpoints["endpoint"].fillna("") != ""]
    total = float(rows["samples"].sum())
    return {str(r.endpoint): float(r.samples) / total for r in rows.itertuples()} if total else {}


def _grade(value: float, warn: float, fail: float, higher_is_worse: bool = True) -> Verdict:
    if higher_is_worse:
        return "fail" if value >= fail else "warn" if value >= warn else "pass"
    return "fail" if value < fail else "warn" if value < warn else "pass"


# ---- the checks ------------------------------------------------------------------------------
def check_load(test_rps: float, profile: ProductionProfile | None, t: Thresholds) -> Check:
    if profile is None:
        return Check("load_vs_production", "skip", "no production request telemetry for this service")
    ratio = test_rps / profile.rps if profile.rps else float("inf")
    verdict = _grade(ratio, t.load_warn, t.load_fail, higher_is_worse=False)
    return Check("load_vs_production", verdict,
                 f"test sustained {test_rps:.1f} req/s = {ratio:.0%} of the production peak hour "
                 f"({profile.rps:.1f} req/s, {profile.start:%Y-%m-%d %H:00})",
                 {"test_rps": test_rps, "production_peak_rps": profile.rps, "ratio": ratio,
                  "production_peak_step_rps": profile.peak_step_rps})


def check_nfr_load(test_rps: float, nfr: Nfr | None, t: Thresholds) -> Check:
    if nfr is None or not nfr.peak_tps:
        return Check("load_vs_nfr", "skip", "no nfr.peak_tps for this service")
    ratio = test_rps / nfr.peak_tps
    verdict = _grade(ratio, 1.0, t.nfr_load_fail, higher_is_worse=False)
    return Check("load_vs_nfr", verdict,
                 f"test sustained {test_rps:.1f} req/s = {ratio:.0%} of nfr.peak_tps {nfr.peak_tps:g}",
                 {"test_rps": test_rps, "nfr_peak_tps": nfr.peak_tps, "ratio": ratio})


def check_mix(mix: dict[str, float], profile: ProductionProfile | None, t: Thresholds) -> list[Check]:
    if profile is None or not profile.endpoints:
        return [Check("mix_vs_production", "skip", "no per-endpoint production telemetry")]
    prod = profile.mix
    tv = total_variation(mix, prod)
    checks = [Check("mix_vs_production", _grade(tv, t.mix_warn, t.mix_fail),
                    f"test mix differs from production's peak-hour mix by {tv:.0%} (total variation)",
                    {"total_variation": tv})]
    missing = {e: s for e, s in prod.items() if e not in mix}
    if missing:
        carried = sum(missing.values())
        verdict: Verdict = "fail" if max(missing.values()) >= t.missing_share_fail else "warn"
        names = ", ".join(f"{e} ({s:.0%})" for e, s in sorted(missing.items(), key=lambda kv: -kv[1]))
        checks.append(Check("coverage", verdict,
                            f"{len(missing)} production endpoint(s) never called by the test, "
                            f"{carried:.0%} of peak traffic: {names}",
                            {"missing": sorted(missing), "missing_share": carried}))
    else:
        checks.append(Check("coverage", "pass", "the test called every endpoint production calls",
                            {"missing": [], "missing_share": 0.0}))
    return checks


def check_nfr_mix(mix: dict[str, float], nfr: Nfr | None, t: Thresholds) -> Check:
    if nfr is None or not nfr.transaction_mix:
        return Check("mix_vs_nfr", "skip", "no nfr.transaction_mix for this service")
    tv = total_variation(mix, {k: v / 100.0 for k, v in nfr.transaction_mix.items()})
    return Check("mix_vs_nfr", _grade(tv, t.mix_warn, t.mix_fail),
                 f"test mix differs from nfr.transaction_mix by {tv:.0%} (total variation)",
                 {"total_variation": tv})


def check_behaviour(endpoints: pd.DataFrame, comparable: pd.DataFrame, t: Thresholds) -> Check:
    """Worst endpoint: p95 ratio test/prod and error-rate difference, at comparable load."""
    if comparable is None or comparable.empty:
        return Check("behaviour_at_comparable_load", "skip",
                     "no production hour ran at a load within ±25% of the test's")
    prod = comparable.set_index("endpoint")
    worst: tuple[Verdict, str, dict[str, Any]] = ("pass", "latency and errors in line with production", {})
    for row in endpoints.itertuples():
        if row.endpoint not in prod.index or not row.samples:
            continue
        p = prod.loc[row.endpoint]
        ratio = (row.latency_p95_ms / p.latency_p95_ms) if p.latency_p95_ms and row.latency_p95_ms == row.latency_p95_ms else None
        err_pp = 100.0 * (row.errors / row.samples - (p.error_rate or 0.0)) if p.error_rate is not None else None
        verdicts = []
        if ratio is not None:
            off = max(ratio, 1 / ratio) if ratio > 0 else float("inf")
            verdicts.append(_grade(off, t.latency_ratio_warn, t.latency_ratio_fail))
        if err_pp is not None:
            verdicts.append(_grade(abs(err_pp), t.error_pp_warn, t.error_pp_fail))
        verdict: Verdict = max(verdicts, key=_ORDER.__getitem__, default="pass")
        if _ORDER[verdict] > _ORDER[worst[0]]:
            what = f"{row.endpoint}: test p95 {row.latency_p95_ms:.0f} ms vs production {p.latency_p95_ms:.0f} ms"
            if err_pp is not None:
                what += f", error rate {100 * row.errors / row.samples:.2f}% vs {100 * (p.error_rate or 0):.2f}%"
            worst = (verdict, what, {"endpoint": row.endpoint, "latency_ratio": ratio, "error_pp": err_pp,
                                     "production_hours": int(p.hours)})
    return Check("behaviour_at_comparable_load", worst[0], worst[1], worst[2])


def check_baseline(endpoints: pd.DataFrame, baseline: pd.DataFrame | None, baseline_id: str | None,
                   t: Thresholds) -> Check:
    if baseline is None or baseline.empty or baseline_id is None:
        return Check("regression_vs_baseline", "skip", "no earlier valid run of this service to compare with")
    base = baseline.set_index("endpoint")
    worst: tuple[Verdict, str, dict[str, Any]] = ("pass", f"no endpoint slower than in {baseline_id}",
                                                 {"baseline": baseline_id})
    for row in endpoints.itertuples():
        if row.endpoint not in base.index:
            continue
        b = base.loc[row.endpoint]
        if not b.latency_p95_ms or row.latency_p95_ms != row.latency_p95_ms:
            continue
        ratio = row.latency_p95_ms / b.latency_p95_ms
        verdict = _grade(ratio, t.regression_warn, t.regression_fail)
        if _ORDER[verdict] > _ORDER[worst[0]] or (verdict == worst[0] != "pass" and
                                                  ratio > worst[2].get("ratio", 0)):
            worst = (verdict, f"{row.endpoint}: p95 {row.latency_p95_ms:.0f} ms vs {b.latency_p95_ms:.0f} ms "
                     f"in {baseline_id} ({ratio - 1:+.0%})",
                     {"baseline": baseline_id, "endpoint": row.endpoint, "ratio": ratio,
                      "baseline_p95_ms": b.latency_p95_ms, "observed_p95_ms": row.latency_p95_ms})
    return Check("regression_vs_baseline", worst[0], worst[1], worst[2])


def endpoint_table(endpoints: pd.DataFrame, profile: ProductionProfile | None, nfr: Nfr | None,
                   comparable: pd.DataFrame | None, baseline: pd.DataFrame | None) -> list[dict[str, Any]]:
    """Per endpoint (union of test, production and NFR): test vs production side by side."""
    mix = test_mix(endpoints)
    prod = {e.endpoint: e for e in profile.endpoints} if profile else {}
    nfr_mix = {k: v / 100.0 for k, v in (nfr.transaction_mix or {}).items()} if nfr else {}
    comp = comparable.set_index("endpoint") if comparable is not None and len(comparable) else None
    base = baseline.set_index("endpoint") if baseline is not None and len(baseline) else None
    test = endpoints.set_index("endpoint")
    rows = []
    for name in sorted(set(mix) | set(prod) | set(nfr_mix)):
        t = test.loc[name] if name in test.index else None
        rows.append({
            "endpoint": name,
            "test_share": mix.get(name, 0.0), "production_share": prod[name].share if name in prod else None,
            "nfr_share": nfr_mix.get(name),
            "test_rps": float(t.throughput_rps) if t is not None else 0.0,
            "production_peak_rps": prod[name].rps if name in prod else None,
            "test_p95_ms": float(t.latency_p95_ms) if t is not None else None,
            "production_p95_ms": float(comp.loc[name].latency_p95_ms) if comp is not None and name in comp.index
            else (prod[name].latency_p95_ms if name in prod else None),
            "test_error_rate": float(t.errors / t.samples) if t is not None and t.samples else None,
            "production_error_rate": prod[name].error_rate if name in prod else None,
            "baseline_p95_ms": float(base.loc[name].latency_p95_ms) if base is not None and name in base.index
            else None,
        })
    return rows


def compare_run(
    run: dict[str, Any], endpoints: pd.DataFrame, series: pd.DataFrame | None,
    profile: ProductionProfile | None, nfr: Nfr | None, baseline: pd.DataFrame | None = None,
    baseline_id: str | None = None, thresholds: Thresholds | None = None,
) -> Comparison:
    t = thresholds or Thresholds()
    rows = endpoints[endpoints["endpoint"].fillna("") != ""]
    test_rps = sustained_rps(endpoints, series)
    comparable = None
    if profile is not None and not profile.hourly.empty:
        comparable = comparable_hours(profile, test_rps, t.comparable_tolerance)
    mix = test_mix(endpoints)
    checks = [check_load(test_rps, profile, t), check_nfr_load(test_rps, nfr, t),
              *(check_mix(mix, profile, t) if mix else [Check("mix_vs_production", "skip",
                                                              "the run has no per-endpoint results")]),
              check_nfr_mix(mix, nfr, t) if mix else Check("mix_vs_nfr", "skip", "no per-endpoint results"),
              check_behaviour(rows, comparable, t), check_baseline(rows, baseline, baseline_id, t)]
    production = None
    if profile is not None:
        production = {"window": profile.window, "start": f"{profile.start:%Y-%m-%dT%H:%M:%SZ}",
                      "end": f"{profile.end:%Y-%m-%dT%H:%M:%SZ}",
                      "rps": profile.rps, "peak_step_rps": profile.peak_step_rps,
                      "latency_p95_ms": profile.latency_p95_ms, "error_rate": profile.error_rate}
    return Comparison(
        run_id=str(run["run_id"]), service=str(run.get("service") or ""),
        environment=str(run.get("environment") or ""), test_rps=test_rps, production=production,
        baseline_run_id=baseline_id, checks=checks,
        endpoints=endpoint_table(rows, profile, nfr, comparable, baseline),
    )


def eligible_baselines(runs: pd.DataFrame, run: dict[str, Any]) -> pd.DataFrame:
    """Earlier runs of the same service and environment that may serve as a baseline: not
    failed or invalidated, started before this one; newest last."""
    if runs is None or runs.empty:
        return runs
    same = runs[(runs["service"] == run.get("service")) & (runs["run_id"] != run["run_id"])]
    if run.get("environment"):
        same = same[same["environment"].fillna("") == run["environment"]]
    same = same[same["status"].fillna("").isin(BASELINE_STATUSES)]
    if run.get("start") is not None and not pd.isna(run.get("start")):
        same = same[pd.to_datetime(same["start"]) < pd.Timestamp(run["start"])]
    return same.sort_values("start", kind="stable")
