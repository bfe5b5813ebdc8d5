"""The workspace folder: perfops.yaml, the store and reports/. Loads the catalog with line numbers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from perfops.errors import CatalogError, PerfopsError
from perfops.model.catalog import Catalog

CATALOG_FILE = "perfops.yaml"
STORE_DIR = ".perfops"
STORE_FILE = "perfops.duckdb"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    @property
    def store_path(self) -> Path:
        return self.root / STORE_DIR / STORE_FILE

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def load_catalog(self) -> Catalog:
        if not self.catalog_path.exists():
            raise PerfopsError(
                f"no {CATALOG_FILE} in {self.root}",
                hint="run 'perfops init' to write a starter, or pass --workspace DIR",
            )
        return load_catalog(self.catalog_path)


def load_catalog(path: Path) -> Catalog:
    """Parse and validate perfops.yaml; raise CatalogError listing every problem with its line."""
    text = _read_text(path)
    return parse_catalog(text, str(path))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError([f"{path}:1: not UTF-8 text ({exc.reason})"]) from exc
    except OSError as exc:
        raise CatalogError([f"{path}: cannot read ({exc.strerror})"]) from exc


def parse_catalog(text: str, name: str = CATALOG_FILE) -> Catalog:
    """Validate the catalog text. The fast C-backed safe loader reads a valid file; only when
    something is wrong is it parsed again in round-trip mode, which knows every node's line."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe", pure=False).load(text)
        if isinstance(document, dict):
            return Catalog.model_validate(_plain(document))
    except (YAMLError, ValidationError, ValueError):
        pass
    return _parse_with_lines(text, name)


def _parse_with_lines(text: str, name: str) -> Catalog:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise CatalogError([f"{name}:{line}: invalid YAML: {exc.problem}"]) from exc
    if not isinstance(document, dict):
        raise CatalogError([f"{name}:1: expected a mapping with domain, squads and services"])
    try:
        return Catalog.model_validate(_plain(document))
    except ValidationError as exc:
        raise CatalogError(_problems(exc, document, name)) from exc


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def _problems(exc: ValidationError, document: Any, name: str) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        line = _line_of(document, loc)
        field = ".".join(str(p) for p in loc) or "(top level)"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"unknown key '{loc[-1]}' (check its spelling; see 'perfops init' for the keys)"
        elif error["type"] == "missing":
            message = "required, missing"
        problems.append(f"{name}:{line}: {field}: {message}")
    return problems


def _line_of(document: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node of `loc` that the YAML has."""
    node, line = document, 1
    for part in loc:
        try:
            if isinstance(node, dict) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, TypeError):
            break
    return line
