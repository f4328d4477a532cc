"""grpc.aio channels and servers traced from construction, against a real grpc.aio server on
127.0.0.1 in the test's own event loop (generic handlers, raw bytes: no protoc)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent import futures
from typing import Any

import pytest
from span_checks import take_spans

import codetrace.runtime as rt

grpc = pytest.importorskip("grpc")
aio = pytest.importorskip("grpc.aio")

SERVICE = "demo.AsyncEcho"
AFTER_SET_CODE = grpc.StatusCode.NOT_FOUND
"""What grpc.aio answers when a handler raises after ``set_code(NOT_FOUND)``: that code."""
order: list[str] = []
seen_metadata: list[dict[str, Any]] = []


async def _say(request: bytes, context: Any) -> bytes:
    seen_metadata.append({m.key: m.value for m in context.invocation_metadata()})
    if request == b"abort":
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not you")
    if request == b"boom":
        raise ValueError("handler failed")
    if request == b"code-then-raise":
        context.set_code(grpc.StatusCode.NOT_FOUND)
        raise KeyError("after set_code")
    with rt.span("inside the handler"):
        await asyncio.sleep(0)
    return request.upper()


async def _count(request: bytes, context: Any) -> AsyncIterator[bytes]:
    for index in range(3):
        yield str(index).encode()


async def _written(request: bytes, context: Any) -> None:
    await context.write(b"a")
    await context.write(b"b")


async def _join(requests: AsyncIterator[bytes], context: Any) -> bytes:
    return b"+".join([r async for r in requests])


async def _echo(requests: AsyncIterator[bytes], context: Any) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request[::-1]


def _plain(request: bytes, context: Any) -> bytes:
    return request * 2


def _plain_stream(request: bytes, context: Any) -> Iterator[bytes]:
    yield from (b"x", b"y")


HANDLERS = grpc.method_handlers_generic_handler(SERVICE, {
    "Say": grpc.unary_unary_rpc_method_handler(_say),
    "Count": grpc.unary_stream_rpc_method_handler(_count),
    "Written": grpc.unary_stream_rpc_method_handler(_written),
    "Join": grpc.stream_unary_rpc_method_handler(_join),
    "Echo": grpc.stream_stream_rpc_method_handler(_echo),
    "Plain": grpc.unary_unary_rpc_method_handler(_plain),
    "PlainStream": grpc.unary_stream_rpc_method_handler(_plain_stream),
})


class OwnServerInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
    async def intercept_service(self, continuation: Any, details: Any) -> Any:
        order.append("server")
        return await continuation(details)


class OwnClientInterceptor(aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        order.append("client")
        return await continuation(details, request)


def _serve(body: Callable[[Any], Awaitable[None]], **channel: Any) -> None:
    """Run ``body(channel)`` against a traced grpc.aio server, with a traced channel."""

    async def main() -> None:
        server = rt.traced(aio.server, "grpc.server")(
            futures.ThreadPoolExecutor(max_workers=2), None, [OwnServerInterceptor()]
        )
        server.add_generic_rpc_handlers((HANDLERS,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            make = rt.traced(aio.insecure_channel, "grpc.channel")
            async with make(f"127.0.0.1:{port}", **channel) as ch:
                await asyncio.wait_for(body(ch), 10)
        finally:
            await server.stop(None)

    asyncio.run(main())


def _spans(exporter: rt.InMemorySpanExporter, count: int) -> list[rt.Span]:
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    spans = take_spans(exporter)
    assert len(spans) == count, spans
    return spans


def _pair(spans: list[rt.Span], name: str) -> tuple[rt.Span, rt.Span]:
    (client,) = [s for s in spans if s.kind == rt.SpanKind.CLIENT and s.name == name]
    (server,) = [s for s in spans if s.kind == rt.SpanKind.SERVER and s.name == name]
    return client, server


def test_unary_calls_connected_and_statuses(exporter: rt.InMemorySpanExporter) -> None:
    codes: list[Any] = []

    async def body(ch: Any) -> None:
        say = ch.unary_unary(f"/{SERVICE}/Say")
        assert await say(b"hi", timeout=5, metadata=(("x-mine", "1"),)) == b"HI"
        for request in (b"abort", b"boom", b"code-then-raise"):
            with pytest.raises(aio.AioRpcError) as raised:
                await say(request, timeout=5)
            codes.append(raised.value.code())

    order.clear()
    seen_metadata.clear()
    _serve(body, interceptors=[OwnClientInterceptor()])
    assert codes == [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNKNOWN, AFTER_SET_CODE]
    assert order == ["client", "server"] * 4  # the project's interceptors still run
    spans = _spans(exporter, 9)
    clients = [s for s in spans if s.kind == rt.SpanKind.CLIENT]
    servers = {s.parent_id: s for s in spans if s.kind == rt.SpanKind.SERVER}
    assert len(clients) == len(servers) == 4
    (inner,) = [s for s in spans if s.name == "inside the handler"]
    for client in clients:
        server = servers[client.span_id]  # connected across the hop
        assert server.trace_id == client.trace_id
        assert client.name == server.name == "demo.AsyncEcho/Say"
        assert client.attributes["server.address"] == "127.0.0.1"
        assert server.attributes["network.peer.address"] == "127.0.0.1"
    ok, denied, boom, after = clients
    assert inner.parent_id == servers[ok.span_id].span_id
    assert ok.attributes["rpc.grpc.status_code"] == 0
    assert denied.attributes["error.type"] == "PERMISSION_DENIED"
    assert servers[denied.span_id].status_code == rt.StatusCode.UNSET
    assert servers[denied.span_id].events == []  # AbortError is not the handler's failure
    assert boom.attributes["error.type"] == "UNKNOWN"
    assert servers[boom.span_id].attributes["error.type"] == "UNKNOWN"
    assert servers[boom.span_id].events[0].attributes["exception.type"] == "ValueError"
    assert after.attributes["rpc.grpc.status_code"] == AFTER_SET_CODE.value[0]
    assert servers[after.span_id].attributes["rpc.grpc.status_code"] == AFTER_SET_CODE.value[0]
    assert seen_metadata[0]["x-mine"] == "1"  # the caller's metadata, and the trace context
    assert seen_metadata[0]["traceparent"] == f"00-{ok.trace_id:032x}-{ok.span_id:016x}-03"


def test_streaming_kinds(exporter: rt.InMemorySpanExporter) -> None:
    async def requests() -> AsyncIterator[bytes]:
        for item in (b"ab", b"cd"):
            yield item

    async def body(ch: Any) -> None:
        assert [r async for r in ch.unary_stream(f"/{SERVICE}/Count")(b"", timeout=5)] == [
            b"0", b"1", b"2"]
        assert [r async for r in ch.unary_stream(f"/{SERVICE}/Written")(b"", timeout=5)] == [
            b"a", b"b"]
        assert await ch.stream_unary(f"/{SERVICE}/Join")(requests(), timeout=5) == b"ab+cd"
        echoed = ch.stream_stream(f"/{SERVICE}/Echo")(requests(), timeout=5)
        assert [r async for r in echoed] == [b"ba", b"dc"]
        await asyncio.sleep(0.05)  # the streams' status tasks

    _serve(body)
    spans = _spans(exporter, 8)
    for method in ("Count", "Written", "Join", "Echo"):
        client, server = _pair(spans, f"demo.AsyncEcho/{method}")
        assert server.parent_id == client.span_id
        assert client.attributes["rpc.grpc.status_code"] == 0
        assert server.attributes["rpc.grpc.status_code"] == 0


def test_a_stream_unary_call_written_by_the_caller_does_not_hang(
    exporter: rt.InMemorySpanExporter,
) -> None:
    """``call = stub()``, then ``await call.write(...)`` and ``await call.done_writing()``:
    the interceptor must hand the call back before the RPC ends, or ``write`` waits for it
    and the RPC never ends (found by the recall run on grpc-interceptor 0.15.4, whose
    ``test_client_streaming_write_method`` hung under codetrace, and under OpenTelemetry)."""

    async def body(ch: Any) -> None:
        call = ch.stream_unary(f"/{SERVICE}/Join")(timeout=5)
        await asyncio.wait_for(call.write(b"ab"), 3)
        await asyncio.wait_for(call.write(b"cd"), 3)
        await asyncio.wait_for(call.done_writing(), 3)
        assert await asyncio.wait_for(call, 3) == b"ab+cd"
        await asyncio.sleep(0.05)  # the stream's status task

    _serve(body)
    client, server = _pair(_spans(exporter, 2), "demo.AsyncEcho/Join")
    assert server.parent_id == client.span_id
    assert client.attributes["rpc.grpc.status_code"] == 0


def test_plain_functions_on_an_aio_server(exporter: rt.InMemorySpanExporter) -> None:
    async def body(ch: Any) -> None:
        assert await ch.unary_unary(f"/{SERVICE}/Plain")(b"ab", timeout=5) == b"abab"
        stream = ch.unary_stream(f"/{SERVICE}/PlainStream")(b"", timeout=5)
        assert [r async for r in stream] == [b"x", b"y"]
        await asyncio.sleep(0.05)

    _serve(body)
    spans = _spans(exporter, 4)
    for method in ("Plain", "PlainStream"):
        client, server = _pair(spans, f"demo.AsyncEcho/{method}")
        assert server.parent_id == client.span_id


def test_mocked_aio_factories_are_called_unchanged(
    monkeypatch: pytest.MonkeyPatch, exporter: rt.InMemorySpanExporter
) -> None:
    from unittest import mock

    with mock.patch("grpc.aio.insecure_channel") as patched:
        assert rt.traced(aio.insecure_channel, "grpc.channel")("t:1") is patched.return_value
        patched.assert_called_once_with("t:1")
    with mock.patch("grpc.aio.server") as patched:
        rt.traced(aio.server, "grpc.server")(interceptors=None)
        patched.assert_called_once_with(interceptors=None)
    assert take_spans(exporter) == []
