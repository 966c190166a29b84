"""The server's routes for the Open Inference Protocol, MLflow's scoring protocol and the
platform profiles (:mod:`~forgeml.serve.protocols.profiles`).

Every scoring route reads its body within the server's limit (the platform's, under a
profile: an oversized body is a 413 naming the platform), turns it into columns with its
adapter and scores it through :meth:`ModelServer._score`, then :meth:`ModelServer._record`
logs it: the same checks, canary, prediction log and shadow as ``POST /predict``. Errors
keep each protocol's shape: ``{"error": ...}`` for the Open Inference Protocol, Vertex AI
and Azure ML, ``{"error_code": ..., "message": ...}`` for MLflow and SageMaker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import orjson

from forgeml.errors import InputRejected
from forgeml.serve.deployment import Deployment, Serving
from forgeml.serve.http import BodyTooLarge, Receive, Scope, Send, header, read_body, send_bytes
from forgeml.serve.metrics import ServingMetrics
from forgeml.serve.options import ServeOptions
from forgeml.serve.protocols.errors import ProtocolError
from forgeml.serve.protocols.mlflow import (
    named_tensor,
    predictions,
    read_invocation,
    read_json,
    read_tensor_invocation,
    rows_to_columns,
)
from forgeml.serve.protocols.oip import (
    infer_columns,
    infer_outputs,
    infer_tensor,
    model_metadata,
    parse_path,
)
from forgeml.serve.replies import KEY_FIX, has_key, json_fix, reply
from forgeml.serve.scoring import Scored, Scorer
from forgeml.serve.tensors import TensorSchema

if TYPE_CHECKING:
    from forgeml.serve.app import Answer

__all__ = ["ProtocolRoutes", "metric_path"]

Style = Literal["oip", "mlflow", "plain"]
Parse = Callable[[bytes, Scope, Scorer], tuple[Any, bool, Any]]
Render = Callable[["Answer", str, Any], Any]
OIP_ROUTES = "see the Open Inference Protocol's REST routes under /v2"
_INFER = ("/v2/models/{name}/infer", "/v2/models/{name}/versions/{version}/infer")


def metric_path(path: str) -> str | None:
    """The label of an OIP path in the request metrics (its template), or None."""
    where = parse_path(path)
    if where is None:
        return None
    if where.model is None:
        return path.rstrip("/")
    tail = {"model": "", "model_ready": "/ready", "infer": "/infer"}[where.kind]
    return "/v2/models/{name}" + ("/versions/{version}" if where.version else "") + tail


async def fail(
    send: Send,
    style: Style,
    status: int,
    message: str,
    fix: str,
    problems: list[dict[str, Any]] | None = None,
) -> int:
    """An error in the protocol's own shape."""
    body: dict[str, Any]
    if style == "mlflow":
        code = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 413: "BAD_REQUEST"}
        body = {
            "error_code": code.get(status, "INTERNAL_ERROR" if status >= 500 else "BAD_REQUEST"),
            "message": f"{message}; {fix}",
        }
    else:
        body = {"error": message, "fix": fix}
    if problems:
        body["problems"] = problems
    return await reply(send, status, body)


