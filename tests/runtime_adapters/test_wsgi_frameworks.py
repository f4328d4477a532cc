"""``hooks.wsgi(app)`` on real Bottle, Falcon and Pyramid apps served by wsgiref on 127.0.0.1.

Each app is built the way instrumented code builds it (the hook right after the creation
statement) and has the same routes: an item with a route template that calls a child span and
sets repeated response headers, a failing view, a 503, a health check, and a view that calls
the app itself through a traced ``requests`` client (one trace across the hop).
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import bottle
import falcon
import pytest
import requests

with warnings.catch_warnings():  # WebOb 1.8, the latest, imports the deprecated ``cgi``
    warnings.filterwarnings("ignore", "'cgi' is deprecated", DeprecationWarning)
    from pyramid.config import Configurator
    from pyramid.httpexceptions import HTTPServiceUnavailable
    from pyramid.request import Request as PyramidRequest
    from pyramid.response import Response as PyramidResponse

from wsgi_server import serve

import codetrace.runtime as rt
from codetrace.runtime import _captured_headers

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"
CAPTURE = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"


def _fanout(base: str) -> int:
    response = rt.traced(requests.get, "requests.send")(base + "/items/1", timeout=5)
    return int(response.status_code)


def bottle_app() -> Any:
    app = bottle.Bottle()
    rt.hooks.wsgi(app)  # what `apply` writes after `app = bottle.Bottle()`

    @app.get("/items/<item_id:int>")
    def item(item_id: int) -> dict[str, Any]:
        with rt.span("load item"):
            pass
        bottle.response.set_header("X-Resp-Id", "r1")
        bottle.response.add_header("Set-Cookie", "a=1")
        bottle.response.add_header("Set-Cookie", "b=2")
        return {"id": item_id}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    @app.get("/unavailable")
    def unavailable() -> str:
        bottle.abort(503)
        return ""  # pragma: no cover

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.get("/fanout")
    def fanout() -> str:
        environ = bottle.request.environ
        return str(_fanout(f"http://{environ['HTTP_HOST']}"))

    return app


class _Item:
    def on_get(self, req: falcon.Request, resp: falcon.Response, item_id: int) -> None:
        with rt.span("load item"):
            pass
        resp.set_header("X-Resp-Id", "r1")
        resp.append_header("Set-Cookie", "a=1")
        resp.media = {"id": item_id}


class _Boom:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise RuntimeError("kaboom")


class _Unavailable:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise falcon.HTTPServiceUnavailable()


class _Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.text = "ok"


class _Fanout:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.text = str(_fanout(f"http://{req.env['HTTP_HOST']}"))


def falcon_app() -> Any:
    app = falcon.App()
    rt.hooks.wsgi(app)  # what `apply` writes after `app = falcon.App()`
    app.add_route("/items/{item_id:int}", _Item())
    app.add_route("/boom", _Boom())
    app.add_route("/unavailable", _Unavailable())
    app.add_route("/health", _Health())
    app.add_route("/fanout", _Fanout())
    return app


def _pyramid_item(request: PyramidRequest) -> PyramidResponse:
    with rt.span("load item"):
        pass
    response = PyramidResponse(json={"id": request.matchdict["item_id"]})
    response.headers["X-Resp-Id"] = "r1"
    response.headers.add("Set-Cookie", "a=1")
    response.headers.add("Set-Cookie", "b=2")
    return response


def _pyramid_boom(request: PyramidRequest) -> PyramidResponse:
    raise RuntimeError("kaboom")


def _pyramid_unavailable(request: PyramidRequest) -> PyramidResponse:
    raise HTTPServiceUnavailable()


def _pyramid_health(request: PyramidRequest) -> PyramidResponse:
    return PyramidResponse("ok")


def _pyramid_fanout(request: PyramidRequest) -> PyramidResponse:
    return PyramidResponse(str(_fanout(f"http://{request.environ['HTTP_HOST']}")))


def pyramid_app() -> Any:
    config = Configurator()
    rt.hooks.wsgi(config)  # what `apply` writes after `config = Configurator()`
    for name, pattern, view in [
        ("item", "/items/{item_id}", _pyramid_item),
        ("boom", "/boom", _pyramid_boom),
        ("unavailable", "/unavailable", _pyramid_unavailable),
        ("health", "/health", _pyramid_health),
        ("fanout", "/fanout", _pyramid_fanout),
    ]:
        config.add_route(name, pattern)
        config.add_view(view, route_name=name)
    return config.make_wsgi_app()


FRAMEWORKS: dict[str, tuple[Callable[[], Any], str, str]] = {
    # name: (build the app, the item route's template, its exclusion variable)
    "bottle": (bottle_app, "/items/<item_id:int>", "OTEL_PYTHON_BOTTLE_EXCLUDED_URLS"),
    "falcon": (falcon_app, "/items/{item_id:int}", "OTEL_PYTHON_FALCON_EXCLUDED_URLS"),
    "pyramid": (pyramid_app, "/items/{item_id}", "OTEL_PYTHON_PYRAMID_EXCLUDED_URLS"),
}


@pytest.fixture(params=list(FRAMEWORKS))
def framework(request: pytest.FixtureRequest) -> tuple[str, Callable[[], Any], str, str]:
    name = request.param
    return (name, *FRAMEWORKS[name])


@pytest.fixture
def served(
    framework: tuple[str, Callable[[], Any], str, str], exporter: rt.InMemorySpanExporter
) -> Iterator[str]:
    with serve(framework[1]()) as base:
        yield base


def wait_for(exporter: rt.InMemorySpanExporter, count: int, timeout: float = 5.0) -> list[rt.Span]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = list(exporter.get_finished_spans())
        if len(spans) >= count:
            return spans
        time.sleep(0.005)
    raise AssertionError(f"expected {count} spans, got {exporter.get_finished_spans()}")


def _server(spans: list[rt.Span]) -> list[rt.Span]:
    return [s for s in spans if s.kind == rt.SpanKind.SERVER]


def test_route_attributes_and_continued_trace(
    served: str, framework: tuple[str, Callable[[], Any], str, str],
    exporter: rt.InMemorySpanExporter,
) -> None:
    template = framework[2]
    headers = {"traceparent": f"00-{TRACE}-{PARENT}-01", "User-Agent": "probe/1"}
    response = requests.get(served + "/items/7?q=1", headers=headers, timeout=5)
    assert response.status_code == 200
    assert json.loads(response.content)["id"] in (7, "7")
    spans = wait_for(exporter, 2)
    (server,) = _server(spans)
    (child,) = [s for s in spans if s.name == "load item"]
    assert child.parent_id == server.span_id
    assert server.name == f"GET {template}"
    assert (f"{server.trace_id:032x}", f"{server.parent_id:016x}") == (TRACE, PARENT)
    port = int(served.rsplit(":", 1)[1])
    attributes = dict(server.attributes)
    assert "network.peer.port" not in attributes  # wsgiref gives no REMOTE_PORT
    assert attributes == {
        "http.request.method": "GET",
        "http.route": template,
        "url.scheme": "http",
        "url.path": "/items/7",
        "url.query": "q=1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "network.peer.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "user_agent.original": "probe/1",
        "http.response.status_code": 200,
    }
    assert server.status_code == rt.StatusCode.UNSET


def test_a_traced_client_is_the_server_span_parent(
    served: str, exporter: rt.InMemorySpanExporter
) -> None:
    response = requests.get(served + "/fanout", timeout=5)  # the app calls itself, traced
    assert response.text == "200"
    spans = wait_for(exporter, 4)
    outer, inner = sorted(_server(spans), key=lambda s: s.start_ns)
    (client,) = [s for s in spans if s.kind == rt.SpanKind.CLIENT]
    assert client.parent_id == outer.span_id
    assert inner.parent_id == client.span_id
    assert inner.trace_id == client.trace_id == outer.trace_id


def test_not_found_failure_and_5xx(served: str, exporter: rt.InMemorySpanExporter) -> None:
    statuses = [
        requests.get(served + path, timeout=5).status_code
        for path in ("/nowhere", "/boom", "/unavailable")
    ]
    assert statuses == [404, 500, 503]
    spans = sorted(_server(wait_for(exporter, 3)), key=lambda s: s.start_ns)
    missing, boom, unavailable = spans
    assert missing.name == "GET"
    assert "http.route" not in missing.attributes
    assert missing.attributes["http.response.status_code"] == 404
    assert missing.status_code == rt.StatusCode.UNSET  # the client's error
    assert boom.name.startswith("GET /boom")
    assert boom.attributes["http.response.status_code"] == 500
    assert boom.attributes["error.type"] in ("RuntimeError", "builtins.RuntimeError", "500")
    assert boom.status_code == rt.StatusCode.ERROR
    assert unavailable.attributes["http.response.status_code"] == 503
    assert unavailable.attributes["error.type"] == "503"
    assert unavailable.status_code == rt.StatusCode.ERROR


def test_excluded_urls(
    framework: tuple[str, Callable[[], Any], str, str],
    monkeypatch: pytest.MonkeyPatch,
    exporter: rt.InMemorySpanExporter,
) -> None:
    """The general variable excludes ``/health``; the framework's own replaces it."""
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health")
    with serve(framework[1]()) as base:
        for path in ("/health", "/items/1"):
            assert requests.get(base + path, timeout=5).status_code == 200
        (span,) = _server(wait_for(exporter, 2))
        assert span.attributes["url.path"] == "/items/1"
        exporter.clear()
        monkeypatch.setenv(framework[3], "/items/")
        rt.reset()
        rt.configure(exporter=exporter)
        for path in ("/health", "/items/1"):
            assert requests.get(base + path, timeout=5).status_code == 200
        (span,) = _server(wait_for(exporter, 1))
        assert span.attributes["url.path"] == "/health"


