"""Building blocks that give the same content as safe HTML and as safe Markdown at once.

Every piece of text from data (service, endpoint and consumer names, titles, notes) goes through
`markupsafe.escape` for HTML and `md_escape` for Markdown, so a service called
`<script>alert(1)</script>` prints as text in both. Charts and other trusted fragments are passed
as `Markup` (HTML) with a Markdown alternative.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from perfops.reports.section import Section

_MD_SPECIAL = str.maketrans({
    "\\": "\\\\", "`": "\\`", "*": "\\*", "_": "\\_", "[": "\\[", "]": "\\]", "|": "\\|", "#": "\\#",
    "<": "&lt;", ">": "&gt;", "&": "&amp;", "\n": " ", "\r": " ",
})

STATUS_SYMBOLS = {"red": "✖", "amber": "▲", "green": "✔", "grey": "?"}
SEVERITY_SYMBOLS = {"critical": "‼", "high": "!", "medium": "•", "low": "·", "info": "i"}


def md_escape(text: object) -> str:
    """Text safe inside Markdown (and inside a table cell): no HTML, no emphasis, no links."""
    return str(text).translate(_MD_SPECIAL)


@dataclass(frozen=True)
class Cell:
    """A table cell: plain text, or rich HTML with a Markdown alternative."""

    text: str
    html: Markup | None = None
    cls: str = ""


@dataclass
class Doc:
    """An HTML and a Markdown document grown side by side."""

    html: list[Markup] = field(default_factory=list)
    md: list[str] = field(default_factory=list)

    def add(self, html: Markup, md: str) -> Doc:
        self.html.append(html)
        self.md.append(md)
        return self

    def para(self, text: str, cls: str = "") -> Doc:
        attr = Markup(' class="{}"').format(cls) if cls else Markup("")
        return self.add(Markup("<p{}>{}</p>").format(attr, text), md_escape(text))

    def rich(self, html: Markup, md: str) -> Doc:
        return self.add(html, md)

    def heading(self, text: str, level: int = 3) -> Doc:
        return self.add(Markup("<h{0}>{1}</h{0}>").format(level, text), f"{'#' * (level + 1)} {md_escape(text)}")

    def bullets(self, items: Sequence[str | Cell]) -> Doc:
        if not items:
            return self
        lis = Markup("").join(Markup("<li>{}</li>").format(_html_of(i)) for i in items)
        return self.add(Markup("<ul>{}</ul>").format(lis), "\n".join(f"- {_md_of(i)}" for i in items))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "", empty: str = "") -> Doc:
        if not rows:
            return self.para(empty, "empty") if empty else self
        return self.add(html_table(headers, rows, cls), md_table(headers, rows))

    def note(self, text: str) -> Doc:
        return self.add(Markup('<p class="note">{}</p>').format(text), f"_{md_escape(text)}_")

    def section(self, id: str, title: str, order: int, data: Any = None) -> Section:
        return Section(id=id, title=title, order=order, html=str(Markup("\n").join(self.html)),
                       markdown="\n\n".join(self.md), data=data if data is not None else {})


def _html_of(value: Any) -> Markup:
    if isinstance(value, Cell):
        return value.html if value.html is not None else escape(value.text)
    if isinstance(value, Markup):
        return value
    return escape("" if value is None else str(value))


def _md_of(value: Any) -> str:
    if isinstance(value, Cell):
        return md_escape(value.text)
    return md_escape("" if value is None else str(value))


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> Markup:
    head = Markup("").join(Markup("<th scope=\"col\">{}</th>").format(h) for h in headers)
    body = Markup("").join(
        Markup("<tr>{}</tr>").format(Markup("").join(_td(c) for c in row)) for row in rows
    )
    return Markup('<table class="{}"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>').format(cls, head, body)


def _td(cell: Any) -> Markup:
    if isinstance(cell, Cell) and cell.cls:
        return Markup('<td class="{}">{}</td>').format(cell.cls, _html_of(cell))
    return Markup("<td>{}</td>").format(_html_of(cell))


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(md_escape(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_md_of(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def status_cell(level: str, word: str) -> Cell:
    """Status by symbol and word as well as colour, so it reads in print and for colour-blind readers."""
    text = f"{STATUS_SYMBOLS.get(level, '')} {word}"
    html = Markup('<span class="status status-{}">{}</span>').format(level, text)
    return Cell(text=text, html=html)


def severity_cell(severity: str) -> Cell:
    text = f"{SEVERITY_SYMBOLS.get(severity, '')} {severity}"
    return Cell(text=text, html=Markup('<span class="sev sev-{}">{}</span>').format(severity, text))


def chart_cell(svg: Markup, text: str) -> Cell:
    """A chart in HTML; its figures in words in Markdown."""
    return Cell(text=text, html=Markup('<span class="spark">{}</span><span class="spark-text">{}</span>').format(svg, text))
