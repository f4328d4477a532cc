"""HTTP header capture in the Flask, Starlette (ASGI) and aiohttp server hooks, real servers on
127.0.0.1 (werkzeug, uvicorn, aiohttp's own). The Bottle, Falcon and Pyramid hooks are checked in
test_wsgi_frameworks.py.

The request goes out with ``http.client``, so a header can be sent twice: ASGI and aiohttp keep
both values, a WSGI server joins them into one.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiohttp import web
from asgi_server import serve as serve_asgi
from flask import Flask, Response
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from werkzeug.serving import make_server

import codetrace.runtime as rt
from codetrace.runtime import _captured_headers

CAPTURE = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"
SENT = [("X-Caller", "c1"), ("X-Caller", "c2"), ("X-Secret-Key", "k"), ("X-Other", "o")]
REPLY = [("X-Resp-Id", "r1"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]


@contextmanager
def serve_flask() -> Iterator[str]:
    app = Flask("captured")
    rt.hooks.flask(app)

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Response:
        response = Response("ok")
        for name, value in REPLY:
            response.headers.add(name, value)
        return response

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def serve_starlette() -> Iterator[str]:
    async def item(request: Request) -> PlainTextResponse:
        response = PlainTextResponse("ok")
        for name, value in REPLY:
            response.headers.append(name, value)
        return response

    app = Starlette(routes=[Route("/items/{item_id:int}", item)])
    rt.hooks.starlette(app)
    with serve_asgi(app) as base:
        yield base


@contextmanager
def serve_aiohttp() -> Iterator[str]:
    async def item(request: web.Request) -> web.Response:
        response = web.Response(text="ok")
        for name, value in REPLY:
            response.headers.add(name, value)
        return response

    app = web.Application()
    rt.hooks.aiohttp_app(app)
    app.router.add_get("/items/{item_id}", item)
    ready = threading.Event()
    stop: list[Callable[[], None]] = []
    address: list[str] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        runner = web.AppRunner(app)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        address.append(f"http://127.0.0.1:{runner.addresses[0][1]}")
        stopped = asyncio.Event()
        stop.append(lambda: loop.call_soon_threadsafe(stopped.set))
        ready.set()
        loop.run_until_complete(stopped.wait())
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield address[0]
    finally:
        stop[0]()
        thread.join(10)


SERVERS: dict[str, tuple[Callable[[], Any], list[str]]] = {
    # name: (serve it, the values of the twice-sent request header)
    "flask": (serve_flask, ["c1,c2"]),
    "starlette": (serve_starlette, ["c1", "c2"]),
    "aiohttp": (serve_aiohttp, ["c1", "c2"]),
}


def _get(base: str) -> int:
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=5)
    try:
        connection.putrequest("GET", "/items/3")
        for name, value in SENT:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _server_span(exporter: rt.InMemorySpanExporter) -> rt.Span:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        spans = [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.SERVER]
        if spans:
            (span,) = spans
            return span
        time.sleep(0.005)
    raise AssertionError("no server span")


def _headers(span: rt.Span) -> dict[str, Any]:
    return {k: v for k, v in span.attributes.items() if ".header." in k}


@pytest.mark.parametrize("name", list(SERVERS))
def test_server_headers_captured(
    name: str, monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    monkeypatch.setenv(CAPTURE + "SERVER_REQUEST", "X-CALLER, x-secret-.*, x-absent")
    monkeypatch.setenv(CAPTURE + "SERVER_RESPONSE", "x-resp-.*,set-cookie,x-absent")
    monkeypatch.setenv(CAPTURE + "SANITIZE_FIELDS", "secret,cookie")
    _captured_headers.forget()
    serve, caller = SERVERS[name]
    with serve() as base:
        assert _get(base) == 200
        span = _server_span(exporter)
    assert _headers(span) == {
        "http.request.header.x-caller": caller,
        "http.request.header.x-secret-key": ["[REDACTED]"],
        "http.response.header.x-resp-id": ["r1"],
        "http.response.header.set-cookie": ["[REDACTED]", "[REDACTED]"],
    }


@pytest.mark.parametrize("name", list(SERVERS))
def test_server_headers_off_by_default(name: str, exporter: rt.InMemorySpanExporter) -> None:
    with SERVERS[name][0]() as base:
        assert _get(base) == 200
        span = _server_span(exporter)
    assert span.attributes["http.response.status_code"] == 200
    assert _headers(span) == {}


def test_client_capture_does_not_turn_on_servers(
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    monkeypatch.setenv(CAPTURE + "CLIENT_REQUEST", ".*")
    monkeypatch.setenv(CAPTURE + "CLIENT_RESPONSE", ".*")
    _captured_headers.forget()
    with serve_flask() as base:
        assert _get(base) == 200
        span = _server_span(exporter)
    assert _headers(span) == {}
