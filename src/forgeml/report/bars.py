"""Grouped horizontal bars: several values per label side by side, one colour per group.

Made for comparing distributions over the same bins (the reference's share of rows in each
bin beside the current window's), with the frame, escaping and look of
:mod:`forgeml.report.svg`. Long labels are shortened on the chart and given whole in each
row's tooltip.

>>> chart = grouped_bar_chart(["< 1", "[1, 2)", "≥ 2"],
...                           [("reference", [0.3, 0.4, 0.3]), ("current", [0.1, 0.4, 0.5])],
...                           title="income", x_label="share of rows", percent=True)
>>> chart.count("<rect")  # the plot area, six bars, two legend swatches
9
>>> "income" in chart and "≥ 2: reference 30.0%, current 50.0%" in chart
True
"""

from __future__ import annotations

from collections.abc import Sequence

from forgeml.report.svg import (
    BOTTOM,
    LABEL_CHARS,
    PALETTE,
    TOP,
    WIDTH,
    _el,
    _Frame,
    _ok,
    _svg,
)

__all__ = ["grouped_bar_chart"]

BAR = 7  # thickness of one bar; a label's row holds one bar per group
LEGEND = 16  # room under the title for the legend
LEFT = 180


def grouped_bar_chart(
    labels: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    x_label: str,
    percent: bool = False,
    colors: Sequence[str] = PALETTE,
) -> str:
    """One row per label with a bar per group, from a zero baseline; non-finite values skipped.

    ``groups`` are ``(name, values)`` with one value per label, drawn in ``colors`` in turn;
    ``percent`` shows the values as percentages in the tooltips (the axis keeps numbers).
    """
    rows = [str(label) for label in labels]
    width = max(len(groups), 1) * BAR + 6
    top = TOP + LEGEND
    height = top + max(len(rows), 1) * width + BOTTOM
    values = [float(v) for _, vs in groups for v in vs if _ok(0.0, v)]
    reach = [0.0, *(v * 1.1 for v in values)]
    span = (min(reach), max(reach)) if max(reach) > min(reach) else (0.0, 1.0)
    frame = _Frame([], [], span, (0.0, 1.0), height=height, left=LEFT, top=top)
    parts = frame.axes(x_label, "", horizontal_grid=False)
    zero = frame.x(0.0)
    for i, label in enumerate(rows):
        y = top + i * width + 3
        cells = [(name, vs[i]) for name, vs in groups if i < len(vs)]
        tip = ", ".join(f"{name} {_show(v, percent)}" for name, v in cells)
        bars = []
        for j, (_, value) in enumerate(cells):
            if not _ok(0.0, value):
                continue
            x, length = min(zero, frame.x(value)), abs(frame.x(value) - zero)
            color = colors[j % len(colors)]
            bars.append(_el("rect", x=x, y=y + j * BAR, width=length, height=BAR - 1, fill=color))
        short = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
        middle = y + len(cells) * BAR / 2 + 3
        parts.append(
            f"<g>{_el('title', f'{label}: {tip}')}"
            + "".join(bars)
            + _el("text", short, x=LEFT - 6, y=middle, text_anchor="end")
            + "</g>"
        )
    parts.append(_el("line", x1=zero, x2=zero, y1=top, y2=height - BOTTOM, stroke="#374151"))
    parts += _legend([name for name, _ in groups], colors)
    return _svg(title, height, parts, empty=not values)


def _legend(names: Sequence[str], colors: Sequence[str]) -> list[str]:
    """Swatches in a row under the title, from the plot's left edge."""
    parts, x = [], LEFT
    for j, name in enumerate(names):
        short = name if len(name) <= 22 else name[:21] + "…"
        parts.append(_el("rect", x=x, y=TOP + 2, width=10, height=10, fill=colors[j % len(colors)]))
        parts.append(_el("text", short, x=x + 14, y=TOP + 11))
        x += 24 + 7 * len(short)
        if x > WIDTH - 60:
            break
    return parts


def _show(value: float, percent: bool) -> str:
    if not _ok(0.0, value):
        return "–"
    return f"{value:.1%}" if percent else f"{value:.4g}"
