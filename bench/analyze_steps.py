"""`perfops analyze` step by step: wall and CPU seconds (the process's, DuckDB's threads
included) of each area, each figure family, the stored rollups and the writes, in one process.

    .venv/bin/python bench/analyze_steps.py WORKSPACE COPY

WORKSPACE: an ingested workspace (`bench/scale.py --services 100 --skip cluster,reports --keep
WORKSPACE`), copied to COPY (replaced) and analysed there, so WORKSPACE is never written. Run
it with another checkout's interpreter (`/work/main/.venv/bin/python bench/analyze_steps.py …`)
for that tree's figures, and compare the two copies with `bench/same_demo.py`.
"""

from __future__ import annotations

import functools
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

TIMES: dict[str, list[float]] = {}


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            total = TIMES.setdefault(name, [0.0, 0.0])
            total[0] += time.perf_counter() - wall
            total[1] += time.process_time() - cpu
    return wrapper


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    import perfops.analysis.figures as figures
    import perfops.usecases.analyze as use
    from perfops.store.findings_repo import FindingsRepo
    from perfops.store.runs_repo import AnalysisRunsRepo
    from perfops.workspace import Workspace

    areas = use.analyses
    use.analyses = lambda: {n: timed(n, f) for n, f in areas().items()}  # type: ignore[assignment]
    for name in ("capacity_figures", "experience_figures", "journey_figures", "test_figures", "band_figures"):
        setattr(figures, name, timed("figures." + name, getattr(figures, name)))
    for name in ("stored_rollups", "link_causes", "build_context", "inventory_figures"):
        setattr(use, name, timed(name, getattr(use, name)))
    FindingsRepo.save_analysis = timed("save_analysis", FindingsRepo.save_analysis)  # type: ignore[method-assign]
    AnalysisRunsRepo.record = timed("runs.record", AnalysisRunsRepo.record)  # type: ignore[method-assign]
    wall, cpu = time.perf_counter(), time.process_time()
    result = use.analyze(Workspace(dst), period="7d")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    for name, (w, c) in TIMES.items():
        print(f"{name:30s} wall {w:7.1f}  cpu {c:7.1f}")
    print(f"{'TOTAL':30s} wall {wall:7.1f}  cpu {cpu:7.1f}  findings {len(result.findings)}")


if __name__ == "__main__":
    main()
