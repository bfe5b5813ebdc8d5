"""Reports at scale, two ways.

1. The REAL path (issue #8), `--root DIR [DIR ...]`: `perfops report`'s default run (every
   audience, the default formats) on generated, ingested and analysed workspaces — the domain of
   bench/scale.py (N services x 10 endpoints, 6 weeks at 5 minutes). `--make N` builds one into
   DIR first (generate, ingest, analyze; minutes at 100 services). Each run is a child process;
   the peak memory of its process tree (report workers included) is sampled every 0.1 s.
   Compared IN THE SAME RUN against a baseline: `--before SRC` times the previous implementation
   too (a copy of its `src` folder, e.g. `mkdir -p /tmp/before && git archive HEAD src | tar -x
   -C /tmp/before`, then `--before /tmp/before/src`) into its own output folder and counts the
   files that came out byte-identical; without it, the baseline is one aggregate scan of the
   telemetry the reports cover (the floor any report run pays). With two or more roots it
   prints the growth exponent (time ~ services^b) and projects the time at 1,000 services.

       .venv/bin/python bench/reports_scale.py --root /work/scale/ws20 /work/scale/ws100 \
           [--before /tmp/before/src] [--make 20]

2. The synthetic domain (`--services N`, default 1,000 services in 100 squads, hourly telemetry,
   300 findings written straight into the store): one report per audience, the executive HTML's
   size, and each chart kind drawn both ways (perfops' direct SVG writer against the matplotlib
   reference), CPU per chart.

       .venv/bin/python bench/reports_scale.py [--services 1000] [--keep DIR] [--full]

Times are CPU seconds (the process and its workers) and wall seconds: on a shared machine the
CPU figures are the ones to compare.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from perfops.workspace import Workspace

NOW = datetime(2026, 11, 23)


@dataclass(frozen=True)
class Elsewhere(Workspace):
    """A workspace whose reports go to `out` (the real-path runs write side by side); at module
    level, so the report workers (spawned) can unpickle it."""

    out: Path = Path("reports")

    @property
    def reports_dir(self) -> Path:
        return self.out


def catalog(n: int) -> str:
    squads = max(1, n // 10)
    lines = ["domain: Scale", "timezone: Europe/London", "squads:"]
    lines += [f"  - name: squad-{i:03d}" for i in range(squads)]
    lines.append("services:")
    for i in range(n):
        dep = f"    depends_on: [svc-{i - 1:04d}]\n" if i % 10 else ""
        lines.append(f"  - name: svc-{i:04d}\n    squad: squad-{i // 10 % squads:03d}\n    tier: {1 + i % 3}\n{dep}"
                     f"    slo: {{availability: 99.9, latency_p95_ms: 300}}")
    return "\n".join(lines) + "\n"


def telemetry(n: int, weeks: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    stamps = pd.date_range(NOW - timedelta(days=7 * weeks), NOW, freq="h", inclusive="left")
    hours = stamps.hour.to_numpy()
    shape = 0.4 + np.exp(-((hours - 13) ** 2) / 18)
    parts = []
    for i in range(n):
        for ep in ("", "GET /items"):
            req = 3600 * (5 + i % 50) * shape * rng.normal(1, 0.05, len(stamps))
            for metric, values in (("requests", req), ("errors", req * 0.0003), ("latency_p95_ms", 120 + 60 * shape)):
                parts.append(pd.DataFrame({"timestamp": stamps, "service": f"svc-{i:04d}", "endpoint": ep,
                                           "consumer": "", "metric": metric, "value": values}))
    frame = pd.concat(parts, ignore_index=True)
    frame["timestamp"] = frame["timestamp"].astype("datetime64[us]")
    return frame


def findings(n: int) -> list:
    from perfops.model.findings import Finding

    out = []
    for i in range(0, n, max(1, n // 300)):
        sev = ("critical", "high", "medium", "low")[i % 4]
        out.append(Finding(kind="regression", severity=sev, service=f"svc-{i:04d}", squad=f"squad-{i // 10 % max(1, n // 10):03d}",
                           metric="latency", title=f"svc-{i:04d} got slower", detail="p95 up 40%",
                           start=NOW - timedelta(days=2), impact={"requests_affected": 1000 * i}, key=str(i)))
    return out


def build(root: Path, n: int) -> None:
    from perfops.store import open_store

    root.mkdir(parents=True, exist_ok=True)
    (root / "perfops.yaml").write_text(catalog(n))
    frame = telemetry(n)
    with open_store(root / ".perfops" / "perfops.duckdb") as store:
        with store.transaction():
            store.telemetry.upsert(frame)
        store.findings.save_analysis(findings(n), at=NOW - timedelta(days=2))
        store.con.execute("INSERT INTO analysis_runs VALUES (?, ?, ?, ?)", [NOW, NOW - timedelta(days=7), NOW, 0])
    print(f"built {n} services, {len(frame):,} telemetry rows", flush=True)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the report workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def chart_costs(repeat: int = 20) -> dict[str, tuple[float, float]]:
    """Per chart kind: (ms of CPU with the direct SVG writer, ms with matplotlib)."""
    import matplotlib_charts as mpl

    from perfops.reports import charts

    stamps = pd.date_range(NOW - timedelta(days=7), NOW, freq="h", inclusive="left").to_pydatetime().tolist()
    wave = (200 + 80 * np.sin(np.arange(len(stamps)) / 24 * 2 * np.pi)).tolist()
    chart = charts.Chart(title="GET /items: p95 latency", y_label="ms", series=[
        charts.Series("this week", stamps, wave, style=0, markers=True),
        charts.Series("last week", stamps, [v * 0.9 for v in wave], style=1)],
        markers=[charts.Marker(stamps[100], "deploy v1.2")])
    labels = ["w1", "w2", "w3", "w4", "w5", "w6"]
    kinds = {
        "line chart": (lambda: charts.line_chart(chart), lambda: mpl.line_chart_matplotlib(chart)),
        "sparkline": (lambda: charts.sparkline(wave, wave, title="s"),
                      lambda: mpl.sparkline_matplotlib(wave, wave, title="s")),
        "weekly bars": (lambda: charts.weekly_bars(labels, [1, 2, 3, 4, 5, 6], title="t"),
                        lambda: mpl.weekly_bars_matplotlib(labels, [1, 2, 3, 4, 5, 6], title="t")),
    }
    out = {}
    for name, pair in kinds.items():
        costs = []
        for draw in pair:
            draw()  # warm up (imports, the reused sparkline figure)
            t0 = time.process_time()
            for _ in range(repeat):
                draw()
            costs.append(1000 * (time.process_time() - t0) / repeat)
        out[name] = (costs[0], costs[1])
    return out


# ---- the real path: perfops report on generated, analysed workspaces ---------------------------------
def make_workspace(root: Path, services: int) -> None:
    """bench/scale.py's domain in `root`: generated, ingested and analysed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import scale

    scale.generate(root, services, 6)
    for phase in ("ingest", "analyze"):
        print(f"  {services} services {phase}: {scale.run_phase(phase, root)}", flush=True)


