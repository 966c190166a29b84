"""The web UI: ``forgeml ui`` serves server-rendered pages of a project's store.

Pages are Jinja2 templates rendered on forgeml's own ASGI stack. The scripts are served by
the UI itself: a vendored copy of htmx and the runs page's small script (``static/``), and
the charts' vendored uPlot with the drawer shared with the offline HTML reports
(:mod:`forgeml.report.charts`), so the UI works offline.
"""

from __future__ import annotations

__all__ = ["UIApp"]


def __getattr__(name: str) -> object:
    if name == "UIApp":
        from forgeml.ui.app import UIApp

        return UIApp
    raise AttributeError(name)
