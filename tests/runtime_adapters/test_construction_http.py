"""Construction adapters ``requests.session`` and ``httpx.client`` against a real server.

A session or client built through ``traced(Cls, "...")(...)`` is an instance of a traced
subclass whose ``send`` makes the span; these tests hold its spans to the call-site adapters'
for the same request, and check everything a program or its tests could notice.
"""

from __future__ import annotations

import asyncio
import copy
import http.server
import inspect
import json
import pickle
from collections.abc import Callable
from typing import Any
from unittest import mock

import httpx
import pytest
import requests

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import parse_traceparent


class RedirectingHandler(http.server.BaseHTTPRequestHandler):
    """``/hop/N`` redirects to ``/hop/N-1``; ``/hop/0`` echoes the headers as JSON."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = self.path.split("/")
        if len(parts) == 3 and parts[1] == "hop" and parts[2] != "0":
            self.send_response(302)
            self.send_header("Location", f"/hop/{int(parts[2]) - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        payload = json.dumps({"headers": [[k.lower(), v] for k, v in self.headers.items()]})
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hops(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(RedirectingHandler)


def _headers(received: Any, name: str) -> list[str]:
    data = received if isinstance(received, dict) else json.loads(received)
    return [value for key, value in data["headers"] if key == name]


def _assert_propagated(body: Any, span: rt.Span) -> None:
    (header,) = _headers(body, "traceparent")
    parsed = parse_traceparent(header)
    assert parsed is not None
    assert parsed[:2] == (span.trace_id, span.span_id)


def _shape(span: rt.Span) -> tuple[Any, ...]:
    return (span.name, span.kind, span.attributes, span.status_code)


# -- requests.session ----------------------------------------------------------------------------


def test_session_spans_match_the_call_site_adapter(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    plain = requests.Session()
    for method, url in [("get", "/a?q=1"), ("post", "/b"), ("delete", "/status/404")]:
        exporter.clear()
        response = getattr(session, method)(server + url)
        rt.traced(getattr(plain, method), "requests.send")(server + url)
        traced_span, call_site_span = exporter.get_finished_spans()
        assert _shape(traced_span) == _shape(call_site_span)
        assert traced_span.kind == rt.SpanKind.CLIENT
        _assert_propagated(response.json(), traced_span)
    assert traced_span.name == "DELETE"
    assert traced_span.attributes["error.type"] == "404"


def test_session_is_a_session_but_not_of_that_exact_type() -> None:
    session = rt.traced(requests.Session, "requests.session")()
    assert isinstance(session, requests.Session)
    assert type(session) is not requests.Session
    assert type(session).__name__ == "Session"
    assert type(session).__qualname__ == "Session"
    assert type(session).__module__ == "requests.sessions"
    assert repr(session).startswith("<requests.sessions.Session object")
    assert rt.traced(requests.Session, "requests.session")().__class__ is type(session)  # cached
    assert not hasattr(session, "__dict__") or "__dict__" not in vars(type(session))


def test_calls_anywhere_are_traced(server: str, exporter: rt.InMemorySpanExporter) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    getattr(session, "get")(server + "/x")  # noqa: B009
    callbacks = [lambda: session.request("PUT", server + "/y")]
    callbacks[0]()
    with session:
        session.head(server + "/z")
    assert [s.name for s in exporter.get_finished_spans()] == ["GET", "PUT", "HEAD"]


def test_redirects_one_span_per_hop_each_with_its_traceparent(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    response = session.get(hops + "/hop/2")
    assert response.status_code == 200 and len(response.history) == 2
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    middle, inner, outer = spans  # the hops run inside the first send, as with OpenTelemetry
    assert middle.parent_id == outer.span_id and inner.parent_id == outer.span_id
    assert [s.attributes["url.full"] for s in (outer, middle, inner)] == [
        hops + "/hop/2",
        hops + "/hop/1",
        hops + "/hop/0",
    ]
    # The first send returns the final response (requests follows redirects inside it).
    assert [s.attributes["http.response.status_code"] for s in (outer, middle, inner)] == [
        200,
        302,
        200,
    ]
    _assert_propagated(response.json(), inner)  # not the first hop's traceparent


def test_caller_traceparent_is_kept(server: str, exporter: rt.InMemorySpanExporter) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    session = rt.traced(requests.Session, "requests.session")()
    response = session.get(server + "/x", headers={"traceparent": mine})
    assert _headers(response.json(), "traceparent") == [mine]


def test_send_leaves_the_callers_prepared_request_alone(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    prepared = requests.Request("GET", server + "/p").prepare()
    before = dict(prepared.headers)
    first = session.send(prepared)
    second = session.send(prepared)
    assert dict(prepared.headers) == before
    one, two = exporter.get_finished_spans()
    _assert_propagated(first.json(), one)
    _assert_propagated(second.json(), two)


@pytest.mark.parametrize(
    "call",
    [
        lambda s, u: rt.traced(s.get, "requests.send")(u),
        lambda s, u: rt.traced(requests.Session.get, "requests.send")(s, u),
        lambda s, u: rt.traced(s.request, "requests.send")("GET", u),
        lambda s, u: rt.traced(s.send, "requests.send")(requests.Request("GET", u).prepare()),
        # the base class's send skips the traced one: the call site makes the span
        lambda s, u: rt.traced(requests.Session.send, "requests.send")(
            s, requests.Request("GET", u).prepare()
        ),
    ],
)
def test_call_site_wrap_on_a_traced_session_gives_one_span(
    server: str, exporter: rt.InMemorySpanExporter, call: Callable[[Any, str], Any]
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    response = call(session, server + "/one")
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"
    _assert_propagated(response.json(), span)


def test_call_site_wrap_of_the_constructor_inside_a_traced_call(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    # The other order: the session built where a call site is traced too.
    response = rt.traced(rt.traced(requests.Session, "requests.session")().get, "requests.send")(
        server + "/two"
    )
    (span,) = exporter.get_finished_spans()
    _assert_propagated(response.json(), span)


def test_project_subclass_override_runs_once_inside_one_span(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    calls: list[str] = []

    class ProjectSession(requests.Session):
        def __init__(self, token: str) -> None:
            super().__init__()
            self.headers["X-Token"] = token

        def send(self, request: Any, **kwargs: Any) -> Any:
            calls.append(request.url)
            return super().send(request, **kwargs)

    session = rt.traced(ProjectSession, "requests.session")("t0k")
    assert isinstance(session, ProjectSession) and type(session).__name__ == "ProjectSession"
    response = session.get(server + "/sub")
    assert calls == [server + "/sub"]
    assert _headers(response.json(), "x-token") == ["t0k"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET" and span.attributes["url.full"] == server + "/sub"
    _assert_propagated(response.json(), span)


def test_class_with_init_subclass_is_left_alone(exporter: rt.InMemorySpanExporter) -> None:
    registry: list[type] = []

    class Registered(requests.Session):
        def __init_subclass__(cls, **kwargs: Any) -> None:
            registry.append(cls)

    session = rt.traced(Registered, "requests.session")()
    assert type(session) is Registered and registry == []


def test_other_callees_are_called_unchanged(exporter: rt.InMemorySpanExporter) -> None:
    assert type(rt.traced(requests.session, "requests.session")()) is requests.Session
    assert rt.traced(dict, "requests.session")(a=1) == {"a": 1}
    assert rt.traced(lambda x: x * 2, "requests.session")(4) == 8
    assert exporter.get_finished_spans() == ()


def test_mocked_constructor_is_untouched() -> None:
    def scenario() -> list[Any]:
        with mock.patch("requests.Session") as patched:
            session = requests.Session("a", k=1)
            session.get("http://example.invalid/")
            return list(patched.mock_calls)

    def traced_scenario() -> list[Any]:
        with mock.patch("requests.Session") as patched:
            session = rt.traced(requests.Session, "requests.session")("a", k=1)
            assert session is patched.return_value
            session.get("http://example.invalid/")
            return list(patched.mock_calls)

    rt.configure(exporter=rt.InMemorySpanExporter())
    assert traced_scenario() == scenario()
    with mock.patch("requests.Session", autospec=True) as patched:
        session = rt.traced(requests.Session, "requests.session")()
        assert session is patched.return_value


def test_mocked_send_gets_the_callers_request(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    prepared = requests.Request("GET", server + "/m").prepare()
    with mock.patch.object(requests.Session, "send") as send:
        session.send(prepared, timeout=3)
    send.assert_called_once_with(prepared, timeout=3)
    (span,) = exporter.get_finished_spans()
    assert span.name == "HTTP"


def test_disabled_builds_a_plain_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    assert rt.traced(requests.Session, "requests.session") is requests.Session
    assert type(rt.traced(requests.Session, "requests.session")()) is requests.Session


def test_errors_are_recorded_and_reraised(
    refused_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    with pytest.raises(requests.ConnectionError):
        session.get(refused_url)
    (span,) = exporter.get_finished_spans()
    assert span.status_code == rt.StatusCode.ERROR
    assert span.attributes["error.type"] == "requests.exceptions.ConnectionError"
    assert rt.current_span() is None


def test_pickle_and_copy(server: str, exporter: rt.InMemorySpanExporter) -> None:
    session = rt.traced(requests.Session, "requests.session")()
    session.headers["X-Kept"] = "1"
    restored = pickle.loads(pickle.dumps(session))
    assert type(restored) is requests.Session  # by reference to the original: untraced
    assert restored.headers["X-Kept"] == "1"
    for duplicate in (copy.copy(session), copy.deepcopy(session)):
        assert type(duplicate) is type(session)  # copies stay traced
        assert duplicate.headers["X-Kept"] == "1"
        exporter.clear()
        duplicate.get(server + "/c")
        assert len(exporter.get_finished_spans()) == 1


# -- httpx.client ---------------------------------------------------------------------------------


def test_httpx_client_spans_match_the_call_site_adapter(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    with (
        rt.traced(httpx.Client, "httpx.client")(base_url=server) as client,
        httpx.Client(base_url=server) as plain,
    ):
        assert isinstance(client, httpx.Client) and type(client) is not httpx.Client
        for method, url in [("get", "/a?q=1"), ("post", "/b"), ("get", "/status/503")]:
            exporter.clear()
            response = getattr(client, method)(url)
            rt.traced(getattr(plain, method), "httpx.send")(url)
            traced_span, call_site_span = exporter.get_finished_spans()
            assert _shape(traced_span) == _shape(call_site_span)
            _assert_propagated(response.json(), traced_span)
        exporter.clear()
        rt.traced(client.get, "httpx.send")("/once")  # a call site on a traced client
        rt.traced(httpx.Client.get, "httpx.send")(client, "/once")
        rt.traced(httpx.Client.send, "httpx.send")(client, client.build_request("GET", "/once"))
        assert len(exporter.get_finished_spans()) == 3


def test_httpx_async_client(server: str, exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> list[Any]:
        async with rt.traced(httpx.AsyncClient, "httpx.client")() as client:
            assert isinstance(client, httpx.AsyncClient)
            assert inspect.iscoroutinefunction(client.send)
            with rt.span("parent") as parent:
                first = await client.get(server + "/x")
                assert rt.current_span() is parent
            second = await rt.traced(client.get, "httpx.send")(server + "/y")
            both = await asyncio.gather(client.get(server + "/1"), client.get(server + "/2"))
            return [first, second, *both, parent]

    *responses, parent = asyncio.run(main())
    spans = {s.attributes["url.full"]: s for s in exporter.get_finished_spans() if s.name == "GET"}
    assert len(spans) == 4
    assert spans[server + "/x"].parent_id == parent.span_id
    for response in responses:
        _assert_propagated(response.json(), spans[str(response.url)])


def test_httpx_errors_and_mocks(refused_url: str, exporter: rt.InMemorySpanExporter) -> None:
    with rt.traced(httpx.Client, "httpx.client")() as client, pytest.raises(httpx.ConnectError):
        client.get(refused_url)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "httpx.ConnectError"
    with mock.patch("httpx.Client") as patched:
        assert rt.traced(httpx.Client, "httpx.client")(timeout=2) is patched.return_value
    assert patched.mock_calls == [mock.call(timeout=2)]


def test_httpx_project_subclass(server: str, exporter: rt.InMemorySpanExporter) -> None:
    seen: list[str] = []

    class Api(httpx.Client):
        def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
            seen.append(str(request.url))
            return super().send(request, **kwargs)

    with rt.traced(Api, "httpx.client")(base_url=server) as api:
        response = api.get("/p")
    assert seen == [server + "/p"]
    (span,) = exporter.get_finished_spans()
    _assert_propagated(response.json(), span)
