"""The ``urllib.urlopen`` and ``urllib.opener`` adapters against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import parse_traceparent

URLOPEN = "urllib.urlopen"
OPENER = "urllib.opener"


class HopHandler(http.server.BaseHTTPRequestHandler):
    """``/hop/N`` redirects to ``/hop/N-1``; ``/status/C`` answers C; else echoes the headers."""

    protocol_version = "HTTP/1.1"

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("?")[0].split("/")
        if len(parts) == 3 and parts[1] == "hop" and parts[2] != "0":
            self.send_response(302)
            self.send_header("Location", f"/hop/{int(parts[2]) - 1}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status = int(parts[2]) if len(parts) == 3 and parts[1] == "status" else 200
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "body": body.decode("latin-1"),
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
            }
        ).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _reply

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hops(serve_http: Callable[[type[http.server.BaseHTTPRequestHandler]], str]) -> str:
    return serve_http(HopHandler)


@pytest.fixture
def default_opener() -> Iterator[None]:
    """Whatever a test installs, the process-wide opener is urllib's default again after."""
    yield
    urllib.request.install_opener(None)  # type: ignore[arg-type]


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _seen(body: bytes, name: str) -> list[str]:
    return [value for key, value in json.loads(body)["headers"] if key == name]


def _assert_propagated(body: bytes, span: rt.Span) -> None:
    (header,) = _seen(body, "traceparent")
    parsed = parse_traceparent(header)
    assert parsed is not None
    assert parsed[:2] == (span.trace_id, span.span_id)


# -- urlopen at its call site --------------------------------------------------------------------


def test_urlopen_is_one_client_span(hops: str, exporter: rt.InMemorySpanExporter) -> None:
    urlopen = rt.traced(urllib.request.urlopen, URLOPEN)
    with rt.span("parent") as parent, urlopen(hops + "/a?q=1", timeout=5) as response:
        body = response.read()
    (span,) = [s for s in exporter.get_finished_spans() if s.name == "GET"]
    assert span.kind == rt.SpanKind.CLIENT
    assert span.parent_id == parent.span_id
    assert span.attributes == {
        "http.request.method": "GET",
        "url.full": hops + "/a?q=1",
        "server.address": "127.0.0.1",
        "server.port": _port(hops),
        "http.response.status_code": 200,
    }
    _assert_propagated(body, span)
    assert rt.current_span() is None


