"""Small inline SVG charts drawn from numbers: lines, scatter points and horizontal bars.

Shared by the offline HTML pages (the model card, the monitoring report); grouped bars for
comparing distributions are in :mod:`forgeml.report.bars`. Every chart has a fixed viewBox,
axes with ticks and labels, and a title. All text is escaped, so labels taken from user
data (column names, categories) cannot inject markup. Non-finite values are left out rather
than drawn.

>>> svg = line_chart([Series("model", [0, 0.5, 1], [0, 0.8, 1])], x_label="FPR",
...                  y_label="TPR", title="ROC <AUC 0.9>", diagonal=True)
>>> svg.startswith("<svg") and "ROC &lt;AUC 0.9&gt;" in svg
True
>>> nice_ticks(0.0, 0.93)
[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["Series", "bar_chart", "line_chart", "nice_ticks", "scatter"]

WIDTH, HEIGHT = 480, 320
TOP, RIGHT, BOTTOM = 30, 16, 44
LEFT = 60
PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed")
MUTED = "#9ca3af"
MAX_POINTS = 2000
BAR_HEIGHT = 18
LEGEND_ROW = 16  # room under the title for a legend laid out in a row
LABEL_CHARS = 26

Range = tuple[float, float]


@dataclass(frozen=True)
class Series:
    """One named line: x and y values, optional point markers and a note beside each point."""

    name: str
    x: Sequence[float]
    y: Sequence[float]
    markers: bool = False
    notes: Sequence[str] = ()
    dashed: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) that cover ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high <= low:
        pad = abs(low) * 0.1 or 0.5
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start = math.floor(low / step + 1e-9) * step
    stop = math.ceil(high / step - 1e-9) * step
    return [round(start + i * step, 12) for i in range(round((stop - start) / step) + 1)]


def line_chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    title: str,
    diagonal: bool | str = False,
    x_range: Range | None = None,
    y_range: Range | None = None,
    legend_above: bool = False,
) -> str:
    """Lines through each series' points; ``diagonal`` adds a dashed y = x reference line.

    A string ``diagonal`` names that line in the legend (for example "chance"). The legend
    sits in the plot's bottom right corner, or with ``legend_above`` in a row above the
    plot, where it cannot cover a line.
    """
    above = legend_above and len(series) + bool(diagonal) > 1
    frame = _Frame([v for s in series for v in s.x], [v for s in series for v in s.y],
                   x_range, y_range, top=TOP + LEGEND_ROW if above else TOP)  # fmt: skip
    parts = frame.axes(x_label, y_label)
    legend: list[tuple[str, str, bool]] = []
    if diagonal:
        low = max(frame.x_range[0], frame.y_range[0])
        high = min(frame.x_range[1], frame.y_range[1])
        parts.append(_el("line", x1=frame.x(low), y1=frame.y(low), x2=frame.x(high),
                         y2=frame.y(high), stroke=MUTED, stroke_dasharray="4 4"))  # fmt: skip
        legend.append((diagonal if isinstance(diagonal, str) else "y = x", MUTED, True))
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        kept = [k for k, (x, y) in enumerate(zip(s.x, s.y, strict=False)) if _ok(x, y)]
        points = [(frame.x(s.x[k]), frame.y(s.y[k])) for k in kept]
        if points:
            path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points)
            dash = {"stroke_dasharray": "6 4"} if s.dashed else {}
            parts.append(_el("path", d=path, fill="none", stroke=color, stroke_width=2, **dash))
        if s.markers:
            parts += [_el("circle", cx=x, cy=y, r=3, fill=color) for x, y in points]
        notes = [(s.notes[k], p) for k, p in zip(kept, points, strict=True) if k < len(s.notes)]
        parts += [_note(x, y + 12, note) for note, (x, y) in notes]
        legend.append((s.name, color, s.dashed))
    if len(legend) > 1:
        parts += _legend_row(legend, frame.left) if above else _legend(legend, frame)
    return _svg(title, frame.height, parts, empty=not frame.has_data)


def scatter(
    x: Sequence[float],
    y: Sequence[float],
    *,
    x_label: str,
    y_label: str,
    title: str,
    zero_line: bool = False,
    highlight: int | None = None,
    max_points: int = MAX_POINTS,
) -> str:
    """Points (evenly thinned to ``max_points``); ``highlight`` marks one point by index."""
    n = min(len(x), len(y))
    rows = range(n) if n <= max_points else _spread(n, max_points)
    pairs = [(x[i], y[i]) for i in rows if _ok(x[i], y[i])]
    xs, ys = [a for a, _ in pairs], [b for _, b in pairs]
    frame = _Frame(xs, ys, _padded(xs), _padded(ys))
    parts = frame.axes(x_label, y_label)
    (x0, x1), (y0, y1) = frame.x_range, frame.y_range
    if zero_line and y0 < 0 < y1:
        parts.append(_el("line", x1=frame.x(x0), x2=frame.x(x1), y1=frame.y(0), y2=frame.y(0),
                         stroke=MUTED, stroke_dasharray="4 4"))  # fmt: skip
    radius = 4 if len(pairs) < 200 else 2.5  # few points may be larger
    parts += [_el("circle", cx=frame.x(a), cy=frame.y(b), r=radius, fill=PALETTE[0],
                  fill_opacity=0.5) for a, b in pairs]  # fmt: skip
    if highlight is not None and 0 <= highlight < n and _ok(x[highlight], y[highlight]):
        hx, hy = frame.x(x[highlight]), frame.y(y[highlight])
        parts.append(_el("circle", cx=hx, cy=hy, r=5, fill=PALETTE[1], stroke="#fff"))
        parts.append(_note(hx, hy - 6, "best"))
    return _svg(title, frame.height, parts, empty=not pairs)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, x_label: str) -> str:
    """Horizontal bars, one per label, from a zero baseline (negative values point left)."""
    pairs = [(str(k), float(v)) for k, v in zip(labels, values, strict=False) if _ok(0.0, v)]
    height, left = TOP + max(len(pairs), 1) * BAR_HEIGHT + BOTTOM, 180
    # From zero, with room beyond the longest bar for its value label.
    reach = [0.0, *(v * 1.15 for _, v in pairs)]
    span = (min(reach), max(reach)) if max(reach) > min(reach) else (0.0, 1.0)
    frame = _Frame([], [], span, (0.0, 1.0), height=height, left=left)
    parts = frame.axes(x_label, "", horizontal_grid=False)
    zero = frame.x(0.0)
    for i, (label, value) in enumerate(pairs):
        top = TOP + i * BAR_HEIGHT + 3
        x, width = min(zero, frame.x(value)), abs(frame.x(value) - zero)
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        parts.append(
            f"<g>{_el('title', f'{label}: {value:.4g}')}"
            + _el("rect", x=x, y=top, width=width, height=BAR_HEIGHT - 6,
                  fill=PALETTE[0] if value >= 0 else MUTED)
            + _el("text", short, x=left - 6, y=top + 10, text_anchor="end")
            + _el("text", f"{value:.3g}", x=x + width + 4, y=top + 10, class_="note")
            + "</g>"
        )  # fmt: skip
    parts.append(_el("line", x1=zero, x2=zero, y1=TOP, y2=height - BOTTOM, stroke="#374151"))
    return _svg(title, height, parts, empty=not pairs)


class _Frame:
    """Maps data coordinates onto the plot area and draws axes, ticks and grid lines."""

    def __init__(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        x_range: Range | None,
        y_range: Range | None,
        *,
        height: int = HEIGHT,
        left: int = LEFT,
        top: int = TOP,
    ) -> None:
        self.has_data = any(_ok(v, 0.0) for v in xs)
        self.height, self.left, self.top = height, left, top
        self.x_ticks, self.y_ticks = _ticks(xs, x_range), _ticks(ys, y_range)
        self.x_range = x_range or (self.x_ticks[0], self.x_ticks[-1])
        self.y_range = y_range or (self.y_ticks[0], self.y_ticks[-1])

    def x(self, value: float) -> float:
        low, high = self.x_range
        return self.left + (value - low) / (high - low) * (WIDTH - RIGHT - self.left)

    def y(self, value: float) -> float:
        low, high = self.y_range
        span = self.height - BOTTOM - self.top
        return self.height - BOTTOM - (value - low) / (high - low) * span

    def axes(self, x_label: str, y_label: str, *, horizontal_grid: bool = True) -> list[str]:
        bottom, right, left, top = self.height - BOTTOM, WIDTH - RIGHT, self.left, self.top
        parts = [_el("rect", x=left, y=top, width=right - left, height=bottom - top,
                     fill="#fff", stroke="#d1d5db")]  # fmt: skip
        for t in self.x_ticks:
            x = self.x(t)
            parts.append(_el("line", x1=x, x2=x, y1=top, y2=bottom, class_="grid"))
            parts.append(_el("text", f"{t:g}", x=x, y=bottom + 14, text_anchor="middle"))
        for t in self.y_ticks if horizontal_grid else []:
            y = self.y(t)
            parts.append(_el("line", x1=left, x2=right, y1=y, y2=y, class_="grid"))
            parts.append(_el("text", f"{t:g}", x=left - 6, y=y + 4, text_anchor="end"))
        middle = (bottom + top) / 2
        parts.append(_el("text", x_label, x=(left + right) / 2, y=self.height - 8,
                         text_anchor="middle", class_="label"))  # fmt: skip
        parts.append(_el("text", y_label, x=14, y=middle, text_anchor="middle", class_="label",
                         transform=f"rotate(-90 14 {middle:.1f})"))  # fmt: skip
        return parts


def _padded(values: Sequence[float]) -> Range | None:
    """The values' range widened by 4% at each end, so no point sits on the frame."""
    if not values:
        return None
    low, high = min(values), max(values)
    pad = 0.04 * (high - low) or abs(low) * 0.1 or 0.5
    return (low - pad, high + pad)