def child_render(root: Path, out: Path) -> dict[str, float]:
    """In the child process: the default `perfops report` run of `root`, written into `out`."""
    from perfops.usecases.reports import render_reports

    t0, c0 = time.perf_counter(), cpu_seconds()
    paths = render_reports(Elsewhere(root, out))
    return {"files": float(len(paths)), "seconds": time.perf_counter() - t0, "cpu_s": cpu_seconds() - c0}


def measure_render(root: Path, out: Path, src: Path | None, workers: int | None = None) -> dict[str, float]:
    """Run child_render in a child process (with `src` first on the path when given, with
    PERFOPS_REPORT_WORKERS=`workers` when given) and sample the resident memory of its process
    tree every 0.1 s."""
    import json

    from procmem import run_sampling_memory

    env = dict(os.environ)
    if workers is not None:
        env["PERFOPS_REPORT_WORKERS"] = str(workers)
    if src is not None:
        env["PYTHONPATH"] = str(src) + os.pathsep + env.get("PYTHONPATH", "")
    shutil.rmtree(out, ignore_errors=True)
    code, text, peak_mb = run_sampling_memory([sys.executable, __file__, "--child", str(root), str(out)], env=env,
                                              cwd=str(src.parent) if src is not None else None)
    if code:
        return {"files": 0.0, "seconds": float("nan"), "cpu_s": float("nan"), "peak_mb": peak_mb}
    return {**json.loads(text.strip().splitlines()[-1]), "peak_mb": peak_mb}


