"""The direction of dependencies (README, STYLE.md), with no exceptions:

    model (with errors, workspace) <- ingest / store / analysis / reports / workload / notify /
    sources / demo <- usecases <- web <- cli

A package imports only packages of lower layers; the packages of one layer do not import each
other (reports, web and notify read model records from the store and never import analysis).
A violation fails here, not in review."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "perfops"

LAYERS: list[set[str]] = [
    {"errors", "model", "workspace", "__init__"},
    {"ingest", "store", "analysis", "reports", "workload", "notify", "sources", "demo"},
    {"usecases"},
    {"web"},
    {"cli"},  # the CLI starts the web app (perfops serve)
]
LAYER = {package: i for i, packages in enumerate(LAYERS) for package in packages}


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


def test_every_package_has_a_layer():
    packages = {_package_of(p) for p in SRC.rglob("*.py")}
    assert packages - set(LAYER) == set()


def test_packages_import_only_lower_layers():
    violations = []
    for path in sorted(SRC.rglob("*.py")):
        package = _package_of(path)
        for target in _imports(path) - {package}:
            if (LAYER[target] >= LAYER[package] and LAYER[package] > 0) or (
                    LAYER[package] == 0 and target not in LAYERS[0]):
                violations.append(f"{path.relative_to(SRC)} imports perfops.{target}")
    assert violations == []


def test_readers_never_import_analysis():
    """Reports, the dashboard and digests show what analyze stored (model.figures)."""
    offenders = [f"{p.relative_to(SRC)}" for p in sorted(SRC.rglob("*.py"))
                 if _package_of(p) in ("reports", "web", "notify") and "analysis" in _imports(p)]
    assert offenders == []


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


def test_matplotlib_is_bench_only():
    """Only bench/matplotlib_charts.py draws with matplotlib (the reference the chart bench
    compares with); the package does not depend on it."""
    offenders = [str(p.relative_to(SRC)) for p in sorted(SRC.rglob("*.py"))
                 if any(name.split(".")[0] == "matplotlib" for name in _all_imports(p))]
    assert offenders == []


def _all_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _module_of(path: Path) -> str:
    parts = ["perfops", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Imports under `if TYPE_CHECKING:` (never run, so never a cycle)."""
    return {id(node) for block in ast.walk(tree)
            if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
            for node in ast.walk(block)}


def _module_edges() -> dict[str, set[str]]:
    """Module -> the perfops modules it imports, wherever the import stands: a function-level
    (lazy) import is an edge too, as it runs the imported module all the same."""
    modules = {_module_of(p): p for p in SRC.rglob("*.py")}
    return {module: _imported(ast.parse(path.read_text()), set(modules)) - {module}
            for module, path in modules.items()}


def _imported(tree: ast.AST, modules: set[str]) -> set[str]:
    skipped = _type_checking_only(tree)
    targets: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("perfops"):
            targets.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                           for a in node.names)
        elif isinstance(node, ast.Import):
            targets.update(a.name for a in node.names if a.name.startswith("perfops"))
    return targets & modules


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycles_even_through_function_level_imports():
    """A function-level import does not hide a cycle: modules that need each other share a
    lower module instead (e.g. analysis/codes.py under grid and steps)."""
    assert _cycles(_module_edges()) == []


def test_the_cycle_check_sees_function_level_imports():
    modules = {"perfops.a", "perfops.b", "perfops.c"}
    lazy = ast.parse("def f():\n    from perfops.b import thing\n")
    typing_only = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from perfops.c import T\n")
    assert _imported(lazy, modules) == {"perfops.b"}
    assert _imported(typing_only, modules) == set()
    assert _cycles({"perfops.a": {"perfops.b"}, "perfops.b": {"perfops.a"}, "perfops.c": set()}) == [
        ["perfops.a", "perfops.b"]]


def test_one_severity_order():
    """The order of severities is spelled once (model/findings.py: SEVERITIES, SEVERE,
    severity_rank); no other module lists severities in a tuple, list or set of its own."""
    from perfops.model.findings import SEVERITIES

    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        if path == SRC / "model" / "findings.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) >= 2 and all(
                    isinstance(e, ast.Constant) and e.value in SEVERITIES for e in node.elts):
                offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
