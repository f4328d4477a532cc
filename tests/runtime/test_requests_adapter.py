"""The ``requests.send`` adapter against a real HTTP server on 127.0.0.1.

The server echoes the request (method, path, headers) as JSON, answers ``/status/<code>`` with
that code, and ``/redirect`` with a 302 to ``/echo``.
"""

from __future__ import annotations

import http.server
import json
from collections.abc import Callable
from typing import Any
from unittest import mock

import pytest
import requests

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import parse_traceparent


class EchoHandler(http.server.BaseHTTPRequestHandler):
    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/echo")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = 200
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("latin-1"),
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def server(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(EchoHandler)



def _received(response: requests.Response) -> dict[str, Any]:
    return response.json()  # type: ignore[no-any-return]


def _assert_propagated(response: requests.Response, span: rt.Span) -> None:
    header = _received(response)["headers"]["traceparent"]
    parsed = parse_traceparent(header)
    assert parsed is not None, header
    trace_id, parent_id, flags = parsed
    assert trace_id == span.trace_id
    assert parent_id == span.span_id
    assert flags & 1 == span.trace_flags & 1


def test_get_creates_a_client_span_and_propagates(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    headers = {"X-Caller": "1"}
    before = dict(headers)
    response = rt.traced(requests.get, "requests.send")(
        server + "/echo?q=1", headers=headers, timeout=5
    )
    assert response.status_code == 200
    assert headers == before  # the caller's dict is never mutated
    (s,) = exporter.get_finished_spans()
    assert s.name == "GET"
    assert s.kind == rt.SpanKind.CLIENT
    port = int(server.rsplit(":", 1)[1])
    assert s.attributes == {
        "http.request.method": "GET",
        "url.full": server + "/echo?q=1",
        "server.address": "127.0.0.1",
        "server.port": port,
        "http.response.status_code": 200,
    }
    assert s.status_code == rt.StatusCode.UNSET
    _assert_propagated(response, s)
    assert _received(response)["headers"]["x-caller"] == "1"


def test_client_span_is_a_child_of_the_current_span(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    with rt.span("handler") as parent:
        response = rt.traced(requests.get, "requests.send")(server + "/echo", timeout=5)
    client, _ = exporter.get_finished_spans()
    assert client.parent_id == parent.span_id and client.trace_id == parent.trace_id
    _assert_propagated(response, client)


def test_kwargs_mapping_is_not_changed(server: str, exporter: rt.InMemorySpanExporter) -> None:
    headers = {"A": "b"}
    kwargs: dict[str, Any] = {"headers": headers, "timeout": 5}
    rt.traced(requests.get, "requests.send")(server + "/echo", **kwargs)
    assert kwargs == {"headers": {"A": "b"}, "timeout": 5}
    assert kwargs["headers"] is headers


@pytest.mark.parametrize(
    ("function", "method"),
    [
        (requests.post, "POST"),
        (requests.put, "PUT"),
        (requests.patch, "PATCH"),
        (requests.delete, "DELETE"),
        (requests.head, "HEAD"),
        (requests.options, "OPTIONS"),
    ],
)
def test_module_level_methods(
    server: str, exporter: rt.InMemorySpanExporter, function: Any, method: str
) -> None:
    response = rt.traced(function, "requests.send")(server + "/echo", timeout=5)
    (s,) = exporter.get_finished_spans()
    assert s.name == method and s.attributes["http.request.method"] == method
    if method != "HEAD":
        assert _received(response)["method"] == method
        _assert_propagated(response, s)


def test_post_with_positional_data(server: str, exporter: rt.InMemorySpanExporter) -> None:
    response = rt.traced(requests.post, "requests.send")(server + "/echo", "payload", timeout=5)
    assert _received(response)["body"] == "payload"
    _assert_propagated(response, exporter.get_finished_spans()[0])


def test_request_with_method_argument(server: str, exporter: rt.InMemorySpanExporter) -> None:
    response = rt.traced(requests.request, "requests.send")("put", server + "/echo", timeout=5)
    rt.traced(requests.request, "requests.send")(method="DELETE", url=server + "/echo", timeout=5)
    first, second = exporter.get_finished_spans()
    assert first.name == "PUT" and second.name == "DELETE"
    assert second.attributes["url.full"] == server + "/echo"
    _assert_propagated(response, first)


def test_session_methods(server: str, exporter: rt.InMemorySpanExporter) -> None:
    with requests.Session() as session:
        response = rt.traced(session.get, "requests.send")(server + "/echo", timeout=5)
        (s,) = exporter.get_finished_spans()
        assert s.name == "GET"
        _assert_propagated(response, s)
        exporter.clear()
        response = rt.traced(session.post, "requests.send")(url=server + "/echo", timeout=5)
        _assert_propagated(response, exporter.get_finished_spans()[0])


def test_session_request_with_positional_headers(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    headers = {"X-Positional": "yes"}
    with requests.Session() as session:
        response = rt.traced(session.request, "requests.send")(
            "PATCH", server + "/echo", None, None, headers
        )
    assert headers == {"X-Positional": "yes"}
    received = _received(response)
    assert received["method"] == "PATCH" and received["headers"]["x-positional"] == "yes"
    _assert_propagated(response, exporter.get_finished_spans()[0])


def test_unbound_session_method(server: str, exporter: rt.InMemorySpanExporter) -> None:
    with requests.Session() as session:
        rt.traced(session.get, "requests.send")(server + "/echo")  # bound first, then unbound
        exporter.clear()
        response = rt.traced(requests.Session.get, "requests.send")(session, server + "/echo")
    (s,) = exporter.get_finished_spans()
    assert s.attributes["url.full"] == server + "/echo"
    assert s.attributes["server.address"] == "127.0.0.1"
    _assert_propagated(response, s)


def test_session_send_copies_the_prepared_request(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    prepared = requests.Request("GET", server + "/echo", headers={"X-Mine": "1"}).prepare()
    original_headers = dict(prepared.headers)
    with requests.Session() as session:
        response = rt.traced(session.send, "requests.send")(prepared, timeout=5)
        exporter_spans = exporter.get_finished_spans()
        assert dict(prepared.headers) == original_headers
        assert "traceparent" not in prepared.headers
        _assert_propagated(response, exporter_spans[0])
        assert exporter_spans[0].name == "GET"
        exporter.clear()
        response = rt.traced(session.send, "requests.send")(request=prepared, timeout=5)
        _assert_propagated(response, exporter.get_finished_spans()[0])


def test_caller_traceparent_is_not_overwritten(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    response = rt.traced(requests.get, "requests.send")(
        server + "/echo", headers={"TraceParent": mine}, timeout=5
    )
    received = _received(response)["headers"]
    assert received["traceparent"] == mine
    assert "tracestate" not in received


def test_session_default_traceparent_is_not_overwritten(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with requests.Session() as session:
        session.headers["traceparent"] = mine
        response = rt.traced(session.get, "requests.send")(server + "/echo")
    assert _received(response)["headers"]["traceparent"] == mine


def test_non_mapping_headers_are_left_alone(server: str, exporter: rt.InMemorySpanExporter) -> None:
    # requests rejects a list of pairs; traced must fail the same way, with the same list.
    headers = [("X-Pair", "1")]
    with pytest.raises(AttributeError) as untraced:
        requests.get(server + "/echo", headers=headers)
    with pytest.raises(AttributeError) as traced:
        rt.traced(requests.get, "requests.send")(server + "/echo", headers=headers)
    assert str(traced.value) == str(untraced.value)
    assert headers == [("X-Pair", "1")]


def test_baggage_and_tracestate_are_propagated(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    context = rt.extract(
        {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "tracestate": "congo=t61rcWkgMzE",
            "baggage": "userId=alice",
        }
    )
    with rt.use_context(context):
        response = rt.traced(requests.get, "requests.send")(server + "/echo")
    received = _received(response)["headers"]
    assert received["tracestate"] == "congo=t61rcWkgMzE"
    assert received["baggage"] == "userId=alice"
    assert received["traceparent"].startswith("00-0af7651916cd43dd8448eb211c80319c-")


@pytest.mark.parametrize("code", [404, 500])
def test_error_status_sets_error_type(
    server: str, exporter: rt.InMemorySpanExporter, code: int
) -> None:
    response = rt.traced(requests.get, "requests.send")(f"{server}/status/{code}", timeout=5)
    assert response.status_code == code
    (s,) = exporter.get_finished_spans()
    assert s.attributes["http.response.status_code"] == code
    assert s.attributes["error.type"] == str(code)
    assert s.status_code == rt.StatusCode.ERROR


def test_connection_refused_is_reraised_and_recorded(
    refused_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        rt.traced(requests.get, "requests.send")(refused_url, timeout=5)
    (s,) = exporter.get_finished_spans()
    assert s.attributes["error.type"] == "requests.exceptions.ConnectionError"
    assert s.status_code == rt.StatusCode.ERROR
    assert s.events[0].attributes["exception.type"] == "requests.exceptions.ConnectionError"
    assert "http.response.status_code" not in s.attributes


def test_the_exception_object_is_the_one_requests_raised(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    error = requests.exceptions.ReadTimeout("slow")

    class TimingOut(requests.adapters.HTTPAdapter):
        def send(self, *args: Any, **kwargs: Any) -> requests.Response:
            raise error

    with requests.Session() as session:
        session.mount("http://", TimingOut())
        with pytest.raises(requests.exceptions.ReadTimeout) as raised:
            rt.traced(session.get, "requests.send")(server + "/echo")
    assert raised.value is error


def test_the_response_object_is_the_one_requests_returned(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    returned: list[requests.Response] = []

    class Recording(requests.adapters.HTTPAdapter):
        def send(self, *args: Any, **kwargs: Any) -> requests.Response:
            returned.append(super().send(*args, **kwargs))
            return returned[-1]

    with requests.Session() as session:
        session.mount("http://", Recording())
        response = rt.traced(session.get, "requests.send")(server + "/echo")
    assert response is returned[0]


def test_url_credentials_and_signatures_are_redacted(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    authed = server.replace("http://", "http://user:secret@") + "/echo"
    response = rt.traced(requests.get, "requests.send")(
        authed, params={"sig": "s3cr3t", "q": "x"}, timeout=5
    )
    assert "authorization" in _received(response)["headers"]  # the request itself is intact
    (s,) = exporter.get_finished_spans()
    full = str(s.attributes["url.full"])
    assert "secret" not in full and "s3cr3t" not in full
    assert "REDACTED:REDACTED@127.0.0.1" in full
    assert full.endswith("/echo?sig=REDACTED&q=x")


def test_redirects_report_the_first_url(server: str, exporter: rt.InMemorySpanExporter) -> None:
    response = rt.traced(requests.get, "requests.send")(server + "/redirect", timeout=5)
    assert response.url.endswith("/echo")
    (s,) = exporter.get_finished_spans()
    assert s.attributes["url.full"] == server + "/redirect"
    assert s.attributes["http.response.status_code"] == 200
    _assert_propagated(response, s)  # the header set on the first request follows the redirect


def test_unsampled_call_still_propagates_flags_00(server: str) -> None:
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory, sampler="always_off")
    response = rt.traced(requests.get, "requests.send")(server + "/echo")
    header = _received(response)["headers"]["traceparent"]
    # sampled bit off; the random bit (02) says the new trace id is random (W3C level 2)
    assert header.endswith("-02")
    assert memory.get_finished_spans() == ()


def test_disabled_returns_requests_get_itself() -> None:
    rt.configure(disabled=True)
    assert rt.traced(requests.get, "requests.send") is requests.get


def test_mock_patch_requests_get() -> None:
    with mock.patch("requests.get") as patched:
        patched.return_value = "fake"
        headers = {"A": "1"}
        result = rt.traced(requests.get, "requests.send")("http://x/y", headers=headers, timeout=5)
    assert result == "fake"
    patched.assert_called_once_with("http://x/y", headers={"A": "1"}, timeout=5)
    assert patched.call_args.kwargs["headers"] is headers


def test_mock_patch_with_autospec(exporter: rt.InMemorySpanExporter) -> None:
    with mock.patch("requests.get", autospec=True) as patched:
        patched.return_value = "fake"
        assert rt.traced(requests.get, "requests.send")("http://x/y", timeout=5) == "fake"
    patched.assert_called_once_with("http://x/y", timeout=5)
    assert patched.mock_calls == [mock.call("http://x/y", timeout=5)]
    assert not exporter.get_finished_spans()  # a mocked callee is no I/O: no span


def test_mock_raising_propagates_the_same_exception() -> None:
    error = requests.exceptions.HTTPError("boom")
    with (
        mock.patch("requests.get", side_effect=error),
        pytest.raises(requests.exceptions.HTTPError) as raised,
    ):
        rt.traced(requests.get, "requests.send")("http://x/")
    assert raised.value is error


def test_subclass_override_outside_requests_is_not_touched(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    class Api(requests.Session):
        def get(self, path: str) -> requests.Response:  # type: ignore[override]
            return super().get(server + path, timeout=5)

    with Api() as api:
        response = rt.traced(api.get, "requests.send")("/echo")  # no headers= would break it
    assert response.status_code == 200
    (s,) = exporter.get_finished_spans()
    assert s.name == "HTTP" and s.kind == rt.SpanKind.CLIENT


def test_non_standard_method(server: str, exporter: rt.InMemorySpanExporter) -> None:
    rt.traced(requests.request, "requests.send")("PROPFIND", server + "/echo", timeout=5)
    (s,) = exporter.get_finished_spans()
    assert s.name == "HTTP"
    assert s.attributes["http.request.method"] == "_OTHER"
    assert s.attributes["http.request.method_original"] == "PROPFIND"


def test_adapter_overhead_without_network(exporter: rt.InMemorySpanExporter) -> None:
    # The adapter alone (span, attributes, header copy) on a requests-like callee.
    import time

    def get(url: str, **kwargs: Any) -> None:
        return None

    get.__module__ = "requests.api"
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(500):
            rt.traced(get, "requests.send")("http://example.com/x", headers={"a": "b"})
        best = min(best, (time.perf_counter() - start) / 500)
        exporter.clear()
    assert best < 200e-6


def test_a_magicmock_is_neither_hashed_nor_traced(exporter: rt.InMemorySpanExporter) -> None:
    """A MagicMock records ``__hash__``: the adapter must not hash it, nor make a span for it."""
    session = mock.MagicMock()
    rt.traced(session.post, "requests.send")("http://x/", json={})
    assert session.mock_calls == [mock.call.post("http://x/", json={})]
    assert not exporter.get_finished_spans()


def test_the_traced_copy_of_a_prepared_request_has_its_own_headers() -> None:
    """Headers are copied (the caller's request is never changed); the rest is shared."""
    from codetrace.runtime._requests import _copy_with_own_headers

    prepared = requests.Request("GET", "http://x/", headers={"a": "1"}, cookies={"c": "2"})
    original = requests.Session().prepare_request(prepared)
    copied = _copy_with_own_headers(original)
    copied.headers["traceparent"] = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    assert "traceparent" not in original.headers and copied.headers["a"] == "1"
    assert copied.url == original.url and copied.body is original.body
    assert copied._cookies is original._cookies  # type: ignore[attr-defined]
    assert type(copied) is type(original)
