"""``hooks.flask(app)`` on a real Flask app served by werkzeug on 127.0.0.1, in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, Response, abort, stream_with_context
from werkzeug.serving import make_server

import codetrace.runtime as rt
from codetrace.runtime._flask import TracingMiddleware

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


def build_app() -> Flask:
    app = Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id}

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("kaboom")

    @app.get("/unavailable")
    def unavailable() -> str:
        abort(503)

    @app.get("/stream")
    def stream() -> Response:
        def chunks() -> Iterator[str]:
            for i in range(3):
                with rt.span(f"chunk{i}"):
                    time.sleep(0.01)
                yield f"{i}\n"

        return Response(stream_with_context(chunks()), mimetype="text/plain")

    @app.get("/fanout")
    def fanout() -> str:
        base = f"http://127.0.0.1:{app.config['PORT']}"
        response = rt.traced(requests.get, "requests.send")(base + "/items/1", timeout=5)
        return str(response.status_code)

    return app


@pytest.fixture(scope="module")
def app() -> Flask:
    application = build_app()
    assert rt.hooks.flask(application) is application
    assert rt.hooks.flask(application) is application  # idempotent
    return application


@pytest.fixture(scope="module")
def base_url(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.config["PORT"] = server.server_port
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def wait_for(exporter: rt.InMemorySpanExporter, count: int, timeout: float = 5.0) -> list[rt.Span]:
    """The server ends its span when it closes the response, just after the client has it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = list(exporter.get_finished_spans())
        if len(spans) >= count:
            return spans
        time.sleep(0.005)
    raise AssertionError(f"expected {count} spans, got {exporter.get_finished_spans()}")


def server_spans(spans: list[rt.Span]) -> list[rt.Span]:
    return [s for s in spans if s.kind == rt.SpanKind.SERVER]


