"""Series an analysis read but could not judge, and why: printed by `perfops analyze`, never silence.

An analysis calls `note(ctx, text)`; `notes_of(ctx)` lists them once each, in order. Kept in the
context's memo (one analysis run), so analyses stay pure functions of the context.
"""

from __future__ import annotations

import threading

from perfops.analysis.context import AnalysisContext

_LOCK = threading.Lock()  # trends analyses chunks in threads


def note(ctx: AnalysisContext, text: str) -> None:
    with _LOCK:
        ctx.memo.setdefault("notes", {})[text] = None


def notes_of(ctx: AnalysisContext) -> list[str]:
    return list(ctx.memo.get("notes", {}))
