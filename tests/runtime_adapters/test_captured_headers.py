"""HTTP header capture (``_captured_headers``) in every client adapter, against a real server.

The server on 127.0.0.1 answers with a repeated header (``X-Multi`` twice, ``Set-Cookie``
twice), so a list of one value per occurrence shows; the module's own rules (names, regular
expressions, sanitising, bounds, the cost of the no-op path) are checked on plain pairs.
"""

from __future__ import annotations

import asyncio
import http.server
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import pytest
import requests
import urllib3

import codetrace.runtime as rt
from codetrace.runtime import _captured_headers

CAPTURE = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_"


class MultiHeaderHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with repeated and sensitive response headers; ``/status/N`` with N."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        parts = self.path.split("/")
        status = int(parts[2]) if len(parts) > 2 and parts[1] == "status" else 200
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Multi", "1")
        self.send_header("X-Multi", "2")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        self.send_header("X-Resp-Id", "r1")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def multi(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(MultiHeaderHandler)


@pytest.fixture
def capture(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Client capture on: two request headers by name and pattern, response headers by a
    pattern and a name the server never sends; cookies and secrets sanitised."""
    monkeypatch.setenv(CAPTURE + "CLIENT_REQUEST", "X-Caller, x-secret-.*, x-absent")
    monkeypatch.setenv(CAPTURE + "CLIENT_RESPONSE", "x-multi,X-RESP-.*,set-cookie,x-absent")
    monkeypatch.setenv(CAPTURE + "SANITIZE_FIELDS", "secret,cookie")
    _captured_headers.forget()
    yield
    _captured_headers.forget()


SENT = {"X-Caller": "c1", "X-Secret-Key": "hunter2", "X-Other": "o"}
EXPECTED = {
    "http.request.header.x-caller": ["c1"],
    "http.request.header.x-secret-key": ["[REDACTED]"],
    "http.response.header.x-multi": ["1", "2"],
    "http.response.header.x-resp-id": ["r1"],
    "http.response.header.set-cookie": ["[REDACTED]", "[REDACTED]"],
}


def _headers(span: rt.Span) -> dict[str, Any]:
    return {
        key: value
        for key, value in span.attributes.items()
        if key.startswith(("http.request.header.", "http.response.header."))
    }


def _requests(url: str) -> None:
    response = rt.traced(requests.get, "requests.send")(url, headers=dict(SENT))
    assert response.headers["X-Multi"] == "1, 2"  # what the application sees is unchanged


def _requests_session(url: str) -> None:
    with rt.traced(requests.Session, "requests.session")() as session:
        session.get(url, headers=dict(SENT))


def _httpx(url: str) -> None:
    with httpx.Client() as client:
        rt.traced(client.get, "httpx.send")(url, headers=dict(SENT))


def _httpx_async(url: str) -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as client:
            await rt.traced(client.get, "httpx.send")(url, headers=dict(SENT))

    asyncio.run(main())


def _urllib3_pool(url: str) -> None:
    manager = rt.traced(urllib3.PoolManager, "urllib3.pool")()
    manager.request("GET", url, headers=dict(SENT))


def _urllib3_request(url: str) -> None:
    rt.traced(urllib3.request, "urllib3.request")("GET", url, headers=dict(SENT))


def _urllib(url: str) -> None:
    request = urllib.request.Request(url, headers=dict(SENT))
    with rt.traced(urllib.request.urlopen, "urllib.urlopen")(request) as response:
        response.read()


def _urllib_opener(url: str) -> None:
    opener = rt.traced(urllib.request.build_opener, "urllib.opener")()
    with opener.open(urllib.request.Request(url, headers=dict(SENT))) as response:
        response.read()


def _aiohttp(url: str) -> None:
    async def main() -> None:
        session = rt.traced(aiohttp.ClientSession, "aiohttp.client")()
        async with session, session.get(url, headers=dict(SENT)) as response:
            await response.read()

    asyncio.run(main())


CLIENTS = {
    "requests": _requests,
    "requests-session": _requests_session,
    "httpx": _httpx,
    "httpx-async": _httpx_async,
    "urllib3-pool": _urllib3_pool,
    "urllib3-request": _urllib3_request,
    "urllib": _urllib,
    "urllib-opener": _urllib_opener,
    "aiohttp": _aiohttp,
}


@pytest.mark.parametrize("client", CLIENTS.values(), ids=list(CLIENTS))
def test_client_headers_captured(
    client: Callable[[str], None], multi: str, capture: None, exporter: rt.InMemorySpanExporter
) -> None:
    client(multi + "/resource")
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.CLIENT]
    assert _headers(span) == EXPECTED  # x-absent gives nothing, X-Other is not asked for


@pytest.mark.parametrize("client", CLIENTS.values(), ids=list(CLIENTS))
def test_client_headers_off_by_default(
    client: Callable[[str], None], multi: str, exporter: rt.InMemorySpanExporter
) -> None:
    client(multi + "/resource")
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.CLIENT]
    assert span.attributes["http.response.status_code"] == 200
    assert _headers(span) == {}


def test_client_defaults_are_captured_with_a_catch_all(
    multi: str, monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    """``.*`` captures what the library sent on its own (requests' ``User-Agent``) and the
    trace headers codetrace added."""
    monkeypatch.setenv(CAPTURE + "CLIENT_REQUEST", ".*")
    _captured_headers.forget()
    rt.traced(requests.get, "requests.send")(multi + "/resource")
    (span,) = exporter.get_finished_spans()
    headers = _headers(span)
    assert headers["http.request.header.user-agent"][0].startswith("python-requests/")
    (traceparent,) = headers["http.request.header.traceparent"]
    assert f"{span.span_id:016x}" in traceparent
    assert not any(key.startswith("http.response.header.") for key in headers)


def test_urllib_error_response_headers(
    multi: str, capture: None, exporter: rt.InMemorySpanExporter
) -> None:
    """urllib raises ``HTTPError`` for a 404: its headers are the response's."""
    with pytest.raises(urllib.error.HTTPError) as raised:
        rt.traced(urllib.request.urlopen, "urllib.urlopen")(
            urllib.request.Request(multi + "/status/404", headers=dict(SENT))
        )
    raised.value.close()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == 404
    assert _headers(span) == EXPECTED


# -- the module's rules, on plain pairs ---------------------------------------------------------


def _captured(pairs: list[tuple[str, str]], kind: str = "server") -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    _captured_headers.request_headers(kind, pairs, attributes)  # type: ignore[arg-type]
    return attributes


def test_names_are_case_insensitive_and_must_match_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE + "SERVER_REQUEST", "x-id, Accept")
    _captured_headers.forget()
    pairs = [("X-ID", "1"), ("x-identity", "no"), ("ACCEPT", "a"), ("accept", "b"), ("z", "z")]
    assert _captured(pairs) == {
        "http.request.header.x-id": ["1"],
        "http.request.header.accept": ["a", "b"],
    }
    assert _captured(pairs, "client") == {}  # the client variable is unset


def test_invalid_and_blank_entries_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE + "SERVER_REQUEST", "x-(, ,x-ok,")
    _captured_headers.forget()
    assert _captured([("x-ok", "1"), ("", "empty name"), ("x-(", "2")]) == {
        "http.request.header.x-ok": ["1"]
    }


def test_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE + "SERVER_REQUEST", ".*")
    _captured_headers.forget()
    many = [(f"x-{i}", "v") for i in range(1000)]
    assert len(_captured(many)) == _captured_headers.MAX_HEADERS
    repeated = [("x-r", "v" * 100_000)] * 1000
    (values,) = _captured(repeated).values()
    assert len(values) == _captured_headers.MAX_VALUES
    assert {len(v) for v in values} == {_captured_headers.MAX_VALUE_LENGTH}
    full = {f"a{i}": i for i in range(128)}  # a span at its attribute count limit
    _captured_headers.request_headers("server", [("x-late", "v")], full)
    assert "http.request.header.x-late" not in full


