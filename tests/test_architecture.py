"""The direction of dependencies (STYLE.md): model ← ingest / store / analysis / reports ←
use cases ← CLI / web. A violation fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "perfops"

# package -> perfops packages it may import (besides itself, errors and model)
ALLOWED: dict[str, set[str]] = {
    "model": set(),
    "ingest": set(),
    "store": set(),
    "analysis": set(),
    "workload": {"analysis"},
    "reports": {"analysis"},  # reports present analysis results (norm bands, forecasts)
    "notify": {"reports"},
    "sources": {"ingest"},
    "demo": {"ingest", "workspace"},
    "usecases": {"ingest", "store", "analysis", "reports", "workload", "notify", "sources", "demo", "workspace"},
    "cli": {"usecases", "workspace", "store", "analysis", "web", "workload"},
    "web": {"usecases", "reports", "workspace", "store"},
    "workspace": set(),
}
ALWAYS = {"errors", "model", "__init__"}


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("perfops."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("perfops."):
                    found.add(alias.name.split(".")[1])
    return found


def test_packages_import_only_in_the_allowed_direction():
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        package = _package_of(path)
        if package not in ALLOWED:
            continue
        for target in _imports(path) - ALWAYS - {package}:
            if target not in ALLOWED[package]:
                violations.append(f"{path.relative_to(SRC)} imports perfops.{target}")
    assert violations == []


def test_only_the_store_imports_duckdb():
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if _package_of(path) == "store":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else [])
            if any(n.split(".")[0] == "duckdb" for n in names):
                offenders.append(str(path.relative_to(SRC)))
    assert offenders == []


def test_help_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = (
        "import sys; from perfops.cli.app import app; "
        "heavy = [m for m in ('fastapi', 'matplotlib', 'dask', 'statsmodels', 'scipy', 'duckdb', 'pandas') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
