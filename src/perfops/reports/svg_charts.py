"""Charts written as SVG directly (numpy for the coordinates), no matplotlib.

A report draws dozens of these (a developer report: endpoint p95 week over week, the trends
series, the capacity forecast); matplotlib spends 100-250 ms of CPU on each (layout, tick
machinery, text measuring), this writer about 1-3 ms for the same chart: axes with three
compact y ticks and dated x ticks, series told apart by line style and marker shape (not colour
alone), an optional dotted band, labelled vertical markers, a legend in words and an SVG
<title>. Text stays text, so the chart prints sharp and reads in a screen reader. The small
charts (week-over-week sparklines, weekly bars and lines) are written the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from markupsafe import Markup, escape

# line style -> SVG dash pattern (in points, as matplotlib scales them for ~1 pt lines)
DASHES = {"-": "", "--": "4,1.8", ":": "1.1,1.8", "-.": "6.4,1.6,1.1,1.6"}
FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


def line_chart(chart: Any, styles: Sequence[tuple[str, str, str]], ink: str = "#222222") -> Markup:
    """The SVG of a perfops.reports.charts.Chart (same layout as the matplotlib version)."""
    w, h = chart.width_in * 72.0, chart.height_in * 72.0
    left, right, top, bottom = 0.08 * w, 0.98 * w, 0.12 * h, 0.80 * h
    xs = [_x_values(s.x) for s in chart.series]
    ys = [_y_values(s.y) for s in chart.series]
    x_all = [a for a in xs if a.size]
    if chart.band is not None:
        x_all.append(_x_values(chart.band.x))
    marks = [(_x_values([m.x])[0], m.label) for m in chart.markers]
    x_all.append(np.array([x for x, _ in marks], dtype=float))
    xcat = np.concatenate(x_all) if x_all else np.zeros(0)
    xcat = xcat[np.isfinite(xcat)]
    x0, x1 = (float(xcat.min()), float(xcat.max())) if xcat.size else (0.0, 1.0)
    if x1 <= x0:
        x0, x1 = x0 - 1.0, x1 + 1.0
    pad = (x1 - x0) * 0.02
    x0, x1 = x0 - pad, x1 + pad
    y_parts = [y[np.isfinite(y)] for y in ys]
    if chart.band is not None:
        y_parts += [_y_values(chart.band.high), _y_values(chart.band.low)]
    ycat = np.concatenate([p[np.isfinite(p)] for p in y_parts]) if y_parts else np.zeros(0)
    y_lo = 0.0 if chart.y_zero or not ycat.size else float(ycat.min())
    y_hi = float(ycat.max()) if ycat.size else 1.0
    ticks = _nice_ticks(y_lo, y_hi)
    y0, y1 = min(y_lo, ticks[0]), max(y_hi * 1.05 if y_hi > 0 else y_hi + 1.0, ticks[-1])
    if y1 <= y0:
        y1 = y0 + 1.0

    def px(v: np.ndarray) -> np.ndarray:
        return left + (v - x0) / (x1 - x0) * (right - left)

    def py(v: np.ndarray) -> np.ndarray:
        return bottom - (v - y0) / (y1 - y0) * (bottom - top)

    out = [f'<svg role="img" class="chart" xmlns="http://www.w3.org/2000/svg" width="{w:.1f}pt" height="{h:.1f}pt" '
           f'viewBox="0 0 {w:.1f} {h:.1f}" {FONT}><title>{escape(chart.title)}</title>']
    out.append(f'<text x="{left:.1f}" y="{top - 5:.1f}" font-size="8.5" fill="{ink}">{escape(chart.title)}</text>')
    if chart.band is not None:
        out.append(_band(chart.band, px, py))
    out.append(_axes(ticks, y0, y1, py, left, right, bottom, x0, x1, px, chart))
    for s, x, y in zip(chart.series, xs, ys, strict=True):
        linestyle, marker, colour = styles[s.style % len(styles)]
        out.append(_polyline(px(x), py(y), linestyle, colour))
        if s.markers and x.size:
            every = max(1, len(y) // 12)
            pts = [(a, b) for a, b in zip(px(x[::every]), py(y[::every]), strict=True) if math.isfinite(b)]
            out.append(_markers(pts, marker, colour))
    for x, label in marks:
        if not math.isfinite(x):
            continue
        xp = float(px(np.array([x]))[0])
        out.append(f'<line x1="{xp:.1f}" y1="{top:.1f}" x2="{xp:.1f}" y2="{bottom:.1f}" stroke="#555555" '
                   f'stroke-width="0.7" stroke-dasharray="2,2"/>'
                   f'<text transform="translate({xp - 1.5:.1f},{top + 2:.1f}) rotate(-90)" text-anchor="end" '
                   f'font-size="6" fill="#333333">{escape(label)}</text>')
    if len(chart.series) > 1 or chart.band is not None:
        out.append(_legend(chart, styles, left, bottom + 19, w))
    out.append("</svg>")
    return Markup("".join(out))


def _x_values(values: Sequence[Any]) -> np.ndarray:
    """Datetimes as seconds since the epoch (naive = UTC), numbers as they are."""
    if len(values) == 0:
        return np.zeros(0)
    first = values[0]
    if isinstance(first, datetime | np.datetime64):
        stamps = np.array(values, dtype="datetime64[ms]")
        return stamps.astype("int64").astype(float) / 1000.0
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _y_values(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _nice_ticks(lo: float, hi: float, count: int = 3) -> list[float]:
    """Up to `count` + 1 round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 x 10^k)."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        span = abs(hi) or 1.0
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.floor(lo / step) * step
    return [first + i * step for i in range(count + 2) if first + i * step <= hi + step * 0.999][: count + 1]


