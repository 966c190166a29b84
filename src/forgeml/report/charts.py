"""Charts for the UI and the offline HTML pages, drawn in the browser by the vendored uPlot.

Each function turns numbers into a ``<figure class="fm-chart">`` holding the chart's title and
its data as JSON; ``static/charts.js`` draws every such figure (the UI serves it, and
:func:`inline_assets` writes it into an offline page, which then needs no other file). Hovering
a chart shows the values under the cursor. Non-finite values are sent as gaps. The JSON is
written so that no string taken from user data can end its block or inject markup.

>>> html = line_chart([Series("model", [0, 0.5, 1], [0, 0.8, 1])], x_label="FPR",
...                   y_label="TPR", title="ROC <AUC 0.9>", diagonal="chance")
>>> 'data-kind="line"' in html and "ROC &lt;AUC 0.9&gt;" in html and "<AUC" not in html
True
>>> spec(html)["references"][0]["name"]
'chance'
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from base64 import b64encode
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import orjson
from markupsafe import Markup, escape

__all__ = [
    "Series",
    "bar_chart",
    "grouped_bar_chart",
    "inline_assets",
    "line_chart",
    "parallel_coordinates",
    "scatter",
    "script_hashes",
    "spec",
    "static_file",
]

MAX_POINTS = 2000
STATIC_FILES = ("uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE", "charts.js")
Range = tuple[float, float]
_DATA = re.compile(r'<script type="application/json" class="fm-data">(.*?)</script>', re.S)


@dataclass(frozen=True)
class Series:
    """One named line: x and y values, optional point markers and a note beside each value.

    ``x`` may hold datetimes (a time axis); ``step`` draws a value that holds until the next
    one (a model version), rather than a slope between them.
    """

    name: str
    x: Sequence[float] | Sequence[datetime]
    y: Sequence[float | None]
    markers: bool = False
    notes: Sequence[str] = ()
    dashed: bool = False
    step: bool = False


def line_chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    title: str,
    diagonal: bool | str = False,
    baseline: tuple[str, float] | None = None,
    x_range: Range | None = None,
    y_range: Range | None = None,
    x_names: Sequence[str] = (),
    integer_x: bool = False,
    integer_y: bool = False,
    percent: bool = False,
) -> Markup:
    """Lines through each series' points, broken where a value is missing.

    ``diagonal`` adds a dashed y = x reference line (a string names it, e.g. "chance");
    ``baseline`` a dashed horizontal line (name, value). ``x_names`` labels whole-number x
    values (window 0, 1, ...); ``integer_x`` and ``integer_y`` keep an axis' ticks on whole
    numbers (steps, months, versions).
    """
    time = any(isinstance(v, datetime) for s in series for v in s.x)
    drawn = [_series(s) for s in series]
    xs = [v for s in drawn for v in s["x"] if v is not None]
    references = []
    if diagonal:
        low, high = x_range or ((min(xs), max(xs)) if xs else (0.0, 1.0))
        name = diagonal if isinstance(diagonal, str) else "y = x"
        references.append({"name": name, "x": [low, high], "y": [low, high]})
    if baseline is not None and xs:
        low, high = x_range or (min(xs), max(xs))
        references.append({"name": baseline[0], "x": [low, high], "y": [baseline[1]] * 2})
    return _figure(
        "line",
        title,
        {
            "x": _axis(x_label, x_range, time=time, names=x_names, integer=integer_x),
            "y": _axis(y_label, y_range, integer=integer_y, percent=percent),
            "series": drawn,
            "references": references,
        },
    )


def scatter(
    x: Sequence[float | None],
    y: Sequence[float | None],
    *,
    x_label: str,
    y_label: str,
    title: str,
    labels: Sequence[str] = (),
    zero_line: bool = False,
    highlight: int | None = None,
    max_points: int = MAX_POINTS,
) -> Markup:
    """Points (evenly thinned to ``max_points``), each named by ``labels`` on hover;
    ``highlight`` marks one point by index, ``zero_line`` draws y = 0."""
    n = min(len(x), len(y))
    rows = [
        i
        for i in (range(n) if n <= max_points else _spread(n, max_points))
        if _finite(x[i]) and _finite(y[i])
    ]
    xs = [float(x[i]) for i in rows]  # type: ignore[arg-type]
    mark = rows.index(highlight) if highlight in rows else None
    point = {"name": y_label, "x": xs, "y": [float(y[i]) for i in rows]}  # type: ignore[arg-type]
    if labels:
        point["labels"] = [str(labels[i]) for i in rows]
    references = []
    if zero_line and xs:
        references.append({"name": "0", "x": [min(xs), max(xs)], "y": [0.0, 0.0]})
    return _figure(
        "scatter",
        title,
        {
            "x": _axis(x_label, None),
            "y": _axis(y_label, None),
            "series": [point],
            "references": references,
            "highlight": mark,
        },
    )


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, title: str, y_label: str
) -> Markup:
    """One bar per label from a zero baseline (a histogram, an importance ranking)."""
    return grouped_bar_chart(labels, [(y_label, values)], title=title, y_label=y_label)


def grouped_bar_chart(
    labels: Sequence[str],
    groups: Sequence[tuple[str, Sequence[float]]],
    *,
    title: str,
    y_label: str,
    percent: bool = False,
    colors: Sequence[str] = (),
) -> Markup:
    """A bar per group beside each label (e.g. the reference's share of rows in each bin
    beside the current window's); ``percent`` shows values as percentages, ``colors``
    (CSS colours) replace the palette's, one per group."""
    names = [str(label) for label in labels]
    series = [
        {
            "name": name,
            "x": list(range(len(names))),
            "y": [_number(v) for v in values],
            "colour": colors[n % len(colors)] if colors else None,
        }
        for n, (name, values) in enumerate(groups)
    ]
    return _figure(
        "bars",
        title,
        {
            "x": _axis("", None, names=names),
            "y": _axis(y_label, None, percent=percent),
            "series": series,
            "references": [],
        },
    )


def parallel_coordinates(
    axes: Sequence[str], rows: Sequence[tuple[str, Sequence[float | None]]], *, title: str
) -> Markup:
    """One line per row across vertical axes, each scaled to its column's own range.

    ``rows`` are (label, values in the order of ``axes``); a missing value breaks the line.
    """
    series = [{"name": label, "y": [_number(v) for v in values]} for label, values in rows]
    return _figure(
        "parallel",
        title,
        {
            "x": _axis("", None, names=list(axes)),
            "y": _axis("", None),
            "series": series,
            "references": [],
        },
    )


def spec(html: str) -> dict[str, Any]:
    """The data of the first chart in ``html`` (for tests and tools reading a page)."""
    found = _DATA.search(html)
    if found is None:
        raise ValueError('no chart in this HTML: look for a <figure class="fm-chart">')
    result: dict[str, Any] = orjson.loads(found.group(1))
    return result


def inline_assets() -> Markup:
    """uPlot's style and script and the chart drawer, for a page that must stand alone."""
    scripts = "".join(f"<script>{s}</script>" for s in _inline_scripts())
    return Markup(f"<style>{_text('uPlot.min.css')}{_FIGURE_CSS}</style>{scripts}")


def script_hashes() -> bytes:
    """CSP sources that allow exactly the inlined scripts of :func:`inline_assets`."""
    return b" ".join(
        b"'sha256-" + b64encode(hashlib.sha256(s.encode()).digest()) + b"'"
        for s in _inline_scripts()
    )


@functools.cache
def _inline_scripts() -> tuple[str, str]:
    # The page names no address at all, so uPlot's banner (a link) gives way to its notice.
    library = _text("uPlot.iife.min.js")
    banner = library[: library.index("*/") + 2]
    version = re.search(r"uPlot \(v([\d.]+)\)", banner)
    if version is None:
        raise ValueError("the vendored uPlot file does not start with its banner")
    notice = f"/*! uPlot v{version.group(1)}, MIT licence, (c) 2022 Leon Sorokin */"
    return notice + library[len(banner) :], _text("charts.js")


@functools.cache
def static_file(name: str) -> bytes:
    """The bytes of one of :data:`STATIC_FILES` (the UI serves them under ``/static/``)."""
    if name not in STATIC_FILES:
        raise ValueError(f"no chart file {name!r}: use one of {', '.join(STATIC_FILES)}")
    return (resources.files("forgeml.report") / "static" / name).read_bytes()


_FIGURE_CSS = (
    ".fm-chart{margin:0 0 12px}.fm-chart figcaption{font-weight:600;font-size:13px;"
    "margin:0 0 4px}.fm-hover{font-size:12px;min-height:1.3em;color:#374151}"
)


def _text(name: str) -> str:
    return static_file(name).decode()


def _figure(kind: str, title: str, body: dict[str, Any]) -> Markup:
    data = orjson.dumps({"kind": kind, "title": title, **body}).decode()
    # "<", ">" and "&" as JSON escapes: the text can neither end the block nor open a tag
    safe = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(
        f'<figure class="fm-chart" data-kind="{kind}"><figcaption>{escape(title)}</figcaption>'
        f'<div class="fm-plot"></div><script type="application/json" class="fm-data">{safe}'
        "</script></figure>"
    )


def _axis(
    label: str,
    span: Range | None,
    *,
    time: bool = False,
    names: Sequence[str] = (),
    integer: bool = False,
    percent: bool = False,
) -> dict[str, Any]:
    return {
        "label": label,
        "range": list(span) if span else None,
        "time": time,
        "names": list(names) or None,
        "integer": integer,
        "percent": percent,
    }


def _series(s: Series) -> dict[str, Any]:
    xs = [v.timestamp() if isinstance(v, datetime) else _number(v) for v in s.x]
    kept = [i for i in range(min(len(xs), len(s.y))) if xs[i] is not None]
    return {
        "name": s.name,
        "x": [xs[i] for i in kept],
        "y": [_number(s.y[i]) for i in kept],
        "markers": s.markers,
        "notes": [str(s.notes[i]) for i in kept if i < len(s.notes)] or None,
        "dashed": s.dashed,
        "step": s.step,
    }


def _spread(n: int, count: int) -> list[int]:
    """``count`` indices spread evenly over ``range(n)``, the first and the last included."""
    return [round(i * (n - 1) / (count - 1)) for i in range(count)]


def _number(value: object) -> float | None:
    return float(value) if _finite(value) else None  # type: ignore[arg-type]


def _finite(value: object) -> bool:
    try:
        return value is not None and math.isfinite(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