class ProtocolRoutes:
    """The protocol half of :class:`~forgeml.serve.app.ModelServer`."""

    deployment: Deployment
    options: ServeOptions
    metrics: ServingMetrics

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
        raise NotImplementedError  # the server scores

    def _record(self, scope: Scope, serving: Serving, answer: Answer, started: float) -> None:
        raise NotImplementedError

    def _request_id(self, scope: Scope) -> str:
        raise NotImplementedError

    def _not_ready_reason(self) -> str:
        raise NotImplementedError

    # ---- health ----------------------------------------------------------------------

    async def _ping(self, scope: Scope, receive: Receive, send: Send) -> int:
        """MLflow's and SageMaker's probe: 200 once a version answers, 503 before."""
        if self.deployment.serving is None:
            return await reply(send, 503, {"ready": False, "reason": self._not_ready_reason()})
        await send_bytes(send, 200, b"\n", b"text/plain; charset=utf-8")
        return 200

    async def _healthy(self, scope: Scope, receive: Receive, send: Send) -> int:
        """Azure ML's probe: the text ``Healthy`` once a version answers, 503 before."""
        if self.deployment.serving is None:
            return await reply(send, 503, {"ready": False, "reason": self._not_ready_reason()})
        await send_bytes(send, 200, b"Healthy", b"text/plain; charset=utf-8")
        return 200

    async def _version(self, scope: Scope, receive: Receive, send: Send) -> int:
        from forgeml import __version__

        await send_bytes(send, 200, __version__.encode(), b"text/plain; charset=utf-8")
        return 200

    # ---- scoring ---------------------------------------------------------------------

    async def _invocations(self, scope: Scope, receive: Receive, send: Send) -> int:
        """``POST /invocations``: MLflow's scoring protocol (JSON or CSV)."""

        def parse(body: bytes, scope: Scope, scorer: Scorer) -> tuple[Any, bool, Any]:
            schema = scorer.schema
            if isinstance(schema, TensorSchema):
                tensor = read_tensor_invocation(body, header(scope, b"content-type"), schema.name)
                return tensor, False, None
            payload, columnar = read_invocation(
                body, header(scope, b"content-type"), schema.names, schema.kinds
            )
            return payload, columnar, None

        return await self._scoring(scope, receive, send, "mlflow", parse, _predictions)

    async def _platform_predict(self, scope: Scope, receive: Receive, send: Send) -> int:
        """A profile's predict route (Vertex AI's ``instances``, Azure ML's ``input_data``)."""
        profile = self.options.profile
        assert profile is not None
        if profile.predict_format == "mlflow":
            return await self._invocations(scope, receive, send)
        if profile.predict_format == "vertex":
            return await self._scoring(scope, receive, send, "plain", _vertex, _predictions)
        return await self._scoring(scope, receive, send, "plain", _azureml, _plain_list)

    async def _scoring(
        self, scope: Scope, receive: Receive, send: Send, style: Style, parse: Parse, render: Render
    ) -> int:
        started = time.perf_counter()
        status = await self._scoring_inner(scope, receive, send, style, parse, render, None)
        self.metrics.request(scope["path"], status, time.perf_counter() - started)
        return status

    async def _scoring_inner(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        style: Style,
        parse: Parse,
        render: Render,
        pinned: Scorer | None,
    ) -> int:
        started = time.perf_counter()
        if self.options.api_key and not has_key(scope, self.options.api_key):
            return await fail(send, style, 401, "a valid API key is required", KEY_FIX)
        try:
            body = await read_body(scope, receive, self.options.max_body_bytes)
        except BodyTooLarge:
            return await fail(send, style, 413, self._too_large(), "send fewer rows per request")
        serving = self.deployment.serving
        if serving is None:
            return await fail(send, style, 503, self._not_ready_reason(), "retry shortly")
        request_id = self._request_id(scope)
        try:
            payload, columnar, extra = parse(body, scope, pinned or serving.champion)
            answer = await self._score(
                scope, serving, payload, request_id, columnar=columnar, pinned=pinned
            )
            document = render(answer, request_id, extra)
        except ProtocolError as error:
            return await fail(send, style, error.status, error.message, error.fix)
        except InputRejected as error:
            status = 413 if error.status == 413 else (400 if style != "plain" else error.status)
            fix = error.fix or "send every input column with the type the model was trained on"
            # the protocol's one required field describes the error: the problems in words
            said = error.message if style == "oip" else "invalid input"
            return await fail(send, style, status, said, fix, error.problems)
        await send_bytes(
            send,
            200,
            orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY),
            headers=[(b"x-request-id", request_id.encode())],
        )
        self._record(scope, serving, answer, started)
        return 200

    def _too_large(self) -> str:
        limit = self.options.max_body_bytes
        profile = self.options.profile
        if profile is not None and profile.max_body_bytes == limit:
            return f"the body is over {profile.platform}'s limit of {limit} bytes per request"
        return f"the body is over the limit of {limit} bytes"

    # ---- Open Inference Protocol -----------------------------------------------------

    async def _oip(self, scope: Scope, receive: Receive, send: Send) -> int:
        where = parse_path(scope["path"])
        if where is None:
            return await fail(send, "oip", 404, "no such route", OIP_ROUTES)
        method = "POST" if where.kind == "infer" else "GET"
        if scope["method"] != method:
            return await reply(
                send,
                405,
                {"error": "this method is not allowed here", "fix": f"use {method}"},
                [(b"allow", method.encode())],
            )
        if where.kind == "server":
            from forgeml import __version__

            body = {"name": "forgeml", "version": __version__, "extensions": []}
            return await reply(send, 200, body)
        if where.kind == "live":
            return await reply(send, 200, {"live": True})
        serving = self.deployment.serving
        if where.kind == "ready":
            return await reply(send, 200 if serving else 503, {"ready": serving is not None})
        if where.model != self.deployment.model:
            return await fail(
                send,
                "oip",
                404,
                f"model '{str(where.model)[:64]}' is not served here",
                f"this server serves '{self.deployment.model}'",
            )
        if serving is None:
            if where.kind == "model_ready":
                return await reply(send, 503, {"name": self.deployment.model, "ready": False})
            return await fail(send, "oip", 503, self._not_ready_reason(), "retry shortly")
        scorer = _served(serving, where.version)
        if scorer is None:
            served = ", ".join(str(number) for _, number, _ in serving.served())
            return await fail(
                send,
                "oip",
                404,
                f"version '{str(where.version)[:32]}' of '{self.deployment.model}' is not served",
                f"use a served version ({served}) or leave the version out",
            )
        if where.kind == "model_ready":
            return await reply(send, 200, {"name": scorer.model, "ready": True})
        if where.kind == "model":
            document = model_metadata(scorer, scorer.version.flavor)
            if where.version is None:
                document["versions"] = [str(number) for _, number, _ in serving.served()]
            return await reply(send, 200, document)
        started = time.perf_counter()
        status = await self._scoring_inner(
            scope, receive, send, "oip", _oip_request, _oip_reply, scorer if where.version else None
        )
        self.metrics.request(
            _INFER[where.version is not None], status, time.perf_counter() - started
        )
        return status


