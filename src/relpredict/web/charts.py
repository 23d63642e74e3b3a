"""Inline SVG line charts for the pages, drawn on the server (no script): the workflow page's
backtest over time and the model page's reliability diagram. Pure: data in, SVG text out (every
text escaped), styled by app.css like the job page's charts (``svg.chart``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

__all__ = ["Series", "backtest_chart", "line_chart", "reliability_chart"]

WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 520, 220, 56, 42, 12, 120


@dataclass(frozen=True)
class Series:
    """One line: ``points`` are (x, y); a None y leaves a gap. ``cls`` names its CSS class."""

    label: str
    cls: str
    points: Sequence[tuple[float, float | None]]
    dashed: bool = False
    titles: Sequence[str] = field(default_factory=tuple)  # a tooltip per point


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / count))
    for m in (1, 2, 2.5, 5, 10):
        if (hi - lo) / (step * m) <= count:
            step *= m
            break
    first = math.ceil(lo / step - 1e-9) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def line_chart(series: Sequence[Series], x_range: tuple[float, float], y_range: tuple[float, float],
               x_ticks: Sequence[tuple[float, str]], x_label: str, y_label: str, chart_id: str,
               y_format: str = "{:.3g}") -> Markup:
    """An SVG of ``series`` over the ranges, with axes, grid, ticks, labels and a legend."""
    (x0, x1), (y0, y1) = x_range, y_range
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0

    def x(v: float) -> float:
        return LEFT + (v - x0) / span_x * WIDTH

    def y(v: float) -> float:
        return TOP + HEIGHT - (v - y0) / span_y * HEIGHT

    out = [f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {LEFT + WIDTH + RIGHT} '
           f'{TOP + HEIGHT + BOTTOM}" role="img" aria-label="{escape(y_label)} by {escape(x_label)}">']
    for v in _ticks(y0, y1):
        out.append(f'<line class="grid" x1="{LEFT}" x2="{LEFT + WIDTH}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>')
        out.append(f'<text class="tick" x="{LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end">'
                   f'{escape(y_format.format(v))}</text>')
    for v, text in x_ticks:
        out.append(f'<text class="tick" x="{x(v):.1f}" y="{TOP + HEIGHT + 14}" text-anchor="middle">'
                   f'{escape(text)}</text>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + HEIGHT}"/>')
    out.append(f'<line class="axis" x1="{LEFT}" x2="{LEFT + WIDTH}" y1="{TOP + HEIGHT}" y2="{TOP + HEIGHT}"/>')
    for n, s in enumerate(series):
        out.extend(_series(s, x, y))
        ly = TOP + 14 + 16 * n
        out.append(f'<line class="line {escape(s.cls)}" x1="{LEFT + WIDTH + 10}" x2="{LEFT + WIDTH + 28}" '
                   f'y1="{ly - 4}" y2="{ly - 4}"{_dash(s)}/>')
        out.append(f'<text class="legend" x="{LEFT + WIDTH + 32}" y="{ly}">{escape(s.label)}</text>')
    out.append(f'<text class="axis-label" x="{LEFT + WIDTH / 2}" y="{TOP + HEIGHT + 32}" '
               f'text-anchor="middle">{escape(x_label)}</text>')
    mid = TOP + HEIGHT / 2
    out.append(f'<text class="axis-label" x="12" y="{mid}" transform="rotate(-90 12 {mid})" '
               f'text-anchor="middle">{escape(y_label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def _dash(s: Series) -> str:
    return ' stroke-dasharray="5 4"' if s.dashed else ""


def _series(s: Series, fx: Callable[[float], float], fy: Callable[[float], float]) -> list[str]:
    """A polyline per run of present points, and a dot (with its tooltip) per point."""
    out: list[str] = []
    run: list[str] = []
    for i, (px, py) in enumerate([*s.points, (0.0, None)]):
        if py is None or not math.isfinite(py):
            if len(run) > 1:
                out.append(f'<polyline class="line {escape(s.cls)}" fill="none" points="{" ".join(run)}"{_dash(s)}/>')
            run = []
            continue
        run.append(f"{fx(px):.1f},{fy(py):.1f}")
        title = s.titles[i] if i < len(s.titles) else f"{px:.3g}, {py:.3g}"
        out.append(f'<circle class="dot {escape(s.cls)}" cx="{fx(px):.1f}" cy="{fy(py):.1f}" r="3">'
                   f'<title>{escape(title)}</title></circle>')
    return out


def backtest_chart(points: Sequence[dict[str, object]], chart_id: str) -> Markup | None:
    """The realised metric per anchor (model, and the baseline dashed); None without values."""
    values = [p.get(k) for p in points for k in ("value", "baseline_value")]
    found = [float(v) for v in values if isinstance(v, int | float)]
    if not found:
        return None
    lo, hi = min(found), max(found)
    pad = (hi - lo) * 0.1 or 0.05
    metric = next((str(p["metric"]) for p in points if p.get("metric")), "metric")
    dates = [str(p["anchor"])[:10] for p in points]

    def line(key: str) -> list[tuple[float, float | None]]:
        return [(float(i), _num(p.get(key))) for i, p in enumerate(points)]

    titles = [f"{d}: {metric} {_shown(p.get('value'))} (baseline {_shown(p.get('baseline_value'))})"
              for d, p in zip(dates, points, strict=True)]
    series = [Series("model", "model", line("value"), titles=titles),
              Series("best baseline", "baseline", line("baseline_value"), dashed=True, titles=titles)]
    every = max(1, math.ceil(len(points) / 6))
    ticks = [(float(i), d) for i, d in enumerate(dates) if i % every == 0]
    return line_chart(series, (-0.3, len(points) - 0.7), (lo - pad, hi + pad), ticks, "anchor time",
                      metric, chart_id)


def reliability_chart(reliability: dict[str, list[dict[str, float]]], chart_id: str) -> Markup | None:
    """Observed positive rate against the mean predicted probability per bin, one line per split
    (validation, test), over the diagonal of a perfectly calibrated model."""
    names = {"val": "validation", "test": "test", "train": "train"}
    series = [Series("perfect", "diagonal", [(0.0, 0.0), (1.0, 1.0)], dashed=True, titles=("", ""))]
    for split, bins in reliability.items():
        if not bins:
            continue
        titles = [f"{names.get(split, split)} {b['lo']:.1f}-{b['hi']:.1f}: predicted {b['predicted']:.3f}, "
                  f"observed {b['observed']:.3f} ({int(b['count']):,} rows)" for b in bins]
        series.append(Series(names.get(split, split), f"split-{split}",
                             [(b["predicted"], b["observed"]) for b in bins], titles=titles))
    if len(series) == 1:
        return None
    ticks = [(v / 5, f"{v / 5:.1f}") for v in range(6)]
    return line_chart(series, (0.0, 1.0), (0.0, 1.0), ticks, "predicted probability",
                      "observed rate", chart_id, "{:.1f}")


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(float(value)) else None


def _shown(value: object) -> str:
    number = _num(value)
    return "n/a" if number is None else f"{number:.4f}"
