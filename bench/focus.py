"""Bench: FOCUS export reading speed, perfops vs a bare csv-module loop in the same run.

    python bench/focus.py [--rows 200000] [--repeat 3]

Writes a synthetic hourly FOCUS CSV (500 resources, a JSON Tags cell on every row, a month of
hours), then times (median of `--repeat`) perfops.ingest.focus.read with one cost.match tag rule
and a baseline that only does what any reader must: csv.DictReader, json.loads of Tags, float of
EffectiveCost, a sum per (app tag, hour). Prints rows/s of both and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import SMALL_CATALOG  # noqa: E402
from perfops.ingest import focus  # noqa: E402
from perfops.ingest.base import IngestOptions  # noqa: E402
from perfops.workspace import parse_catalog  # noqa: E402

HEADER = ["BillingCurrency", "ChargeCategory", "ChargePeriodStart", "ChargePeriodEnd", "BilledCost", "EffectiveCost",
          "ServiceName", "ResourceId", "ResourceName", "Tags"]


def write_focus(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            h = i % 720
            day, hour = 1 + h // 24, h % 24
            out.writerow(["USD", "Usage", f"2026-01-{day:02d}T{hour:02d}:00:00Z", f"2026-01-{day:02d}T{hour:02d}:59:59Z",
                          1.0, 1.0, "Amazon EC2", f"i-{i % 500}", f"web-{i % 500}",
                          json.dumps({"app": "checkout" if i % 3 else "search", "env": "prod"})])


def baseline(path: Path) -> int:
    spend: dict[tuple[str, str], float] = defaultdict(float)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            tags = json.loads(row["Tags"]) if row["Tags"] else {}
            spend[(tags.get("app", ""), row["ChargePeriodStart"])] += float(row["EffectiveCost"])
    return len(spend)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = parse_catalog(SMALL_CATALOG + "cost:\n  match:\n    - service: checkout-api\n      tags: {app: checkout}\n")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "focus.csv"
        write_focus(path, args.rows)
        ours = statistics.median(timed(lambda: focus.read(path, IngestOptions(catalog))) for _ in range(args.repeat))
        bare = statistics.median(timed(lambda: baseline(path)) for _ in range(args.repeat))
    print(f"{args.rows:,} rows: perfops {args.rows / ours:,.0f} rows/s ({ours:.2f} s), "
          f"bare csv loop {args.rows / bare:,.0f} rows/s ({bare:.2f} s); perfops / bare time = {ours / bare:.2f}")


if __name__ == "__main__":
    main()