def test_urlopen_request_object_is_left_as_it_was(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    request = urllib.request.Request(hops + "/post", data=b"x", headers={"X-Caller": "1"})
    before = dict(request.headers)
    body = rt.traced(urllib.request.urlopen, URLOPEN)(request).read()
    assert request.headers == before  # trace headers taken off after the call
    assert json.loads(body)["method"] == "POST"
    assert _seen(body, "x-caller") == ["1"]
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST"
    _assert_propagated(body, span)
    rt.traced(urllib.request.urlopen, URLOPEN)(request).read()  # sent again: fresh headers
    assert request.headers == before


def test_a_traceparent_the_caller_set_is_kept(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    request = urllib.request.Request(hops + "/own", headers={"traceparent": mine})
    body = rt.traced(urllib.request.urlopen, URLOPEN)(request).read()
    assert _seen(body, "traceparent") == [mine]
    assert _seen(body, "tracestate") == []


def test_urlopen_redirect_is_one_span(hops: str, exporter: rt.InMemorySpanExporter) -> None:
    body = rt.traced(urllib.request.urlopen, URLOPEN)(hops + "/hop/2").read()
    (span,) = exporter.get_finished_spans()  # as OpenTelemetry's urllib span
    assert span.attributes["url.full"] == hops + "/hop/2"
    assert span.attributes["http.response.status_code"] == 200
    _assert_propagated(body, span)  # the last hop's server sees this span as its parent


@pytest.mark.parametrize("code", [404, 500])
def test_http_error_is_reraised_with_its_code(
    hops: str, exporter: rt.InMemorySpanExporter, code: int
) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        rt.traced(urllib.request.urlopen, URLOPEN)(f"{hops}/status/{code}")
    assert raised.value.code == code
    raised.value.close()
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == code
    assert span.attributes["error.type"] == str(code)
    assert span.status_code == rt.StatusCode.ERROR


def test_refused_connection(refused_url: str, exporter: rt.InMemorySpanExporter) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        rt.traced(urllib.request.urlopen, URLOPEN)(refused_url)
    with pytest.raises(urllib.error.URLError) as plain:
        urllib.request.urlopen(refused_url)
    assert type(raised.value) is type(plain.value)
    assert str(raised.value) == str(plain.value)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "urllib.error.URLError"
    assert span.status_code == rt.StatusCode.ERROR
    assert rt.current_span() is None


def test_non_http_urls_and_mocks_are_called_through(
    tmp_path: Any, exporter: rt.InMemorySpanExporter
) -> None:
    path = tmp_path / "f.txt"
    path.write_text("local")
    with rt.traced(urllib.request.urlopen, URLOPEN)(path.as_uri()) as response:
        assert response.read() == b"local"
    with mock.patch("urllib.request.urlopen", return_value="fake") as urlopen:
        assert rt.traced(urllib.request.urlopen, URLOPEN)("http://x/", timeout=1) == "fake"
    urlopen.assert_called_once_with("http://x/", timeout=1)
    assert list(exporter.get_finished_spans()) == []


def test_excluded_urls(
    hops: str, exporter: rt.InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_PYTHON_URLLIB_EXCLUDED_URLS", "/health$")
    for path in ("/health", "/healthz"):
        rt.traced(urllib.request.urlopen, URLOPEN)(hops + path).read()
    assert [s.attributes["url.full"] for s in exporter.get_finished_spans()] == [
        hops + "/healthz"
    ]


# -- openers built with build_opener ---------------------------------------------------------------


def test_opener_makes_one_span_per_request(hops: str, exporter: rt.InMemorySpanExporter) -> None:
    opener = rt.traced(urllib.request.build_opener, OPENER)(urllib.request.HTTPCookieProcessor())
    assert type(opener) is urllib.request.OpenerDirector
    opener.addheaders = [("User-Agent", "shop")]
    with rt.span("parent") as parent:
        body = opener.open(hops + "/a").read()
        posted = opener.open(urllib.request.Request(hops + "/b", data=b"x")).read()
    spans = [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.CLIENT]
    assert [s.name for s in spans] == ["GET", "POST"]
    assert {s.parent_id for s in spans} == {parent.span_id}
    assert spans[0].attributes == {
        "http.request.method": "GET",
        "url.full": hops + "/a",
        "server.address": "127.0.0.1",
        "server.port": _port(hops),
        "http.response.status_code": 200,
    }
    _assert_propagated(body, spans[0])
    _assert_propagated(posted, spans[1])
    assert _seen(body, "user-agent") == ["shop"]


def test_opener_redirect_is_one_span_per_hop(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    opener = rt.traced(urllib.request.build_opener, OPENER)()
    body = opener.open(hops + "/hop/2").read()
    spans = exporter.get_finished_spans()
    assert [s.attributes["url.full"] for s in spans] == [
        hops + "/hop/2", hops + "/hop/1", hops + "/hop/0",
    ]
    assert [s.attributes["http.response.status_code"] for s in spans] == [302, 302, 200]
    _assert_propagated(body, spans[-1])  # each hop has its own traceparent


def test_opener_error_status_and_refused(
    hops: str, refused_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    opener = rt.traced(urllib.request.build_opener, OPENER)()
    with pytest.raises(urllib.error.HTTPError) as raised:
        opener.open(hops + "/status/500")
    assert raised.value.code == 500
    raised.value.close()
    with pytest.raises(urllib.error.URLError):
        opener.open(refused_url)
    failed, refused = exporter.get_finished_spans()
    assert failed.attributes["http.response.status_code"] == 500
    assert failed.attributes["error.type"] == "500"
    assert refused.attributes["error.type"] == "urllib.error.URLError"
    assert refused.status_code == rt.StatusCode.ERROR


def test_callers_handlers_are_traced_not_changed(
    hops: str, exporter: rt.InMemorySpanExporter
) -> None:
    mine = urllib.request.HTTPHandler(debuglevel=0)
    opener = rt.traced(urllib.request.build_opener, OPENER)(mine, urllib.request.HTTPSHandler)
    assert type(mine) is urllib.request.HTTPHandler and not hasattr(mine, "parent")
    handlers = [type(h) for h in opener.handlers]
    assert sum(issubclass(h, urllib.request.HTTPHandler) for h in handlers) == 1
    assert sum(issubclass(h, urllib.request.HTTPSHandler) for h in handlers) == 1
    opener.open(hops + "/x").read()
    assert len(exporter.get_finished_spans()) == 1


def test_installed_opener_under_a_traced_urlopen_is_one_span(
    hops: str, exporter: rt.InMemorySpanExporter, default_opener: None
) -> None:
    urllib.request.install_opener(rt.traced(urllib.request.build_opener, OPENER)())
    body = rt.traced(urllib.request.urlopen, URLOPEN)(hops + "/hop/1").read()
    (span,) = exporter.get_finished_spans()  # the urlopen span; the hops make none under it
    _assert_propagated(body, span)


def test_mocked_handler_is_called_through(exporter: rt.InMemorySpanExporter) -> None:
    opener = rt.traced(urllib.request.build_opener, OPENER)()
    with (
        mock.patch.object(urllib.request.HTTPHandler, "http_open", return_value=None) as opened,
        pytest.raises(urllib.error.URLError),
    ):
        opener.open("http://127.0.0.1:9/")
    assert opened.call_count == 1
    assert list(exporter.get_finished_spans()) == []
