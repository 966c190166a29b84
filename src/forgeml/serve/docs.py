"""``GET /docs``: the interactive API page (Swagger UI, served from its Python package).

The page and its scripts come from the installed ``swagger-ui-bundle`` package, never from a
CDN, so it works offline. The OpenAPI document is written into the page, so a server with an
API key shows it only to callers who sent the key; the scripts and styles under
``/docs/assets/`` hold nothing about the model and need no key.
"""

from __future__ import annotations

import html
import json
from functools import cache
from pathlib import Path
from typing import Any

from forgeml.serve.http import Send, send_bytes
from forgeml.serve.replies import refuse

__all__ = ["ASSETS", "docs_page", "send_asset"]

ASSETS = "/docs/assets/"
_TYPES = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}


@cache
def _asset(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path

    return (Path(swagger_ui_path) / name).read_bytes()


async def send_asset(send: Send, name: str) -> int:
    """One of Swagger UI's files, or 404 (only the files the page uses are served)."""
    kind = _TYPES.get(name)
    if kind is None:
        return await refuse(send, 404, "no such route", "see GET /docs")
    await send_bytes(send, 200, _asset(name), kind, [(b"cache-control", b"max-age=86400")])
    return 200


def _script_json(document: Any) -> str:
    """JSON safe inside a <script> element (no closing tag, no HTML comment can start)."""
    text = json.dumps(document, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def docs_page(document: dict[str, Any]) -> str:
    """The Swagger UI page for ``document``."""
    title = html.escape(str(document["info"]["title"]))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{ASSETS}swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS}favicon-32x32.png"></head>
<body><div id="swagger-ui"></div>
<script src="{ASSETS}swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  spec: {_script_json(document)},
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: true,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout"
}});
</script></body></html>"""
