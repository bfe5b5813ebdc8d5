"""Bench: access-log ingest speed and memory, perfops vs a plain Python `re` loop, same file, same run.

    python bench/access_log.py [--lines 1000000] [--repeat 3] [--big-gb 0]

Writes a synthetic nginx `combined` + `$request_time` log (ids in paths, several user agents,
2xx/4xx/5xx), then times, each in a fresh subprocess so peak RSS is measured separately (median
of --repeat runs):
  - perfops: `perfops.ingest.access_log.read_access_log` (RE2 through pyarrow, numpy, 2 threads),
    the full job: 1-minute telemetry per endpoint template and consumer with exact percentiles;
  - baseline: a plain Python loop, `re.match` per line, the same templates (`re.sub`), a dict of
    latency lists per (minute, endpoint, consumer), then the same percentiles with numpy.
--big-gb N also writes an N-GB log (time moving forward) and reports perfops' peak RSS on it: the
reader streams blocks, so memory stays flat as the file grows.
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

AGENTS = ["partner-acme/3.2.1", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
          "okhttp/4.9.0", "partner-globex/1.0.4 python-requests/2.31.0", "curl/8.4.0"]
PATHS = ["/orders/{}", "/cart", "/products/{}", "/users/{}/profile", "/search?q=shoes&page={}", "/checkout"]
METHODS = ["GET", "GET", "GET", "POST", "DELETE"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def write_log(path: Path, lines: int, start_epoch: int = 1_763_800_000, per_second: int = 400,
              seed: int = 7, mode: str = "w") -> int:
    """Append `lines` synthetic lines, `per_second` lines a second from start_epoch. Returns the
    epoch after the last line."""
    rng = np.random.default_rng(seed)
    block = 200_000
    epoch = start_epoch
    with path.open(mode) as out:
        for first in range(0, lines, block):
            n = min(block, lines - first)
            seconds = epoch + np.arange(n) // per_second
            stamps = {s: time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(s)) for s in np.unique(seconds).tolist()}
            ids = rng.integers(1, 10**7, n)
            kinds = rng.integers(0, len(PATHS), n)
            status = rng.choice([200, 200, 200, 200, 201, 304, 404, 429, 500, 503], n)
            agents = rng.integers(0, len(AGENTS), n)
            methods = rng.integers(0, len(METHODS), n)
            times = rng.gamma(2.0, 0.05, n)
            out.write("".join(
                f'10.{i % 250}.{(i // 250) % 250}.7 - - [{stamps[s]}] "{METHODS[m]} {PATHS[k].format(d)} HTTP/1.1" '
                f'{c} {512 + d % 4000} "-" "{AGENTS[a]}" {t:.3f}\n'
                for i, s, k, d, c, a, m, t in zip(range(n), seconds.tolist(), kinds.tolist(), ids.tolist(),
                                                   status.tolist(), agents.tolist(), methods.tolist(), times.tolist(),
                                                   strict=True)))
            epoch = int(seconds[-1]) + 1
    return epoch


def grow(path: Path, target_bytes: int) -> Path:
    big = path.with_name("big.log")
    epoch, seed = 1_763_800_000, 1
    big.unlink(missing_ok=True)
    while not big.exists() or big.stat().st_size < target_bytes:
        epoch = write_log(big, 2_000_000, epoch, seed=seed, mode="a")
        seed += 1
    return big


# ---- the two contenders, each run in a child process ---------------------------------------------
def run_perfops(path: str) -> dict[str, float]:
    from perfops.ingest.access_log import read_access_log
    from perfops.ingest.base import IngestOptions
    from perfops.workspace import parse_catalog

    catalog = parse_catalog("domain: D\nsquads: [{name: web}]\nservices: [{name: web, squad: web}]\n")
    started, cpu = time.perf_counter(), time.process_time()
    batch = read_access_log(Path(path), IngestOptions(catalog=catalog, service="web"))
    return {"seconds": time.perf_counter() - started, "read_cpu": time.process_time() - cpu,
            "rows": len(batch.telemetry)}


def run_baseline(path: str) -> dict[str, float]:
    import re

    line_re = re.compile(r'^(\S+) \S+ \S+ \[(\d\d/\w{3}/\d{4}:\d\d:\d\d):\d\d ([+-]\d{4})\] '
                         r'"(\S+) ([^ ?"]*)[^"]*" (\d{3}) \S+ "[^"]*" "([^"]*)" (\S+)')
    id_re = re.compile(r"/(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                       r"|[0-9a-fA-F]{12,})\b")
    agent_re = re.compile(r"[/\s;(]")
    started, cpu = time.perf_counter(), time.process_time()
    groups: dict[tuple[str, str, str], list] = {}
    bad = 0
    with Path(path).open(encoding="latin-1") as lines:
        for line in lines:
            m = line_re.match(line)
            if m is None:
                bad += 1
                continue
            minute, _, method, url, status, agent, rt = m.groups()[1:]
            endpoint = f"{method} {id_re.sub('/{id}', url)}"
            consumer = agent_re.split(agent, maxsplit=1)[0]
            for key in ((minute, endpoint, consumer), (minute, endpoint, ""), (minute, "", consumer), (minute, "", "")):
                entry = groups.get(key)
                if entry is None:
                    entry = groups[key] = [0, 0, 0, []]
                entry[0] += 1
                code = int(status)
                entry[1] += code >= 500
                entry[2] += 400 <= code < 500
                if rt != "-":
                    entry[3].append(float(rt))
    rows = 0
    for _, (_n, _e, _c, times) in groups.items():
        if times:
            values = np.asarray(times) * 1000
            np.percentile(values, [50, 95, 99])
            values.mean()
            values.max()
        rows += 8
    return {"seconds": time.perf_counter() - started, "read_cpu": time.process_time() - cpu, "rows": rows,
            "bad": bad}


def child(which: str, path: str) -> None:
    import resource

    result = (run_perfops if which == "perfops" else run_baseline)(path)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime  # includes imports; both sides pay them
    print(json.dumps(result))


def measure(which: str, path: Path) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    out = subprocess.run([sys.executable, __file__, "--child", which, str(path)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def medians(path: Path, repeat: int) -> dict[str, dict[str, float]]:
    """Runs interleaved (perfops, baseline, perfops, ...) so both see the same machine load."""
    runs: dict[str, list[dict[str, float]]] = {"perfops": [], "baseline": []}
    for _ in range(repeat):
        for which in runs:
            runs[which].append(measure(which, path))
    return {which: summary(r) for which, r in runs.items()}


def summary(runs: list[dict[str, float]]) -> dict[str, float]:
    return {"seconds": statistics.median(r["seconds"] for r in runs),
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
            "read_cpu": statistics.median(r["read_cpu"] for r in runs),
            "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs), "rows": runs[0]["rows"],
            "all_seconds": [round(r["seconds"], 3) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big-gb", type=float, default=0.0)
    parser.add_argument("--child", nargs=2, metavar=("WHICH", "PATH"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "access.log"
        write_log(path, args.lines)
        size_mb = path.stat().st_size / 1e6
        print(f"log: {args.lines:,} lines, {size_mb:,.0f} MB (nginx combined + $request_time)")
        results = medians(path, args.repeat)
        for name, r in results.items():
            rate = args.lines / r["seconds"]
            print(f"{name:9s} {rate:>12,.0f} lines/s  {r['seconds']:.2f} s (runs {r['all_seconds']})  "
                  f"CPU {r['cpu_seconds']:.2f} s (reading alone {r['read_cpu']:.2f} s: "
                  f"{args.lines / r['read_cpu']:,.0f} lines per CPU-second)  peak RSS {r['peak_rss_mb']:,.0f} MB  "
                  f"telemetry rows {r['rows']:,}")
        ratio = results["baseline"]["seconds"] / results["perfops"]["seconds"]
        cpu_ratio = results["baseline"]["read_cpu"] / results["perfops"]["read_cpu"]
        print(f"perfops / python-re speed ratio: {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU")
        if args.big_gb:
            big = grow(path, int(args.big_gb * 1e9))
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda f=big.open("rb"): f.read(1 << 24), b""))
            r = measure("perfops", big)
            print(f"big log: {big.stat().st_size / 1e9:.2f} GB, {lines:,} lines: perfops "
                  f"{lines / r['seconds']:,.0f} lines/s, peak RSS {r['peak_rss_mb']:,.0f} MB")


if __name__ == "__main__":
    main()
