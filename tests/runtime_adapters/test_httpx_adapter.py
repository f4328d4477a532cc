"""The ``httpx.send`` adapter with real ``httpx.Client``/``AsyncClient`` against a real server."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import httpx
import pytest

import codetrace.runtime as rt
from codetrace.runtime._tracecontext import parse_traceparent

RULE = "httpx.send"


def _received(response: httpx.Response) -> dict[str, Any]:
    return response.json()  # type: ignore[no-any-return]


def _header(response: httpx.Response, name: str) -> list[str]:
    return [value for key, value in _received(response)["headers"] if key == name]


def _assert_propagated(response: httpx.Response, span: rt.Span) -> None:
    (header,) = _header(response, "traceparent")
    parsed = parse_traceparent(header)
    assert parsed is not None, header
    trace_id, parent_id, flags = parsed
    assert (trace_id, parent_id) == (span.trace_id, span.span_id)
    assert flags & 1 == span.trace_flags & 1


def _port(server: str) -> int:
    return int(server.rsplit(":", 1)[1])


def test_client_get_span_attributes_and_propagation(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    headers = {"X-Caller": "1"}
    before = dict(headers)
    with httpx.Client() as client:
        response = rt.traced(client.get, RULE)(server + "/echo?q=1", headers=headers)
    assert response.status_code == 200
    assert headers == before  # the caller's dict is never mutated
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET"
    assert span.kind == rt.SpanKind.CLIENT
    assert span.attributes == {
        "http.request.method": "GET",
        "url.full": server + "/echo?q=1",
        "server.address": "127.0.0.1",
        "server.port": _port(server),
        "http.response.status_code": 200,
    }
    assert span.status_code == rt.StatusCode.UNSET
    _assert_propagated(response, span)
    assert _header(response, "x-caller") == ["1"]


def test_module_functions(server: str, exporter: rt.InMemorySpanExporter) -> None:
    get = rt.traced(httpx.get, RULE)(server + "/a")
    posted = rt.traced(httpx.request, RULE)("POST", server + "/b", json={"k": 1})
    head = rt.traced(httpx.head, RULE)(server + "/c")
    assert _received(posted)["body"] == '{"k":1}'
    assert head.status_code == 200
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["GET", "POST", "HEAD"]
    assert spans[1].attributes["url.full"] == server + "/b"
    _assert_propagated(get, spans[0])
    _assert_propagated(posted, spans[1])


def test_every_client_method(server: str, exporter: rt.InMemorySpanExporter) -> None:
    names = ["get", "post", "put", "patch", "delete", "head", "options"]
    with httpx.Client() as client:
        for name in names:
            response = rt.traced(getattr(client, name), RULE)(server + "/m")
            assert response.status_code == 200
            if name != "head":
                assert _received(response)["method"] == name.upper()
        rt.traced(client.request, RULE)(method="PATCH", url=server + "/kw")
    assert [s.name for s in exporter.get_finished_spans()] == [
        *(n.upper() for n in names),
        "PATCH",
    ]


@pytest.mark.parametrize("code", [404, 500])
def test_error_status(server: str, exporter: rt.InMemorySpanExporter, code: int) -> None:
    with httpx.Client() as client:
        response = rt.traced(client.get, RULE)(f"{server}/status/{code}")
    assert response.status_code == code
    (span,) = exporter.get_finished_spans()
    assert span.attributes["http.response.status_code"] == code
    assert span.attributes["error.type"] == str(code)
    assert span.status_code == rt.StatusCode.ERROR


def test_connection_refused_is_reraised_unchanged(
    refused_url: str, exporter: rt.InMemorySpanExporter
) -> None:
    with httpx.Client() as client, pytest.raises(httpx.ConnectError) as raised:
        rt.traced(client.get, RULE)(refused_url)
    with httpx.Client() as client, pytest.raises(httpx.ConnectError) as plain:
        client.get(refused_url)
    assert type(raised.value) is type(plain.value)
    assert str(raised.value) == str(plain.value)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["error.type"] == "httpx.ConnectError"
    assert span.status_code == rt.StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert rt.current_span() is None


def test_parent_child_and_no_leak(server: str, exporter: rt.InMemorySpanExporter) -> None:
    with rt.span("parent") as parent, httpx.Client() as client:
        response = rt.traced(client.get, RULE)(server + "/child")
        assert rt.current_span() is parent
    child, _ = exporter.get_finished_spans()
    assert child.parent_id == parent.span_id
    assert child.trace_id == parent.trace_id
    _assert_propagated(response, child)


def test_send_copies_the_request_and_leaves_it_alone(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    with httpx.Client() as client:
        request = client.build_request("POST", server + "/send", content=b"body")
        before = list(request.headers.multi_items())
        response = rt.traced(client.send, RULE)(request)
    assert list(request.headers.multi_items()) == before
    assert "traceparent" not in request.headers
    (span,) = exporter.get_finished_spans()
    assert span.name == "POST"
    assert span.attributes["url.full"] == server + "/send"
    _assert_propagated(response, span)
    assert _received(response)["body"] == "body"
    assert response.request.content == b"body"  # the copy was read, like the original


def test_send_with_a_streamed_body(server: str, exporter: rt.InMemorySpanExporter) -> None:
    def chunks() -> Any:
        yield b"a"
        yield b"b"

    with httpx.Client() as client:
        request = client.build_request("PUT", server + "/stream", content=chunks())
        response = rt.traced(client.send, RULE)(request=request)
    assert _received(response)["body"] == "ab"
    _assert_propagated(response, exporter.get_finished_spans()[0])


def test_headers_already_set_are_not_overwritten(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    mine = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    with httpx.Client(headers={"traceparent": mine}) as client:
        response = rt.traced(client.get, RULE)(server + "/defaults")
    assert _header(response, "traceparent") == [mine]
    response = rt.traced(httpx.get, RULE)(server + "/kw", headers={"TraceParent": mine})
    assert _header(response, "traceparent") == [mine]
    assert len(exporter.get_finished_spans()) == 2


@pytest.mark.parametrize("kind", ["Headers", "list", "tuple"])
def test_other_header_shapes_keep_repeats(
    server: str, exporter: rt.InMemorySpanExporter, kind: str
) -> None:
    pairs = [("X-Rep", "1"), ("X-Rep", "2")]
    headers: Any = {"Headers": httpx.Headers, "list": list, "tuple": tuple}[kind](pairs)
    before = list(headers.multi_items()) if kind == "Headers" else list(headers)
    with httpx.Client() as client:
        response = rt.traced(client.get, RULE)(server + "/rep", headers=headers)
    after = list(headers.multi_items()) if kind == "Headers" else list(headers)
    assert after == before
    assert _header(response, "x-rep") == ["1", "2"]
    _assert_propagated(response, exporter.get_finished_spans()[0])


def test_relative_url_with_base_url(server: str, exporter: rt.InMemorySpanExporter) -> None:
    with httpx.Client(base_url=server) as client:
        rt.traced(client.get, RULE)("/relative", params={"a": "b"})
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.full"] == server + "/relative?a=b"
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == _port(server)


def test_credentials_are_redacted(server: str, exporter: rt.InMemorySpanExporter) -> None:
    url = server.replace("http://", "http://user:secret@") + "/x?sig=abc&ok=1"
    rt.traced(httpx.get, RULE)(url)
    (span,) = exporter.get_finished_spans()
    assert "secret" not in span.attributes["url.full"]
    assert span.attributes["url.full"].endswith("/x?sig=REDACTED&ok=1")


def test_unbound_client_method(server: str, exporter: rt.InMemorySpanExporter) -> None:
    with httpx.Client() as client:
        response = rt.traced(httpx.Client.get, RULE)(client, server + "/unbound")
    (span,) = exporter.get_finished_spans()
    assert span.attributes["url.full"] == server + "/unbound"
    _assert_propagated(response, span)


def test_mock_gets_no_span_and_untouched_arguments(
    exporter: rt.InMemorySpanExporter,
) -> None:
    fake = mock.Mock(return_value="response")
    headers = {"a": "b"}
    assert rt.traced(fake, RULE)("http://example.invalid/", headers=headers) == "response"
    assert fake.call_args.kwargs["headers"] is headers
    autospec = mock.create_autospec(httpx.get, return_value="r")
    rt.traced(autospec, RULE)("http://example.invalid/", headers=headers)
    assert autospec.call_args.kwargs["headers"] is headers
    assert fake.mock_calls == [mock.call("http://example.invalid/", headers=headers)]
    assert not exporter.get_finished_spans()  # a mocked callee is no I/O: no span


def test_disabled_returns_the_callee(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    with httpx.Client() as client:
        assert rt.traced(client.get, RULE) == client.get


# -- async ------------------------------------------------------------------------------------


def test_async_client_span_is_current_only_while_awaited(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    seen: dict[str, Any] = {}

    async def main() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            with rt.span("parent") as parent:
                seen["parent"] = parent
                pending = rt.traced(client.get, RULE)(server + "/async", headers={"x": "1"})
                seen["before_await"] = rt.current_span()
                response = await pending
                seen["after_await"] = rt.current_span()
            return response

    response = asyncio.run(main())
    parent = seen["parent"]
    assert seen["before_await"] is parent and seen["after_await"] is parent
    child, _ = exporter.get_finished_spans()
    assert child.name == "GET"
    assert child.parent_id == parent.span_id
    assert child.attributes["http.response.status_code"] == 200
    assert child.start_ns <= child.end_ns
    _assert_propagated(response, child)


def test_async_span_covers_the_awaited_request(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as client:
            pending = rt.traced(client.get, RULE)(server + "/slow/0")
            await asyncio.sleep(0.2)  # not part of the request
            inner: list[rt.Span | None] = []

            async def hook(request: httpx.Request) -> None:
                inner.append(rt.current_span())

            client.event_hooks["request"] = [hook]
            await pending
            assert inner and inner[0] is not None and inner[0].name == "GET"

    asyncio.run(main())
    (span,) = exporter.get_finished_spans()
    assert span.end_ns - span.start_ns < 200_000_000


def test_concurrent_async_requests_each_have_their_parent(
    server: str, exporter: rt.InMemorySpanExporter
) -> None:
    async def main() -> tuple[rt.Span, list[httpx.Response]]:
        async with httpx.AsyncClient() as client:
            with rt.span("parent") as parent:
                responses = await asyncio.gather(
                    rt.traced(client.get, RULE)(server + "/slow/0.1"),
                    rt.traced(client.post, RULE)(server + "/slow/0.05", json={}),
                )
                assert rt.current_span() is parent
            return parent, list(responses)

    parent, responses = asyncio.run(main())
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"GET", "POST", "parent"}
    assert spans["GET"].span_id != spans["POST"].span_id
    for name, response in zip(("GET", "POST"), responses, strict=True):
        assert spans[name].parent_id == parent.span_id
        _assert_propagated(response, spans[name])


def test_async_errors(server: str, refused_url: str, exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> None:
        async with httpx.AsyncClient() as client:
            response = await rt.traced(client.get, RULE)(server + "/status/500")
            assert response.status_code == 500
            with pytest.raises(httpx.ConnectError):
                await rt.traced(client.get, RULE)(refused_url)
            assert rt.current_span() is None

    asyncio.run(main())
    server_error, refused = exporter.get_finished_spans()
    assert server_error.attributes["error.type"] == "500"
    assert refused.attributes["error.type"] == "httpx.ConnectError"
    assert refused.status_code == rt.StatusCode.ERROR


def test_async_send_and_unbound(server: str, exporter: rt.InMemorySpanExporter) -> None:
    async def main() -> list[httpx.Response]:
        async with httpx.AsyncClient() as client:
            request = client.build_request("DELETE", server + "/send")
            sent = await rt.traced(client.send, RULE)(request)
            assert "traceparent" not in request.headers
            unbound = await rt.traced(httpx.AsyncClient.put, RULE)(client, server + "/put")
            return [sent, unbound]

    responses = asyncio.run(main())
    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == ["DELETE", "PUT"]
    for response, span in zip(responses, spans, strict=True):
        _assert_propagated(response, span)


def test_async_mock_gets_no_span_and_untouched(exporter: rt.InMemorySpanExporter) -> None:
    fake = mock.AsyncMock(return_value="done")
    headers = {"a": "b"}

    async def main() -> object:
        return await rt.traced(fake, RULE)("http://example.invalid/", headers=headers)

    assert asyncio.run(main()) == "done"
    assert fake.await_args.kwargs["headers"] is headers
    assert not exporter.get_finished_spans()


def test_adapters_import_no_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys, codetrace.runtime._httpx, codetrace.runtime._dbapi\n"
        "print(sorted(m for m in ('httpx', 'httpcore', 'sqlite3', '_sqlite3') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_call_site_send_on_a_traced_project_subclass_makes_one_span(
    exporter: rt.InMemorySpanExporter,
) -> None:
    """``traced(client.send, "httpx.send")`` where ``client`` is a project subclass traced at
    construction (openai's ``SyncHttpxClientWrapper``): the client's own send makes the span."""

    class Defaults(httpx.Client):
        def __init__(self, **kwargs: object) -> None:
            kwargs.setdefault("timeout", 5)
            super().__init__(**kwargs)  # type: ignore[arg-type]

    class Wrapper(Defaults):
        pass

    transport = httpx.MockTransport(lambda request: httpx.Response(204))
    client = rt.traced(Wrapper, "httpx.client")(transport=transport, base_url="http://t")
    request = client.build_request("GET", "/a")
    response = rt.traced(client.send, "httpx.send")(request)
    assert response.status_code == 204
    assert [(s.name, s.kind) for s in exporter.get_finished_spans()] == [
        ("GET", rt.SpanKind.CLIENT)
    ]
