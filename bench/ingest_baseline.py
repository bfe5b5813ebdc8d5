"""Ingest of the same wide Parquet files by this checkout and a baseline one, alternating in the
same run: wall and CPU seconds, medians and ratios, and proof that both stored the same rows.

    .venv/bin/python bench/ingest_baseline.py --workspace /tmp/ws1000 [--files 4] [--repeat 3]
        [--baseline /work/main]

--workspace: a bench/scale.py workspace (`--keep DIR`): its perfops.yaml and data/*.parquet, read
only; each run ingests into a fresh temporary workspace. The first --files files of each kind
(endpoints-*, services-*) are ingested in the order bench/scale.py ingests them (one
ingest_paths call, as `perfops ingest data/` does). Each run is a fresh process of the checkout's
own interpreter (its .venv, else this one) importing the checkout's src/; the runs alternate
(baseline, this, baseline, ...), so both see the same machine load. The stored telemetry of every
run is summed to (rows, order-free hash of every row); the script stops if any run differs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

RUN = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    import duckdb
    from perfops.usecases.ingest import ingest_paths
    from perfops.workspace import Workspace
    root, files = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    wall, cpu = time.perf_counter(), time.process_time()
    results = ingest_paths(Workspace(root), files)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    con = duckdb.connect(str(Workspace(root).store_path), read_only=True)
    con.execute("SET enable_progress_bar = false")
    rows, digest = con.execute("SELECT count(*), sum(hash(timestamp, service, endpoint, consumer, metric, value))"
                               "::VARCHAR FROM telemetry").fetchall()[0]
    print("RESULT " + json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak, "rows": rows, "digest": digest,
                      "loaded": sum(r.rows for r in results)}))
""")


def interpreter(checkout: Path) -> str:
    own = checkout / ".venv" / "bin" / "python"
    return str(own) if own.exists() else sys.executable


def run(checkout: Path, source: Path, files: list[Path], tmp: Path) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="ws-", dir=tmp))
    shutil.copy(source / "perfops.yaml", root / "perfops.yaml")
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    try:
        out = subprocess.run([interpreter(checkout), "-c", RUN, str(root), *map(str, files)],
                             capture_output=True, text=True, env=env)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if out.returncode:
        raise SystemExit(f"{checkout}: the ingest failed:\n{out.stderr[-2000:]}")
    (line,) = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, required=True, help="a bench/scale.py workspace (read only)")
    parser.add_argument("--files", type=int, default=4, help="files of each kind (endpoints-*, services-*)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--baseline", type=Path, default=Path("/work/main"), help="the checkout to compare with")
    args = parser.parse_args()
    this = Path(__file__).resolve().parents[1]
    data = args.workspace / "data"
    files = sorted(data.glob("endpoints-*.parquet"))[: args.files] + sorted(data.glob("services-*.parquet"))[
        : args.files]
    runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="ingest-baseline-") as tmp:
        for _ in range(args.repeat):
            for name, checkout in (("baseline", args.baseline), ("this", this)):
                runs[name].append(run(checkout, args.workspace, files, Path(tmp)))
                load.append(os.getloadavg()[0])
                print(f"  {name:8s} wall {runs[name][-1]['wall']:6.1f} s  cpu {runs[name][-1]['cpu']:6.1f} s",
                      flush=True)
    stored = {(r["rows"], r["digest"]) for v in runs.values() for r in v}
    if len(stored) != 1:
        raise SystemExit(f"the runs stored different telemetry: {sorted(stored)}")
    med = {name: {k: statistics.median(r[k] for r in v) for k in ("wall", "cpu")} for name, v in runs.items()}
    peak = {name: max(r["peak_mb"] for r in v) for name, v in runs.items()}
    rows = runs["this"][0]["rows"]
    print(f"{len(files)} files, {rows:,} rows stored, the same in every run; {args.repeat} runs each, medians; "
          f"load average (1 min) {min(load):.1f}-{max(load):.1f}")
    for name, checkout in (("baseline", args.baseline), ("this", this)):
        print(f"  {name:8s} {str(checkout):28s} wall {med[name]['wall']:6.1f} s  cpu {med[name]['cpu']:6.1f} s  "
              f"peak {peak[name]:5.0f} MB")
    print(f"  baseline / this: wall {med['baseline']['wall'] / med['this']['wall']:.2f}x  "
          f"cpu {med['baseline']['cpu'] / med['this']['cpu']:.2f}x")


if __name__ == "__main__":
    main()
