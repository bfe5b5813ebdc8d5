"""Charts as inline SVG, readable in print and without colour. The reports' charts are written as
SVG directly (perfops.reports.svg_charts: 20-30x less CPU than matplotlib, which a report with
dozens of charts felt); the matplotlib versions, the reference the benchmark compares with, are
in bench/matplotlib_charts.py (matplotlib is a bench-only dependency).

Series are told apart by line style and marker shape (solid/circle, dashed/square, dotted/
triangle), not by colour alone; every chart carries its labels in text and an SVG <title> for
screen readers. Sizes are kept small, so a sparkline is a few kilobytes and a 1,000-service
executive report stays under 2 MB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup

# line styles that survive a black-and-white printer: (linestyle, marker, grey level)
STYLES = (("-", "o", "#1f3b73"), ("--", "s", "#8a3b12"), (":", "^", "#2d6a2d"), ("-.", "D", "#5b2c6f"))
INK = "#222222"
MUTED = "#9a9a9a"


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[Any]
    y: Sequence[float]
    style: int = 0  # index into STYLES
    markers: bool = False


@dataclass(frozen=True)
class Marker:
    """A vertical marker (a deploy, a change point) with a short text label."""

    x: Any
    label: str


@dataclass(frozen=True)
class Band:
    """A shaded band (the norm) between `low` and `high` over `x`."""

    x: Sequence[Any]
    low: Sequence[float]
    high: Sequence[float]
    label: str = "normal range"


@dataclass(frozen=True)
class Chart:
    title: str
    series: list[Series]
    y_label: str = ""
    markers: list[Marker] = field(default_factory=list)
    band: Band | None = None
    width_in: float = 6.4
    height_in: float = 2.2
    y_zero: bool = True


def sparkline(
    current: Sequence[float], previous: Sequence[float] | None = None, *, title: str,
    width_in: float = 1.7, height_in: float = 0.42,
) -> Markup:
    """A small week-over-week chart: this week solid and dark, last week dotted and grey, on the
    same x (hours of the week) so a shift reads at a glance, in print. Written as SVG directly
    (perfops.reports.svg_charts; ~0.3 ms against ~3 ms with a reused matplotlib figure)."""
    from perfops.reports import svg_charts

    return svg_charts.sparkline(current, previous, title=title, width_in=width_in, height_in=height_in,
                                ink=INK, muted=MUTED)


def weekly_bars(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str = "",
                highlight_last: bool = True, width_in: float = 2.6, height_in: float = 1.25) -> Markup:
    """Weekly totals as bars; the latest week hatched so it reads without colour."""
    from perfops.reports import svg_charts

    full = title + (f" ({unit})" if unit else "")
    return svg_charts.weekly(labels, values, title=full, kind="bars", ink=INK, muted=MUTED,
                             highlight_last=highlight_last, width_in=width_in, height_in=height_in)


def weekly_line(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str = "",
                target: float | None = None, target_label: str = "target",
                width_in: float = 2.6, height_in: float = 1.25) -> Markup:
    """A weekly line with square markers and an optional dashed target line (e.g. an SLO)."""
    from perfops.reports import svg_charts

    full = title + (f" ({unit})" if unit else "")
    return svg_charts.weekly(labels, values, title=full, kind="line", ink=INK, muted=MUTED, target=target,
                             target_label=target_label, width_in=width_in, height_in=height_in)


def line_chart(chart: Chart) -> Markup:
    """A time-series chart: series by line style and marker, an optional norm band, markers for
    deploys and change points labelled in text, a legend in words. Written as SVG directly
    (perfops.reports.svg_charts): a report draws dozens and matplotlib costs 100-250 ms each."""
    from perfops.reports.svg_charts import line_chart as svg_line_chart

    return svg_line_chart(chart, STYLES, INK)
