"""The 1,000-service end to end (ingest, analyze, reports) of two source trees in the same
session, alternating, on the same generated files: wall, CPU and peak memory per phase, the
medians, and whether both stored and wrote the same things.

    .venv/bin/python bench/scale_baseline.py --workspace /tmp/ws1000 --baseline /work/main \
        --work /tmp/e2e [--runs 2]

--workspace: a workspace `bench/scale.py --keep DIR` built; only its perfops.yaml and data/ are
used (read only). --baseline: another checkout (say main); this tree is the other side. Each run
makes a fresh workspace per tree (perfops.yaml copied, data/ linked, no store) and runs that
tree's `bench/scale.py --phase` for ingest, analyze and reports in turn, with the peak memory of
the whole process tree; the trees alternate which goes first. The last run's two workspaces are
kept and compared with `bench/same_demo.py` (every report file byte for byte, findings, every
stored table, every figure value by value). Prints one line per phase with the 1-minute load
average before it, then a Markdown table of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PHASES = ("ingest", "analyze", "reports")


def phase(tree: Path, name: str, root: Path) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from procmem import run_sampling_memory

    python = tree / ".venv" / "bin" / "python"
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    code, out, peak = run_sampling_memory(
        [str(python if python.exists() else sys.executable), str(tree / "bench" / "scale.py"), "--phase", name,
         "--root", str(root)], env=env)
    if code:
        raise SystemExit(f"{tree}: {name} failed ({code})")
    detail: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    detail["peak_mb"] = peak
    return detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--work", type=Path, required=True, help="a new folder for the workspaces")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "branch": HERE.parent}
    args.work.mkdir(parents=True)
    totals: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for run in range(args.runs):
        for name in (list(trees) if run % 2 == 0 else list(reversed(trees))):
            root = args.work / name
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            shutil.copy(args.workspace / "perfops.yaml", root / "perfops.yaml")
            (root / "data").symlink_to((args.workspace / "data").resolve())
            row: dict[str, float] = {}
            for step in PHASES:
                load = os.getloadavg()[0]
                detail = phase(trees[name], step, root)
                row |= {f"{step}_s": detail["seconds"], f"{step}_cpu": detail["cpu_s"], f"{step}_mb": detail["peak_mb"]}
                print(f"run {run + 1} {name} {step}: {detail['seconds']:.1f} s, {detail['cpu_s']:.0f} CPU-s, "
                      f"peak {detail['peak_mb']:,.0f} MB, load {load:.1f}", flush=True)
            row["total_s"] = sum(row[f"{step}_s"] for step in PHASES)
            print(f"run {run + 1} {name}: end to end {row['total_s']:.1f} s", flush=True)
            totals[name].append(row)
    print("\n| tree | runs | end to end s | " + " | ".join(f"{p} s / CPU-s / peak MB" for p in PHASES) + " |")
    print("| --- | ---: | ---: | " + " | ".join("---:" for _ in PHASES) + " |")
    for name, rows in totals.items():
        def median(key: str, rows: list[dict[str, float]] = rows) -> float:
            return statistics.median(r[key] for r in rows)
        cells = [f"{median(f'{p}_s'):.1f} / {median(f'{p}_cpu'):.0f} / {median(f'{p}_mb'):,.0f}" for p in PHASES]
        print(f"| {name} | {len(rows)} | {median('total_s'):.1f} | " + " | ".join(cells) + " |")
    ratio = statistics.median(r["total_s"] for r in totals["baseline"]) / statistics.median(
        r["total_s"] for r in totals["branch"])
    print(f"\nbaseline / branch end to end: {ratio:.2f}x")
    same = subprocess.run([sys.executable, str(HERE / "same_demo.py"), str(args.work / "baseline"),
                           str(args.work / "branch")], capture_output=True, text=True)
    print(same.stdout.strip())
    return same.returncode


if __name__ == "__main__":
    raise SystemExit(main())
