"""Pieces shared by the UI and the offline HTML pages (model card, monitoring report).

Charts (:mod:`forgeml.report.charts`) are figures holding their numbers, drawn in the browser
by the vendored uPlot (``static/``, with its licence); they escape every text and fetch nothing.
"""
