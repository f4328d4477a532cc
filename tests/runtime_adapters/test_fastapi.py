"""The ``starlette`` hook on real FastAPI and Starlette apps served by uvicorn on 127.0.0.1.

The client is httpx, traced by codetrace's ``httpx.client`` construction adapter, so each test
request is a CLIENT span whose ``traceparent`` the server continues: one connected trace across
a real socket. Server spans end on uvicorn's thread, possibly just after the client has its
response, hence the bounded waits for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from asgi_server import serve
from fastapi import APIRouter, BackgroundTasks, FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from websockets.sync.client import connect

import codetrace.runtime as rt
from codetrace.runtime import hooks
from codetrace.runtime._asgi import TracingMiddleware

background_done = threading.Event()


def build_app() -> FastAPI:
    app = FastAPI()
    hooks.starlette(app)  # what `codetrace apply` writes after `app = FastAPI()`
    api = APIRouter(prefix="/api")

    @api.get("/users/{uid}")
    def user(uid: int) -> dict[str, int]:
        return {"uid": uid}

    @app.get("/items/{item_id}")
    async def item(item_id: int, q: str = "") -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/boom")
    def boom() -> None:
        raise ValueError("boom")

    @app.get("/unavailable")
    def unavailable() -> Response:
        return Response("later", status_code=503)

    @app.post("/jobs")
    def jobs(tasks: BackgroundTasks) -> dict[str, bool]:
        def work() -> None:
            with rt.span("background work"):
                time.sleep(0.01)
            background_done.set()

        tasks.add_task(work)
        return {"queued": True}

    @app.get("/stream")
    def stream() -> StreamingResponse:
        def chunks() -> Iterator[bytes]:
            for n in range(3):
                with rt.span(f"chunk {n}"):
                    yield b"x"

        return StreamingResponse(chunks())

    @app.websocket("/ws/{room}")
    async def chat(websocket: WebSocket, room: str) -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                with rt.span("message"):
                    await websocket.send_text(f"{room}:{text}")
        except WebSocketDisconnect:
            pass

    app.include_router(api)
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with serve(build_app()) as url:
        yield url


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with rt.traced(httpx.Client, "httpx.client")(timeout=10) as traced_client:
        yield traced_client


def wait_for(
    exporter: rt.InMemorySpanExporter, test: Callable[[list[rt.Span]], bool]
) -> list[rt.Span]:
    deadline = time.monotonic() + 5
    while True:
        spans = list(exporter.get_finished_spans())
        if test(spans) or time.monotonic() > deadline:
            return spans
        time.sleep(0.005)


def server_spans(exporter: rt.InMemorySpanExporter, count: int = 1) -> list[rt.Span]:
    spans = wait_for(exporter, lambda s: sum(x.kind == rt.SpanKind.SERVER for x in s) >= count)
    time.sleep(0.05)  # nothing more may come
    found = [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.SERVER]
    assert len(found) == count, spans
    return found


def one_client_span(exporter: rt.InMemorySpanExporter) -> rt.Span:
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.CLIENT]
    return span


def test_a_request_continues_the_callers_trace_named_by_its_route(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    response = client.get(server + "/items/42?q=lamp&token=secret", headers={"User-Agent": "t/1"})
    assert response.json() == {"item_id": 42, "q": "lamp"}
    (span,) = server_spans(exporter)
    caller = one_client_span(exporter)
    assert span.trace_id == caller.trace_id
    assert span.parent_id == caller.span_id
    assert span.is_remote_parent
    assert span.name == "GET /items/{item_id}"
    port = int(server.rsplit(":", 1)[1])
    attributes = dict(span.attributes)
    peer_port = attributes.pop("network.peer.port")
    assert attributes.pop("client.port") == peer_port
    assert attributes == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/items/42",
        "url.query": "q=lamp&token=REDACTED",
        "http.route": "/items/{item_id}",
        "http.response.status_code": 200,
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "network.peer.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "user_agent.original": "t/1",
    }
    assert span.status_code == rt.StatusCode.UNSET
    assert span.events == []


def test_an_included_router_route_has_its_prefix(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    assert client.get(server + "/api/users/7").json() == {"uid": 7}
    (span,) = server_spans(exporter)
    assert span.name == "GET /api/users/{uid}"
    assert span.attributes["http.route"] == "/api/users/{uid}"


def test_no_route_is_named_by_the_method_alone(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    assert client.get(server + "/missing/3").status_code == 404
    assert client.post(server + "/items/3").status_code == 405  # a route, not this method
    missing, wrong_method = server_spans(exporter, 2)
    assert missing.name == "GET"
    assert "http.route" not in missing.attributes
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.status_code == rt.StatusCode.UNSET  # the client's error, not the server's
    assert "error.type" not in missing.attributes
    assert wrong_method.name == "POST /items/{item_id}"
    assert wrong_method.attributes["http.response.status_code"] == 405


def test_a_raising_handler_is_a_500_with_its_error(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    response = client.get(server + "/boom")
    assert response.status_code == 500
    assert response.text == "Internal Server Error"  # what Starlette answers, unchanged
    (span,) = server_spans(exporter)
    assert span.name == "GET /boom"
    assert span.attributes["http.response.status_code"] == 500
    assert span.attributes["error.type"] == "ValueError"
    assert span.status_code == rt.StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.message"] == "boom"


def test_a_5xx_response_is_an_error_a_4xx_is_not(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    assert client.get(server + "/unavailable").status_code == 503
    (span,) = server_spans(exporter)
    assert span.attributes["error.type"] == "503"
    assert span.status_code == rt.StatusCode.ERROR
    assert span.events == []


def test_background_tasks_run_in_the_request_trace_after_its_span_ended(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    background_done.clear()
    assert client.post(server + "/jobs").json() == {"queued": True}
    assert background_done.wait(5)
    (span,) = server_spans(exporter)
    (work,) = wait_for(exporter, lambda s: any(x.name == "background work" for x in s))[-1:]
    assert work.name == "background work"
    assert work.trace_id == span.trace_id
    assert work.parent_id == span.span_id
    assert span.end_ns <= work.start_ns  # the request's duration is what its client waited


def test_a_streamed_response_is_timed_to_its_last_chunk(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter
) -> None:
    assert client.get(server + "/stream").content == b"xxx"
    (span,) = server_spans(exporter)
    chunks = [s for s in exporter.get_finished_spans() if s.name.startswith("chunk")]
    assert len(chunks) == 3
    assert all(c.parent_id == span.span_id for c in chunks)
    assert span.end_ns >= max(c.end_ns for c in chunks)


def test_a_websocket_is_one_span_for_the_connection(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    url = server.replace("http://", "ws://") + "/ws/lobby"
    with rt.span("caller") as caller:
        headers: dict[str, str] = {}
        rt.inject(headers)
        with connect(url, additional_headers=headers, open_timeout=5) as websocket:
            for text in ("a", "b"):
                websocket.send(text)
                assert websocket.recv(timeout=5) == f"lobby:{text}"
    (span,) = server_spans(exporter)
    assert span.name == "HTTP /ws/{room}"  # as OpenTelemetry names it
    assert span.parent_id == caller.span_id
    assert span.attributes["http.route"] == "/ws/{room}"
    assert span.attributes["url.scheme"] == "ws"
    assert span.attributes["url.path"] == "/ws/lobby"
    assert "http.request.method" not in span.attributes
    assert span.status_code == rt.StatusCode.UNSET  # the client closed: a normal end
    messages = [s for s in exporter.get_finished_spans() if s.name == "message"]
    assert [m.parent_id for m in messages] == [span.span_id] * 2
    # nothing for the ASGI events: the caller, the connection, the two messages
    assert len(exporter.get_finished_spans()) == 4


def test_excluded_urls(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "health")
    rt.reset()
    rt.configure(exporter=exporter)
    assert client.get(server + "/health").json() == {"status": "ok"}
    assert client.get(server + "/items/1").status_code == 200
    (span,) = server_spans(exporter)
    assert span.name == "GET /items/{item_id}"


def test_fastapi_excluded_urls_replace_the_general_list(
    server: str, client: httpx.Client, exporter: rt.InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "health")
    monkeypatch.setenv("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", r"/items/\d+$,/api/")
    rt.reset()
    rt.configure(exporter=exporter)
    for path in ("/items/1", "/api/users/1", "/health"):
        assert client.get(server + path).status_code == 200
    (span,) = server_spans(exporter)
    assert span.name == "GET /health"


def test_the_hook_adds_one_middleware_and_leaves_the_app_alone() -> None:
    app = FastAPI()
    assert hooks.starlette(app) is app
    assert hooks.starlette(app) is app
    assert [m.cls for m in app.user_middleware] == [TracingMiddleware]


def test_an_app_that_already_started_is_left_untraced_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Starlette()
    app.middleware_stack = app.build_middleware_stack()
    assert hooks.starlette(app) is app
    assert app.user_middleware == []
    assert "could not instrument the ASGI app" in caplog.text
    assert hooks.starlette(object()) is not None  # not an app: returned, logged


def test_a_starlette_app_with_a_mount(
    client: httpx.Client, exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def order(request: Request) -> PlainTextResponse:
        with rt.span("lookup"):
            return PlainTextResponse(str(request.path_params["oid"]))

    async def ping(request: Request) -> PlainTextResponse:
        return PlainTextResponse("pong")

    shop = Starlette(routes=[Route("/orders/{oid:int}", order)])
    hooks.starlette(shop)  # both apps hooked, as `apply` does: still one span per request
    app = Starlette(routes=[Route("/ping", ping), Mount("/shop", app=shop)])
    hooks.starlette(app)
    monkeypatch.setenv("OTEL_PYTHON_STARLETTE_EXCLUDED_URLS", "/ping")
    rt.reset()
    rt.configure(exporter=exporter)
    with serve(app) as url:
        assert client.get(url + "/shop/orders/5").text == "5"
        assert client.get(url + "/ping").text == "pong"
        (span,) = server_spans(exporter)
    assert span.name == "GET /shop/orders/{oid}"
    (lookup,) = [s for s in exporter.get_finished_spans() if s.name == "lookup"]
    assert lookup.parent_id == span.span_id


def test_tracing_disabled_adds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    app = FastAPI()
    hooks.starlette(app)
    assert app.user_middleware == []


def test_a_plain_asgi_app_and_lifespan(exporter: rt.InMemorySpanExporter) -> None:
    """The middleware alone, on a bare ASGI callable: lifespan untraced, http traced."""
    seen: list[Any] = []

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope["type"], rt.current_span()))
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    with serve(TracingMiddleware(bare)) as url:
        assert httpx.get(url + "/anything").status_code == 204
        (span,) = server_spans(exporter)
    assert span.name == "GET"
    assert seen == [("http", span)]


def test_traceparent_from_a_plain_header(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = httpx.get(server + "/items/1", headers={"traceparent": parent})
    assert json.loads(response.text)["item_id"] == 1
    (span,) = server_spans(exporter)
    assert f"{span.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{span.parent_id:016x}" == "b7ad6b7169203331"


BRIDGED_WITH_NATIVE_FASTAPI = """
import asyncio, json
import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import codetrace.runtime as rt
from codetrace.runtime import hooks
from fastapi import FastAPI

