"""Server-rendered SVG charts: bars and lines over periods, with axes, labels and a legend.

No JavaScript and nothing fetched: the page holds the whole chart. Bars use the left axis; lines
use the right one when there are bars too (their scales differ: revenue and orders), else the
left. Values that are None (nothing counted) leave a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

COLOURS = ("#417690", "#e0a030", "#79aec8", "#c0504d", "#5b9b5b", "#8064a2")
WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 64, 40, 56
MAX_LABELS = 12


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[Any]
    kind: str = "bar"  # or "line"


def nice_top(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^n at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover


def _number(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1000:g}k"
    return f"{value:g}"


def _float(value: Any) -> float | None:
    if value is None:
        return None
    return float(value) if isinstance(value, Decimal | int | float) else None


def _axis(top: float, x: float, anchor: str, dx: int) -> list[str]:
    parts = []
    plot_h = HEIGHT - TOP - BOTTOM
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(
            f'<text x="{x + dx}" y="{y + 4:.1f}" text-anchor="{anchor}" class="tick">'
            f"{escape(_number(value))}</text>"
        )
    return parts


def _x_labels(labels: Sequence[str], slot: float) -> list[str]:
    """At most MAX_LABELS period labels under the plot, evenly spread."""
    parts = []
    every = max(1, math.ceil(len(labels) / MAX_LABELS))
    for i, label in enumerate(labels):
        if i % every:
            continue
        x = LEFT + slot * (i + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" class="label">'
            f"{escape(label)}</text>"
        )
    return parts


def _legend(bars: Sequence[Series], lines: Sequence[Series]) -> list[str]:
    """A swatch and the label of each series, along the top."""
    parts = []
    x = LEFT
    for k, s in enumerate([*bars, *lines]):
        colour = COLOURS[k % len(COLOURS)]
        mark = (
            f'<rect x="{x}" y="14" width="12" height="12" fill="{colour}"/>'
            if s.kind == "bar"
            else f'<line x1="{x}" x2="{x + 12}" y1="20" y2="20" stroke="{colour}" '
            f'stroke-width="2"/>'
        )
        suffix = " (right axis)" if s.kind == "line" and bars else ""
        text = escape(s.label + suffix)
        parts.append(f'{mark}<text x="{x + 16}" y="24" class="legend">{text}</text>')
        x += 28 + 7 * len(s.label + suffix)
    return parts


def svg_chart(labels: Sequence[str], series: Sequence[Series], *, title: str = "") -> SafeString:
    """An SVG of `series` over `labels` (one value per label each)."""
    n = max(1, len(labels))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    bars = [s for s in series if s.kind == "bar"]
    lines = [s for s in series if s.kind == "line"]

    def top_of(group: Sequence[Series]) -> float:
        values = [v for s in group for v in map(_float, s.values) if v is not None]
        return nice_top(max(values, default=0))

    left_top = top_of(bars or lines)
    right_top = top_of(lines) if bars and lines else left_top
    slot = plot_w / n
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'class="report-chart" role="img" aria-label="{escape(title)}">',
        "<style>.tick,.label,.legend{font:11px sans-serif;fill:#555}"
        ".grid{stroke:#e5e5e5}.axis{stroke:#999}</style>",
    ]
    for i in range(5):  # grid lines
        y = HEIGHT - BOTTOM - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" class="axis"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{HEIGHT - BOTTOM}" '
        f'y2="{HEIGHT - BOTTOM}" class="axis"/>'
    )
    parts += _axis(left_top, LEFT, "end", -6)
    if bars and lines:
        parts += _axis(right_top, WIDTH - RIGHT, "start", 6)
    bar_w = slot * 0.8 / max(1, len(bars))
    for b, s in enumerate(bars):
        colour = COLOURS[b % len(COLOURS)]
        for i, value in enumerate(s.values):
            v = _float(value)
            if not v or v < 0:
                continue
            h = plot_h * v / left_top
            x = LEFT + slot * i + slot * 0.1 + bar_w * b
            parts.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{max(bar_w - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{escape(labels[i])}: '
                f"{escape(str(value))}</title></rect>"
            )
    for k, s in enumerate(lines):
        colour = COLOURS[(len(bars) + k) % len(COLOURS)]
        points = [
            (LEFT + slot * (i + 0.5), HEIGHT - BOTTOM - plot_h * v / right_top)
            for i, v in enumerate(map(_float, s.values))
            if v is not None
        ]
        if len(points) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in points]
    parts += _x_labels(labels, slot)
    parts += _legend(bars, lines)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # every text above is escaped
