"""The W3C harness's service written with FastAPI and httpx, as a user would write it.

Same contract as ``tests/w3c_service/app.py`` (the harness POSTs a JSON list of ``{"url": ...,
"arguments": ...}``; for each item the service POSTs ``arguments`` to ``url``), no tracing code:
``tests/test_w3c_harness.py`` runs ``codetrace apply --out`` on this folder, so ``FastAPI()``
gets the ``starlette`` hook (its ASGI middleware extracts the incoming trace context) and
``httpx.AsyncClient(...)`` the ``httpx.client`` adapter (it is injected into each callback).

Run as a script, uvicorn serves it on 127.0.0.1 at a free port and it prints the port on its
first line. The socket is bound here, not by uvicorn, so the port is known before serving.
"""

from __future__ import annotations

import socket
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/test")
async def test(request: Request) -> Any:
    actions = await request.json()
    async with httpx.AsyncClient(timeout=10) as client:
        for action in actions:
            await client.post(action["url"], json=action.get("arguments") or [])
    return "ok"


if __name__ == "__main__":
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[listener])  # until SIGTERM