memory = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(memory))
trace.set_tracer_provider(provider)
app = FastAPI()
hooks.starlette(app)

@app.get("/items/{i}")
async def item(i: int):
    with rt.span("inner"):
        return {"i": i}

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/items/3")).json() == {"i": 3}

asyncio.run(main())
print(json.dumps([[s.kind.name, s.name, s.instrumentation_scope.name,
                   format(s.context.span_id, "x"), s.parent and format(s.parent.span_id, "x")]
                  for s in memory.get_finished_spans()]))
"""


def test_bridged_to_opentelemetry_fastapis_own_server_span_is_the_only_one() -> None:
    """FastAPI's native OpenTelemetry span and codetrace's bridged one would be two SERVER spans
    in one provider for one request: codetrace leaves the request to FastAPI's."""
    if not hasattr(__import__("fastapi"), "telemetry"):
        pytest.skip("this FastAPI has no native OpenTelemetry support")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "CODETRACE_"))}
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", BRIDGED_WITH_NATIVE_FASTAPI],
        capture_output=True, text=True, timeout=60, env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    spans = json.loads(result.stdout)
    servers = [s for s in spans if s[0] == "SERVER"]
    assert [(s[1], s[2]) for s in servers] == [("GET /items/{i}", "fastapi")]
    (inner,) = [s for s in spans if s[1] == "inner"]
    by_id = {s[3]: s for s in spans}
    parent = by_id[inner[4]]
    while parent[4] is not None:  # up to the request's span
        parent = by_id[parent[4]]
    assert parent == servers[0]
