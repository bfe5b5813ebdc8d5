"""Bench: JMeter JTL CSV parsing speed and memory, perfops vs pandas.read_csv in the same run,
and E-divisive change points vs apache-otava on the same series.

    python bench/jtl.py [--rows 2000000] [--big-gb 0] [--otava-python /path/to/python]

Writes a synthetic default-17-column JTL (labels 'POST /checkout'-style, epoch ms), then times
(median of 3) perfops.ingest.jmeter.read and pandas.read_csv (+ the same groupby) on it, each in a
fresh subprocess so peak RSS is measured separately. --big-gb N also builds an N-GB file by
repeating the block and reports perfops' peak RSS (bounded memory: streaming blocks).
The otava comparison runs with apache-otava from bench/requirements.txt (`pip install -r
bench/requirements.txt`), or with the Python named by --otava-python (another venv).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HEADER = ("timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,"
          "bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect")
LABELS = ["POST /checkout", "GET /cart", "GET /cart/items", "POST /cart/items", "GET /orders/{id}", "DELETE /cart"]


def write_jtl(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    t0 = 1_763_600_000_000
    frame = pd.DataFrame({
        "timeStamp": t0 + np.sort(rng.integers(0, 3_600_000, rows)), "elapsed": rng.integers(1, 3000, rows),
        "label": rng.choice(LABELS, rows), "responseCode": 200, "responseMessage": "OK",
        "threadName": "Thread Group 1-1", "dataType": "text", "success": np.where(rng.random(rows) < 0.99, "true", "false"),
        "failureMessage": "", "bytes": 1234, "sentBytes": 321, "grpThreads": 50, "allThreads": 50,
        "URL": "http://checkout-api/x", "Latency": 10, "IdleTime": 0, "Connect": 1})
    with path.open("w") as out:
        out.write(HEADER + "\n")
        frame.to_csv(out, index=False, header=False, lineterminator="\n")


def grow(path: Path, target_bytes: int) -> Path:
    """Repeat the data block of `path` until the file reaches target_bytes."""
    big = path.with_name("big.jtl")
    body = path.read_bytes().split(b"\n", 1)[1]
    with big.open("wb") as out:
        out.write(HEADER.encode() + b"\n")
        written = 0
        while written < target_bytes:
            out.write(body)
            written += len(body)
    return big


CHILD = {
    "perfops": """
import sys, time
from pathlib import Path
from perfops.ingest import jmeter
from perfops.ingest.base import IngestOptions
from perfops.workspace import parse_catalog
cat = parse_catalog("domain: D\\nsquads: [{name: s}]\\nservices: [{name: checkout-api, squad: s}]\\n")
t, c = time.perf_counter(), time.process_time()
b = jmeter.read(Path(sys.argv[1]), IngestOptions(catalog=cat))
dt, cpu = time.perf_counter() - t, time.process_time() - c
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(dt, int(b.test_endpoints['samples'].sum()), hwm, cpu)
""",
    "pandas": """