def _ticks(values: Sequence[float], fixed: Range | None) -> list[float]:
    if fixed is not None:
        low, high = fixed
        slack = (high - low) * 1e-9
        return [t for t in nice_ticks(low, high) if low - slack <= t <= high + slack]
    finite = [float(v) for v in values if _ok(v, 0.0)]
    return nice_ticks(min(finite), max(finite)) if finite else [0.0, 1.0]


def _spread(n: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(n)``, the first and the last included."""
    return [round(i * (n - 1) / (count - 1)) for i in range(count)]


def _note(x: float, y: float, text: str) -> str:
    """A small label beside a point, turned to its left near the right edge."""
    if x > WIDTH - RIGHT - 40:
        return _el("text", text, x=x - 5, y=y, text_anchor="end", class_="note")
    return _el("text", text, x=x + 5, y=y, class_="note")


def _legend(entries: Sequence[tuple[str, str, bool]], frame: _Frame) -> list[str]:
    """Bottom right, where ROC and reliability curves leave room."""
    parts, x = [], WIDTH - RIGHT - 150
    for i, (name, color, dashed) in enumerate(entries):
        y = frame.height - BOTTOM - 12 - (len(entries) - 1 - i) * 15
        dash = {"stroke_dasharray": "4 4"} if dashed else {}
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(_el("line", x1=x, x2=x + 20, y1=y, y2=y, stroke=color, stroke_width=2, **dash))
        parts.append(_el("text", short, x=x + 26, y=y + 4))
    return parts


def _legend_row(entries: Sequence[tuple[str, str, bool]], left: float) -> list[str]:
    """Under the title, left to right from the plot's left edge."""
    parts, x, y = [], left, TOP + 8
    for name, color, dashed in entries:
        dash = {"stroke_dasharray": "4 4"} if dashed else {}
        short = name if len(name) <= 30 else name[:29] + "…"
        parts.append(_el("line", x1=x, x2=x + 20, y1=y, y2=y, stroke=color, stroke_width=2, **dash))
        parts.append(_el("text", short, x=x + 26, y=y + 4))
        x += 40 + 6.5 * len(short)
        if x > WIDTH - RIGHT - 40:
            break
    return parts


def _svg(title: str, height: int, parts: Sequence[str], *, empty: bool) -> str:
    if empty:
        parts = [*parts, _el("text", "no data", x=WIDTH / 2, y=height / 2,
                             text_anchor="middle", class_="label")]  # fmt: skip
    # Inline SVG in HTML needs no namespace declaration (and the page names no URL at all).
    return (
        f'<svg viewBox="0 0 {WIDTH} {height}" role="img" class="chart">{_el("title", title)}'
        + _el("text", title, x=WIDTH / 2, y=18, text_anchor="middle", class_="title")
        + "".join(parts)
        + "</svg>"
    )


def _el(tag: str, text: str | None = None, **attributes: object) -> str:
    """One element; ``stroke_width=2`` writes stroke-width="2"; text and values are escaped."""
    written = "".join(
        f' {name.rstrip("_").replace("_", "-")}="{_value(v)}"' for name, v in attributes.items()
    )
    return f"<{tag}{written}/>" if text is None else f"<{tag}{written}>{escape(text)}</{tag}>"


def _value(v: object) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if isinstance(v, float) else escape(str(v))


def _ok(x: object, y: object) -> bool:
    """Both coordinates are finite real numbers."""
    try:
        return math.isfinite(float(x)) and math.isfinite(float(y))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
