"""A domain where nothing happens: what `perfops analyze` raises on noise alone (false findings).

Six services with seasonal (daily and weekly) Poisson traffic, 0.1 % binomial errors, lognormal
latency, CPU following traffic and flat memory, 6 weeks at 5 minutes, no incident. For each seed
it ingests, analyses the last 7 days and prints the findings by severity; every one is false.

Run: `.venv/bin/python bench/null_domain.py [--seeds 0 1 2]`
Figures in docs/bench/trends.md ("Real CPU series through analyze", last paragraph).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

SERVICES = ["web", "search-api", "booking-api", "payments", "inventory", "auth"]
CATALOG = """\
domain: Quiet
squads:
  - name: a
  - name: b
services:
  - name: web
    squad: a
    tier: 1
    depends_on: [search-api, booking-api]
    slo: {availability: 99.5, latency_p95_ms: 400}
  - name: search-api
    squad: a
  - name: booking-api
    squad: b
    depends_on: [payments, inventory]
  - name: payments
    squad: b
    tier: 1
  - name: inventory
    squad: b
  - name: auth
    squad: a
    capacity: {instances: 4, max_tps_per_instance: 50}
"""


def telemetry(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = pd.date_range("2026-10-01", "2026-11-12", freq="5min", inclusive="left")
    hour = t.hour.to_numpy() + t.minute.to_numpy() / 60
    daily = 0.3 + 0.7 * np.clip(np.sin(np.pi * (hour - 6) / 16), 0, None)
    weekly = np.where(t.dayofweek.to_numpy() >= 5, 0.7, 1.0)
    frames = []
    for service in SERVICES:
        rate = rng.uniform(50, 3000) * daily * weekly + 5
        requests = rng.poisson(rate)
        series = {
            "requests": requests,
            "errors": rng.binomial(requests, 0.001),
            "latency_p95_ms": rng.lognormal(np.log(120 + 40 * daily), 0.15),
            "cpu_pct": np.clip(10 + 50 * rate / rate.max() + rng.normal(0, 3, t.size), 0, 100),
            "memory_pct": np.clip(55 + rng.normal(0, 2, t.size), 0, 100),
        }
        frames += [pd.DataFrame({"timestamp": t, "service": service, "metric": m, "value": v}) for m, v in series.items()]
    return pd.concat(frames, ignore_index=True)


def run(seed: int) -> Counter:
    perfops = str(Path(sys.executable).with_name("perfops"))
    with tempfile.TemporaryDirectory(prefix="perfops-null-") as folder:
        root = Path(folder)
        (root / "perfops.yaml").write_text(CATALOG)
        telemetry(seed).to_parquet(root / "tel.parquet", index=False)
        for args in (["ingest", str(root / "tel.parquet")], ["analyze", "--period", "7d"]):
            subprocess.run([perfops, *args, "-q", "-w", folder], check=True)
        out = subprocess.run([perfops, "findings", "--status", "all", "--format", "json", "-w", folder],
                             check=True, capture_output=True, text=True).stdout
    return Counter(f["severity"] for f in json.loads(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    for seed in parser.parse_args().seeds:
        found = run(seed)
        print(f"seed {seed}: {sum(found.values())} findings {dict(found)}")


if __name__ == "__main__":
    main()
