"""Docs are tested: the CLI reference is generated and current; every setting, input format
and finding kind has a doc entry."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from perfops.ingest.registry import readers
from perfops.model import catalog as catalog_model
from perfops.model.findings import KINDS

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_cli_reference_is_current():
    from perfops.cli.reference import reference_markdown

    assert (DOCS / "cli.md").read_text() == reference_markdown(), (
        "docs/cli.md is out of date: run  .venv/bin/python -m perfops.cli.reference > docs/cli.md"
    )


def _fields(model: type[BaseModel]) -> set[str]:
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for candidate in getattr(field.annotation, "__args__", ()) + (field.annotation,):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                names |= _fields(candidate)
            for inner in getattr(candidate, "__args__", ()):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    names |= _fields(inner)
    return names


def test_every_catalog_key_is_documented():
    text = (DOCS / "catalog.md").read_text()
    missing = sorted(k for k in _fields(catalog_model.Catalog) if f"`{k}`" not in text)
    assert missing == []


def test_every_finding_kind_is_documented():
    text = (DOCS / "findings.md").read_text()
    assert sorted(k for k in KINDS if f"`{k}`" not in text) == []


def test_every_input_format_has_a_doc_page():
    formats = DOCS / "formats"
    text = "\n".join(p.read_text() for p in formats.glob("*.md")) if formats.is_dir() else ""
    assert sorted(name for name in readers() if f"`{name}`" not in text) == []
