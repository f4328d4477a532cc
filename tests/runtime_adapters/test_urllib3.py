"""The ``urllib3.pool`` and ``urllib3.request`` adapters against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
import requests
import requests.adapters
import urllib3
from flask import Flask
from urllib3.connectionpool import HTTPConnectionPool, connection_from_url
from werkzeug.serving import make_server

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import parse_traceparent

POOL = "urllib3.pool"


class HopHandler(http.server.BaseHTTPRequestHandler):
    """``/hop/N`` redirects to ``/hop/N-1``; anything else echoes the request as JSON."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = self.path.split("/")
        if len(parts) == 3 and parts[1] == "hop" and parts[2] != "0":
            self.send_response(302)
            self.send_header("Location", f"/hop/{int(parts[2]) - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps(
            {"path": self.path, "headers": [[k.lower(), v] for k, v in self.headers.items()]}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hops(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(HopHandler)


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _seen(response: Any, name: str) -> list[str]:
    body = json.loads(response.data if hasattr(response, "data") else response.content)
    return [value for key, value in body["headers"] if key == name]


def _assert_propagated(response: Any, span: rt.Span) -> None:
    (header,) = _seen(response, "traceparent")
    parsed = parse_traceparent(header)
    assert parsed is not None
    assert parsed[:2] == (span.trace_id, span.span_id)


def test_pool_manager_request_is_one_client_span(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    headers = {"X-Caller": "1"}
    manager = rt.traced(urllib3.PoolManager, POOL)(headers={"X-Default": "d"})
    assert type(manager) is urllib3.PoolManager  # the manager itself is untouched
    with rt.span("parent") as parent:
        response = manager.request("GET", server + "/echo?q=1", headers=headers)
    assert response.status == 200
    assert headers == {"X-Caller": "1"}  # the caller's mapping is never changed
    span = exporter.get_finished_spans()[0]
    assert span.name == "GET"
    assert span.kind == rt.SpanKind.CLIENT
    assert span.parent_id == parent.span_id
    assert span.attributes == {
        "http.request.method": "GET",
        "url.full": server + "/echo?q=1",
        "server.address": "127.0.0.1",
        "server.port": _port(server),
        "http.response.status_code": 200,
    }
    assert span.status_code == rt.StatusCode.UNSET
    _assert_propagated(response, span)
    assert _seen(response, "x-caller") == ["1"]
    assert rt.current_span() is None


def test_default_headers_are_kept_and_not_changed(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    manager = rt.traced(urllib3.PoolManager, POOL)(headers={"X-Default": "d"})
    response = manager.urlopen("POST", server + "/p", body=b"x")
    assert manager.headers == {"X-Default": "d"}
    assert _seen(response, "x-default") == ["d"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST"
    _assert_propagated(response, span)


def test_a_pool_manager_redirect_is_one_span_per_hop(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    manager = rt.traced(urllib3.PoolManager, POOL)()
    with rt.span("parent") as parent:
        response = manager.request("GET", hops + "/hop/2")
    assert response.status == 200
    spans = [s for s in exporter.get_finished_spans() if s.name == "GET"]
    assert [s.attributes["url.full"] for s in spans] == [
        hops + "/hop/2", hops + "/hop/1", hops + "/hop/0",
    ]
    assert [s.attributes["http.response.status_code"] for s in spans] == [302, 302, 200]
    assert {s.parent_id for s in spans} == {parent.span_id}  # siblings, as OpenTelemetry's
    _assert_propagated(response, spans[-1])  # each hop carries its own span's traceparent


def test_a_pool_following_redirects_itself_is_one_span(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    pool = rt.traced(HTTPConnectionPool, POOL)("127.0.0.1", port=_port(hops))
    assert isinstance(pool, HTTPConnectionPool)
    response = pool.urlopen("GET", "/hop/2", redirect=True)
    assert response.status == 200
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.full"] == hops + "/hop/2"
    assert span.attributes["http.response.status_code"] == 200
    _assert_propagated(response, span)


def test_positional_headers_and_connection_from_url(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    pool = rt.traced(connection_from_url, POOL)(server)
    assert isinstance(pool, HTTPConnectionPool)
    headers = {"X-Positional": "1"}
    response = pool.urlopen("GET", "/pos", None, headers)
    assert headers == {"X-Positional": "1"}
    assert _seen(response, "x-positional") == ["1"]
    (span,) = exporter.get_finished_spans()
    _assert_propagated(response, span)


@pytest.mark.parametrize("code", [404, 500])
def test_error_status(server: str, exporter: rt.InMemorySpanExporter, code: int) -> None:
    manager = rt.traced(urllib3.PoolManager, POOL)()
    response = manager.request("GET", f"{server}/status/{code}")
    assert response.status == code
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == code
    assert span.attributes["error.type"] == str(code)
    assert span.status_code == rt.StatusCode.ERROR


def test_refused_connection_is_reraised_unchanged(
    refused_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    manager = rt.traced(urllib3.PoolManager, POOL)()
    with pytest.raises(urllib3.exceptions.MaxRetryError) as raised:
        manager.request("GET", refused_url, retries=urllib3.Retry(total=2, backoff_factor=0))
    with pytest.raises(urllib3.exceptions.MaxRetryError) as plain:
        urllib3.PoolManager().request("GET", refused_url, retries=2)
    assert type(raised.value) is type(plain.value)
    (span,) = exporter.get_finished_spans()  # the pool's retries are inside the one span
    assert span.attributes["error.type"] == "urllib3.exceptions.MaxRetryError"
    assert span.status_code == rt.StatusCode.ERROR
    assert rt.current_span() is None


def test_module_level_request(hops: str, exporter: rt.InMemorySpanExporter) -> None:
    headers = {"X-Caller": "1"}
    response = rt.traced(urllib3.request, "urllib3.request")(
        "GET", hops + "/hop/1", headers=headers
    )
    assert headers == {"X-Caller": "1"}
    (span,) = exporter.get_finished_spans()  # redirects inside the call: one span
    assert span.name == "GET"
    assert span.attributes["url.full"] == hops + "/hop/1"
    assert span.attributes["http.response.status_code"] == 200
    _assert_propagated(response, span)
    assert _seen(response, "x-caller") == ["1"]


def test_proxy_manager_reports_the_target_url(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    # the echo server plays the proxy: it answers the absolute-form request itself
    manager = rt.traced(urllib3.ProxyManager, POOL)(server)
    response = manager.request("GET", "http://shop.internal:8081/cart")
    assert json.loads(response.data)["path"] == "http://shop.internal:8081/cart"
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.full"] == "http://shop.internal:8081/cart"
    assert span.attributes["server.address"] == "shop.internal"
    assert span.attributes["server.port"] == 8081
    _assert_propagated(response, span)


def test_no_second_span_under_a_traced_requests_call(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    class Adapter(requests.adapters.HTTPAdapter):
        """A project's adapter building its own (traced) pool manager, a common pattern."""

        def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                             **kwargs: Any) -> None:
            self.poolmanager = rt.traced(urllib3.PoolManager, POOL)(
                num_pools=connections, maxsize=maxsize, block=block, **kwargs
            )

    session = requests.Session()
    session.mount("http://", Adapter())
    response = rt.traced(session.get, "requests.send")(server + "/one")
    traced_session = rt.traced(requests.Session, "requests.session")()
    traced_session.mount("http://", Adapter())
    second = traced_session.get(server + "/two")
    spans = exporter.get_finished_spans()
    assert len(spans) == 2  # the requests spans alone
    assert [s.parent_id for s in spans] == [0, 0]
    _assert_propagated(response, spans[0])
    _assert_propagated(second, spans[1])
    # the same manager traces a request made outside requests
    session.get_adapter(server).poolmanager.request("GET", server + "/three")
    assert len(exporter.get_finished_spans()) == 3


def test_mocked_urlopen_is_called_through(exporter: rt.InMemorySpanExporter) -> None:
    pool = rt.traced(HTTPConnectionPool, POOL)("127.0.0.1", port=1)
    headers = {"X": "1"}
    with mock.patch.object(HTTPConnectionPool, "urlopen", return_value="fake") as urlopen:
        assert pool.urlopen("GET", "/x", headers=headers) == "fake"
    urlopen.assert_called_once_with("GET", "/x", headers=headers)
    with mock.patch("urllib3.request", return_value="fake") as request:
        assert rt.traced(urllib3.request, "urllib3.request")("GET", "http://x/") == "fake"
    request.assert_called_once_with("GET", "http://x/")
    assert list(exporter.get_finished_spans()) == []


def test_excluded_urls(
    server: str, exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_EXCLUDED_URLS", "/health")
    manager = rt.traced(urllib3.PoolManager, POOL)()
    manager.request("GET", server + "/health")
    manager.request("GET", server + "/orders")
    assert [s.attributes["url.full"] for s in exporter.get_finished_spans()] == [
        server + "/orders"
    ]
    monkeypatch.setenv("OTEL_PYTHON_URLLIB3_EXCLUDED_URLS", "/orders")
    rt.reset()
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    manager.request("GET", server + "/health")  # the library's own list replaces the general
    manager.request("GET", server + "/orders")
    assert [s.attributes["url.full"] for s in memory.get_finished_spans()] == [
        server + "/health"
    ]


def test_pools_of_a_traced_manager_are_traced_subclasses(
    exporter: rt.InMemorySpanExporter,
) -> None:
    manager = rt.traced(urllib3.PoolManager, POOL)()
    pool = manager.connection_from_url("http://127.0.0.1:9/")
    assert isinstance(pool, HTTPConnectionPool)
    assert type(pool) is not HTTPConnectionPool  # documented: a traced subclass
    assert type(pool).__name__ == "HTTPConnectionPool"
    assert urllib3.poolmanager.pool_classes_by_scheme["http"] is HTTPConnectionPool  # untouched


# -- connected across a hop: the client span is the server span's parent ---------------------------


@pytest.fixture(scope="module")
def flask_server() -> Iterator[str]:
    """A Flask app traced by its hook, served by werkzeug on 127.0.0.1 (stopped after)."""
    app = rt.hooks.flask(Flask("inventory"))

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, Any]:
        return {"id": item_id}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def _pool_manager(url: str) -> object:
    return rt.traced(urllib3.PoolManager, POOL)().request("GET", url).status


def _module_request(url: str) -> object:
    return rt.traced(urllib3.request, "urllib3.request")("GET", url).status


def _urlopen(url: str) -> object:
    with rt.traced(urllib.request.urlopen, "urllib.urlopen")(url) as response:
        return response.status


def _opener(url: str) -> object:
    opener = rt.traced(urllib.request.build_opener, "urllib.opener")()
    with opener.open(url) as response:
        return response.status


@pytest.mark.parametrize("send", [_pool_manager, _module_request, _urlopen, _opener])
def test_client_span_is_the_server_spans_parent(
    flask_server: str, exporter: rt.InMemorySpanExporter, send: Callable[[str], object]
) -> None:
    assert send(flask_server + "/items/3") == 200
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    spans = exporter.get_finished_spans()
    (client,) = [s for s in spans if s.kind == rt.SpanKind.CLIENT]
    (server,) = [s for s in spans if s.kind == rt.SpanKind.SERVER]
    assert server.name == "GET /items/<int:item_id>"
    assert (server.trace_id, server.parent_id) == (client.trace_id, client.span_id)


def test_repeated_headers_are_kept(server: str, exporter: rt.InMemorySpanExporter) -> None:
    headers = urllib3.HTTPHeaderDict()
    headers.add("X-Dup", "a")
    headers.add("X-Dup", "b")
    pool = rt.traced(urllib3.HTTPConnectionPool, POOL)("127.0.0.1", port=_port(server))
    response = pool.request("GET", "/dup", headers=headers)
    assert list(headers.items()) == [("X-Dup", "a"), ("X-Dup", "b")]  # not changed
    assert _seen(response, "x-dup") == ["a", "b"]  # both sent
    (span,) = exporter.get_finished_spans()
    _assert_propagated(response, span)
