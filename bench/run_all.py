"""Run every benchmark in this folder, one after another, and print their reports.

    .venv/bin/python bench/run_all.py [--only ingest,forecast]

Each script compares perfops with a baseline or a peer library in the same run and prints
medians and ratios; docs/benchmarks.md records the current figures with each script's command.
Peer libraries: `pip install -r bench/requirements.txt`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"run_all.py", "same_demo.py"}  # same_demo compares two workspaces it is given, not a benchmark


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", help="comma-separated script names without .py")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    failures = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in SKIP or script.name.startswith("_") or (wanted and script.stem not in wanted):
            continue
        print(f"\n=== {script.name} ===", flush=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, str(script)], check=False)
        print(f"--- {script.name}: exit {done.returncode} in {time.perf_counter() - started:.0f} s", flush=True)
        failures += done.returncode != 0
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
