"""Print what each fuzzer tried and found, from fuzz/out/<reader>/ (a Markdown table).

    .venv/bin/python fuzz/summary.py [READER...]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def row(reader: str) -> str:
    folder = OUT / reader
    stats = json.loads((folder / "stats.json").read_text()) if (folder / "stats.json").exists() else {}
    log = (folder / "fuzz.log").read_text(errors="replace") if (folder / "fuzz.log").exists() else ""
    done = re.findall(r"Done (\d+) runs in (\d+) second", log)
    executed = re.findall(r"number_of_executed_units: (\d+)", log)
    runs, seconds = (int(done[-1][0]), int(done[-1][1])) if done else (
        int(executed[-1]) if executed else stats.get("inputs", 0), stats.get("seconds", 0))
    cov = re.findall(r"cov: (\d+)", log)
    corpus = len(list((folder / "corpus").glob("*"))) if (folder / "corpus").exists() else 0
    found = "; ".join(f"{sig} (x{n})" for sig, n in stats.get("signatures", {}).items()) or "none"
    stopped = "" if done else " (stopped: out of memory)" if "out-of-memory" in log else " (stopped early: see fuzz.log)"
    return (f"| {reader} | {runs}{stopped} | {seconds} | {stats.get('loaded', 0)} | {stats.get('refused', 0)} | "
            f"{cov[-1] if cov else '?'} | {corpus} | {found} |")


def main() -> None:
    readers = sys.argv[1:] or sorted(p.name for p in OUT.iterdir() if p.is_dir())
    print("| reader | inputs tried | seconds | loaded | refused (PerfopsError) | coverage edges | corpus | violations (signature, count) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for reader in readers:
        print(row(reader))


if __name__ == "__main__":
    main()
