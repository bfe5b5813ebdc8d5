"""Reports at scale: a synthetic 1,000-service domain (100 squads), 5 weeks of hourly telemetry
per service and per endpoint, 300 findings; times every audience and sizes the executive HTML.

Baselines in the same run: the time to read the same telemetry once from the store (the floor any
report pays), so the ratio says how much the report machinery adds; and each chart drawn both
ways (perfops' direct SVG writer against the matplotlib reference), CPU per chart.
Times are CPU seconds (this process and its workers) and wall seconds: on a shared machine the
CPU figures are the ones to compare.

    .venv/bin/python bench/reports_scale.py [--services 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

NOW = datetime(2026, 11, 23)


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
    from perfops.reports import charts

    stamps = pd.date_range(NOW - timedelta(days=7), NOW, freq="h", inclusive="left").to_pydatetime().tolist()
    wave = (200 + 80 * np.sin(np.arange(len(stamps)) / 24 * 2 * np.pi)).tolist()
    chart = charts.Chart(title="GET /items: p95 latency", y_label="ms", series=[
        charts.Series("this week", stamps, wave, style=0, markers=True),
        charts.Series("last week", stamps, [v * 0.9 for v in wave], style=1)],
        markers=[charts.Marker(stamps[100], "deploy v1.2")])
    labels = ["w1", "w2", "w3", "w4", "w5", "w6"]
    kinds = {
        "line chart": (lambda: charts.line_chart(chart), lambda: charts.line_chart_matplotlib(chart)),
        "sparkline": (lambda: charts.sparkline(wave, wave, title="s"),
                      lambda: charts.sparkline_matplotlib(wave, wave, title="s")),
        "weekly bars": (lambda: charts.weekly_bars(labels, [1, 2, 3, 4, 5, 6], title="t"),
                        lambda: charts.weekly_bars_matplotlib(labels, [1, 2, 3, 4, 5, 6], title="t")),
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--sections", default=None,
                        help="only these section modules, e.g. overview,maturity (isolates one area's cost)")
    parser.add_argument("--full", action="store_true", help="also write every report (slow at 1,000 services)")
    parser.add_argument("--keep", type=Path, default=None, help="build the workspace here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="perfops-scale-"))
    if not (root / "perfops.yaml").exists():
        build(root, args.services)
    from perfops.store import open_store
    from perfops.usecases.reports import render_reports
    from perfops.workspace import Workspace

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
