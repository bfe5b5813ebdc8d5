"""Run a child process and sample the resident memory of its whole process tree (workers
included) every 0.1 s: the peak memory the scale benches quote."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence


def run_sampling_memory(args: Sequence[str], *, env: dict[str, str] | None = None,
                        cwd: str | None = None) -> tuple[int, str, float]:
    """(return code, stdout, peak MB of the process tree)."""
    import psutil

    child = subprocess.Popen(list(args), stdout=subprocess.PIPE, text=True, env=env, cwd=cwd)
    peak, stop = [0], threading.Event()

    def sample() -> None:
        parent = psutil.Process(child.pid)
        while not stop.is_set():
            try:
                procs = [parent, *parent.children(recursive=True)]
                peak[0] = max(peak[0], sum(p.memory_info().rss for p in procs if p.is_running()))
            except psutil.Error:
                pass
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = child.communicate()
    stop.set()
    sampler.join()
    return child.returncode, out, peak[0] / 2**20
