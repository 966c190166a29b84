"""The floor for a PyTorch model: a raw ASGI app, one forward pass per request.

No validation, no metrics, no logging: read the body, ``orjson.loads`` it, reshape
``input`` to the model's shape, call the module under ``torch.inference_mode()`` and answer
the argmax (what a TorchServe-style handler does per request). Runs under uvicorn with the
options ``forgeml serve`` uses.

    python bare_torch.py SmallCNN '{"classes": 10}' '[1, 8, 8]' weights.safetensors 8002
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import orjson

JSON = [(b"content-type", b"application/json")]


class BareTorch:
    """POST /predict with {"input": [...]}; GET /health."""

    def __init__(self, model: Any, shape: list[int]) -> None:
        self.model = model
        self.shape = shape

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        import torch

        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["path"] == "/health":
            await _reply(send, b"{}")
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        x = np.asarray(orjson.loads(body)["input"], dtype=np.float32).reshape(-1, *self.shape)
        with torch.inference_mode():
            out = self.model(torch.from_numpy(x)).numpy()
        await _reply(send, orjson.dumps({"predictions": out.argmax(1).tolist()}))


async def _reply(send: Any, body: bytes) -> None:
    headers = [*JSON, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str]) -> int:
    import torch
    import uvicorn
    from safetensors.torch import load_file

    from forgeml.flavors import nets

    kind, kwargs, shape, weights, port = argv
    torch.set_num_threads(1)
    model = getattr(nets, kind)(**orjson.loads(kwargs))
    model.load_state_dict(load_file(weights))
    model.eval()
    app = BareTorch(model, orjson.loads(shape))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(port),
        http="httptools",
        loop="uvloop",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
