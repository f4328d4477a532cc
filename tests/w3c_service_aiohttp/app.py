"""The W3C harness's service again, written with aiohttp as a user would write it.

Same contract as ``tests/w3c_service/app.py`` (the harness POSTs a JSON list of ``{"url": ...,
"arguments": ...}``; for each item the service POSTs ``arguments`` to ``url``), no tracing code:
``tests/test_w3c_harness_aiohttp.py`` runs ``codetrace apply --out`` on this folder, so
``web.Application()`` gets the ``aiohttp_app`` hook (the incoming trace context is extracted)
and ``ClientSession(...)`` the ``aiohttp.client`` adapter (it is injected into each callback).

Run as a script it serves on 127.0.0.1 at a free port and prints the port on its first line.
"""

from __future__ import annotations

import asyncio

from aiohttp import ClientSession, ClientTimeout, web


async def test(request: web.Request) -> web.Response:
    actions = await request.json()
    async with ClientSession(timeout=ClientTimeout(total=10)) as session:
        for action in actions:
            async with session.post(action["url"], json=action.get("arguments") or []) as sent:
                await sent.read()
    return web.json_response("ok")


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/test", test)
    return app


async def serve() -> None:
    runner = web.AppRunner(make_app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()  # until SIGTERM


if __name__ == "__main__":
    asyncio.run(serve())