def test_headers_captured(
    served: str, framework: tuple[str, Callable[[], Any], str, str],
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter,
) -> None:
    monkeypatch.setenv(CAPTURE + "SERVER_REQUEST", "x-caller,x-secret-.*,x-absent")
    monkeypatch.setenv(CAPTURE + "SERVER_RESPONSE", "x-resp-.*,set-cookie,x-absent")
    monkeypatch.setenv(CAPTURE + "SANITIZE_FIELDS", "secret")
    _captured_headers.forget()
    connection = http.client.HTTPConnection(served.removeprefix("http://"), timeout=5)
    try:
        connection.putrequest("GET", "/items/3")
        for name, value in [("X-Caller", "c1"), ("X-Caller", "c2"), ("X-Secret-Key", "k")]:
            connection.putheader(name, value)
        connection.endheaders()
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    (span,) = _server(wait_for(exporter, 2))
    expected = {
        "http.request.header.x-caller": ["c1,c2"],  # wsgiref joins a repeated header
        "http.request.header.x-secret-key": ["[REDACTED]"],
        "http.response.header.x-resp-id": ["r1"],
        "http.response.header.set-cookie": ["a=1", "b=2"],
    }
    if framework[0] == "falcon":  # Falcon's ``resp.headers`` leaves its cookies out
        del expected["http.response.header.set-cookie"]
    assert {k: v for k, v in span.attributes.items() if ".header." in k} == expected