def _axes(ticks: list[float], y0: float, y1: float, py: Any, left: float, right: float, bottom: float,
          x0: float, x1: float, px: Any, chart: Any) -> str:
    from perfops.model.format import compact

    parts = [f'<path d="M{left:.1f} {py(np.array([y1]))[0]:.1f}V{bottom:.1f}H{right:.1f}" fill="none" '
             'stroke="#666666" stroke-width="0.6"/>']
    for t in ticks:
        if t < y0 or t > y1:
            continue
        yp = float(py(np.array([t]))[0])
        parts.append(f'<line x1="{left - 2:.1f}" y1="{yp:.1f}" x2="{left:.1f}" y2="{yp:.1f}" stroke="#444444" '
                     f'stroke-width="0.6"/><text x="{left - 3:.1f}" y="{yp + 2.2:.1f}" text-anchor="end" '
                     f'font-size="6.5" fill="#444444">{escape(compact(t))}</text>')
    if chart.y_label:
        mid = (bottom + float(py(np.array([y1]))[0])) / 2
        parts.append(f'<text transform="translate({left - 0.06 * left - 24:.1f},{mid:.1f}) rotate(-90)" '
                     f'text-anchor="middle" font-size="7" fill="#444444">{escape(chart.y_label)}</text>')
    dated = bool(chart.series) and len(chart.series[0].x) and isinstance(chart.series[0].x[0], datetime | np.datetime64)
    for value, label in (_date_ticks(x0, x1) if dated else _number_ticks(x0, x1)):
        xp = float(px(np.array([value]))[0])
        parts.append(f'<line x1="{xp:.1f}" y1="{bottom:.1f}" x2="{xp:.1f}" y2="{bottom + 2:.1f}" stroke="#444444" '
                     f'stroke-width="0.6"/><text x="{xp:.1f}" y="{bottom + 9:.1f}" text-anchor="middle" '
                     f'font-size="6.5" fill="#444444">{escape(label)}</text>')
    return "".join(parts)


def _date_ticks(x0: float, x1: float, most: int = 8) -> list[tuple[float, str]]:
    """Ticks at whole days (or hours for spans under three days), at most `most`."""
    span = x1 - x0
    if span >= 3 * 86400:
        step = 86400 * max(1, math.ceil(span / 86400 / most))
        fmt = "%d %b"
    else:
        hours = next(hh for hh in (1, 2, 3, 6, 12, 24) if span / (3600 * hh) <= most)
        step, fmt = 3600 * hours, "%d %b %H:%M"
    first = math.ceil(x0 / step) * step
    out: list[tuple[float, str]] = []
    for k in range(most + 1):
        at = first + k * step
        if at > x1:
            break
        moment = datetime(1970, 1, 1) + timedelta(seconds=at)
        out.append((at, moment.strftime("%H:%M" if fmt.endswith("%M") and moment.hour else "%d %b")))
    return out


def _number_ticks(x0: float, x1: float) -> list[tuple[float, str]]:
    from perfops.model.format import compact

    return [(t, compact(t)) for t in _nice_ticks(x0, x1, 5) if x0 <= t <= x1]


def _polyline(x: np.ndarray, y: np.ndarray, linestyle: str, colour: str, width: float = 1.1) -> str:
    """One path; gaps (NaN) break the line, as in matplotlib."""
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return ""
    segments, start = [], True
    for a, b, good in zip(x.tolist(), y.tolist(), ok.tolist(), strict=True):
        if not good:
            start = True
            continue
        segments.append(f"{'M' if start else 'L'}{a:.1f} {b:.1f}")
        start = False
    dash = DASHES.get(linestyle, "")
    dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
    return (f'<path d="{"".join(segments)}" fill="none" stroke="{colour}" stroke-width="{width:g}"{dash_attr} '
            'stroke-linejoin="round"/>')