def test_server_span_continues_the_callers_trace(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    response = requests.get(
        base_url + "/items/7?q=1&sig=secret",
        headers={
            "traceparent": f"00-{TRACE}-{PARENT}-01",
            "tracestate": "congo=t61rcWkgMzE",
            "User-Agent": "tests/1.0",
        },
        timeout=5,
    )
    assert response.json() == {"id": 7}
    (s,) = wait_for(exporter, 1)
    assert s.kind == rt.SpanKind.SERVER
    assert s.name == "GET /items/<int:item_id>"
    assert s.trace_id == int(TRACE, 16)
    assert s.parent_id == int(PARENT, 16)
    assert s.is_remote_parent is True
    assert s.trace_state == "congo=t61rcWkgMzE"
    port = int(base_url.rsplit(":", 1)[1])
    attributes = dict(s.attributes)
    assert isinstance(attributes.pop("network.peer.port"), int)
    assert attributes == {
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/items/7",
        "url.query": "q=1&sig=REDACTED",
        "http.route": "/items/<int:item_id>",
        "http.response.status_code": 200,
        "server.address": "127.0.0.1",
        "server.port": port,
        "client.address": "127.0.0.1",
        "network.peer.address": "127.0.0.1",
        "network.protocol.version": "1.1",
        "user_agent.original": "tests/1.0",
    }
    assert s.status_code == rt.StatusCode.UNSET


def test_without_traceparent_a_new_trace_starts(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    requests.get(base_url + "/items/1", headers={"traceparent": "00-garbage"}, timeout=5)
    (s,) = wait_for(exporter, 1)
    assert s.parent_id == 0 and not s.is_remote_parent and s.trace_id


def test_unhandled_exception_gives_500_and_is_recorded(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    response = requests.get(base_url + "/boom", timeout=5)
    assert response.status_code == 500
    (s,) = wait_for(exporter, 1)
    assert s.name == "GET /boom"
    assert s.attributes["http.response.status_code"] == 500
    assert s.attributes["error.type"] == "RuntimeError"
    assert s.status_code == rt.StatusCode.ERROR
    (event,) = s.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "RuntimeError"
    assert event.attributes["exception.message"] == "kaboom"


def test_5xx_without_exception_sets_error_type_to_the_status(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    assert requests.get(base_url + "/unavailable", timeout=5).status_code == 503
    (s,) = wait_for(exporter, 1)
    assert s.attributes["error.type"] == "503"
    assert s.status_code == rt.StatusCode.ERROR
    assert s.events == []


def test_unmatched_route_is_named_by_the_method_only(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    assert requests.get(base_url + "/nowhere", timeout=5).status_code == 404
    (s,) = wait_for(exporter, 1)
    assert s.name == "GET"
    assert "http.route" not in s.attributes
    assert s.attributes["http.response.status_code"] == 404
    assert "error.type" not in s.attributes  # 4xx is the client's error
    assert s.status_code == rt.StatusCode.UNSET


def test_non_standard_method(base_url: str, exporter: rt.InMemorySpanExporter) -> None:
    requests.request("PROPFIND", base_url + "/items/1", timeout=5)
    (s,) = wait_for(exporter, 1)
    assert s.name.startswith("HTTP")
    assert s.attributes["http.request.method"] == "_OTHER"
    assert s.attributes["http.request.method_original"] == "PROPFIND"


def test_streaming_response_ends_when_closed(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    response = requests.get(base_url + "/stream", timeout=5)
    assert response.text == "0\n1\n2\n"
    spans = wait_for(exporter, 4)
    (server,) = server_spans(spans)
    chunks = [s for s in spans if s.name.startswith("chunk")]
    assert len(chunks) == 3
    for chunk in chunks:
        assert chunk.parent_id == server.span_id and chunk.trace_id == server.trace_id
        assert server.start_ns <= chunk.start_ns and chunk.end_ns <= server.end_ns
    assert server.end_ns - server.start_ns >= 30_000_000


def test_client_and_server_spans_form_one_trace(
    base_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    assert requests.get(base_url + "/fanout", timeout=5).text == "200"
    spans = wait_for(exporter, 3)
    outer = next(s for s in spans if s.name == "GET /fanout")
    client = next(s for s in spans if s.kind == rt.SpanKind.CLIENT)
    inner = next(s for s in spans if s.name == "GET /items/<int:item_id>")
    assert client.parent_id == outer.span_id
    assert inner.parent_id == client.span_id and inner.is_remote_parent
    assert len({outer.trace_id, client.trace_id, inner.trace_id}) == 1


def test_instrumented_once(app: Flask) -> None:
    assert isinstance(app.wsgi_app, TracingMiddleware)
    assert not isinstance(app.wsgi_app.wsgi_app, TracingMiddleware)
    assert app.extensions["codetrace"] is True


def test_disabled_leaves_the_app_alone() -> None:
    rt.configure(disabled=True)
    fresh = Flask("fresh")
    original = fresh.wsgi_app
    assert rt.hooks.flask(fresh) is fresh
    assert fresh.wsgi_app == original


def test_non_flask_object_is_returned_untouched() -> None:
    thing = object()
    assert rt.hooks.flask(thing) is thing


def test_exception_propagated_by_flask_is_recorded_once(exporter: rt.InMemorySpanExporter) -> None:
    fresh = build_app()
    fresh.config["PROPAGATE_EXCEPTIONS"] = True
    rt.hooks.flask(fresh)
    client = fresh.test_client()
    with pytest.raises(RuntimeError):
        client.get("/boom")
    (s,) = exporter.get_finished_spans()
    assert len(s.events) == 1 and s.attributes["error.type"] == "RuntimeError"


def test_test_client_requests_end_even_when_the_body_is_never_read(
    app: Flask, exporter: rt.InMemorySpanExporter
) -> None:
    """Test clients may never close a response: a body already in memory ends the span."""
    client = app.test_client()
    response = client.get("/items/7")
    assert response.status_code == 200  # headers only: the body is not read, nor closed
    (server,) = server_spans(list(exporter.get_finished_spans()))
    assert server.name == "GET /items/<int:item_id>"
    assert server.attributes["http.response.status_code"] == 200
    streamed = client.get("/stream")  # streamed: ends only when the body is done
    assert len(server_spans(list(exporter.get_finished_spans()))) == 1
    assert streamed.get_data() == b"0\n1\n2\n"
    assert len(server_spans(list(exporter.get_finished_spans()))) == 2


def test_error_pages_end_their_span_when_only_the_status_is_read(
    exporter: rt.InMemorySpanExporter,
) -> None:
    """A 404 and a 500 from a failing error handler: werkzeug streams error bodies, and test
    clients that check the status never read them (found on flask-restx's own tests)."""
    app = rt.hooks.flask(Flask(__name__))

    @app.route("/boom")
    def boom() -> str:
        raise RuntimeError("view fails")

    @app.errorhandler(RuntimeError)
    def handle(error: Exception) -> str:
        raise ValueError("the handler fails too")

    app.logger.disabled = True
    client = app.test_client()
    assert client.get("/missing").status_code == 404
    assert client.get("/boom").status_code == 500
    spans = exporter.get_finished_spans()
    assert [(s.name, s.attributes["http.response.status_code"]) for s in spans] == [
        ("GET", 404), ("GET /boom", 500)]