def _served(serving: Serving, version: str | None) -> Scorer | None:
    if version is None:
        return serving.champion
    for scorer in (serving.champion, serving.challenger):
        if scorer is not None and version == str(scorer.number):
            if scorer is serving.champion:
                return scorer
            rollout = serving.rollout
            return scorer if rollout is not None and rollout.mode == "canary" else None
    return None


def _oip_request(body: bytes, scope: Scope, scorer: Scorer) -> tuple[Any, bool, Any]:
    payload = _json(body)
    schema = scorer.schema
    if isinstance(schema, TensorSchema):
        tensor, tensor_request = infer_tensor(payload, schema)
        return tensor, False, tensor_request
    request = infer_columns(payload, schema.names, schema.kinds, schema.booleans)
    return request.columns, True, request


def _oip_reply(answer: Answer, request_id: str, request: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "model_name": answer.scorer.model,
        "model_version": str(answer.scorer.number),
        "id": request.id if request.id is not None else request_id,
    }
    if answer.batch.flags:
        document["parameters"] = {"warnings": ", ".join(answer.batch.flags)}
    document["outputs"] = infer_outputs(answer.scorer, answer.scored, request.outputs)
    return document


def _vertex(body: bytes, scope: Scope, scorer: Scorer) -> tuple[Any, bool, Any]:
    document = _json(body)
    if not isinstance(document, dict) or "instances" not in document:
        raise ProtocolError(
            'the body must be {"instances": [...]}', "send the rows under 'instances'"
        )
    schema = scorer.schema
    if isinstance(schema, TensorSchema):
        return named_tensor(document["instances"], schema.name), False, None
    payload, columnar = read_json({"instances": document["instances"]}, schema.names)
    return payload, columnar, None


def _azureml(body: bytes, scope: Scope, scorer: Scorer) -> tuple[Any, bool, Any]:
    document = _json(body)
    if not isinstance(document, dict) or "input_data" not in document:
        raise ProtocolError(
            'the body must be {"input_data": ...}',
            'send {"input_data": {"columns": [...], "index": [...], "data": [[...]]}}',
        )
    data = document["input_data"]
    schema = scorer.schema
    if isinstance(schema, TensorSchema):
        return named_tensor(data, schema.name), False, None
    if isinstance(data, dict) and "data" in data and "data" not in schema.name_set:
        columns = data.get("columns", schema.names)
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ProtocolError("input_data.columns must be an array of names", "name each column")
        return rows_to_columns(data["data"], columns, "input_data.data"), True, None
    payload, columnar = read_json({"inputs": data}, scorer.schema.names)
    return payload, columnar, None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise ProtocolError("malformed JSON", json_fix(error)) from None


def _predictions(answer: Answer, request_id: str, extra: Any) -> dict[str, Any]:
    return predictions(answer.scored)


def _plain_list(answer: Answer, request_id: str, extra: Any) -> Any:
    scored: Scored = answer.scored
    return scored.scores if scored.labels is None else scored.labels