def _markers(points: list[tuple[float, float]], marker: str, colour: str) -> str:
    shapes = {"o": "M-1.5 0a1.5 1.5 0 1 0 3 0a1.5 1.5 0 1 0-3 0z", "s": "M-1.5-1.5h3v3h-3z",
              "^": "M0-1.8L1.6 1.2H-1.6z", "D": "M0-1.9L1.9 0L0 1.9L-1.9 0z"}
    d = shapes.get(marker, shapes["o"])
    return "".join(f'<path transform="translate({a:.1f},{b:.1f})" d="{d}" fill="{colour}"/>' for a, b in points)


def _band(band: Any, px: Any, py: Any) -> str:
    x = _x_values(band.x)
    lo, hi = _y_values(band.low), _y_values(band.high)
    ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
    if not ok.any():
        return ""
    xs, los, his = px(x[ok]), py(lo[ok]), py(hi[ok])
    top = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs, his, strict=True))
    low = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(xs[::-1], los[::-1], strict=True))
    pid = "perfops-dots"  # the same pattern in every chart: a repeated id on a page is harmless
    return (f'<defs><pattern id="{pid}" width="3" height="3" patternUnits="userSpaceOnUse">'
            f'<rect width="3" height="3" fill="#dddddd"/><circle cx="1.5" cy="1.5" r="0.5" fill="#aaaaaa"/>'
            f'</pattern></defs><polygon points="{top} {low}" fill="url(#{pid})" stroke="none"/>')


