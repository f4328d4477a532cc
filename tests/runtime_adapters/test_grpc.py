"""gRPC channels and servers traced from construction, against a real grpc server on 127.0.0.1.

The server is grpc's own (``grpc.server`` with a generic handler, raw bytes in and out: no
protoc), built through the ``grpc.server`` adapter as instrumented code builds it; clients are
channels made through the ``grpc.channel`` adapter. Both sides export to the same in-memory
exporter, so a test sees the CLIENT span and the SERVER span of one RPC and their link.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent import futures
from typing import Any
from unittest import mock

import pytest
from span_checks import take_spans

import codetrace.runtime as rt
from codetrace.runtime import _grpc_spans

grpc = pytest.importorskip("grpc")

SERVICE = "demo.Echo"
received_metadata: list[dict[str, str]] = []
interceptor_calls: list[str] = []


def _say(request: bytes, context: Any) -> bytes:
    received_metadata.append({m.key: m.value for m in context.invocation_metadata()})
    if request == b"abort":
        context.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
    if request == b"boom":
        raise ValueError("handler failed")
    if request == b"code":
        context.set_code(grpc.StatusCode.INTERNAL)
        return b""
    if request == b"code-then-raise":
        context.set_code(grpc.StatusCode.NOT_FOUND)
        raise KeyError("after set_code")
    if request == b"child":
        with rt.span("inside the handler"):
            pass
    return request.upper()


def _count(request: bytes, context: Any) -> Iterator[bytes]:
    if request == b"raise-first":
        raise ValueError("before the stream")
    for index in range(3):
        if request == b"abort" and index == 1:
            context.abort(grpc.StatusCode.OUT_OF_RANGE, "too far")
        yield str(index).encode()


def _join(requests: Iterator[bytes], context: Any) -> bytes:
    return b"+".join(requests)


def _echo(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
    for request in requests:
        yield request[::-1]


HANDLERS = grpc.method_handlers_generic_handler(SERVICE, {
    "Say": grpc.unary_unary_rpc_method_handler(_say),
    "Count": grpc.unary_stream_rpc_method_handler(_count),
    "Join": grpc.stream_unary_rpc_method_handler(_join),
    "Echo": grpc.stream_stream_rpc_method_handler(_echo),
})


class RecordingInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
    """The project's own interceptor: it must still run, in its place."""

    def __init__(self, name: str) -> None:
        self.name = name

    def intercept_service(self, continuation: Any, details: Any) -> Any:
        interceptor_calls.append(self.name)
        return continuation(details)


