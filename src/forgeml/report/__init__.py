"""Pieces shared by the offline HTML pages (model card, monitoring report): inline SVG charts.

The charts are plain functions from numbers to SVG text (:mod:`forgeml.report.svg`,
:mod:`forgeml.report.bars`); they escape every text they draw and fetch nothing.
"""
