"""The floor: a raw ASGI app that decodes one JSON record and calls the booster directly.

No validation, no metrics, no logging: read the body, ``orjson.loads`` it, put the 30
values into a 1 x 30 float64 row in feature order, ``Booster.predict(row, num_threads=1)``,
answer ``{"prediction": p}``. It runs under uvicorn with the options ``forgeml serve``
uses (httptools, uvloop, access log off, lifespan on), so the difference between the two
is forgeml's own work per request.

    python bare_app.py --model model.txt --port 8001
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
import orjson

JSON = [(b"content-type", b"application/json")]


class BareApp:
    """POST /predict with one record; GET /health."""

    def __init__(self, booster: Any, features: list[str]) -> None:
        self.booster = booster
        self.features = features

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                done = {"lifespan.startup": "complete", "lifespan.shutdown": "complete"}
                await send({"type": f"{message['type']}.{done[message['type']]}"})
                if message["type"] == "lifespan.shutdown":
                    return
        if scope["type"] != "http":
            return
        if scope["path"] == "/health":
            await _reply(send, 200, b'{"status":"ok"}')
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        record = orjson.loads(body)
        row = np.array([[record[name] for name in self.features]], dtype=np.float64)
        prediction = float(self.booster.predict(row, num_threads=1)[0])
        await _reply(send, 200, orjson.dumps({"prediction": prediction}))


async def _reply(send: Any, status: int, body: bytes) -> None:
    headers = [*JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> int:
    import lightgbm
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="LightGBM model text file")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    booster = lightgbm.Booster(model_file=args.model)
    app = BareApp(booster, booster.feature_name())
    uvicorn.run(  # the options forgeml.serve.server.run_server passes
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        access_log=False,
        lifespan="on",
        http="httptools",
        loop="uvloop",
        timeout_graceful_shutdown=10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
