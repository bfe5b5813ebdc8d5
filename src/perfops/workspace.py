"""The workspace folder: perfops.yaml, the store and reports/. Loads the catalog with line numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast, get_args

from pydantic import BaseModel, ValidationError

from perfops.errors import CatalogError, PerfopsError
from perfops.model.catalog import SERVICE_NAME, SQUAD_NAME, Catalog, reference_problems
from perfops.model.limits import described, limit

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

    check_yaml_bounds(text, name)
    try:
        document = YAML(typ="safe", pure=False).load(text)
        if isinstance(document, dict):
            return Catalog.model_validate(_plain(document))
    except (YAMLError, ValidationError, ValueError):
        pass
    return _parse_with_lines(text, name)


def check_yaml_bounds(text: str, name: str) -> None:
    """Refuse YAML nested deeper than the depth limit (50,000 nested brackets crashed the C parser
    with SIGSEGV) or whose aliases expand past the node limit (a "billion laughs" alias bomb took
    6 GB and 73 s), before any loader builds it. The pure-Python scanner keeps its nesting in a
    list, not on the stack; the expansion is counted on the composed graph, each node once."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError
    from ruamel.yaml.tokens import AliasToken, BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken

    opening = ("BlockMappingStartToken", "BlockSequenceStartToken", "FlowMappingStartToken",
               "FlowSequenceStartToken")
    depth, aliases, most = 0, 0, limit("yaml_depth")
    try:
        for token in YAML(typ="safe", pure=True).scan(text):
            if type(token).__name__ in opening:
                depth += 1
                if depth > most:
                    line = token.start_mark.line + 1
                    raise CatalogError([f"{name}:{line}: nested deeper than {described('yaml_depth')}"])
            elif isinstance(token, (BlockEndToken, FlowMappingEndToken, FlowSequenceEndToken)):
                depth -= 1
            elif isinstance(token, AliasToken):
                aliases += 1
    except MarkedYAMLError:
        return  # invalid YAML: the loaders below report it with its line
    if aliases:
        _check_alias_expansion(text, name)


def _check_alias_expansion(text: str, name: str) -> None:
    from ruamel.yaml import YAML
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    root = YAML(typ="safe", pure=True).compose(text)
    sizes: dict[int, int] = {}
    order, stack = [], [root] if root is not None else []
    while stack:  # iterative post-order over the graph, each node once (aliases share nodes)
        node = stack.pop()
        if id(node) in sizes:
            continue
        sizes[id(node)] = 0
        order.append(node)
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            stack.extend(item for pair in node.value for item in pair)
    for node in reversed(order):
        children = node.value if isinstance(node, SequenceNode) else (
            [item for pair in node.value for item in pair] if isinstance(node, MappingNode) else [])
        sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
    if root is not None and sizes[id(root)] > limit("yaml_nodes"):
        raise CatalogError([f"{name}:1: its aliases expand to {sizes[id(root)]:,} nodes, over "
                            f"{described('yaml_nodes')}; expected a catalog without alias bombs"])


def _parse_with_lines(text: str, name: str) -> Catalog:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        document = yaml.load(text)
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        raise CatalogError([f"{name}:{line}: invalid YAML: {exc.problem}{_tab_hint(text, line)}"]) from exc
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
    """Every problem as 'file:line: field: what was wrong, what was expected', in file order:
    the type errors pydantic found and the cross-references (squads, dependencies, journeys),
    which are checked on the raw document so that both kinds are listed in one run."""
    located: list[tuple[int, str]] = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        if not loc and error["type"] == "value_error":
            continue  # the model's cross-reference check: listed, with lines, below
        located.append((_line_of(document, loc), f"{_field_name(loc)}: {_message(error)}"))
    for loc, message in reference_problems(_plain(document)):
        located.append((_line_of(document, loc), f"{_field_name(loc)}: {message}"))
    seen: set[str] = set()
    problems = []
    for line, text in sorted(located, key=lambda item: item[0]):
        if text not in seen:
            seen.add(text)
            problems.append(f"{name}:{line}: {text}")
    return problems


