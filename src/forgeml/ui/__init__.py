"""The web UI: ``forgeml ui`` serves server-rendered pages of a project's store.

Pages are Jinja2 templates rendered on forgeml's own ASGI stack; the only script is a
vendored copy of htmx (``static/``), and every chart is inline SVG, so the UI works offline.
"""

from __future__ import annotations

__all__ = ["UIApp"]


def __getattr__(name: str) -> object:
    if name == "UIApp":
        from forgeml.ui.app import UIApp

        return UIApp
    raise AttributeError(name)
