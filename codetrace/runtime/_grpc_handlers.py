"""A gRPC server's handler behaviours, traced: one SERVER span per RPC (``_grpc_server``,
``_grpc_aio``).

The span continues the caller's trace from the invocation metadata and is current while the
behaviour runs; for a streamed response, while each response is produced, and it ends with the
stream. Its status is what grpc sends (:func:`finish`). The behaviour gets grpc's own request
and context.
"""

from __future__ import annotations

from . import _grpc_spans as spans
from ._log import warn_once
from ._propagation import extract
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from ._span import Span

_UNKNOWN = (2, "UNKNOWN")
_CANCELLED = (1, "CANCELLED")
_OK = (0, "OK")


def _peer(context: Any) -> dict[str, object]:
    """``network.peer.*`` from ``context.peer()``: ``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``."""
    peer = context.peer()
    if type(peer) is not str or not peer.startswith(("ipv4:", "ipv6:")):
        return {}
    address = peer[5:].split(",", 1)[0].replace("%5B", "[").replace("%5D", "]")
    host, sep, port = address.rpartition(":")
    if not sep:
        return {}
    attributes: dict[str, object] = {"network.peer.address": host.strip("[]")}
    if port.isascii() and port.isdigit():
        attributes["network.peer.port"] = int(port)
    return attributes


def start(full_method: object, metadata: Any, context: Any) -> Span | None:
    try:
        name, attributes = spans.describe_method(full_method)
        carrier = {str(key).lower(): value for key, value in metadata or ()}
        span = start_span(name, kind=SpanKind.SERVER, attributes=attributes,
                          parent=extract(carrier))
        if span.is_recording():
            span.set_attributes(_peer(context))
        span.activate()
    except Exception as exc:
        warn_once("grpc-server", "codetrace: gRPC request left untraced", exc=exc)
        return None
    return span


def _aborted(exc: BaseException) -> bool:
    """``exc`` is how grpc ends a handler that chose its status (``context.abort``): a bare
    ``Exception`` (grpc), an ``AbortError`` (grpc.aio)."""
    return type(exc) is Exception or type(exc).__name__ == "AbortError"


def finish(span: Span, context: Any, exc: BaseException | None) -> None:
    """End ``span`` with the status grpc sends for this RPC."""
    try:
        code = None
        read = getattr(context, "code", None)
        if read is not None:  # what the handler chose, whatever it raised after
            code = spans.code_of(read())
        if code is None:
            if exc is None:
                code = _OK
            elif isinstance(exc, GeneratorExit) or type(exc).__name__ == "CancelledError":
                code = _CANCELLED
            else:
                code = _UNKNOWN
        if isinstance(exc, Exception) and not _aborted(exc):
            span.record_exception(exc)
        spans.end_with_status(span, code, server=True)
    except Exception as error:  # never mask the handler's exception
        warn_once("grpc-server-end", "codetrace: odd gRPC request status", exc=error)
    span.__exit__(None, None, None)


def unary_response(behavior: Callable[..., Any], full_method: object, metadata: Any) -> Any:
    def traced(request: Any, context: Any) -> Any:
        span = start(full_method, metadata, context)
        if span is None:
            return behavior(request, context)
        try:
            response = behavior(request, context)
        except BaseException as exc:
            finish(span, context, exc)
            raise
        finish(span, context, None)
        return response

    return traced


def _stream(span: Span, responses: Iterator[Any], context: Any) -> Iterator[Any]:
    try:
        while True:
            span.activate()
            try:
                response = next(responses)
            except StopIteration:
                break
            finally:
                span.deactivate()
            yield response
    except BaseException as exc:
        if isinstance(exc, GeneratorExit):
            close = getattr(responses, "close", None)
            if close is not None:
                close()
        finish(span, context, exc)
        raise
    finish(span, context, None)


def stream_response(behavior: Callable[..., Any], full_method: object, metadata: Any) -> Any:
    def traced(request: Any, context: Any) -> Any:
        span = start(full_method, metadata, context)
        if span is None:
            return behavior(request, context)
        try:
            responses = iter(behavior(request, context))
        except BaseException as exc:
            finish(span, context, exc)
            raise
        span.deactivate()
        return _stream(span, responses, context)

    return traced