def _legend(chart: Any, styles: Sequence[tuple[str, str, str]], left: float, y: float, width: float) -> str:
    items: list[tuple[str, str, str, str, bool]] = []
    if chart.band is not None:
        items.append((chart.band.label, "", "", "#bbbbbb", True))
    for s in chart.series:
        linestyle, marker, colour = styles[s.style % len(styles)]
        items.append((s.label, linestyle, marker if s.markers else "", colour, False))
    parts, col_w = [], (width - left) / 4
    for i, (label, linestyle, marker, colour, is_band) in enumerate(items):
        x = left + (i % 4) * col_w
        yy = y + (i // 4) * 9
        if is_band:
            parts.append(f'<rect x="{x:.1f}" y="{yy - 3:.1f}" width="14" height="5" fill="#dddddd" stroke="{colour}" '
                         'stroke-width="0.4"/>')
        else:
            dash = DASHES.get(linestyle, "")
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            parts.append(f'<line x1="{x:.1f}" y1="{yy:.1f}" x2="{x + 14:.1f}" y2="{yy:.1f}" stroke="{colour}" '
                         f'stroke-width="1.1"{dash_attr}/>')
            if marker:
                parts.append(_markers([(x + 7, yy)], marker, colour))
        parts.append(f'<text x="{x + 17:.1f}" y="{yy + 2.2:.1f}" font-size="6.5" fill="#222222">{escape(label)}</text>')
    return "".join(parts)


# ---- small charts: the week-over-week sparkline, weekly bars and a weekly line ------------------
def _open(w: float, h: float, title: str) -> str:
    return (f'<svg role="img" class="chart" xmlns="http://www.w3.org/2000/svg" width="{w:.1f}pt" height="{h:.1f}pt" '
            f'viewBox="0 0 {w:.1f} {h:.1f}" {FONT}><title>{escape(title)}</title>')


def sparkline(current: Sequence[Any], previous: Sequence[Any] | None, *, title: str, width_in: float,
              height_in: float, ink: str, muted: str) -> Markup:
    """This week solid and dark, last week dotted and grey, on the same hours; a dot on the
    latest value. No axes (a table cell gives the figures in words)."""
    w, h = width_in * 72.0, height_in * 72.0
    left, right, top, bottom = 0.01 * w, 0.99 * w, 0.08 * h, 0.92 * h
    cur = _y_values(current)
    prev = _y_values(previous) if previous is not None else np.zeros(0)
    both = np.concatenate([prev, cur])
    finite = both[np.isfinite(both)]
    peak = float(finite.max()) if finite.size else 1.0
    y1 = peak * 1.12 if peak > 0 else 1.0
    x0, x1 = -1.0, float(max(len(cur), len(prev), 2))

    def px(v: np.ndarray) -> np.ndarray:
        return left + (v - x0) / (x1 - x0) * (right - left)

    def py(v: np.ndarray) -> np.ndarray:
        return bottom - v / y1 * (bottom - top)

    out = [_open(w, h, title)]
    if prev.size:
        out.append(_polyline(px(np.arange(len(prev), dtype=float)), py(prev), ":", muted, 0.9))
    if cur.size:
        out.append(_polyline(px(np.arange(len(cur), dtype=float)), py(cur), "-", ink, 0.9))
        last = float(py(cur[-1:])[0])
        if math.isfinite(last):
            out.append(f'<circle cx="{float(px(np.array([len(cur) - 1.0]))[0]):.1f}" cy="{last:.1f}" r="1.1" fill="{ink}"/>')
    out.append("</svg>")
    return Markup("".join(out))


def weekly(labels: Sequence[str], values: Sequence[Any], *, title: str, kind: str, ink: str, muted: str,
           highlight_last: bool = True, target: float | None = None, target_label: str = "target",
           width_in: float = 2.6, height_in: float = 1.25) -> Markup:
    """Weekly figures as bars (the latest hatched, so it reads without colour) or as a line with
    square markers and an optional dashed target line."""
    w, h = width_in * 72.0, height_in * 72.0
    left, right, top, bottom = 0.16 * w, 0.98 * w, 0.16 * h, 0.78 * h
    vals = _y_values(values)
    n = len(vals)
    finite = vals[np.isfinite(vals)]
    hi = max([float(finite.max()) if finite.size else 0.0] + ([target] if target is not None else []))
    if kind == "bars" or not finite.size:
        lo = 0.0
        ticks = _nice_ticks(lo, hi if hi > lo else lo + 1.0)
        y0, y1 = min(lo, ticks[0]), max(hi * 1.05 if hi > 0 else 1.0, ticks[-1])
    else:  # a line is scaled to its values (and the target), as matplotlib does
        lo = min([float(finite.min())] + ([target] if target is not None else []))
        pad = (hi - lo) * 0.05 or max(abs(hi) * 0.05, 1.0)
        y0, y1 = lo - pad, hi + pad
        ticks = [t for t in _nice_ticks(y0, y1) if y0 <= t <= y1]
    x0, x1 = -0.6, n - 0.4

    def px(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * (right - left)

    def py(v: float) -> float:
        return bottom - (v - y0) / (y1 - y0) * (bottom - top)

    out = [_open(w, h, title), f'<text x="{left:.1f}" y="{top - 4:.1f}" font-size="7.5" fill="{ink}">{escape(title)}</text>',
           f'<path d="M{left:.1f} {top:.1f}V{bottom:.1f}H{right:.1f}" fill="none" stroke="#666666" stroke-width="0.6"/>']
    from perfops.model.format import compact

    for t in ticks:
        if y0 <= t <= y1:
            out.append(f'<text x="{left - 3:.1f}" y="{py(t) + 2.2:.1f}" text-anchor="end" font-size="6.5" '
                       f'fill="#444444">{escape(compact(t))}</text>')
    for i, label in enumerate(labels):
        out.append(f'<text x="{px(i):.1f}" y="{bottom + 8:.1f}" text-anchor="middle" font-size="6.5" '
                   f'fill="#444444">{escape(label)}</text>')
    if kind == "bars":
        half = 0.4 * (right - left) / (x1 - x0)
        for i, v in enumerate(vals):
            if not math.isfinite(v):
                continue
            last = highlight_last and i == n - 1
            fill = "url(#perfops-hatch)" if last else "#c9d3e6"
            out.append(f'<rect x="{px(i) - half:.1f}" y="{min(py(v), py(0)):.1f}" width="{2 * half:.1f}" '
                       f'height="{abs(py(0) - py(v)):.1f}" fill="{fill}" stroke="{ink}" stroke-width="0.5"/>')
        if highlight_last and n:
            out.insert(1, '<defs><pattern id="perfops-hatch" width="4" height="4" patternUnits="userSpaceOnUse" '
                          'patternTransform="rotate(45)"><rect width="4" height="4" fill="#8fa6cf"/>'
                          f'<line x1="0" y1="0" x2="0" y2="4" stroke="{ink}" stroke-width="0.6"/></pattern></defs>')
    else:
        xs = np.array([px(i) for i in range(n)])
        ys = np.array([py(v) if math.isfinite(v) else np.nan for v in vals])
        out.append(_polyline(xs, ys, "-", ink, 1.0))
        out.append(_markers([(a, b) for a, b in zip(xs, ys, strict=True) if math.isfinite(b)], "s", ink))
        if target is not None:
            out.append(f'<line x1="{left:.1f}" y1="{py(target):.1f}" x2="{right:.1f}" y2="{py(target):.1f}" '
                       f'stroke="{muted}" stroke-width="0.8" stroke-dasharray="3,1.5"/><text x="{px(0):.1f}" '
                       f'y="{py(target) - 1.5:.1f}" font-size="6" fill="#555555"> {escape(target_label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
