"""Evidence for people: each key a label, each value with its unit, the numbers as the finding's
title writes them (analysis/trends/findings.py), never a Python dict or list repr."""

from __future__ import annotations

from perfops.model import format as fmt

ERROR_SPIKE = {  # the shape trends_findings._evidence stores for an error-rate episode
    "telemetry_metric": "errors/requests", "norm": 0.0003, "observed": 0.0201, "change_pct": 6600.0,
    "sample_size": {"norm_samples": 2016, "steps_observed": 8, "requests": 41234},
    "p_value": 1.9e-05, "confidence": 0.999981, "method": "Poisson tail of errors given the baseline rate (Beta prior)",
    "extreme": {"at": "2026-11-20T10:15:00", "observed": 0.05, "norm": 0.0003}, "errors": 829,
}


def test_error_rate_levels_read_as_the_title_writes_them() -> None:
    rows = dict(fmt.evidence_rows(ERROR_SPIKE))
    assert rows["norm"] == "0.03%" and rows["observed"] == "2.01%"  # title: "at 2.01% (norm 0.03%)"
    assert rows["p-value"] == "p = 1.9e-05"  # detail: "p = 1.9e-05"
    assert rows["metric"] == "server error rate"
    assert rows["sample size"] == "norm samples 2,016 · steps observed 8 · requests 41,234"
    assert rows["extreme"] == "at 2026-11-20T10:15:00 · observed 5.00% · norm 0.03%"


def test_no_python_repr_in_any_value() -> None:
    evidence = {**ERROR_SPIKE, "steps": ["cart:GET /cart", "checkout-api:POST /checkout"],
                "daily_spend": [float(i) for i in range(20)], "severity_inputs": {"tier": 1, "outage": False}}
    for label, value in fmt.evidence_rows(evidence):
        assert not any(c in value for c in "{}[]'"), (label, value)
        assert "_" not in label, label
    rows = dict(fmt.evidence_rows(evidence))
    assert rows["steps"] == "cart:GET /cart, checkout-api:POST /checkout"
    assert rows["daily spend"].endswith("… (20 values)")
    assert rows["severity from"] == "tier 1 · outage no"


def test_units_follow_the_key() -> None:
    rows = dict(fmt.evidence_rows({"baseline_p95_ms": 260.0, "client_error_rate_pct": 12.5, "nfr_peak_tps": 50,
                                   "observed_peak_rps": 61.3, "monthly_savings": 1250.0,
                                   "telemetry_metric": "latency_p95_ms", "observed": 412.7, "norm": 95.34},
                                  currency="EUR"))
    assert rows["baseline p95"] == "260 ms"
    assert rows["client error rate"] == "12.5%"
    assert rows["NFR peak"] == "50 req/s" and rows["observed peak"] == "61.3 req/s"
    assert rows["monthly savings"] == "€1,250"
    assert rows["observed"] == "413 ms" and rows["norm"] == "95.3 ms"


def test_p_values_in_words() -> None:
    assert fmt.p_value(1.9e-05) == "p = 1.9e-05"
    assert fmt.p_value(0.0321) == "p = 0.032"
    assert fmt.p_value(0.0) == "p < 1e-300"  # underflowed: never "p = 0"
    assert fmt.p_value(None) == "–"
