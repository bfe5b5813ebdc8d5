"""`perfops analyze` of one ingested workspace by two source trees in the same session: CPU, wall
and peak memory of each, and whether they stored the same findings and figures.

    .venv/bin/python bench/analyze_scale.py --workspace /tmp/scale1000-pristine \
        --baseline /work/main --work /tmp/anaspeed/cmp [--runs 1]

--workspace: a workspace `bench/scale.py --keep DIR` built (perfops.yaml, ingested store); it is
copied, never written. --baseline: another checkout with its own .venv (say main); this tree is
the other side. Each run copies the workspace once per tree and runs `bench/scale.py --phase
analyze` of that tree on its copy (period 7d, as the scale bench), alternating which tree goes
first; then `bench/same_demo.py` compares the two copies of the last run (findings, every stored
table, every stored figure value by value). Prints one line per phase and a Markdown table with
the load average before and after each phase (`uptime`). --env / --baseline-env NAME=VALUE set
an environment variable for one side: the same tree twice with another setting, say
`--baseline /work/main --baseline-env PERFOPS_ANALYZE_WORKERS=1 --env PERFOPS_ANALYZE_WORKERS=2`.
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


def load_average() -> str:
    return " / ".join(f"{v:.1f}" for v in os.getloadavg())


def analyze(tree: Path, root: Path, env: list[str] | None = None) -> dict[str, float]:
    sys.path.insert(0, str(HERE))
    from procmem import run_sampling_memory

    python = tree / ".venv" / "bin" / "python"
    code, out, peak = run_sampling_memory([str(python), str(tree / "bench" / "scale.py"), "--phase", "analyze",
                                           "--root", str(root)],
                                          env={**os.environ, **dict(item.split("=", 1) for item in env or [])})
    if code:
        raise SystemExit(f"{tree}: analyze failed ({code})")
    detail: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    detail["peak_mb"] = peak
    return detail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout (with .venv)")
    parser.add_argument("--work", type=Path, required=True, help="a new folder for the copies")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for this tree's runs (repeatable)")
    parser.add_argument("--baseline-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the baseline's runs (repeatable)")
    args = parser.parse_args()
    trees = {"baseline": args.baseline.resolve(), "branch": HERE.parent}
    envs = {"baseline": args.baseline_env, "branch": args.env}
    args.work.mkdir(parents=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    rows = []
    for run in range(args.runs):
        order = list(trees) if run % 2 == 0 else list(reversed(trees))
        for name in order:
            copy = args.work / name
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(args.workspace, copy)
            before = load_average()
            detail = analyze(trees[name], copy, envs[name])
            after = load_average()
            results[name].append(detail)
            rows.append(f"| {run + 1} | {name} | {detail['cpu_s']:.0f} | {detail['seconds']:.0f} | "
                        f"{detail['peak_mb']:,.0f} | {detail['findings']:.0f} | {before} → {after} |")
            print(f"run {run + 1} {name}: {json.dumps(detail)} load {before} -> {after}", flush=True)
    same = subprocess.run([sys.executable, str(HERE / "same_demo.py"), str(args.work / "baseline"),
                           str(args.work / "branch")], capture_output=True, text=True)
    print("| run | tree | CPU s | wall s | peak MB | findings | load average (1/5/15 min) before → after |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    cpu = {n: statistics.median(r["cpu_s"] for r in results[n]) for n in trees}
    wall = {n: statistics.median(r["seconds"] for r in results[n]) for n in trees}
    print(f"\nmedian CPU s baseline {cpu['baseline']:.0f}, branch {cpu['branch']:.0f} "
          f"({cpu['baseline'] / cpu['branch']:.2f}x); wall s {wall['baseline']:.0f} vs {wall['branch']:.0f} "
          f"({wall['baseline'] / wall['branch']:.2f}x)")
    print(same.stdout)
    return same.returncode


if __name__ == "__main__":
    sys.exit(main())
