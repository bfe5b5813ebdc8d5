"""Demo generation speed, and what reading its telemetry costs.

    .venv/bin/python bench/demo.py [--weeks 6] [--repeat 3]
    .venv/bin/python bench/demo.py --end-to-end [--repeat 1]

Measures, in this process, alternating, medians over `--repeat` runs:
- `generate_demo` (every file: telemetry, events, test results, access log, ground truth);
- reading its `telemetry.parquet` with perfops' telemetry reader (validation included) against
  pyarrow alone reading the same file (the floor any reader pays).
Prints the figures and the reader / pyarrow ratio as JSON.

`--end-to-end` times `run_demo` (what `perfops demo` does) phase by phase instead: CPU seconds
of this process and of its report workers, and wall seconds. On a shared machine compare the
CPU figures; the wall figures depend on the load (printed with them).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--weeks", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--end-to-end", action="store_true", help="time run_demo phase by phase")
    args = parser.parse_args()
    if args.end_to_end:
        end_to_end(args.weeks, args.repeat)
        return

    import pyarrow.parquet as pq

    from perfops.demo import generate_demo
    from perfops.ingest.base import IngestOptions
    from perfops.ingest.registry import reader_for
    from perfops.workspace import load_catalog

    generate, reader, arrow, rows = [], [], [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            root = Path(tmp) / f"demo-{i}"
            t = time.perf_counter()
            manifest = generate_demo(root, weeks=args.weeks, end=datetime(2026, 11, 23))
            generate.append(time.perf_counter() - t)
            rows = manifest.telemetry_rows
            path = manifest.telemetry[0]
            t = time.perf_counter()
            pq.read_table(path)
            arrow.append(time.perf_counter() - t)
            options = IngestOptions(catalog=load_catalog(manifest.catalog))
            t = time.perf_counter()
            reader_for(path, "telemetry").read(path, options)
            reader.append(time.perf_counter() - t)
    med = {k: statistics.median(v) for k, v in (("generate_s", generate), ("reader_s", reader), ("pyarrow_s", arrow))}
    print(json.dumps({"weeks": args.weeks, "telemetry_rows": rows, **{k: round(v, 2) for k, v in med.items()},
                      "reader_over_pyarrow": round(med["reader_s"] / med["pyarrow_s"], 1),
                      "reader_rows_per_s": round(rows / med["reader_s"])}, indent=2))


def cpu_seconds() -> float:
    """CPU time of this process (all its threads) and of its finished children (report workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def end_to_end(weeks: int, repeat: int) -> None:
    import os

    from perfops.usecases.demo import run_demo

    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            marks: list[tuple[str, float, float]] = []

            def tick(step: str, _i: int, _n: int, marks: list[tuple[str, float, float]] = marks) -> None:
                marks.append((step, cpu_seconds(), time.perf_counter()))

            result = run_demo(Path(tmp) / f"demo-{i}", weeks=weeks, end=datetime(2026, 11, 23), progress=tick)
            marks.append(("end", cpu_seconds(), time.perf_counter()))
            phases = {a: {"cpu_s": round(c1 - c0, 1), "wall_s": round(w1 - w0, 1)}
                      for (a, c0, w0), (_, c1, w1) in zip(marks, marks[1:], strict=False)}
            runs.append({"phases": phases, "total_cpu_s": round(marks[-1][1] - marks[0][1], 1),
                         "total_wall_s": round(marks[-1][2] - marks[0][2], 1), "reports": len(result.reports),
                         "load_average": round(os.getloadavg()[0], 1)})
    print(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
