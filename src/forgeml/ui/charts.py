"""Charts of the UI as inline SVG: parallel coordinates here, lines and scatters from
:mod:`forgeml.report.svg`. Every mark carries a ``<title>`` so hovering shows its value."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from forgeml.report import text
from forgeml.report.svg import Series, line_chart, scatter

__all__ = [
    "Series",
    "heat_colour",
    "line_chart",
    "parallel_coordinates",
    "point_chart",
    "scatter",
    "step_chart",
]

_PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563")


def parallel_coordinates(
    axes: Sequence[str],
    rows: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    width: int = 960,
    height: int = 320,
) -> str:
    """One polyline per row across vertical axes scaled to each column's own range.

    ``rows`` are (label, values in the order of ``axes``); a missing value breaks the line.
    """
    left, right, top, bottom = 60, 60, 40, 40
    if not axes or not rows:
        return _empty(title, width)
    span = (width - left - right) / max(1, len(axes) - 1)
    ranges = []
    for i in range(len(axes)):
        column = [x for _, v in rows if (x := v[i]) is not None and math.isfinite(x)]
        low, high = (min(column), max(column)) if column else (0.0, 1.0)
        ranges.append((low, high if high > low else low + 1.0))

    def y(i: int, value: float) -> float:
        low, high = ranges[i]
        return top + (1.0 - (value - low) / (high - low)) * (height - top - bottom)

    parts = [
        f'<text x="{width / 2}" y="18" text-anchor="middle" class="title">{escape(title)}</text>'
    ]
    for n, (label, values) in enumerate(rows):
        colour = _PALETTE[n % len(_PALETTE)]
        segment: list[str] = []
        pieces: list[list[str]] = [segment]
        for i, value in enumerate(values):
            if value is None or not math.isfinite(value):
                segment = []
                pieces.append(segment)
                continue
            segment.append(f"{left + i * span:.1f},{y(i, value):.1f}")
        hover = escape(
            label
            + ": "
            + ", ".join(f"{a}={text.number(v)}" for a, v in zip(axes, values, strict=True))
        )
        for piece in pieces:
            if len(piece) > 1:
                parts.append(
                    f'<polyline class="pc-line" points="{" ".join(piece)}" fill="none" '
                    f'stroke="{colour}" stroke-opacity="0.6" stroke-width="1.5">'
                    f"<title>{hover}</title></polyline>"
                )
    for i, name in enumerate(axes):
        x = left + i * span
        low, high = ranges[i]
        parts.append(
            f'<line class="pc-axis" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" '
            'stroke="#374151"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
        parts.append(f'<text x="{x + 4:.1f}" y="{top - 4}">{escape(text.number(high))}</text>')
        parts.append(
            f'<text x="{x + 4:.1f}" y="{height - bottom - 4}">{escape(text.number(low))}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart parallel" viewBox="0 0 {width} '
        f'{height}" width="100%" role="img" aria-label="{escape(title)}" font-size="11">'
        + "".join(parts)
        + "</svg>"
    )


def point_chart(
    points: Sequence[tuple[str, float | None, float | None]],
    *,
    x_label: str,
    y_label: str,
    title: str,
    width: int = 640,
    height: int = 320,
) -> str:
    """A scatter of labelled points; hovering a point shows its label and both values."""
    kept = [(label, x, y) for label, x, y in points if _finite(x) and _finite(y)]
    if not kept:
        return _empty(title, width)
    frame = _Box([p[1] for p in kept], [p[2] for p in kept], width, height)  # type: ignore[misc]
    parts = frame.axes(title, x_label, y_label)
    for label, x, y in kept:
        hover = escape(f"{label}: {x_label}={text.number(x)}, {y_label}={text.number(y)}")
        parts.append(
            f'<circle class="point" cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="4" '  # type: ignore[arg-type]
            f'fill="{_PALETTE[0]}" fill-opacity="0.6"><title>{hover}</title></circle>'
        )
    return frame.svg(title, parts)


def step_chart(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    y_label: str,
    title: str,
    width: int = 960,
    height: int = 260,
) -> str:
    """Values per window (x = window index, labelled by ``labels``): a line per series,
    broken where a window has no value, and a marker with its value on hover."""
    values = [v for _, vs in series for v in vs if _finite(v)]
    if not labels or not values:
        return _empty(title, width)
    frame = _Box(
        [0.0, float(max(1, len(labels) - 1))],
        [float(v) for v in values if v is not None],
        width,
        height,
        integer_x=True,
    )
    parts = frame.axes(title, "window", y_label, x_names=labels)
    for n, (name, vs) in enumerate(series):
        colour = _PALETTE[n % len(_PALETTE)]
        run: list[str] = []
        for i, v in enumerate([*vs, None]):
            if _finite(v):
                run.append(f"{frame.x(i):.1f},{frame.y(v):.1f}")  # type: ignore[arg-type]
                continue
            if len(run) > 1:
                parts.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>'
                )
            run = []
        for i, v in enumerate(vs):
            if _finite(v):
                hover = escape(f"{name} · {labels[i]}: {text.number(v)}")
                parts.append(
                    f'<circle class="point" cx="{frame.x(i):.1f}" cy="{frame.y(v):.1f}" r="3" '  # type: ignore[arg-type]
                    f'fill="{colour}"><title>{hover}</title></circle>'
                )
    if len(series) > 1:
        for n, (name, _) in enumerate(series):
            colour = _PALETTE[n % len(_PALETTE)]
            x = 70 + n * 160
            parts.append(f'<rect x="{x}" y="26" width="10" height="10" fill="{colour}"/>')
            parts.append(f'<text x="{x + 14}" y="35">{escape(name[:22])}</text>')
    return frame.svg(title, parts)


class _Box:
    """The plot area of a chart: maps values to pixels and draws the axes with nice ticks."""

    def __init__(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        width: int,
        height: int,
        *,
        integer_x: bool = False,
    ) -> None:
        self.width, self.height = width, height
        self.left, self.right, self.top, self.bottom = 64, 20, 44, 44
        self.x0, self.x1 = _span(xs)
        self.y0, self.y1 = _span(ys)
        self.integer_x = integer_x

    def x(self, value: float) -> float:
        share = (value - self.x0) / (self.x1 - self.x0)
        return self.left + share * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        share = (value - self.y0) / (self.y1 - self.y0)
        return self.height - self.bottom - share * (self.height - self.top - self.bottom)

    def axes(
        self, title: str, x_label: str, y_label: str, x_names: Sequence[str] = ()
    ) -> list[str]:
        from forgeml.report.svg import nice_ticks

        parts = [
            f'<text x="{self.width / 2}" y="16" text-anchor="middle" class="title">'
            f"{escape(title)}</text>",
            f'<line x1="{self.left}" y1="{self.height - self.bottom}" '
            f'x2="{self.width - self.right}" y2="{self.height - self.bottom}" stroke="#9ca3af"/>',
            f'<line x1="{self.left}" y1="{self.top}" x2="{self.left}" '
            f'y2="{self.height - self.bottom}" stroke="#9ca3af"/>',
        ]
        for tick in nice_ticks(self.y0, self.y1, 5):
            if self.y0 <= tick <= self.y1:
                parts.append(
                    f'<text x="{self.left - 6}" y="{self.y(tick) + 4:.1f}" text-anchor="end">'
                    f"{escape(text.number(tick))}</text>"
                )
        if x_names:
            step = max(1, math.ceil(len(x_names) / 8))  # whole windows only, never fractions
            for i in range(0, len(x_names), step):
                parts.append(
                    f'<text x="{self.x(i):.1f}" y="{self.height - self.bottom + 16}" '
                    f'text-anchor="middle">{escape(x_names[i])}</text>'
                )
        else:
            for tick in nice_ticks(self.x0, self.x1, 5):
                if self.x0 <= tick <= self.x1:
                    parts.append(
                        f'<text x="{self.x(tick):.1f}" y="{self.height - self.bottom + 16}" '
                        f'text-anchor="middle">{escape(text.number(tick))}</text>'
                    )
        parts.append(
            f'<text x="{self.width / 2}" y="{self.height - 6}" text-anchor="middle">'
            f"{escape(x_label)}</text>"
        )
        parts.append(
            f'<text transform="translate(14,{self.height / 2}) rotate(-90)" '
            f'text-anchor="middle">{escape(y_label)}</text>'
        )
        return parts

    def svg(self, title: str, parts: list[str]) -> str:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {self.width} '
            f'{self.height}" width="100%" role="img" aria-label="{escape(title)}" '
            'font-size="11">' + "".join(parts) + "</svg>"
        )


def _span(values: Sequence[float]) -> tuple[float, float]:
    finite = [v for v in values if _finite(v)]
    if not finite:
        return 0.0, 1.0
    low, high = min(finite), max(finite)
    if high == low:  # one window, or a flat series: still a visible line
        pad = abs(low) * 0.1 or 1.0
        return low - pad, high + pad
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _finite(value: float | None) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def heat_colour(effect: float | None, drifted: bool) -> str:
    """A cell colour for a per-feature drift effect size (red when the feature drifted)."""
    if effect is None:
        return "#f3f4f6"
    strength = max(0.08, min(1.0, effect * 4))
    hue = "220,38,38" if drifted else "37,99,235"
    return f"rgba({hue},{strength:.2f})"


def _empty(title: str, width: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} 60" '
        f'width="100%" role="img" aria-label="{escape(title)}"><text x="10" y="30">'
        f"{escape(title)}: nothing to draw</text></svg>"
    )