def test_no_headers_by_default(served: str, exporter: rt.InMemorySpanExporter) -> None:
    assert requests.get(served + "/items/3", headers={"X-Caller": "c"}, timeout=5).ok
    (span,) = _server(wait_for(exporter, 2))
    assert not any(".header." in key for key in span.attributes)


def test_hooking_twice_traces_once(
    framework: tuple[str, Callable[[], Any], str, str], exporter: rt.InMemorySpanExporter
) -> None:
    name = framework[0]
    if name == "pyramid":
        config = Configurator()
        assert rt.hooks.wsgi(config) is config
        assert rt.hooks.wsgi(config) is config
        config.add_route("health", "/health")
        config.add_view(_pyramid_health, route_name="health")
        app = config.make_wsgi_app()
    else:
        app = bottle.Bottle() if name == "bottle" else falcon.App()
        assert rt.hooks.wsgi(app) is app
        assert rt.hooks.wsgi(app) is app
        if name == "bottle":
            app.route("/health")(lambda: "ok")
        else:
            app.add_route("/health", _Health())
    with serve(app) as base:
        assert requests.get(base + "/health", timeout=5).status_code == 200
        time.sleep(0.05)
        assert len(_server(wait_for(exporter, 1))) == 1


def test_other_objects_are_left_alone(
    exporter: rt.InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    def plain_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with caplog.at_level(logging.WARNING):
        assert rt.hooks.wsgi(plain_app) is plain_app
    assert "Bottle, Falcon and Pyramid" in caplog.text
    with serve(plain_app) as base:
        assert requests.get(base + "/", timeout=5).text == "ok"
    assert exporter.get_finished_spans() == ()


def test_flask_excluded_urls_through_the_shared_middleware(
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    """The Flask hook shares ``_wsgi``'s middleware and reads ``OTEL_PYTHON_FLASK_EXCLUDED_URLS``
    (else the general list), matched against the full URL, query included."""
    from flask import Flask

    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health")
    monkeypatch.setenv("OTEL_PYTHON_FLASK_EXCLUDED_URLS", r"\?skip=1$")
    app = Flask("excluded")
    rt.hooks.flask(app)
    app.get("/health")(lambda: "ok")
    with serve(app) as base:
        for path in ("/health", "/health?skip=1"):
            assert requests.get(base + path, timeout=5).status_code == 200
        wait_for(exporter, 1)
        time.sleep(0.1)  # Flask's span ends when the server closes the response
        (span,) = _server(list(exporter.get_finished_spans()))
    assert "url.query" not in span.attributes  # /health traced: the Flask list replaces the other