import sys, time
import pandas as pd
t, c = time.perf_counter(), time.process_time()
f = pd.read_csv(sys.argv[1], usecols=["timeStamp", "elapsed", "label", "success", "allThreads"])
g = f.groupby("label")["elapsed"].quantile([0.5, 0.9, 0.95, 0.99])
dt, cpu = time.perf_counter() - t, time.process_time() - c
hwm = next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]
print(dt, len(f), hwm, cpu)
""",
}


def run_child(kind: str, path: Path) -> tuple[float, int, int, float]:
    """(wall seconds, rows, peak RSS kB, CPU seconds of all threads) of one read in a fresh process."""
    out = subprocess.run([sys.executable, "-c", CHILD[kind], str(path)], capture_output=True, text=True, check=True)
    seconds, rows, rss_kb, cpu = out.stdout.split()
    return float(seconds), int(rows), int(rss_kb), float(cpu)


def bench_parse(rows: int, repeats: int = 5) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.jtl"
        write_jtl(path, rows)
        size = path.stat().st_size
        result: dict[str, object] = {"rows": rows, "file_mb": round(size / 1e6, 1)}
        runs_of: dict[str, list[tuple[float, int, int, float]]] = {"perfops": [], "pandas": []}
        for _ in range(repeats):  # interleaved, so machine load hits both alike
            for kind in runs_of:
                runs_of[kind].append(run_child(kind, path))
        for kind, runs in runs_of.items():
            med = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[3] for r in runs)
            result[kind] = {"median_s": round(med, 3), "samples_per_s": int(rows / med),
                            "cpu_s": round(cpu, 3), "samples_per_cpu_s": int(rows / cpu),
                            "peak_rss_mb": round(max(r[2] for r in runs) / 1024, 1), "rows_read": runs[0][1]}
        result["speedup_vs_pandas"] = round(result["pandas"]["median_s"] / result["perfops"]["median_s"], 2)
        result["cpu_ratio_vs_pandas"] = round(result["pandas"]["cpu_s"] / result["perfops"]["cpu_s"], 2)
        result["load_average"] = os.getloadavg()[0]
        return result


def bench_big(rows: int, gigabytes: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "block.jtl"
        write_jtl(path, rows)
        big = grow(path, int(gigabytes * 1e9))
        seconds, samples, rss_kb, cpu = run_child("perfops", big)
        return {"file_gb": round(big.stat().st_size / 1e9, 2), "samples": samples, "seconds": round(seconds, 1),
                "samples_per_s": int(samples / seconds), "cpu_s": round(cpu, 1),
                "peak_rss_mb": round(rss_kb / 1024, 1), "load_average": os.getloadavg()[0]}


SERIES = {
    "step_up_at_8": [100, 102, 98, 101, 99, 100, 103, 97, 150, 149, 152, 151, 148, 150],
    "bump_5_to_10": [10, 11, 10, 9, 10, 20, 21, 19, 20, 20, 10, 10, 11, 9, 10],
    "noisy_step_at_20": list(np.round(np.r_[np.random.default_rng(1).normal(100, 5, 20),
                                            np.random.default_rng(2).normal(130, 5, 20)], 2)),
    "flat": list(np.round(np.random.default_rng(3).normal(100, 1, 30), 2)),
    "demo_checkout_p95_last_run_up": [528.5, 507.0, 526.0, 517.0, 525.5, 773.6],
}

OTAVA_CHILD = """
import json, sys
from otava.analysis import compute_change_points_orig
out = {}
for name, series in json.loads(sys.argv[1]).items():
    cps, _ = compute_change_points_orig(series, max_pvalue=0.05, seed=42)
    out[name] = sorted(int(c.index) for c in cps)
print(json.dumps(out))
"""


def bench_changepoints(otava_python: str | None) -> dict[str, object]:
    from perfops.analysis.changepoint import e_divisive

    ours = {}
    for name, series in SERIES.items():
        t = time.perf_counter()
        ours[name] = {"indexes": [c.index for c in e_divisive(series, alpha=0.05)],
                      "ms": round(1000 * (time.perf_counter() - t), 1)}
    result: dict[str, object] = {"perfops": ours}
    if otava_python:
        t = time.perf_counter()
        out = subprocess.run([otava_python, "-c", OTAVA_CHILD, json.dumps({k: [float(v) for v in s] for k, s in SERIES.items()})],
                             capture_output=True, text=True, check=True)
        result["otava"] = json.loads(out.stdout)
        result["otava_total_ms"] = round(1000 * (time.perf_counter() - t), 1)
        result["agree"] = {k: ours[k]["indexes"] == result["otava"][k] for k in SERIES}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--big-gb", type=float, default=0.0)
    parser.add_argument("--otava-python", default=os.environ.get("OTAVA_PYTHON"))
    args = parser.parse_args()
    if not args.otava_python:  # the project's venv, when bench/requirements.txt is installed in it
        import importlib.util

        args.otava_python = sys.executable if importlib.util.find_spec("otava") else None
    report = {"parse": bench_parse(args.rows), "changepoints": bench_changepoints(args.otava_python)}
    if args.big_gb:
        report["big"] = bench_big(args.rows, args.big_gb)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
