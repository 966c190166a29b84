"""The charts' data as the pages carry it: gaps where a window has no value, one window still
drawn, time and whole-number axes, and text that cannot break out of its block."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from forgeml.report.charts import (
    Series,
    grouped_bar_chart,
    line_chart,
    parallel_coordinates,
    scatter,
    spec,
    static_file,
)

EVIL = "</script><script>alert(1)</script>"
DAY = datetime(2025, 3, 1, tzinfo=UTC)


def test_a_window_without_a_value_is_a_gap_and_times_are_a_time_axis() -> None:
    starts = [DAY + timedelta(days=i) for i in range(5)]
    drawn = spec(line_chart([Series("drift", starts, [0.1, 0.2, None, math.nan, 0.4])],
                            x_label="window start", y_label="share", title="drift"))  # fmt: skip
    assert drawn["x"]["time"] is True
    assert drawn["series"][0]["x"] == [d.timestamp() for d in starts]
    assert drawn["series"][0]["y"] == [0.1, 0.2, None, None, 0.4]


def test_one_window_is_still_a_chart() -> None:
    drawn = spec(line_chart([Series("auc", [DAY], [0.8])], x_label="t", y_label="auc",
                            title="auc"))  # fmt: skip
    assert drawn["series"][0]["y"] == [0.8] and drawn["kind"] == "line"


def test_steps_and_whole_number_axes_are_declared_for_the_drawer() -> None:
    drawn = spec(line_chart([Series("version", [1, 2, 3], [1, 1, 2], step=True)],
                            x_label="month", y_label="version", title="v",
                            integer_x=True, integer_y=True))  # fmt: skip
    assert drawn["series"][0]["step"] is True
    assert drawn["x"]["integer"] and drawn["y"]["integer"]


def test_user_text_cannot_end_the_data_block_or_open_a_tag() -> None:
    html = parallel_coordinates([EVIL, "b"], [("r1", [1.0, 2.0]), (EVIL, [None, 3.0])],
                                title=EVIL)  # fmt: skip
    assert "<script>alert" not in html and html.count("</script>") == 1
    drawn = spec(html)
    assert drawn["x"]["names"] == [EVIL, "b"] and drawn["series"][1]["name"] == EVIL
    assert drawn["series"][1]["y"] == [None, 3.0]
    bars = grouped_bar_chart(["a", EVIL], [("reference", [0.5, 0.5]), ("now", [0.2, math.inf])],
                             title="t", y_label="share", percent=True)  # fmt: skip
    assert spec(bars)["series"][1]["y"] == [0.2, None] and spec(bars)["y"]["percent"]


def test_scatter_names_its_points_and_marks_the_highlight() -> None:
    drawn = spec(scatter([1.0, None, 2.0], [2.0, 1.0, 3.0], labels=["r1", "r2", "r3"],
                         x_label="x", y_label="y", title="t", highlight=2))  # fmt: skip
    point = drawn["series"][0]
    assert point["x"] == [1.0, 2.0] and point["labels"] == ["r1", "r3"]
    assert drawn["highlight"] == 1  # r3, the second point kept


def test_only_the_vendored_files_are_served() -> None:
    assert static_file("uPlot.iife.min.js").startswith(b"/*! https://github.com/leeoniya/uPlot")
    assert b"MIT" in static_file("uPlot.LICENSE")
    with pytest.raises(ValueError, match="no chart file"):
        static_file("../charts.py")
