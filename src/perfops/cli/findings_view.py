"""Findings on the terminal: the one-screen summary after analyze, the table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Sequence

from rich.table import Table

from perfops.cli.output import console
from perfops.model.findings import SEVERITIES, Finding

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
CSV_COLUMNS = ("id", "category", "kind", "metric", "severity", "service", "endpoint", "consumer", "squad",
               "start", "end", "title", "status", "caused_by", "event")


def print_summary(findings: Sequence[Finding], start: object, end: object, limit: int = 12) -> None:
    counts = Counter(f.severity for f in findings)
    tally = ", ".join(f"{counts[s]} {s}" for s in SEVERITIES if counts[s]) or "nothing out of the ordinary"
    console.print(f"[bold]Analysed {_day(start)} → {_day(end)}:[/bold] {len(findings)} findings ({tally})")
    top = [f for f in findings if f.severity in SEVERITIES[:3]][:limit]
    if top:
        console.print(findings_table(top, compact=True))
    rest = len(findings) - len(top)
    if rest > 0:
        console.print(f"… and {rest} more: perfops findings --status all")


def findings_table(findings: Sequence[Finding], compact: bool = False) -> Table:
    table = Table(show_lines=False, header_style="bold", expand=False)
    table.add_column("severity")
    table.add_column("id", no_wrap=True)
    table.add_column("squad")
    table.add_column("service")
    table.add_column("what")
    if not compact:
        table.add_column("status")
    for f in findings:
        cells = [f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]", f.id, _text(f.squad), _text(f.service), _text(f.title)]
        if not compact:
            cells.append(f.status)
        table.add_row(*cells)
    return table


def findings_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.to_record() for f in findings], indent=2, ensure_ascii=False)


def findings_csv(findings: Sequence[Finding]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for f in findings:
        writer.writerow({k: ("" if v is None else v) for k, v in f.to_record().items()})
    return out.getvalue()


def _text(value: str | None) -> str:
    from rich.markup import escape

    return escape(value or "")


def _day(moment: object) -> str:
    return str(moment)[:16].replace("T", " ") if moment else "?"
