"""The ASGI application behind ``forgeml serve``.

Routes::

    POST /predict          one record, a list of records, {"records": [...]} or {"columns": {...}}
    POST /feedback         {"request_id": ..., "label": ...}, or a list of them
    GET  /health           the process is alive
    GET  /ready            a model version has answered the example rows
    GET  /model            name, version, signature, rollout
    GET  /metrics          Prometheus text
    GET  /openapi.json     the API, with this model's input schema; GET /docs renders it
    POST /invocations      MLflow's scoring protocol (JSON or CSV); GET /ping, GET /version
    GET|POST /v2/...       the Open Inference Protocol (KServe V2 REST): health, metadata, infer
    POST /admin/reload     re-read the alias and rollout now           (admin key)
    GET  /admin/rollout    the active rollout                         (admin key)
    POST /admin/rollout    start or end a shadow or canary            (admin key)

Every error is JSON with a 4xx/5xx status, naming the field and the expected type; the
caller's input is never echoed back and no stack trace leaves the process. A request is
answered first; its prediction is then handed to the prediction log (buffered, written in
the background) and, in a shadow rollout, scored by the challenger.
"""

from __future__ import annotations

import asyncio
import gc
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from forgeml.errors import ForgemlError, InputRejected
from forgeml.serve.admin import AdminRoutes
from forgeml.serve.deployment import Deployment, Serving
from forgeml.serve.docs import ASSETS, docs_page, send_asset
from forgeml.serve.example import request_example, training_profile
from forgeml.serve.http import (
    BodyTooLarge,
    ClientGone,
    Receive,
    Scope,
    Send,
    header,
    read_body,
    send_bytes,
    send_json,
)
from forgeml.serve.inputs import Batch
from forgeml.serve.labels import LabelBook, feedback_items
from forgeml.serve.logschema import input_columns
from forgeml.serve.metrics import ServingMetrics
from forgeml.serve.microbatch import MicroBatcher
from forgeml.serve.openapi import openapi_document
from forgeml.serve.options import ServeOptions
from forgeml.serve.origins import cross_site, is_json
from forgeml.serve.predlog import PredictionLog
from forgeml.serve.protocols.routes import ProtocolRoutes, metric_path
from forgeml.serve.ratelimit import RateLimit
from forgeml.serve.replies import (
    KEY_FIX,
    ORIGIN_FIX,
    REQUEST_ID,
    describe,
    has_key,
    json_fix,
    new_request_id,
    refuse,
    reply,
    response,
    routing_key,
)
from forgeml.serve.scoring import Scored, Scorer

__all__ = ["ModelServer", "ServeOptions"]

log = logging.getLogger("forgeml.serve")
_PROBES = frozenset({"/health", "/ready", "/ping", "/v2/health/live", "/v2/health/ready"})
_KEYED = frozenset({"/model", "/openapi.json", "/docs"})  # they show training statistics
Handler = Callable[[Scope, Receive, Send], Awaitable[int]]


@dataclass(frozen=True)
class Answer:
    """One scored request: who answered (version, arm), its checked rows and the outputs."""

    scorer: Scorer
    arm: str
    batch: Batch
    scored: Scored
    ids: list[str]
    payload: Any
    columnar: bool


