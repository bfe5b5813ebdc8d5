"""The analyses `perfops analyze` runs, in order, and the cross-cutting passes after them."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from perfops.analysis.context import AnalysisContext
from perfops.model.findings import Finding

# one module per area; each defines run(ctx) -> list[Finding]
AREA_MODULES = ("trends", "capacity", "cost", "experience", "feedback", "data_quality")

Analysis = Callable[[AnalysisContext], list[Finding]]


def analyses() -> dict[str, Analysis]:
    return {name: importlib.import_module(f"perfops.analysis.{name}").run for name in AREA_MODULES}
