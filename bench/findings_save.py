"""Saving a run's findings: this tree's `FindingsRepo.save_analysis` against a baseline's, same run.

    git archive <baseline> src | tar -x -C /tmp/before
    .venv/bin/python bench/findings_save.py STORE.duckdb --baseline-src /tmp/before/src [--repeat 2]

STORE: an analysed store (say the 1,000-service one `bench/scale.py --keep` leaves); it is copied,
never written. Each side saves every stored finding again (updates) plus a third of them under new
ids (matched by identity) into its own copy, in one transaction, as `perfops analyze`
does; prints the seconds and whether both sides stored the same findings and history.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from perfops.store import open_store
from perfops.store.findings_repo import FindingFilter


def module_at(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def save_once(module: ModuleType, source: Path, copy: Path) -> tuple[float, list, list]:
    shutil.copy(source, copy)
    with open_store(copy) as store:
        findings = store.findings.list(FindingFilter(status="all"))
        fresh = [f.with_(id=f.id + "-new") for f in findings[: len(findings) // 3]]
        repo = module.FindingsRepo(store.con)
        started = time.perf_counter()
        with store.transaction():
            repo.save_analysis(findings + fresh)
        seconds = time.perf_counter() - started
        rows = store.con.execute("SELECT * EXCLUDE (last_seen) FROM findings ORDER BY id").fetchall()
        history = store.con.execute('SELECT * EXCLUDE ("at") FROM finding_history ORDER BY ALL').fetchall()
    return seconds, rows, history


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", type=Path)
    parser.add_argument("--baseline-src", type=Path, required=True, help="the baseline's src folder")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    sides = {"baseline": module_at(args.baseline_src / "perfops/store/findings_repo.py", "baseline_findings_repo"),
             "this tree": sys.modules["perfops.store.findings_repo"]}
    with tempfile.TemporaryDirectory() as work:
        for run in range(args.repeat):
            stored = {}
            for name, module in sides.items():
                seconds, rows, history = save_once(module, args.store, Path(work) / "copy.duckdb")
                stored[name] = (rows, history)
                print(f"run {run + 1} {name}: {len(rows):,} findings, {len(history):,} history entries, {seconds:.2f} s")
            print(f"run {run + 1} same findings and history: {stored['baseline'] == stored['this tree']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
