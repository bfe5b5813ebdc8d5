"""Ingest speed: `perfops ingest` of a telemetry file vs DuckDB alone reading the same file.

    .venv/bin/python bench/ingest.py [--rows 5000000] [--repeat 3] [--form csv|wide-parquet]

--form csv (default): a long-form CSV; DuckDB alone: `CREATE TABLE AS SELECT * FROM read_csv(...)`.
--form wide-parquet: the same rows as wide Parquet (one column per metric, as exporters and
bench/scale.py write it); DuckDB alone: `CREATE TABLE AS ... UNPIVOT read_parquet(...)` into the
long form, without checks. Both tools alternate on the same file; each measurement runs in a
fresh subprocess so peak memory (ru_maxrss) is per tool. Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

CATALOG = "domain: Bench\nsquads: [{name: s}]\nservices:\n" + "".join(
    f"  - {{name: svc-{i:03d}, squad: s}}\n" for i in range(100)
)
METRICS = ["requests", "errors", "latency_p95_ms", "latency_p50_ms", "cpu_pct"]


def write_csv(path: Path, rows: int) -> None:
    """rows of long-form telemetry: 100 services x 4 endpoints x 5 metrics at 5-minute steps."""
    rng = np.random.default_rng(1)
    series = 100 * 4 * len(METRICS)
    steps = -(-rows // series)
    start = 1_767_225_600
    with path.open("w") as f:
        f.write("timestamp,service,endpoint,consumer,metric,value\n")
        done = 0
        for step in range(steps):
            stamp = _iso(start + 300 * step)
            n = min(series, rows - done)
            values = np.minimum(rng.gamma(2.0, 20.0, n), 99.0).round(2)  # valid for every metric, cpu_pct too
            lines = [
                f"{stamp},svc-{(k // 20) % 100:03d},GET /api/v1/items/{k % 4},,{METRICS[k % 5]},{values[k]}\n"
                for k in range(n)
            ]
            f.writelines(lines)
            done += n
            if done >= rows:
                break


def write_wide_parquet(path: Path, rows: int) -> None:
    """The same domain in wide form: one row per (time, service, endpoint), a column per metric."""
    import pandas as pd

    rng = np.random.default_rng(1)
    keys = 100 * 4
    steps = -(-rows // (keys * len(METRICS)))
    times = np.datetime64("2026-01-01T00:00", "us") + np.arange(steps) * np.timedelta64(5, "m")
    k = np.arange(keys)
    frame = pd.DataFrame({
        "timestamp": np.repeat(times, keys), "service": np.tile([f"svc-{i // 4:03d}" for i in k], steps),
        "endpoint": np.tile([f"GET /api/v1/items/{i % 4}" for i in k], steps),
    })
    for metric in METRICS:
        frame[metric] = np.minimum(rng.gamma(2.0, 20.0, len(frame)), 99.0).round(2)
    frame.to_parquet(path, index=False)


def _iso(epoch: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PERFOPS = textwrap.dedent("""
    import json, resource, sys, time
    from pathlib import Path
    from perfops.usecases.ingest import ingest_paths
    from perfops.workspace import Workspace
    ws = Workspace(Path(sys.argv[1]))
    t = time.perf_counter()
    (result,) = ingest_paths(ws, [Path(sys.argv[2])])
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "rows": result.rows,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")
DUCKDB = textwrap.dedent("""
    import json, resource, sys, time
    import duckdb
    con = duckdb.connect(sys.argv[1] + "/duck.db")
    t = time.perf_counter()
    con.execute("CREATE OR REPLACE TABLE telemetry AS SELECT * FROM read_csv(?, header=true)", [sys.argv[2]])
    seconds = time.perf_counter() - t
    rows = con.execute("SELECT count(*) FROM telemetry").fetchone()[0]
    print(json.dumps({"seconds": seconds, "rows": rows,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")
DUCKDB_WIDE = DUCKDB.replace(
    "SELECT * FROM read_csv(?, header=true)",
    "SELECT timestamp, service, endpoint, '' AS consumer, metric, value FROM "
    "(UNPIVOT read_parquet(?) ON COLUMNS(* EXCLUDE (timestamp, service, endpoint)) INTO NAME metric VALUE value)",
)


def measure(code: str, workspace: Path, csv_path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", code, str(workspace), str(csv_path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--form", choices=["csv", "wide-parquet"], default="csv")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.form == "csv":
            csv_path, duckdb_code = root / "telemetry.csv", DUCKDB
            write_csv(csv_path, args.rows)
        else:
            csv_path, duckdb_code = root / "telemetry.parquet", DUCKDB_WIDE
            write_wide_parquet(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        results: dict[str, list[dict[str, float]]] = {"perfops": [], "duckdb": []}
        for i in range(args.repeat):
            ws = root / f"ws{i}"
            ws.mkdir()
            (ws / "perfops.yaml").write_text(CATALOG)
            results["perfops"].append(measure(PERFOPS, ws, csv_path))
            results["duckdb"].append(measure(duckdb_code, ws, csv_path))
    med = {k: statistics.median(r["seconds"] for r in v) for k, v in results.items()}
    peak = {k: max(r["peak_mb"] for r in v) for k, v in results.items()}
    rows = results["perfops"][0]["rows"]
    if {r["rows"] for v in results.values() for r in v} != {rows}:
        raise SystemExit(f"the tools stored different row counts: {results}")
    print(f"file ({args.form}): {rows:,} rows, {size_mb:.0f} MB; {args.repeat} runs each, medians")
    for name in ("perfops", "duckdb"):
        print(f"  {name:8s} {med[name]:6.2f} s  {rows / med[name] / 1e6:5.2f} M rows/s  peak {peak[name]:6.0f} MB")
    print(f"  perfops speed / duckdb speed = {med['duckdb'] / med['perfops']:.2f}  (target >= 0.5)")


if __name__ == "__main__":
    main()