def scan_floor(root: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one aggregate scan of every telemetry row: the floor of a report run,
    which must at least read the figures once."""
    from perfops.store import open_store

    t0, c0 = time.perf_counter(), time.process_time()
    with open_store(root / ".perfops" / "perfops.duckdb", read_only=True) as store:
        store.con.execute("SELECT service, metric, count(*), sum(value) FROM telemetry GROUP BY ALL").fetchall()
    return time.perf_counter() - t0, time.process_time() - c0


def identical_files(a: Path, b: Path) -> tuple[int, int]:
    """(files byte-identical in both folders, files in `a`)."""
    files = [p for p in a.rglob("*") if p.is_file()]
    same = sum(1 for p in files if (b / p.relative_to(a)).is_file() and (b / p.relative_to(a)).read_bytes() == p.read_bytes())
    return same, len(files)


def services_of(root: Path) -> int:
    return len(Workspace(root).load_catalog().services)


def real_path(roots: list[Path], before: Path | None, keep_output: bool, workers: int | None = None) -> int:
    rows = []
    for root in roots:
        n = services_of(root)
        floor, floor_cpu = scan_floor(root)
        print(f"{root} ({n} services): baseline scan of every telemetry row {floor_cpu:.1f} s CPU, {floor:.1f} s wall",
              flush=True)
        out = root.parent / f"{root.name}-bench-reports"
        after = measure_render(root, out / "after", None, workers)
        print(f"  now:    {after['files']:.0f} files, {after['cpu_s']:.1f} s CPU, {after['seconds']:.1f} s wall, "
              f"peak {after['peak_mb']:.0f} MB ({after['cpu_s'] / max(floor_cpu, 1e-9):.1f} x the baseline scan)",
              flush=True)
        row = {"services": n, "after": after, "floor_cpu": floor_cpu}
        if before is not None:
            old = measure_render(root, out / "before", before)
            same, total = identical_files(out / "before", out / "after")
            print(f"  before: {old['files']:.0f} files, {old['cpu_s']:.1f} s CPU, {old['seconds']:.1f} s wall, "
                  f"peak {old['peak_mb']:.0f} MB; now/before: CPU {after['cpu_s'] / old['cpu_s']:.2f}, "
                  f"wall {after['seconds'] / old['seconds']:.2f}; {same} of {total} files byte-identical", flush=True)
            row["before"] = old
        rows.append(row)
        if not keep_output:
            shutil.rmtree(out, ignore_errors=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    project(rows)
    return 0


def project(rows: list[dict]) -> None:
    """Growth exponent between the two largest roots (time ~ services^b) and the time at 1,000
    services by that power law, per variant and measure."""
    rows = sorted(rows, key=lambda r: r["services"])
    if len(rows) < 2:
        return
    small, big = rows[-2], rows[-1]
    for variant in ("before", "after"):
        if variant not in small or variant not in big:
            continue
        for key, label in (("cpu_s", "CPU s"), ("seconds", "wall s"), ("peak_mb", "peak MB")):
            a, b = small[variant][key], big[variant][key]
            exp = math.log(b / a) / math.log(big["services"] / small["services"])
            at_1000 = b * (1000 / big["services"]) ** exp
            print(f"{variant:>6} {label}: {a:.1f} at {small['services']}, {b:.1f} at {big['services']} services: "
                  f"b = {exp:.2f}, projected {at_1000:.0f} at 1,000")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--sections", default=None,
                        help="only these section modules, e.g. overview,maturity (isolates one area's cost)")
    parser.add_argument("--full", action="store_true", help="also write every report (slow at 1,000 services)")
    parser.add_argument("--keep", type=Path, default=None, help="build the workspace here and keep it")
    parser.add_argument("--root", type=Path, nargs="+", default=None,
                        help="time perfops report's default run on these analysed workspaces (the real path)")
    parser.add_argument("--make", type=int, default=None, help="with one --root: build that many services there first")
    parser.add_argument("--workers", type=int, default=None,
                        help="report worker processes of the 'now' run (PERFOPS_REPORT_WORKERS; default: perfops' choice)")
    parser.add_argument("--before", type=Path, default=None,
                        help="a src folder of the previous implementation, timed in the same run")
    parser.add_argument("--keep-output", action="store_true", help="keep the reports written (DIR-bench-reports)")
    parser.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import json

        print(json.dumps(child_render(*args.child)))
        return 0
    if args.root:
        if args.make:
            make_workspace(args.root[0], args.make)
        return real_path(args.root, args.before, args.keep_output, args.workers)
    root = args.keep or Path(tempfile.mkdtemp(prefix="perfops-scale-"))
    if not (root / "perfops.yaml").exists():
        build(root, args.services)
    from perfops.store import open_store
    from perfops.usecases.reports import render_reports

    ws = Workspace(root)
    if args.sections:
        from perfops.reports import compose

        wanted = set(args.sections.split(","))
        every = compose.section_builders
        compose.section_builders = lambda: {k: v for k, v in every().items() if k in wanted}
        os.environ["PERFOPS_REPORT_WORKERS"] = "1"  # the patch above lives in this process only
        print(f"sections: {sorted(wanted)}")
    t0, c0 = time.perf_counter(), time.process_time()
    with open_store(ws.store_path, read_only=True) as store:
        store.telemetry.load(start=NOW - timedelta(days=14), end=NOW, consumers=False)
    floor = time.perf_counter() - t0
    floor_cpu = time.process_time() - c0
    one, one_cpu = {}, {}
    for audience, extra in (("executive", {}), ("lead", {"squad": "squad-000"}), ("developer", {"service": "svc-0000"})):
        t0, c0 = time.perf_counter(), cpu_seconds()
        render_reports(ws, audience=audience, fmt="html", output=ws.reports_dir / f"one-{audience}.html", **extra)
        one[audience], one_cpu[audience] = time.perf_counter() - t0, cpu_seconds() - c0
        print(f"one {audience} report: {one_cpu[audience]:.1f} s CPU, {one[audience]:.1f} s wall", flush=True)
    size = (ws.reports_dir / "one-executive.html").stat().st_size
    total_cpu = sum(one_cpu.values())
    print(f"baseline: read 14 days of telemetry once: {floor_cpu:.2f} s CPU, {floor:.2f} s wall")
    print(f"one report per audience: {total_cpu:.1f} s CPU ({total_cpu / max(floor_cpu, 1e-9):.1f} x the baseline), "
          f"{sum(one.values()):.1f} s wall (target < 30 s); load average {os.getloadavg()[0]:.1f}")
    print(f"executive HTML: {size / 1e6:.2f} MB (target < 2 MB)")
    for name, (svg, mpl) in chart_costs().items():
        print(f"{name}: {svg:.2f} ms CPU written directly, {mpl:.1f} ms with matplotlib ({mpl / max(svg, 1e-9):.0f} x)")
    if args.full:
        t0, c0 = time.perf_counter(), cpu_seconds()
        paths = render_reports(ws, fmt="html")
        full, full_cpu = time.perf_counter() - t0, cpu_seconds() - c0
        print(f"every report (1 executive, {args.services // 10} lead, {args.services} developer): {len(paths)} files "
              f"in {full_cpu:.1f} s CPU, {full:.1f} s wall (workers: PERFOPS_REPORT_WORKERS or cpu count = "
              f"{os.cpu_count()})", flush=True)
    if args.keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
