"""The reports' charts drawn by matplotlib: the reference bench/reports_scale.py compares
perfops' direct SVG writer (perfops.reports.svg_charts) with. Only the benchmark uses matplotlib,
so it is a bench-only dependency (pyproject's `bench` extra).

matplotlib is used through the object API (`Figure`, no pyplot global state), so charts can be
drawn from several threads; text stays text (`svg.fonttype = none`), no metadata.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from markupsafe import Markup, escape

from perfops.reports.charts import INK, MUTED, STYLES, Chart


@lru_cache(maxsize=1)
def _mpl() -> Any:
    import matplotlib

    matplotlib.use("svg", force=False)
    matplotlib.rcParams.update({
        "svg.fonttype": "none",
        "svg.hashsalt": "perfops",
        "font.family": "DejaVu Sans",
        "font.size": 8,
        "axes.edgecolor": "#666666",
        "axes.linewidth": 0.6,
        "xtick.color": "#444444",
        "ytick.color": "#444444",
        "path.simplify": True,
    })
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    return Figure, FigureCanvasSVG


def _svg_of(fig: Any, title: str) -> Markup:
    """The SVG text of a figure, with no XML prolog, no metadata, and an accessible <title>."""
    _, canvas_cls = _mpl()
    canvas_cls(fig)
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r"\n\s*", "\n", text)
    head_end = text.index(">") + 1
    head = text[:head_end].replace("<svg ", '<svg role="img" class="chart" ', 1)
    return Markup(head + f"<title>{escape(title)}</title>" + text[head_end:])

def sparkline_matplotlib(
    current: Sequence[float], previous: Sequence[float] | None = None, *, title: str,
    width_in: float = 1.7, height_in: float = 0.42,
) -> Markup:
    """The sparkline drawn by matplotlib (the reference bench/reports_scale.py compares with).

    The two lines share the same x (hours of the week) so a shift reads at a glance, in print.
    One figure per thread is reused (only the data changes): creating axes is most of the cost.
    """
    fig, ax, prev_line, cur_line, dot = _spark_template(width_in, height_in)
    prev_vals = _clean(previous) if previous is not None else []
    cur_vals = _clean(current)
    prev_line.set_data(range(len(prev_vals)), prev_vals)
    cur_line.set_data(range(len(cur_vals)), cur_vals)
    dot.set_data([len(cur_vals) - 1] if cur_vals else [], [cur_vals[-1]] if cur_vals else [])
    finite = [v for v in prev_vals + cur_vals if v == v]
    top = max(finite) if finite else 1.0
    ax.set_xlim(-1, max(len(cur_vals), len(prev_vals), 2))
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    return _svg_of(fig, title)


_local = threading.local()


def _spark_template(width_in: float, height_in: float) -> tuple[Any, ...]:
    key = (width_in, height_in)
    cache = getattr(_local, "spark", None)
    if cache is None or cache[0] != key:
        figure_cls, _ = _mpl()
        fig = figure_cls(figsize=(width_in, height_in), dpi=72)
        ax = fig.add_axes((0.01, 0.08, 0.98, 0.84))
        ax.set_axis_off()
        (prev_line,) = ax.plot([], [], linestyle=":", color=MUTED, linewidth=0.9)
        (cur_line,) = ax.plot([], [], linestyle="-", color=INK, linewidth=0.9)
        (dot,) = ax.plot([], [], marker="o", markersize=2.2, color=INK, linestyle="none")
        cache = (key, (fig, ax, prev_line, cur_line, dot))
        _local.spark = cache
    return cache[1]

def weekly_bars_matplotlib(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str = "",
                           highlight_last: bool = True, width_in: float = 2.6, height_in: float = 1.25) -> Markup:
    """weekly_bars drawn by matplotlib (the reference bench/reports_scale.py compares with)."""
    figure_cls, _ = _mpl()
    fig = figure_cls(figsize=(width_in, height_in), dpi=72)
    ax = fig.add_axes((0.16, 0.22, 0.82, 0.62))
    vals = _clean(values)
    bars = ax.bar(range(len(vals)), vals, color="#c9d3e6", edgecolor=INK, linewidth=0.5)
    if highlight_last and len(bars):
        bars[-1].set_hatch("////")
        bars[-1].set_facecolor("#8fa6cf")
    return _weekly_svg(fig, ax, labels, title, unit)


def weekly_line_matplotlib(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str = "",
                           target: float | None = None, target_label: str = "target",
                           width_in: float = 2.6, height_in: float = 1.25) -> Markup:
    """weekly_line drawn by matplotlib (the reference bench/reports_scale.py compares with)."""
    figure_cls, _ = _mpl()
    fig = figure_cls(figsize=(width_in, height_in), dpi=72)
    ax = fig.add_axes((0.16, 0.22, 0.82, 0.62))
    vals = _clean(values)
    ax.plot(range(len(vals)), vals, linestyle="-", marker="s", markersize=3, color=INK, linewidth=1)
    if target is not None:
        ax.axhline(target, linestyle="--", color=MUTED, linewidth=0.8)
        ax.text(0, target, f" {target_label}", fontsize=6, va="bottom", color="#555555")
    return _weekly_svg(fig, ax, labels, title, unit)


def _weekly_svg(fig: Any, ax: Any, labels: Sequence[str], title: str, unit: str) -> Markup:
    """The week labels, light axes and titled SVG both weekly matplotlib charts share."""
    ax.set_xticks(range(len(labels)), list(labels), fontsize=6.5)
    ax.tick_params(axis="y", labelsize=6.5, length=2)
    ax.tick_params(axis="x", length=0)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(title + (f" ({unit})" if unit else ""), fontsize=7.5, loc="left")
    _compact_y(ax)
    return _svg_of(fig, title)

def line_chart_matplotlib(chart: Chart) -> Markup:
    """The same chart drawn by matplotlib (the reference bench/reports_scale.py compares with)."""
    figure_cls, _ = _mpl()
    fig = figure_cls(figsize=(chart.width_in, chart.height_in), dpi=72)
    ax = fig.add_axes((0.08, 0.2, 0.9, 0.68))
    if chart.band is not None:
        ax.fill_between(list(chart.band.x), _clean(chart.band.low), _clean(chart.band.high),
                        color="#dddddd", hatch="....", edgecolor="#bbbbbb", linewidth=0, label=chart.band.label)
    for s in chart.series:
        linestyle, marker, colour = STYLES[s.style % len(STYLES)]
        every = max(1, len(s.y) // 12)
        ax.plot(list(s.x), _clean(s.y), linestyle=linestyle, color=colour, linewidth=1.1, label=s.label,
                marker=marker if s.markers else None, markevery=every, markersize=3)
    for m in chart.markers:
        ax.axvline(m.x, color="#555555", linestyle=(0, (2, 2)), linewidth=0.7)
        ax.annotate(m.label, (m.x, 1), xycoords=("data", "axes fraction"), fontsize=6, rotation=90,
                    va="top", ha="right", color="#333333")
    ax.set_title(chart.title, fontsize=8.5, loc="left")
    if chart.y_label:
        ax.set_ylabel(chart.y_label, fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=6.5, length=2)
    if chart.y_zero:
        ax.set_ylim(bottom=0)
    if chart.series and isinstance(chart.series[0].x[0] if len(chart.series[0].x) else None, datetime):
        _date_axis(ax)
    if len(chart.series) > 1 or chart.band is not None:
        ax.legend(fontsize=6.5, frameon=False, loc="upper left", ncols=4, bbox_to_anchor=(0, -0.12))
    _compact_y(ax)
    return _svg_of(fig, chart.title)


def _date_axis(ax: Any) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def _compact_y(ax: Any) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    from perfops.model.format import compact

    ax.yaxis.set_major_locator(MaxNLocator(3))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: compact(v)))


def _clean(values: Sequence[float]) -> list[float]:
    return [float("nan") if v is None else float(v) for v in values]
