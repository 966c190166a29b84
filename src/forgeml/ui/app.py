"""The ASGI application behind ``forgeml ui``.

Routes (all GET unless marked)::

    /                                   models with their champion, alerts, last cycle
    /datasets, /datasets/{name}         datasets; versions, schema, column profiles
    /runs                               runs: filter, sort, column chooser, keyset pages
    /runs/compare?ids=a,b,...           parallel coordinates, scatter, curves, differences
    /runs/{id}                          params, metrics, curves, artifacts, lineage
    /models, /models/{name}             versions, aliases, audit trail, rollouts, actions
    /models/{name}/versions/{v}         one version: metrics, lineage, gate, card
    /models/{name}/versions/{v}/card    the model card (sandboxed HTML)
    /models/{name}/monitoring           drift, performance and quality over time
    POST /models/{name}/actions/{act}   promote, rollback, rollout-start, rollout-stop
    /static/{file}                      the vendored scripts (htmx, uPlot), chart drawer, style
    /reports/{file}                     the HTML reports in the project folder (sandboxed)
    /health                             {"status": "ok"}

Pages are rendered in a worker thread (the store is synchronous); user strings are escaped
by the templates; pages load nothing from another host.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

import jinja2

from forgeml.errors import ForgemlError, NotFound
from forgeml.project import Project
from forgeml.report import charts, text
from forgeml.serve.http import BodyTooLarge, ClientGone, Receive, Scope, Send, read_body, send_bytes
from forgeml.serve.origins import cross_site
from forgeml.ui import views
from forgeml.ui.actions import ACTIONS, ActionRefused, run_action

__all__ = ["UIApp"]

log = logging.getLogger("forgeml.ui")
HTML = b"text/html; charset=utf-8"
STATIC = {
    "htmx.min.js": b"text/javascript; charset=utf-8",
    "htmx.LICENSE": b"text/plain; charset=utf-8",
    "ui.css": b"text/css; charset=utf-8",
    "runs.js": b"text/javascript; charset=utf-8",
}
CHART_FILES = {  # uPlot and the chart drawer, shared with the offline HTML pages
    "uPlot.iife.min.js": b"text/javascript; charset=utf-8",
    "uPlot.min.css": b"text/css; charset=utf-8",
    "uPlot.LICENSE": b"text/plain; charset=utf-8",
    "charts.js": b"text/javascript; charset=utf-8",
}
MAX_FORM = 64 * 1024
_CSP = (
    b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    b"img-src 'self' data:; frame-ancestors 'self'; form-action 'self'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", _CSP),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would send "Origin: null"
    (b"cache-control", b"no-store"),
]
# Cards and reports run in a sandbox of their own origin: no request anywhere, and no script
# but the chart scripts they inline (allowed by their exact hashes).
_SANDBOXED = [
    (
        b"content-security-policy",
        b"sandbox allow-scripts; default-src 'none'; style-src 'unsafe-inline'; "
        b"img-src data:; script-src " + charts.script_hashes(),
    ),
    *_HEADERS[1:],
]
_ROUTES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"/"), "home"),
    (re.compile(r"/datasets"), "datasets"),
    (re.compile(r"/datasets/(?P<name>[^/]+)"), "dataset"),
    (re.compile(r"/runs"), "runs"),
    (re.compile(r"/runs/compare"), "compare"),
    (re.compile(r"/runs/(?P<run_id>[^/]+)"), "run"),
    (re.compile(r"/models"), "models"),
    (re.compile(r"/models/(?P<name>[^/]+)"), "model"),
    (re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<number>\d{1,9})"), "version"),
    (re.compile(r"/models/(?P<name>[^/]+)/monitoring"), "monitoring"),
]
_CARD = re.compile(r"/models/(?P<name>[^/]+)/versions/(?P<number>\d{1,9})/card")
_ACTION = re.compile(r"/models/(?P<name>[^/]+)/actions/(?P<action>[a-z\-]+)")


class UIApp:
    """An ASGI app showing one project's store; actions need ``admin_key``."""

    def __init__(self, project: Project, *, admin_key: str | None = None) -> None:
        self.project = project
        self.admin_key = admin_key or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await asyncio.to_thread(self.project.close)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        try:
            await self._route(scope, receive, send)
        except ClientGone:
            return
        except Exception:
            log.exception("page %s failed", str(scope.get("path", ""))[:100])
            await self._error(send, 500, "internal error", "see the UI server's log")

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        # route on the raw path, so a name holding an encoded "/" stays one segment
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else quote(scope["path"], safe="/")
        method: str = scope["method"]
        params = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if path.startswith("/static/"):
            await self._static(send, unquote(path[len("/static/") :]))
            return
        if path.startswith("/reports/"):
            await self._report(send, unquote(path[len("/reports/") :]))
            return
        if path == "/health":
            await send_bytes(send, 200, b'{"status":"ok"}')
            return
        action = _ACTION.fullmatch(path)
        if action is not None:
            if method != "POST":
                await self._error(send, 405, "actions are POSTed by the model page's forms", "")
                return
            await self._action(scope, receive, send, unquote(action["name"]), action["action"])
            return
        if method not in ("GET", "HEAD"):
            await self._error(send, 405, "this page is read-only", "use GET")
            return
        card = _CARD.fullmatch(path)
        if card is not None:
            await self._card(send, unquote(card["name"]), int(card["number"]))
            return
        for pattern, name in _ROUTES:
            match = pattern.fullmatch(path)
            if match is not None:
                args = {k: unquote(v) for k, v in match.groupdict().items()}
                await self._page(send, name, params, args)
                return
        await self._error(
            send, 404, f"no page at {unquote(path)[:200]}", "start from the home page: /"
        )

    async def _page(
        self, send: Send, name: str, params: dict[str, str], args: dict[str, str]
    ) -> None:
        view: Callable[..., views.Page] = views.PAGES[name]  # type: ignore[assignment]
        extra: dict[str, Any] = dict(args)
        if "number" in extra:
            extra["number"] = int(extra["number"])
        if name == "model":
            extra["actions"] = self.admin_key is not None
        try:
            template, context = await asyncio.to_thread(view, self.project, params, **extra)
        except NotFound as error:
            await self._error(send, 404, error.message, error.fix or "")
            return
        except ForgemlError as error:
            await self._error(send, 400, error.message, error.fix or "")
            return
        if context.get("partial"):
            template = "runs_rows.html"
        body = _environment().get_template(template).render(page=name, **context)
        await send_bytes(send, 200, body.encode(), HTML, _HEADERS)

    async def _action(
        self, scope: Scope, receive: Receive, send: Send, model: str, action: str
    ) -> None:
        if action not in ACTIONS:
            await self._error(send, 404, f"no action {action!r}", "use " + ", ".join(ACTIONS))
            return
        if cross_site(scope, ()):
            await self._error(send, 403, "actions from another site's page are refused", "")
            return
        try:
            body = await read_body(scope, receive, MAX_FORM)
        except BodyTooLarge:
            await self._error(send, 413, "the form is too large", "")
            return
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            done = await asyncio.to_thread(
                run_action, self.project, model, action, form, self.admin_key
            )
        except ActionRefused as error:
            await self._error(send, error.status, error.message, error.fix or "")
            return
        except NotFound as error:
            await self._error(send, 404, error.message, error.fix or "")
            return
        except ForgemlError as error:
            await self._error(send, 422, error.message, error.fix or "")
            return
        where = f"/models/{quote(model, safe='')}?done={quote(done)}"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [(b"location", where.encode()), (b"content-length", b"0"), *_HEADERS],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    async def _card(self, send: Send, name: str, number: int) -> None:
        from forgeml.training.report import model_card

        try:
            html = await asyncio.to_thread(model_card, f"{name}@{number}", project=self.project)
        except ForgemlError as error:
            await self._error(send, 404, error.message, error.fix or "")
            return
        await send_bytes(send, 200, html.encode(), HTML, _SANDBOXED)

    async def _static(self, send: Send, name: str) -> None:
        kind = STATIC.get(name) or CHART_FILES.get(name)
        if kind is None:
            await self._error(send, 404, "no such file", "")
            return
        data = charts.static_file(name) if name in CHART_FILES else _static_bytes(name)
        await send_bytes(send, 200, data, kind, [(b"cache-control", b"max-age=3600")])

    async def _report(self, send: Send, name: str) -> None:
        if name not in views.report_files(self.project):  # names listed, never paths
            await self._error(send, 404, "no such report", "see the monitoring page's links")
            return
        data = await asyncio.to_thread((self.project.root / name).read_bytes)
        await send_bytes(send, 200, data, HTML, _SANDBOXED)

    async def _error(self, send: Send, status: int, message: str, fix: str) -> None:
        body = (
            _environment()
            .get_template("error.html")
            .render(page="error", status=status, message=message, fix=fix)
        )
        await send_bytes(send, status, body.encode(), HTML, _HEADERS)


@functools.cache
def _static_bytes(name: str) -> bytes:
    return (resources.files("forgeml.ui") / "static" / name).read_bytes()


@functools.cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("forgeml.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = text.number
    env.filters["pct"] = text.percent
    env.filters["q"] = lambda value: quote(str(value), safe="")
    return env
