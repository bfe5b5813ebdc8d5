"""Demo generation speed, and what reading its telemetry costs.

    .venv/bin/python bench/demo.py [--weeks 6] [--repeat 3]

Measures, in this process, alternating, medians over `--repeat` runs:
- `generate_demo` (every file: telemetry, events, test results, access log, ground truth);
- reading its `telemetry.parquet` with perfops' telemetry reader (validation included) against
  pyarrow alone reading the same file (the floor any reader pays).
Prints the figures and the reader / pyarrow ratio as JSON.
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
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