class ModelServer(AdminRoutes, ProtocolRoutes):
    """An ASGI app serving one model's deployment."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        options: ServeOptions | None = None,
        prediction_log: PredictionLog | None = None,
    ) -> None:
        self.deployment = deployment
        self.options = options or ServeOptions()
        self.log = prediction_log
        self.metrics = ServingMetrics()
        self.labels = LabelBook()
        self.batcher: MicroBatcher | None = None
        if self.options.max_batch > 1:
            self.batcher = MicroBatcher(
                max_batch=self.options.max_batch, max_wait=self.options.max_wait_ms / 1000.0
            )
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/predict"): self._predict,
            ("POST", "/feedback"): self._feedback,
            ("GET", "/health"): self._health,
            ("GET", "/ready"): self._ready,
            ("GET", "/model"): self._model,
            ("GET", "/metrics"): self._metrics,
            ("GET", "/openapi.json"): self._openapi,
            ("GET", "/docs"): self._docs,
            ("POST", "/admin/reload"): self._reload,
            ("GET", "/admin/rollout"): self._rollout,
            ("POST", "/admin/rollout"): self._change_rollout,
            ("POST", "/invocations"): self._invocations,
            ("GET", "/ping"): self._ping,
            ("GET", "/version"): self._version,
        }
        self._probes = _PROBES  # never rate limited: orchestrators poll them
        self._timed = {"/predict", "/invocations"}  # these count their own requests
        profile = self.options.profile
        if profile is not None:
            health = self._healthy if profile.predict_format == "azureml" else self._ping
            self._routes[("GET", profile.health_route)] = health
            self._routes[("POST", profile.predict_route)] = self._platform_predict
            self._probes = _PROBES | {profile.health_route}
            self._timed.add(profile.predict_route)
        self._paths = {path for _, path in self._routes}
        self._examples: dict[int, dict[str, Any]] = {}
        self.rate_limit = (
            RateLimit(self.options.rate_limit, self.options.rate_burst)
            if self.options.rate_limit
            else None
        )
        deployment.on_switch = self._switched
        if deployment.serving is not None:
            self._switched(deployment.serving)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        try:
            status = 0 if path in self._probes else await self._limited(scope, send)
            if not status:
                status = await self._route(scope, receive, send)
        except ClientGone:
            status = 408
        except Exception:
            log.exception("request to %s failed", path[:100])
            status = await refuse(send, 500, "internal error", "see the server's log")
        if path not in self._timed:
            label = path if path in self._paths else None
            if label is None:
                if path.endswith("/infer") and path.startswith("/v2/") and status != 404:
                    return  # counted with its latency
                label = metric_path(path) or "other"
            self.metrics.request(label, status)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> int:
        """The route's answer; errors name nothing the client sent."""
        path, method = scope["path"], scope["method"]
        handler = self._routes.get((method, path))
        if handler is not None:
            if path in _KEYED and not self._authorised(scope):
                return await refuse(send, 401, "a valid API key is required", KEY_FIX)
            return await handler(scope, receive, send)
        if path in self._paths:
            allowed = ", ".join(sorted(m for m, p in self._routes if p == path))
            return await reply(
                send,
                405,
                {"error": "this method is not allowed here", "fix": f"use {allowed}"},
                [(b"allow", allowed.encode())],
            )
        if path == "/v2" or path.startswith("/v2/"):
            return await self._oip(scope, receive, send)
        if method == "GET" and path.startswith(ASSETS):
            return await send_asset(send, path[len(ASSETS) :])
        return await refuse(send, 404, "no such route", "see GET /docs")

    def _authorised(self, scope: Scope) -> bool:
        return not self.options.api_key or has_key(scope, self.options.api_key)

    async def _limited(self, scope: Scope, send: Send) -> int:
        """429 when the client is over its rate limit (and say when to retry), else 0."""
        if self.rate_limit is None:
            return 0
        client = str((scope.get("client") or ("",))[0]).encode()
        wait = self.rate_limit.wait(client)
        if not wait:
            return 0
        return await reply(
            send,
            429,
            {"error": "too many requests", "fix": "slow down and retry after Retry-After seconds"},
            [(b"retry-after", RateLimit.retry_after(wait))],
        )

    # ---- lifecycle -------------------------------------------------------------------

    def _switched(self, serving: Serving) -> None:
        """Log every input of the versions now served (a new version may add columns)."""
        if self.log is None:
            return
        inputs = {c["name"]: c for c in serving.champion.schema.inputs}
        if serving.challenger is not None:
            for column in serving.challenger.schema.inputs:
                inputs.setdefault(column["name"], column)
        for name in self.deployment.passthrough:
            inputs.setdefault(name, {"name": name, "kind": "text"})
        if [c.name for c in self.log.columns] != list(inputs):
            self.log.columns = input_columns(list(inputs.values()))

    def start(self) -> None:
        """Load the model (if not yet), start the reload watcher and the log's writer.

        Everything alive after start-up (libraries, the model) is then frozen out of the
        garbage collector's view, so its full collections walk only what requests create
        and do not pause the server for a tenth of a second at a time.
        """
        if self.deployment.serving is None:
            self.deployment.load()
        self.deployment.watch(self.options.reload_interval)
        if self.log is not None:
            self.log.start()
        if self.options.freeze_gc:
            gc.collect()
            gc.freeze()

    def stop(self) -> None:
        """Stop watching and flush every logged prediction."""
        self.deployment.stop()
        if self.log is not None:
            self.log.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self.start)
                except ForgemlError as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- prediction ------------------------------------------------------------------

    async def _predict(self, scope: Scope, receive: Receive, send: Send) -> int:
        started = time.perf_counter()
        status = await self._predict_inner(scope, receive, send, started)
        self.metrics.request("/predict", status, time.perf_counter() - started)
        return status

    async def _predict_inner(
        self, scope: Scope, receive: Receive, send: Send, started: float
    ) -> int:
        if self.options.api_key and not has_key(scope, self.options.api_key):
            return await refuse(send, 401, "a valid API key is required", KEY_FIX)
        payload, status = await self._json(scope, receive, send)
        if status:
            return status
        serving = self.deployment.serving
        if serving is None:
            return await self._not_ready(send)
        request_id = self._request_id(scope)
        try:
            answer = await self._score(scope, serving, payload, request_id)
        except InputRejected as error:
            return await reply(
                send,
                error.status,
                {
                    "error": "invalid input",
                    "problems": error.problems,
                    "fix": error.fix,
                    "request_id": request_id,
                },
            )
        scorer, batch = answer.scorer, answer.batch
        await send_json(
            send,
            200,
            response(
                scorer, answer.scored, request_id, answer.ids, batch.problems, batch.passthrough
            ),
            [(b"x-request-id", request_id.encode())],
        )
        self._record(scope, serving, answer, started)
        return 200

    async def _score(
        self,
        scope: Scope,
        serving: Serving,
        payload: Any,
        request_id: str,
        *,
        columnar: bool = False,
        pinned: Scorer | None = None,
    ) -> Answer:
        """Score ``payload`` with the champion, or the canary when the rollout routes it there.

        Every protocol's route comes through here, so each one gets the same checks, canary
        and (through :meth:`_record`) the same log and shadow. ``columnar``: the payload is
        one array per input (see :meth:`InputSchema.read`); ``pinned``: the request named a
        served version, which answers it. Raises :class:`InputRejected`.
        """
        scorer, arm = serving.champion, "champion"
        rollout = serving.rollout
        if pinned is not None:
            if pinned is not scorer:
                scorer, arm = pinned, "canary"
        elif (
            rollout is not None
            and rollout.mode == "canary"
            and serving.challenger is not None
            and rollout.takes(
                routing_key(scope, {"columns": payload} if columnar else payload, rollout.key)
            )
        ):
            scorer, arm = serving.challenger, "canary"
        batch = scorer.read(payload, columnar=columnar)
        if self.batcher is not None and scorer.tensors:  # grouped with concurrent requests
            raw = await self.batcher.submit(scorer.raw, scorer.features(batch))
            scored = scorer.finish(batch, raw)
        else:
            scored = scorer.score(batch)
        ids = [request_id] if batch.rows == 1 else [f"{request_id}:{i}" for i in range(batch.rows)]
        return Answer(scorer, arm, batch, scored, ids, payload, columnar)

    def _record(self, scope: Scope, serving: Serving, answer: Answer, started: float) -> None:
        """After the reply: metrics, the prediction log and, in a shadow rollout, the shadow."""
        scorer, batch, scored = answer.scorer, answer.batch, answer.scored
        latency = (time.perf_counter() - started) * 1000.0
        at = self._event_time(scope)
        self.metrics.scored(scorer.number, answer.arm, scored.scores, scored.labels, batch.flags)
        if self.log is not None:
            self.log.log_predictions(
                ids=answer.ids,
                version=scorer.number,
                arm=answer.arm,
                inputs=scorer.schema.loggable(batch),
                scores=scored.scores,
                labels=scored.labels,
                latency_ms=latency,
                time=at,
                flags=batch.flags,
            )
        rollout = serving.rollout
        if rollout is not None and rollout.mode == "shadow" and serving.challenger is not None:
            self._shadow(serving.challenger, answer.payload, answer.ids, at, answer.columnar)

    def _shadow(
        self,
        challenger: Scorer,
        payload: Any,
        ids: list[str],
        at: float | None,
        columnar: bool = False,
    ) -> None:
        started = time.perf_counter()
        try:
            batch = challenger.read(payload, columnar=columnar)
            scored = challenger.score(batch)
        except Exception:
            self.metrics.shadow_errors += 1
            return
        self.metrics.scored(challenger.number, "shadow", scored.scores, scored.labels, ())
        if self.log is not None and len(ids) == batch.rows:
            self.log.log_predictions(
                ids=ids,
                version=challenger.number,
                arm="shadow",
                inputs=challenger.schema.loggable(batch),
                scores=scored.scores,
                labels=scored.labels,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                time=at,
                flags=batch.flags,
            )

    async def _feedback(self, scope: Scope, receive: Receive, send: Send) -> int:
        options = self.options
        if cross_site(scope, options.feedback_origins):
            return await refuse(
                send, 403, "feedback from another site's web page is refused", ORIGIN_FIX
            )
        keys = [k for k in (options.api_key, options.feedback_key) if k]
        if keys and not any(has_key(scope, key) for key in keys):
            return await refuse(send, 401, "a valid API or feedback key is required", KEY_FIX)
        if not is_json(scope):
            return await refuse(
                send, 415, "POST /feedback takes JSON only", "send Content-Type: application/json"
            )
        payload, status = await self._json(scope, receive, send)
        if status:
            return status
        if self.log is None:
            return await refuse(
                send, 409, "this server keeps no prediction log", "start it without --no-log"
            )
        serving = self.deployment.serving
        scorer = serving.champion if serving is not None else None
        items = payload.get("feedback", payload) if isinstance(payload, dict) else payload
        items = [items] if isinstance(items, dict) else items
        try:
            ids, labels = feedback_items(items, scorer)
        except InputRejected as error:
            return await reply(send, 422, {"error": "invalid feedback", "problems": error.problems})
        conflicts = self.labels.conflicts(ids, labels)
        if conflicts:
            self.metrics.label_conflicts += conflicts
            log.warning("%d label(s) conflict with an earlier label; the first is kept", conflicts)
        self.log.log_feedback(ids, labels, time=self._event_time(scope))
        return await reply(send, 200, {"accepted": len(ids), "conflicts": conflicts})

    async def _json(self, scope: Scope, receive: Receive, send: Send) -> tuple[Any, int]:
        limit = self.options.max_body_bytes
        try:
            body = await read_body(scope, receive, limit)
        except BodyTooLarge:
            return None, await refuse(
                send, 413, f"the body is over the limit of {limit} bytes", "send fewer rows"
            )
        try:
            return orjson.loads(body), 0
        except orjson.JSONDecodeError as error:
            return None, await refuse(send, 400, "malformed JSON", json_fix(error))

    def _event_time(self, scope: Scope) -> float | None:
        """``X-Event-Time`` (unix seconds) for replays and backfills; admin key required."""
        given = header(scope, b"x-event-time")
        if given is None or not self.options.admin_key:
            return None
        key = header(scope, b"x-admin-key")
        if key is None or not hmac.compare_digest(key, self.options.admin_key.encode()):
            return None
        try:
            value = float(given)
        except ValueError:
            return None
        return value if math.isfinite(value) else None

    def _request_id(self, scope: Scope) -> str:
        given = header(scope, b"x-request-id")
        if given is not None:
            text = given.decode("latin-1")
            if REQUEST_ID.fullmatch(text):
                return text
        return new_request_id()

    def _not_ready_reason(self) -> str:
        return self.deployment.last_error or "no model version is loaded yet"

    async def _not_ready(self, send: Send) -> int:
        fix = "retry shortly" if self.deployment.last_error is None else "see GET /ready"
        return await refuse(send, 503, self._not_ready_reason(), fix)

    # ---- information -----------------------------------------------------------------

    async def _health(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await reply(send, 200, {"status": "ok"})

    async def _ready(self, scope: Scope, receive: Receive, send: Send) -> int:
        serving = self.deployment.serving
        if serving is None:
            return await reply(send, 503, {"ready": False, "reason": self._not_ready_reason()})
        body = {"ready": True, "model": serving.champion.model, "version": serving.champion.number}
        return await reply(send, 200, body)

    async def _model(self, scope: Scope, receive: Receive, send: Send) -> int:
        serving = self.deployment.serving
        if serving is None:
            return await refuse(send, 503, "no model version is loaded yet", "retry shortly")
        return await reply(send, 200, describe(self.deployment, serving))

    async def _metrics(self, scope: Scope, receive: Receive, send: Send) -> int:
        serving = self.deployment.serving
        served = serving.served() if serving is not None else []
        counts = None
        if self.log is not None:
            counts = {"logged": self.log.logged, "written": self.log.written}
        text = self.metrics.render(served, counts).encode()
        await send_bytes(send, 200, text, b"text/plain; version=0.0.4; charset=utf-8")
        return 200

    async def _openapi(self, scope: Scope, receive: Receive, send: Send) -> int:
        return await reply(send, 200, await self._document(scope))

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> int:
        page = docs_page(await self._document(scope)).encode()
        await send_bytes(send, 200, page, b"text/html; charset=utf-8")
        return 200

    async def _document(self, scope: Scope) -> dict[str, Any]:
        """The OpenAPI document, with this server's address and a typical request."""
        serving = self.deployment.serving
        scorer = serving.champion if serving is not None else None
        example = None
        if scorer is not None:
            example = self._examples.get(scorer.number)
            if example is None:
                profile = await asyncio.to_thread(
                    training_profile, self.deployment.project, scorer.version.lineage
                )
                example = request_example(scorer.schema.inputs, profile)
                self._examples = {scorer.number: example}
        server = scope.get("server")
        url = None
        if server and server[1] is not None:
            host = f"[{server[0]}]" if ":" in str(server[0]) else server[0]
            url = f"{scope.get('scheme', 'http')}://{host}:{server[1]}"
        return openapi_document(
            self.deployment.model,
            scorer,
            server_url=url,
            example=example,
            keyed=bool(self.options.api_key),
            profile=self.options.profile,
        )
