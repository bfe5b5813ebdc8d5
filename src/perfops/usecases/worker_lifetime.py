"""Worker processes that die with their parent.

A `ProcessPoolExecutor` worker outlives a parent killed with SIGKILL (no cleanup runs) or
SIGTERM (Python's default action ends the process at once): it is reparented to init, keeps
working on its queue and holds the caller's output open. `die_with_parent` is the pool's
initializer that prevents it:

    ProcessPoolExecutor(..., initializer=die_with_parent, initargs=(os.getpid(),))

- on Linux it asks the kernel to send the worker SIGKILL when its parent dies
  (`prctl(PR_SET_PDEATHSIG)`, see prctl(2)), through ctypes: nothing to install;
- everywhere, a daemon thread checks every PARENT_CHECK seconds that the parent is still the
  one that started the worker, and ends the worker when it is not (the portable fallback, and
  the guard for a parent that died before the initializer ran).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_CHECK = 1.0  # s


def die_with_parent(parent_pid: int) -> None:
    """In a worker, first thing: end this process when `parent_pid` is gone."""
    if sys.platform.startswith("linux"):
        _kernel_kills_on_parent_death()
    if os.getppid() != parent_pid:  # the parent died before this ran
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="perfops-parent-watch", daemon=True).start()


def _kernel_kills_on_parent_death() -> None:
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # no libc prctl: the watch thread still ends the worker
        pass


def _watch_parent(parent_pid: int) -> None:
    while True:
        time.sleep(PARENT_CHECK)
        if os.getppid() != parent_pid:
            os._exit(1)
