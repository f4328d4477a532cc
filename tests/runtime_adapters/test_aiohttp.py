"""aiohttp, client and server: a session built through the ``aiohttp.client`` adapter and an
application through the ``aiohttp_app`` hook, against a real aiohttp server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import logging
import warnings
from collections.abc import Awaitable, Callable
from typing import Any
from unittest import mock

import aiohttp
import pytest
from aiohttp import web

import codetrace.runtime as rt
from codetrace.runtime import _aiohttp_client, _aiohttp_server
from codetrace.runtime._tracecontext import parse_traceparent

RULE = "aiohttp.client"
CALLER_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def Session(*args: Any, **kwargs: Any) -> aiohttp.ClientSession:
    """``aiohttp.ClientSession(...)`` as instrumented code builds it."""
    session: aiohttp.ClientSession = rt.traced(aiohttp.ClientSession, RULE)(*args, **kwargs)
    return session


async def _user(request: web.Request) -> web.Response:
    with rt.span("load user"):
        pass
    received = [[k.lower(), v] for k, v in request.headers.items()]
    return web.json_response({"id": request.match_info["id"], "headers": received})


async def _boom(request: web.Request) -> web.Response:
    raise ValueError("no such thing")


async def _unavailable(request: web.Request) -> web.Response:
    raise web.HTTPServiceUnavailable()


async def _redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/users/7")


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(0.5)
    return web.Response(text="late")


async def _health(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def make_app() -> web.Application:
    app = web.Application()
    rt.hooks.aiohttp_app(app)  # what `apply` writes after `app = web.Application()`
    app.router.add_get("/users/{id}", _user)
    app.router.add_get("/boom", _boom)
    app.router.add_get("/unavailable", _unavailable)
    app.router.add_get("/redirect", _redirect)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/health", _health)
    return app


Main = Callable[[str], Awaitable[Any]]


def serve(app: web.Application, main: Main) -> Any:
    """Run ``main(base_url)`` with ``app`` served by a real aiohttp server on 127.0.0.1."""

    async def run() -> Any:
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            return await asyncio.wait_for(main(f"http://127.0.0.1:{port}"), 10)
        finally:
            await runner.cleanup()

    return asyncio.run(run())


def _by_kind(exporter: rt.InMemorySpanExporter, kind: int) -> list[rt.Span]:
    return [s for s in exporter.get_finished_spans() if s.kind == kind]


def test_client_to_server_is_one_trace(exporter: rt.InMemorySpanExporter) -> None:
    caller_headers = {"X-Caller": "1"}
    caller_configs: list[aiohttp.TraceConfig] = [aiohttp.TraceConfig()]
    seen: list[str] = []

    async def on_start(session: object, ctx: object, params: Any) -> None:
        seen.append(str(params.url))

    caller_configs[0].on_request_start.append(on_start)

    async def main(base: str) -> tuple[int, dict[str, Any], list[Any]]:
        with rt.span("caller"):
            async with Session(headers=caller_headers, trace_configs=caller_configs) as session:
                configs = list(session.trace_configs)
                async with session.get(base + "/users/7?token=s3cret&a=1") as response:
                    return response.status, await response.json(), configs

    status, body, configs = serve(make_app(), main)
    assert status == 200
    assert caller_headers == {"X-Caller": "1"}  # the caller's headers are never touched
    assert len(caller_configs) == 1  # nor the caller's list; its config kept, and first
    assert configs[0] is caller_configs[0] and len(configs) == 2
    assert len(seen) == 1
    (client,) = _by_kind(exporter, rt.SpanKind.CLIENT)
    (server,) = _by_kind(exporter, rt.SpanKind.SERVER)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    caller, child = spans["caller"], spans["load user"]
    port = int(client.attributes["server.port"])
    assert client.name == "GET"
    assert client.parent_id == caller.span_id
    assert client.attributes == {
        "http.request.method": "GET",
        "url.full": f"http://127.0.0.1:{port}/users/7?token=REDACTED&a=1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
    }
    # connected across the hop: the client span is the server span's parent
    assert server.trace_id == client.trace_id == caller.trace_id
    assert server.parent_id == client.span_id
    assert server.is_remote_parent
    assert child.parent_id == server.span_id  # the handler's spans are the server span's
    received = dict(body["headers"])
    parsed = parse_traceparent(received["traceparent"])
    assert parsed is not None and parsed[:2] == (client.trace_id, client.span_id)
    assert received["x-caller"] == "1"
    assert server.name == "GET /users/{id}"
    peer_port = server.attributes.pop("network.peer.port")
    assert isinstance(peer_port, int)
    assert server.attributes == {
        "http.request.method": "GET",
        "http.route": "/users/{id}",
        "url.scheme": "http",
        "url.path": "/users/7",
        "url.query": "token=REDACTED&a=1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "network.peer.address": "127.0.0.1",
        "client.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "user_agent.original": received["user-agent"],
        "http.response.status_code": 200,
    }
    assert server.status_code == client.status_code == rt.StatusCode.UNSET


def test_not_found_and_server_errors(exporter: rt.InMemorySpanExporter) -> None:
    async def main(base: str) -> list[int]:
        statuses = []
        async with Session() as session:
            for path in ("/nope", "/boom", "/unavailable"):
                async with session.get(base + path) as response:
                    statuses.append(response.status)
        return statuses

    assert serve(make_app(), main) == [404, 500, 503]
    clients = _by_kind(exporter, rt.SpanKind.CLIENT)
    servers = _by_kind(exporter, rt.SpanKind.SERVER)
    assert [(s.attributes["http.response.status_code"], s.attributes["error.type"])
            for s in clients] == [(404, "404"), (500, "500"), (503, "503")]
    assert all(s.status_code == rt.StatusCode.ERROR for s in clients)
    not_found, boom, unavailable = servers
    # no route matched: named by the method alone, no http.route; 4xx is not a server error
    assert not_found.name == "GET" and "http.route" not in not_found.attributes
    assert not_found.attributes["http.response.status_code"] == 404
    assert "error.type" not in not_found.attributes
    assert not_found.status_code == rt.StatusCode.UNSET
    # a handler raising: recorded, and the 500 aiohttp answers with
    assert boom.name == "GET /boom"
    assert boom.attributes["error.type"] == "ValueError"
    assert boom.attributes["http.response.status_code"] == 500
    assert boom.status_code == rt.StatusCode.ERROR
    assert [e.name for e in boom.events] == ["exception"]
    assert unavailable.attributes["error.type"] == "503"
    assert unavailable.status_code == rt.StatusCode.ERROR
    for client, server in zip(clients, servers, strict=True):
        assert server.parent_id == client.span_id


def test_redirects_are_one_client_span(exporter: rt.InMemorySpanExporter) -> None:
    async def main(base: str) -> tuple[int, int]:
        async with Session() as session, session.get(base + "/redirect") as response:
            return response.status, len(response.history)

    assert serve(make_app(), main) == (200, 1)
    (client,) = _by_kind(exporter, rt.SpanKind.CLIENT)
    first, second = _by_kind(exporter, rt.SpanKind.SERVER)
    assert client.attributes["url.full"].endswith("/redirect")
    assert client.attributes["http.response.status_code"] == 200
    assert (first.name, first.attributes["http.response.status_code"]) == ("GET /redirect", 302)
    assert first.status_code == rt.StatusCode.UNSET
    assert second.name == "GET /users/{id}"
    assert first.parent_id == second.parent_id == client.span_id


def test_connection_refused(refused_url: str, exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> BaseException:
        async with Session() as session:
            with pytest.raises(aiohttp.ClientConnectorError) as raised:
                await session.get(refused_url)
        return raised.value

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.kind == rt.SpanKind.CLIENT
    assert span.attributes["error.type"] == "aiohttp.client_exceptions.ClientConnectorError"
    assert span.attributes["url.full"] == refused_url
    assert "http.response.status_code" not in span.attributes
    assert span.status_code == rt.StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


def test_timeout(exporter: rt.InMemorySpanExporter) -> None:
    async def main(base: str) -> None:
        timeout = aiohttp.ClientTimeout(total=0.1)
        async with Session(timeout=timeout) as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.get(base + "/slow")

    serve(make_app(), main)
    (client,) = _by_kind(exporter, rt.SpanKind.CLIENT)
    assert client.status_code == rt.StatusCode.ERROR
    assert str(client.attributes["error.type"]).endswith("TimeoutError")  # asyncio.TimeoutError


def test_excluded_urls(monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health, ,/nothing-else")
    rt.reset()
    rt.configure(exporter=exporter)

    async def main(base: str) -> list[int]:
        async with Session() as session:
            one = await session.get(base + "/health")
            two = await session.get(base + "/users/1")
            return [one.status, two.status]

    assert serve(make_app(), main) == [200, 200]
    assert [(s.kind, s.name) for s in exporter.get_finished_spans()] == [
        (rt.SpanKind.INTERNAL, "load user"),
        (rt.SpanKind.SERVER, "GET /users/{id}"),
        (rt.SpanKind.CLIENT, "GET"),
    ]


def test_library_variables_replace_the_general_one(
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health")
    monkeypatch.setenv("OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS", "^/users/")
    monkeypatch.setenv("OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS", "127[.]0[.]0[.]1:\\d+/users")
    rt.reset()
    rt.configure(exporter=exporter)

    async def main(base: str) -> None:
        async with Session() as session:
            await session.get(base + "/health")
            await session.get(base + "/users/1")

    serve(make_app(), main)
    assert [(s.kind, s.name) for s in exporter.get_finished_spans() if s.kind != 1] == [
        (rt.SpanKind.SERVER, "GET /health"),
        (rt.SpanKind.CLIENT, "GET"),
    ]


def test_a_traceparent_the_caller_set_is_kept(exporter: rt.InMemorySpanExporter) -> None:
    async def main(base: str) -> dict[str, Any]:
        async with Session() as session, session.get(
            base + "/users/2", headers={"TraceParent": CALLER_TRACEPARENT}
        ) as response:
            return await response.json()  # type: ignore[no-any-return]

    body = serve(make_app(), main)
    assert [v for k, v in body["headers"] if k == "traceparent"] == [CALLER_TRACEPARENT]
    (server,) = _by_kind(exporter, rt.SpanKind.SERVER)
    assert f"{server.parent_id:016x}" == "b7ad6b7169203331"
    assert len(_by_kind(exporter, rt.SpanKind.CLIENT)) == 1


def test_concurrent_requests_keep_their_parents(exporter: rt.InMemorySpanExporter) -> None:
    async def one(session: aiohttp.ClientSession, url: str, name: str) -> None:
        with rt.span(name):
            async with session.get(url) as response:
                await response.read()

    async def main(base: str) -> None:
        async with Session() as session:
            await asyncio.gather(*(one(session, f"{base}/users/{i}", f"p{i}") for i in range(5)))

    serve(make_app(), main)
    parents = {s.span_id: s.name for s in exporter.get_finished_spans() if s.name.startswith("p")}
    clients = _by_kind(exporter, rt.SpanKind.CLIENT)
    servers = {s.parent_id: s for s in _by_kind(exporter, rt.SpanKind.SERVER)}
    assert sorted(parents[c.parent_id] for c in clients) == [f"p{i}" for i in range(5)]
    for client in clients:
        index = parents[client.parent_id][1:]
        assert servers[client.span_id].attributes["url.path"] == f"/users/{index}"


def test_hook_is_idempotent_and_sub_applications_give_one_span(
    exporter: rt.InMemorySpanExporter,
) -> None:
    app = make_app()
    rt.hooks.aiohttp_app(app)
    sub = web.Application()
    rt.hooks.aiohttp_app(sub)
    sub.router.add_get("/items/{name}", _health)
    app.add_subapp("/api", sub)
    assert list(app.middlewares).count(_aiohttp_server._middleware) == 1

    async def main(base: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(base + "/api/items/x") as r:
            return r.status

    assert serve(app, main) == 200
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /api/items/{name}"
    assert span.attributes["http.route"] == "/api/items/{name}"


def test_the_span_is_outermost_of_the_projects_middlewares(
    exporter: rt.InMemorySpanExporter,
) -> None:
    @web.middleware
    async def deny(request: web.Request, handler: Any) -> web.StreamResponse:
        raise web.HTTPUnauthorized()

    app = web.Application(middlewares=[deny])
    rt.hooks.aiohttp_app(app)
    app.router.add_get("/x", _health)

    async def main(base: str) -> int:
        async with aiohttp.ClientSession() as session, session.get(base + "/x") as r:
            return r.status

    assert serve(app, main) == 401
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 401
    assert list(app.middlewares) == [_aiohttp_server._middleware, deny]


def test_a_started_application_is_left_alone(
    exporter: rt.InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    app = web.Application()
    app.freeze()
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert rt.hooks.aiohttp_app(app) is app
    assert list(app.middlewares) == []
    assert "already started" in caplog.text


def test_not_an_application_and_mocks_are_untouched(caplog: pytest.LogCaptureFixture) -> None:
    fake = mock.MagicMock()
    with caplog.at_level(logging.WARNING, logger="codetrace.runtime"):
        assert rt.hooks.aiohttp_app(fake) is fake
    assert fake.mock_calls == []
    with mock.patch("aiohttp.ClientSession") as patched:
        session = rt.traced(aiohttp.ClientSession, RULE)(headers={"a": "b"})
    assert session is patched.return_value
    patched.assert_called_once_with(headers={"a": "b"})  # no trace_configs added


def test_mocked_request_gets_no_span_and_is_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> object:
        async with Session() as session:
            with mock.patch.object(session, "_request", mock.AsyncMock(return_value="r")) as req:
                result = await session.get("http://127.0.0.1:9/x", headers={"a": "b"})
            req.assert_called_once_with("GET", "http://127.0.0.1:9/x", allow_redirects=True,
                                        headers={"a": "b"})
            return result

    assert asyncio.run(main()) == "r"
    assert exporter.get_finished_spans() == ()


def test_a_project_subclass_with_its_own_init(exporter: rt.InMemorySpanExporter) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # aiohttp discourages subclasses

        class ApiSession(aiohttp.ClientSession):
            def __init__(self, token: str) -> None:
                super().__init__(headers={"Authorization": token})

    async def main(base: str) -> int:
        session = rt.traced(ApiSession, RULE)("t")
        async with session, session.get(base + "/users/3") as response:
            return response.status

    assert serve(make_app(), main) == 200
    (client,) = _by_kind(exporter, rt.SpanKind.CLIENT)
    (server,) = _by_kind(exporter, rt.SpanKind.SERVER)
    assert server.parent_id == client.span_id


def test_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    assert rt.traced(aiohttp.ClientSession, RULE) is aiohttp.ClientSession
    app = web.Application()
    assert rt.hooks.aiohttp_app(app) is app
    assert list(app.middlewares) == []
    # a session built while enabled, used after tracing was turned off: no header, no error
    assert _aiohttp_client.adapter(json.loads, "[]") == []
