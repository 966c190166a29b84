"""Admin routes: reload now, and show, start or end a rollout. All need the admin key."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from forgeml.errors import ForgemlError
from forgeml.serve.deployment import Deployment
from forgeml.serve.http import Receive, Scope, Send, header
from forgeml.serve.options import ServeOptions
from forgeml.serve.replies import describe, refuse, reply, rollout_dict
from forgeml.serve.rollout import MODES, OUTCOMES, active_rollout, end_rollout, start_rollout

__all__ = ["AdminRoutes"]


class AdminRoutes:
    """The admin half of :class:`~forgeml.serve.app.ModelServer`."""

    deployment: Deployment
    options: ServeOptions

    async def _json(self, scope: Scope, receive: Receive, send: Send) -> tuple[Any, int]:
        raise NotImplementedError  # the server reads bodies

    async def _reload(self, scope: Scope, receive: Receive, send: Send) -> int:
        denied = await self._admin(scope, send)
        if denied:
            return denied
        switched = await asyncio.to_thread(self.deployment.refresh)
        serving = self.deployment.serving
        assert serving is not None
        body = {"switched": switched, **describe(self.deployment, serving)}
        return await reply(send, 200, body)

    async def _rollout(self, scope: Scope, receive: Receive, send: Send) -> int:
        denied = await self._admin(scope, send)
        if denied:
            return denied
        rollout = await asyncio.to_thread(
            active_rollout, self.deployment.project, self.deployment.model
        )
        return await reply(send, 200, {"rollout": rollout_dict(rollout)})

    async def _change_rollout(self, scope: Scope, receive: Receive, send: Send) -> int:
        denied = await self._admin(scope, send)
        if denied:
            return denied
        payload, status = await self._json(scope, receive, send)
        if status:
            return status
        if not isinstance(payload, dict) or payload.get("mode") not in (*MODES, "off"):
            return await refuse(
                send,
                422,
                "a rollout change needs 'mode': shadow, canary or off",
                '{"mode": "canary", "version": 3, "share": 0.1, "reason": "..."}',
            )
        try:
            rollout = await asyncio.to_thread(self._apply_rollout, payload)
        except ForgemlError as error:
            return await refuse(send, 422, error.message, error.fix or "")
        await asyncio.to_thread(self.deployment.refresh)
        return await reply(send, 200, {"rollout": rollout_dict(rollout)})

    def _apply_rollout(self, change: dict[str, Any]) -> Any:
        model, project = self.deployment.model, self.deployment.project
        reason = str(change.get("reason") or "changed through the admin API")
        if change["mode"] == "off":
            outcome = str(change.get("outcome", "stopped"))
            if outcome not in OUTCOMES:
                raise ForgemlError("the outcome is unknown", fix="use " + ", ".join(OUTCOMES))
            return end_rollout(model, outcome=outcome, reason=reason, project=project)
        version = change.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ForgemlError("'version' must be a version number", fix='e.g. "version": 3')
        share = change.get("share", 0.1)
        if not isinstance(share, int | float) or isinstance(share, bool):
            raise ForgemlError("'share' must be a number between 0 and 1", fix='"share": 0.1')
        key = change.get("key")
        return start_rollout(
            f"{model}@{version}",
            mode=str(change["mode"]),
            share=float(share),
            key=str(key) if key is not None else None,
            reason=reason,
            actor="admin-api",
            project=project,
        )

    async def _admin(self, scope: Scope, send: Send) -> int:
        key = self.options.admin_key
        if not key:
            return await refuse(
                send,
                403,
                "admin endpoints are disabled on this server",
                "start it with FORGEML_ADMIN_KEY set, then send the key in X-Admin-Key",
            )
        given = header(scope, b"x-admin-key")
        if given is None or not hmac.compare_digest(given, key.encode()):
            return await refuse(send, 401, "a valid admin key is required", "send X-Admin-Key")
        return 0