def test_bytes_and_odd_input_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CAPTURE + "SERVER_RESPONSE", "x-b")
    _captured_headers.forget()
    attributes: dict[str, Any] = {}
    _captured_headers.response_headers("server", [(b"X-B", b"\xe9")], attributes)
    assert attributes == {"http.response.header.x-b": ["\xe9"]}
    _captured_headers.response_headers("server", [(1, 2)], attributes)  # type: ignore[list-item]
    assert list(_captured_headers.header_pairs(object())) == []


def test_no_op_path_is_cheap() -> None:
    """Nothing configured: what every request pays. Measured, and bounded loosely so a slow
    machine passes (printed with ``-s``)."""
    attributes: dict[str, Any] = {}
    pairs = [("a", "b")] * 20
    _captured_headers.wanted("server")

    def baseline(kind: str) -> None:
        return None

    n = 100_000
    started = time.perf_counter()
    for _ in range(n):
        baseline("client")
    baseline_ns = (time.perf_counter() - started) / n * 1e9
    started = time.perf_counter()
    for _ in range(n):
        _captured_headers.wanted("client")
    wanted_ns = (time.perf_counter() - started) / n * 1e9
    started = time.perf_counter()
    for _ in range(n):
        _captured_headers.request_headers("server", pairs, attributes)
    call_ns = (time.perf_counter() - started) / n * 1e9
    print(f"no-op: wanted() {wanted_ns:.0f} ns, request_headers() {call_ns:.0f} ns,"
          f" an empty function {baseline_ns:.0f} ns")
    assert attributes == {}
    assert wanted_ns < 2_000 and call_ns < 2_000
