"""The UI's SVG charts: gaps where a window has no value, one window still drawn, whole
window labels only, a hover title on every mark, and escaped text."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from forgeml.ui.charts import parallel_coordinates, point_chart, step_chart

NS = "{http://www.w3.org/2000/svg}"


def test_a_window_without_a_value_breaks_the_line() -> None:
    svg = step_chart(["d1", "d2", "d3", "d4", "d5"], [("drift", [0.1, 0.2, None, 0.3, 0.4])],
                     y_label="share", title="drift")  # fmt: skip
    root = ET.fromstring(svg)
    lines = root.findall(f"{NS}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]
    titles = [t.text for t in root.iter(f"{NS}title")]
    assert titles == ["drift · d1: 0.1", "drift · d2: 0.2", "drift · d4: 0.3", "drift · d5: 0.4"]


def test_one_window_is_a_visible_point_not_an_empty_chart() -> None:
    root = ET.fromstring(step_chart(["d1"], [("auc", [0.8])], y_label="auc", title="auc"))
    assert len(root.findall(f"{NS}circle")) == 1
    assert "nothing to draw" not in ET.tostring(root, encoding="unicode")
    empty = step_chart(["d1"], [("auc", [None])], y_label="auc", title="auc")
    assert "nothing to draw" in empty


def test_window_labels_are_whole_windows() -> None:
    labels = [f"2025-03-{d:02d}" for d in range(1, 31)]
    svg = step_chart(labels, [("x", [float(i) for i in range(30)])], y_label="x", title="x")
    texts = [t.text for t in ET.fromstring(svg).iter(f"{NS}text")]
    shown = [t for t in texts if t and t.startswith("2025-")]
    assert shown and set(shown) <= set(labels) and len(shown) <= 10


def test_parallel_coordinates_and_scatter_escape_and_hover() -> None:
    svg = parallel_coordinates(["<a>", "b"], [("r1", [1.0, 2.0]), ("r2", [None, 3.0])],
                               title="<script>")  # fmt: skip
    root = ET.fromstring(svg)  # well-formed: every name escaped
    assert len(root.findall(f"{NS}polyline")) == 1  # r2 has one value: no line to draw
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    points = point_chart([("r1", 1.0, 2.0), ("r2", None, 1.0), ("r3", 2.0, 3.0)],
                         x_label="x", y_label="y", title="t")  # fmt: skip
    assert len(re.findall(r'class="point"', points)) == 2
