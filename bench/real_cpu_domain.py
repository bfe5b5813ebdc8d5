"""A domain of real CPU series, to see what `perfops analyze` makes of real, unlabelled-at-run-time data.

The 10 NAB realAWSCloudwatch CPU series become 10 services' `cpu_pct` (each shifted to end on
2026-11-01), and NAB's labelled anomaly windows are written to truth.json. Then:

    .venv/bin/python bench/real_cpu_domain.py /tmp/realcpu
    .venv/bin/perfops ingest /tmp/realcpu/tel.csv -w /tmp/realcpu
    .venv/bin/perfops analyze --period 7d -w /tmp/realcpu
    .venv/bin/python bench/real_cpu_domain.py /tmp/realcpu --score

Figures in docs/bench/trends.md ("Real CPU series through analyze"). Needs ../shared/data/nab.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
END = pd.Timestamp("2026-11-01")


def build(folder: Path) -> None:
    files = sorted((NAB / "data" / "realAWSCloudwatch").glob("*cpu_utilization*.csv"))
    labels = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    catalog = ["domain: RealCpu", "squads:", "  - name: infra", "services:"]
    frames, truth = [], {}
    for index, path in enumerate(files):
        name = f"svc-{index}"
        data = pd.read_csv(path, parse_dates=["timestamp"])
        shift = END - data["timestamp"].max()
        data["timestamp"] = (data["timestamp"] + shift).dt.round("5min")
        data = data.drop_duplicates("timestamp")
        frames.append(pd.DataFrame({"timestamp": data["timestamp"], "service": name, "metric": "cpu_pct",
                                    "value": data["value"].clip(0, 100)}))
        catalog += [f"  - name: {name}", "    squad: infra"]
        windows = labels.get(f"realAWSCloudwatch/{path.name}", [])
        truth[name] = [[str(pd.Timestamp(a) + shift), str(pd.Timestamp(b) + shift)] for a, b in windows]
    folder.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(folder / "tel.csv", index=False)
    (folder / "perfops.yaml").write_text("\n".join(catalog) + "\n")
    (folder / "truth.json").write_text(json.dumps(truth, indent=1))


def score(folder: Path, period_days: int = 7) -> None:
    exe = Path(sys.executable).with_name("perfops")
    found = json.loads(subprocess.run([str(exe), "findings", "--status", "all", "--format", "json", "-w", str(folder)],
                                      check=True, capture_output=True, text=True).stdout)
    truth = json.loads((folder / "truth.json").read_text())
    trends = [f for f in found if f["category"] == "trends" and f["kind"] != "data_gap"]
    start = END.to_pydatetime() - pd.Timedelta(days=period_days)

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", ""))

    def inside(f: dict) -> bool:
        return any(at(a) <= at(f["start"]) <= at(b) for a, b in truth[f["service"]])

    windows = [(s, a, b) for s, spans in truth.items() for a, b in spans if at(b) >= start]
    seen = sum(any(f["service"] == s and at(a) <= at(f["start"]) <= at(b) for f in trends) for s, a, b in windows)
    print(f"trends findings by severity: {dict(Counter(f['severity'] for f in trends))}")
    print(f"starting inside a labelled window: {sum(inside(f) for f in trends)} of {len(trends)}")
    print(f"labelled windows in the period with a finding: {seen} of {len(windows)}")
    print(f"above low: {[(f['severity'], f['service'], f['title']) for f in trends if f['severity'] not in ('info', 'low')]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--score", action="store_true", help="compare the analysed findings with truth.json")
    args = parser.parse_args()
    score(args.folder) if args.score else build(args.folder)


if __name__ == "__main__":
    main()
