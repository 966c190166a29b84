"""The model card's inline SVG charts: the shared ones of :mod:`forgeml.report.svg`.

>>> svg = line_chart([Series("model", [0, 1], [0, 1])], x_label="FPR", y_label="TPR",
...                  title="ROC")
>>> svg.startswith("<svg")
True
"""

from forgeml.report.svg import Series, bar_chart, line_chart, nice_ticks, scatter

__all__ = ["Series", "bar_chart", "line_chart", "nice_ticks", "scatter"]
