"""End to end: a FOCUS export (daily rows) and 5-minute traffic ingested, analysed and reported;
the executive's spend for the week equals the sum of the billing rows, computed here with csv."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from conftest import SMALL_CATALOG

AT = datetime(2026, 3, 2)  # midnight UTC
DAYS = 28
RULES = """cost:
  match:
    - service: checkout-api
      tags: {app: checkout}
    - service: payments
      resource_name: 'pay-*'
"""


def _traffic(path: Path) -> None:
    rng = np.random.default_rng(3)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["timestamp", "service", "metric", "value"])
        t = AT - timedelta(days=DAYS)
        while t < AT:
            hour = t.hour + t.minute / 60
            load = 0.4 + 0.6 * max(0.0, np.sin(np.pi * (hour - 6) / 16))
            for service, peak in (("checkout-api", 20.0), ("payments", 12.0)):
                out.writerow([t.strftime("%Y-%m-%dT%H:%M:%SZ"), service, "requests", round(peak * 300 * load * rng.uniform(0.97, 1.03))])
                out.writerow([t.strftime("%Y-%m-%dT%H:%M:%SZ"), service, "cpu_pct", round(30 * load, 2)])
            t += timedelta(minutes=5)


def _focus(path: Path) -> None:
    header = ["BillingCurrency", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost",
              "EffectiveCost", "ServiceName", "ResourceId", "ResourceName", "Tags"]
    rng = np.random.default_rng(5)
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for d in range(DAYS):
            day = AT - timedelta(days=DAYS - d)
            span = [day.strftime("%Y-%m-%dT%H:%M:%SZ"), (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")]
            spike = 2.0 if DAYS - d in (5, 4, 3) else 1.0  # checkout's compute doubled three days last week
            for vm in range(3):
                cost = round(24 * 0.4 * rng.uniform(0.98, 1.02) * spike, 4)
                out.writerow(["USD", "Usage", *span, cost, cost, "Amazon EC2", f"i-{vm}", f"web-{vm}",
                              json.dumps({"app": "checkout"})])
            cost = round(24 * 0.9 * rng.uniform(0.98, 1.02), 4)
            out.writerow(["USD", "Usage", *span, cost, cost, "Amazon RDS", "db-1", "pay-db", ""])
            out.writerow(["USD", "Usage", *span, 1.5, 1.5, "AWS Support", "", "", ""])  # nobody's
            out.writerow(["USD", "Tax", *span, 2.0, 2.0, "", "", "", ""])


def _expected_week(path: Path) -> float:
    start = (AT - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    taken = [r for r in rows if r["ChargeCategory"] in ("Usage", "Purchase") and r["ChargePeriodStart"] >= start
             and (r["Tags"] or r["ResourceName"].startswith("pay-"))]
    return sum(float(r["EffectiveCost"]) for r in taken)


def test_executive_spend_is_the_sum_of_the_billing_rows(tmp_path, cli):
    (tmp_path / "perfops.yaml").write_text(SMALL_CATALOG + RULES)
    _traffic(tmp_path / "traffic.csv")
    _focus(tmp_path / "focus.csv")
    assert cli("ingest", str(tmp_path / "traffic.csv"), workspace=tmp_path).code == 0
    ingested = cli("ingest", str(tmp_path / "focus.csv"), workspace=tmp_path)
    assert ingested.code == 0, ingested
    assert "focus" in ingested.out  # what was left out is a warning on stderr, shown even with -q
    assert "unallocated" in ingested.err and "Tax" in ingested.err
    analysed = cli("analyze", "--period", "7d", "--at", AT.strftime("%Y-%m-%dT%H:%M:%SZ"), workspace=tmp_path)
    assert analysed.code == 0, analysed
    found = json.loads(cli("findings", "--format", "json", "--status", "all", workspace=tmp_path).out)
    anomalies = [f for f in found if f["kind"] == "cost_anomaly"]
    assert [f["service"] for f in anomalies] == ["checkout-api"]
    report = tmp_path / "exec.json"
    written = cli("report", "--audience", "executive", "--period", "7d", "--format", "json", "--output", str(report),
                  workspace=tmp_path)
    assert written.code == 0, written
    (spend,) = [s for s in json.loads(report.read_text())["sections"] if s.get("id") == "cost-spend"]
    domain = spend["data"]["domain"]
    assert domain["last_7_days"] == pytest.approx(_expected_week(tmp_path / "focus.csv"), rel=1e-9)