def _start_server(*args: Any, **kwargs: Any) -> tuple[Any, str]:
    server = rt.traced(grpc.server, "grpc.server")(*args, **kwargs)
    server.add_generic_rpc_handlers((HANDLERS,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"


@pytest.fixture(scope="module")
def target() -> Iterator[str]:
    server, address = _start_server(
        futures.ThreadPoolExecutor(max_workers=4),
        interceptors=[RecordingInterceptor("first"), RecordingInterceptor("second")],
    )
    yield address
    server.stop(grace=None).wait(5)


@pytest.fixture
def channel(target: str) -> Iterator[Any]:
    with rt.traced(grpc.insecure_channel, "grpc.channel")(target) as ch:
        yield ch


def _spans(exporter: rt.InMemorySpanExporter, count: int) -> list[rt.Span]:
    """The ``count`` spans finished, waiting (bounded) for the server's threads to end theirs."""
    deadline = time.monotonic() + 5
    while len(exporter.get_finished_spans()) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    spans = take_spans(exporter)
    assert len(spans) == count, spans
    return spans


def _pair(spans: list[rt.Span]) -> tuple[rt.Span, rt.Span]:
    (client,) = [s for s in spans if s.kind == rt.SpanKind.CLIENT]
    (server,) = [s for s in spans if s.kind == rt.SpanKind.SERVER]
    return client, server


def _say_call(channel: Any) -> Any:
    return channel.unary_unary(f"/{SERVICE}/Say")


def test_unary_call_client_span_is_the_server_spans_parent(
    channel: Any, target: str, exporter: rt.InMemorySpanExporter
) -> None:
    assert _say_call(channel)(b"hello", timeout=5) == b"HELLO"
    client, server = _pair(_spans(exporter, 2))
    assert client.name == server.name == "demo.Echo/Say"
    host, port = target.split(":")
    assert client.attributes == {
        "rpc.system": "grpc", "rpc.service": "demo.Echo", "rpc.method": "Say",
        "server.address": host, "server.port": int(port), "rpc.grpc.status_code": 0,
    }
    assert server.attributes["rpc.system"] == "grpc"
    assert server.attributes["rpc.service"] == "demo.Echo"
    assert server.attributes["rpc.method"] == "Say"
    assert server.attributes["rpc.grpc.status_code"] == 0
    assert server.attributes["network.peer.address"] == "127.0.0.1"
    assert isinstance(server.attributes["network.peer.port"], int)
    # connected across the hop: the server continued the client's trace
    assert server.trace_id == client.trace_id
    assert server.parent_id == client.span_id
    assert server.is_remote_parent
    assert client.status_code == server.status_code == rt.StatusCode.UNSET
    tp = received_metadata[-1]["traceparent"]
    assert tp == f"00-{client.trace_id:032x}-{client.span_id:016x}-03"


def test_the_handler_runs_inside_the_server_span(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    with rt.span("caller") as caller:
        _say_call(channel)(b"child", timeout=5)
    spans = _spans(exporter, 4)
    (inner,) = [s for s in spans if s.name == "inside the handler"]
    client, server = _pair(spans)
    assert inner.parent_id == server.span_id
    assert client.parent_id == caller.span_id
    assert inner.trace_id == caller.trace_id
    assert rt.current_span() is None


def test_streaming_kinds_one_span_each_ending_with_the_stream(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    responses = channel.unary_stream(f"/{SERVICE}/Count")(b"go", timeout=5)
    first = next(responses)
    assert first == b"0"
    assert not [s for s in exporter.get_finished_spans() if s.kind == rt.SpanKind.CLIENT]
    assert list(responses) == [b"1", b"2"]
    client, server = _pair(_spans(exporter, 2))
    assert client.name == "demo.Echo/Count"
    assert server.parent_id == client.span_id
    assert client.attributes["rpc.grpc.status_code"] == 0

    assert channel.stream_unary(f"/{SERVICE}/Join")(iter([b"a", b"b"]), timeout=5) == b"a+b"
    client, server = _pair(_spans(exporter, 2))
    assert client.name == server.name == "demo.Echo/Join"
    assert server.parent_id == client.span_id

    echoed = channel.stream_stream(f"/{SERVICE}/Echo")(iter([b"ab", b"cd"]), timeout=5)
    assert list(echoed) == [b"ba", b"dc"]
    client, server = _pair(_spans(exporter, 2))
    assert client.name == server.name == "demo.Echo/Echo"
    assert server.parent_id == client.span_id
    assert server.end_ns >= server.start_ns


def _status_of(call: Any) -> tuple[Any, Any]:
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code(), raised.value.details()


def test_abort_is_the_callers_error_not_the_servers(
    channel: Any, target: str, exporter: rt.InMemorySpanExporter
) -> None:
    code, details = _status_of(lambda: _say_call(channel)(b"abort", timeout=5))
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, "no such thing")
    client, server = _pair(_spans(exporter, 2))
    assert client.attributes["rpc.grpc.status_code"] == server.attributes[
        "rpc.grpc.status_code"] == 5
    assert client.status_code == rt.StatusCode.ERROR
    assert client.attributes["error.type"] == "NOT_FOUND"
    assert server.status_code == rt.StatusCode.UNSET  # NOT_FOUND is not a server failure
    assert "error.type" not in server.attributes
    assert server.events == []  # abort's own bare Exception is not recorded
    # what the application sees is what an untraced channel sees
    with grpc.insecure_channel(target) as plain:
        assert _status_of(lambda: _say_call(plain)(b"abort", timeout=5)) == (code, details)
    take_spans(exporter)


def test_handler_exception_is_unknown_and_recorded(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    code, _ = _status_of(lambda: _say_call(channel)(b"boom", timeout=5))
    assert code == grpc.StatusCode.UNKNOWN
    client, server = _pair(_spans(exporter, 2))
    for span in (client, server):
        assert span.attributes["rpc.grpc.status_code"] == 2
        assert span.attributes["error.type"] == "UNKNOWN"
        assert span.status_code == rt.StatusCode.ERROR
    (event,) = server.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"


def test_set_code_without_raising(channel: Any, exporter: rt.InMemorySpanExporter) -> None:
    code, _ = _status_of(lambda: _say_call(channel)(b"code", timeout=5))
    assert code == grpc.StatusCode.INTERNAL
    client, server = _pair(_spans(exporter, 2))
    assert server.attributes["rpc.grpc.status_code"] == 13
    assert server.status_code == rt.StatusCode.ERROR
    assert server.attributes["error.type"] == "INTERNAL"
    assert client.attributes["error.type"] == "INTERNAL"
    # a handler that raises after set_code: grpc answers with the code set, and so do the spans
    code, _ = _status_of(lambda: _say_call(channel)(b"code-then-raise", timeout=5))
    assert code == grpc.StatusCode.NOT_FOUND
    client, server = _pair(_spans(exporter, 2))
    assert client.attributes["rpc.grpc.status_code"] == server.attributes[
        "rpc.grpc.status_code"] == 5
    assert server.events[0].attributes["exception.type"] == "KeyError"


def test_stream_aborted_midway_and_failing_before_it_starts(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    responses = channel.unary_stream(f"/{SERVICE}/Count")(b"abort", timeout=5)
    assert next(responses) == b"0"
    with pytest.raises(grpc.RpcError) as raised:
        next(responses)
    assert raised.value.code() == grpc.StatusCode.OUT_OF_RANGE
    client, server = _pair(_spans(exporter, 2))
    assert client.attributes["rpc.grpc.status_code"] == 11
    assert server.attributes["rpc.grpc.status_code"] == 11
    assert client.attributes["error.type"] == "OUT_OF_RANGE"

    with pytest.raises(grpc.RpcError) as raised:
        list(channel.unary_stream(f"/{SERVICE}/Count")(b"raise-first", timeout=5))
    assert raised.value.code() == grpc.StatusCode.UNKNOWN
    client, server = _pair(_spans(exporter, 2))
    assert server.attributes["error.type"] == "UNKNOWN"
    assert server.events[0].attributes["exception.type"] == "ValueError"


def test_future_call_span_ends_when_the_future_is_done(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    future = _say_call(channel).future(b"later", timeout=5)
    assert future.result(timeout=5) == b"LATER"
    response, call = _say_call(channel).with_call(b"with", timeout=5)
    assert response == b"WITH"
    assert call.code() == grpc.StatusCode.OK
    spans = _spans(exporter, 4)
    assert sorted(s.kind for s in spans) == [rt.SpanKind.SERVER] * 2 + [rt.SpanKind.CLIENT] * 2


def test_unimplemented_method_has_a_client_span_only(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    code, _ = _status_of(lambda: channel.unary_unary(f"/{SERVICE}/Nope")(b"x", timeout=5))
    assert code == grpc.StatusCode.UNIMPLEMENTED
    (client,) = _spans(exporter, 1)
    assert client.kind == rt.SpanKind.CLIENT
    assert client.attributes["error.type"] == "UNIMPLEMENTED"
    assert client.attributes["rpc.grpc.status_code"] == 12


def test_unreachable_server_is_unavailable(exporter: rt.InMemorySpanExporter) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with rt.traced(grpc.insecure_channel, "grpc.channel")(f"127.0.0.1:{port}") as ch:
        code, _ = _status_of(lambda: _say_call(ch)(b"x", timeout=5))
    assert code == grpc.StatusCode.UNAVAILABLE
    (client,) = _spans(exporter, 1)
    assert client.attributes["error.type"] == "UNAVAILABLE"
    assert client.attributes["server.port"] == port


def test_callers_metadata_is_copied_and_its_trace_headers_kept(
    channel: Any, exporter: rt.InMemorySpanExporter
) -> None:
    metadata = (("x-mine", "1"),)
    _say_call(channel)(b"m", timeout=5, metadata=metadata)
    assert metadata == (("x-mine", "1"),)
    seen = received_metadata[-1]
    assert seen["x-mine"] == "1"
    assert "traceparent" in seen
    mine = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    _say_call(channel)(b"m", timeout=5, metadata=(("traceparent", mine),))
    assert received_metadata[-1]["traceparent"] == mine
    take_spans(exporter)


def test_channel_is_a_context_manager_and_close_closes_it(
    target: str, exporter: rt.InMemorySpanExporter
) -> None:
    ch = rt.traced(grpc.insecure_channel, "grpc.channel")(target)
    assert isinstance(ch, grpc.Channel)
    assert _say_call(ch)(b"x", timeout=5) == b"X"
    ch.close()
    with pytest.raises(ValueError):
        _say_call(ch)(b"x", timeout=5)
    with rt.traced(grpc.secure_channel, "grpc.channel")(
        target, grpc.local_channel_credentials()
    ) as secure:
        assert isinstance(secure, grpc.Channel)
    take_spans(exporter)


def test_project_interceptors_keep_their_order(target: str) -> None:
    interceptor_calls.clear()
    with rt.traced(grpc.insecure_channel, "grpc.channel")(target) as ch:
        _say_call(ch)(b"x", timeout=5)
    assert interceptor_calls == ["first", "second"]


def test_server_arguments_positional_keyword_and_not_mutated(
    exporter: rt.InMemorySpanExporter,
) -> None:
    mine = [RecordingInterceptor("positional")]
    server, address = _start_server(futures.ThreadPoolExecutor(max_workers=2), None, mine)
    try:
        assert [type(i) for i in mine] == [RecordingInterceptor]
        interceptor_calls.clear()
        with grpc.insecure_channel(address) as plain:  # an untraced client
            assert _say_call(plain)(b"x", timeout=5) == b"X"
        assert interceptor_calls == ["positional"]
        (server_span,) = _spans(exporter, 1)
        assert server_span.kind == rt.SpanKind.SERVER
        assert server_span.parent_id == 0  # no caller's context: a new trace
    finally:
        server.stop(grace=None).wait(5)


def test_mocks_and_other_callables_are_called_unchanged(
    exporter: rt.InMemorySpanExporter,
) -> None:
    with mock.patch("grpc.insecure_channel") as patched:
        result = rt.traced(grpc.insecure_channel, "grpc.channel")("somewhere:1")
        assert result is patched.return_value
        patched.assert_called_once_with("somewhere:1")
    with mock.patch("grpc.server") as patched:
        result = rt.traced(grpc.server, "grpc.server")("pool", interceptors=[])
        patched.assert_called_once_with("pool", interceptors=[])
    sentinel = object()
    assert rt.traced(lambda target: sentinel, "grpc.channel")("x") is sentinel
    assert rt.traced(lambda *a, **k: (a, k), "grpc.server")(1, interceptors=[]) == (
        (1,), {"interceptors": []}
    )
    assert take_spans(exporter) == []


def test_disabled_returns_the_callee(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    rt.reset()
    assert rt.traced(grpc.insecure_channel, "grpc.channel") is grpc.insecure_channel
    assert rt.traced(grpc.server, "grpc.server") is grpc.server


@pytest.mark.parametrize(("target", "expected"), [
    ("127.0.0.1:50051", {"server.address": "127.0.0.1", "server.port": 50051}),
    ("localhost", {"server.address": "localhost", "server.port": 443}),
    ("dns:///api.example:8443", {"server.address": "api.example", "server.port": 8443}),
    ("dns://8.8.8.8/api.example", {"server.address": "api.example", "server.port": 443}),
    ("ipv4:10.0.0.1:81,10.0.0.2:82", {"server.address": "10.0.0.1", "server.port": 81}),
    ("ipv6:[::1]:50051", {"server.address": "::1", "server.port": 50051}),
    ("[::1]:50051", {"server.address": "::1", "server.port": 50051}),
    ("unix:/tmp/grpc.sock", {"server.address": "/tmp/grpc.sock"}),
    ("unix:///tmp/grpc.sock", {"server.address": "/tmp/grpc.sock"}),
    ("", {}),
    (None, {}),
])
def test_server_address_from_the_target(target: object, expected: dict[str, object]) -> None:
    assert _grpc_spans.describe_target(target) == expected


def test_runtime_modules_import_no_grpc() -> None:
    import subprocess
    import sys

    code = (
        "import sys, codetrace.runtime._grpc_client, codetrace.runtime._grpc_server\n"
        "import codetrace.runtime._grpc_aio\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'grpc'))"
    )
    result = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True,
                            text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


class OwnHandler(grpc.RpcMethodHandler):  # type: ignore[misc]
    """A project's own handler object (not grpc's named tuple)."""

    request_streaming = False
    response_streaming = False
    request_deserializer = None
    response_serializer = None
    unary_stream = stream_unary = stream_stream = None

    @staticmethod
    def unary_unary(request: bytes, context: Any) -> bytes:
        return request * 2


class OwnGenericHandler(grpc.GenericRpcHandler):  # type: ignore[misc]
    def service(self, details: Any) -> Any:
        return OwnHandler() if details.method == "/own.Service/Twice" else None


def test_a_projects_own_handler_objects_are_traced(exporter: rt.InMemorySpanExporter) -> None:
    server = rt.traced(grpc.server, "grpc.server")(
        futures.ThreadPoolExecutor(max_workers=2), handlers=[OwnGenericHandler()]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with rt.traced(grpc.insecure_channel, "grpc.channel")(f"127.0.0.1:{port}") as ch:
            assert ch.unary_unary("/own.Service/Twice")(b"ab", timeout=5) == b"abab"
        client, server_span = _pair(_spans(exporter, 2))
        assert server_span.name == "own.Service/Twice"
        assert server_span.parent_id == client.span_id
    finally:
        server.stop(grace=None).wait(5)