def _field_name(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


_NUMBER_ERRORS = ("float_parsing", "int_parsing", "float_type", "int_type", "int_from_float")
_NUMBER_WITH_UNIT = re.compile(r"^\s*([-+]?\d+(?:\.\d+)?)\s*([a-zA-Z%/]+)\s*$")


def _message(error: Any) -> str:
    """What was wrong and what was expected, in the user's words (their value quoted back)."""
    loc, kind, value = tuple(error["loc"]), error["type"], error.get("input")
    if kind == "extra_forbidden":
        return f"unknown key '{loc[-1]}'{_suggestion(loc)}"
    if kind == "missing":
        return "required, missing"
    if kind in _NUMBER_ERRORS:
        unit = _NUMBER_WITH_UNIT.match(value) if isinstance(value, str) else None
        if unit:
            return f"got '{value}'; expected a plain number: {_without_unit(str(loc[-1]), unit)}"
        expected = "a whole number" if kind.startswith("int") else "a number"
        return f"got {_shown(value)}; expected {expected}"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern", "")
        return f"got {_shown(value)}; expected {_PATTERNS.get(pattern, f'text matching {pattern}')}"
    if kind == "string_type" and value is None:
        return ("expected text, got nothing: the value is empty or a word YAML reads as null (null, Null, ~); "
                "write the text in quotes, e.g. \"Null\"")
    if kind == "string_type" and isinstance(value, bool):
        return (f"expected text, got {str(value).lower()}: YAML reads true and false unquoted as booleans; "
                "write the text in quotes, e.g. \"True\"")
    if kind == "list_type" and isinstance(value, str):
        return f"got '{value}'; expected a list: write [{value}]"
    if kind == "list_type" and isinstance(value, dict):
        return "got a mapping; expected a list: start each item with '- ', e.g. '- name: checkout'"
    message = error["msg"].removeprefix("Value error, ")
    if kind != "value_error" and isinstance(value, (str, int, float, bool)):
        message += f"; got {_shown(value)}"
    return message


_TO_MS = {"ms": 1.0, "s": 1000.0, "sec": 1000.0, "secs": 1000.0, "seconds": 1000.0, "us": 0.001, "µs": 0.001}


def _without_unit(key: str, unit: re.Match[str]) -> str:
    """'write 300' for '0.3s' under a *_ms key: the unit is part of the key's name."""
    number, written = float(unit.group(1)), unit.group(2).lower()
    if key.endswith("_ms") and written in _TO_MS:
        return f"write {number * _TO_MS[written]:g} (the key's _ms means milliseconds)"
    if written == "%":
        return f"write {number:g} (percentages are written without '%')"
    return (f"write {number:g} in the unit the key's name gives (_ms = milliseconds, _pct = percent, "
            "_tps = per second, _hourly = per hour)")


_PATTERNS = {
    SQUAD_NAME: "lower-case letters, digits and dashes, starting with a letter or digit (e.g. 'checkout')",
    SERVICE_NAME: "lower-case letters, digits, dots, dashes and underscores, starting with a letter or digit "
                  "(e.g. 'checkout-api')",
}


def _shown(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else repr(value)


def _suggestion(loc: tuple[Any, ...]) -> str:
    """'; did you mean ...?' for a misspelt key, else the keys allowed at that place."""
    import difflib

    allowed = _allowed_keys(loc[:-1])
    if not allowed:
        return " (check its spelling; see docs/catalog.md for the keys)"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of {', '.join(allowed)}"


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The keys the catalog model accepts at `loc` (e.g. ('services', 0, 'slo'))."""
    model: Any = Catalog
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if isinstance(model, type) and issubclass(model, BaseModel) else None
        model = _model_in(field.annotation) if field is not None else None
        if model is None:
            return []
    return list(model.model_fields)


def _model_in(annotation: Any) -> Any:
    """The pydantic model inside `X | None`, `list[X]` or `Annotated[...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for inner in get_args(annotation):
        found = _model_in(inner)
        if found is not None:
            return found
    return None


def _tab_hint(text: str, line: int) -> str:
    lines = text.splitlines()
    if "\t" in (lines[line - 1] if 0 < line <= len(lines) else ""):
        return " (YAML indents with spaces, not tabs: replace the tab on this line with spaces)"
    return ""


def _line_of(document: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node of `loc` that the YAML has."""
    node, line = document, 1
    for part in loc:
        try:
            if isinstance(node, dict) and part in node:
                line = cast(Any, node).lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                line = cast(Any, node).lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        except (AttributeError, KeyError, TypeError):
            break
    return line
