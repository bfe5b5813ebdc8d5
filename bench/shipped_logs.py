"""Bench: access logs as shipped (CRI, Docker json-file) against the same log plain, same run.

    python bench/shipped_logs.py [--lines 300000] [--repeat 3]

Writes bench/access_log.py's synthetic nginx log, wraps each line as containerd's CRI writer and
Docker's json-file driver do, and times `read_access_log` on the three files (median of --repeat
runs, in this process). The unwrapping is a Python pass over the lines (json.loads for Docker),
so the ratio to the plain read is the cost of a shipped log.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from access_log import write_log

from perfops.ingest.access_log import read_access_log
from perfops.ingest.base import IngestOptions
from perfops.workspace import parse_catalog


def wrap(plain: Path, out: Path, kind: str) -> None:
    with plain.open() as src, out.open("w") as dst:
        for i, line in enumerate(src):
            stamp = f"2025-11-22T08:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}000000Z"
            if kind == "cri":
                dst.write(f"{stamp} stdout F {line}")
            else:
                dst.write(json.dumps({"log": line, "stream": "stdout", "time": stamp}, separators=(",", ":")) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    catalog = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")
    options = IngestOptions(catalog=catalog, service="web")
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "plain.log"
        write_log(plain, args.lines)
        files = {"plain": plain}
        for kind in ("cri", "docker-json"):
            files[kind] = Path(tmp) / f"{kind}.log"
            wrap(plain, files[kind], kind)
        medians = {}
        for name, path in files.items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                read_access_log(path, options)
                times.append(time.perf_counter() - start)
            medians[name] = statistics.median(times)
        for name, seconds in medians.items():
            print(json.dumps({"file": name, "lines": args.lines, "median_s": round(seconds, 3),
                              "lines_per_s": round(args.lines / seconds), "x_plain": round(seconds / medians["plain"], 2)}))


if __name__ == "__main__":
    main()
