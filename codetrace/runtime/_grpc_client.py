"""Adapter ``grpc.channel``: gRPC channels traced where the project creates them.

``_codetrace.traced(grpc.insecure_channel, "grpc.channel")(target)`` (also
``grpc.secure_channel``) creates the channel unchanged and returns
``grpc.intercept_channel(channel, interceptor)``: grpc's public extension point, nothing is
patched and other channels stay untraced. The intercepted channel is a ``grpc.Channel``
(``isinstance`` holds, ``type(ch) is`` the original's class does not); it works as a context
manager, and ``close()`` closes the channel it wraps.

The interceptor makes one CLIENT span per RPC, for the four kinds (unary-unary, unary-stream,
stream-unary, stream-stream), blocking, ``with_call`` and ``future`` alike (what the span
says: ``_grpc_spans``; ``server.address``/``server.port`` come from the channel's target):

* It starts when the RPC is invoked and ends when grpc says the RPC is done (a done callback on
  the call grpc returns), so a streamed response ends its span when the stream ends, however
  it is consumed, and the object the application gets back is grpc's own, untouched.
* W3C ``traceparent``/``tracestate`` (and baggage) go into a copy of the call's metadata,
  lower-cased as gRPC requires; a key the caller set is left as the caller set it.
* A stream never consumed nor cancelled keeps its span open until grpc ends the RPC (the
  channel closed, the deadline passed): the span is held by grpc's call object, nowhere else.

Left alone (called unchanged, the result untouched): a mock callee, any other callable, a
result that is not a ``grpc.Channel``. ``grpc.aio.insecure_channel``/``secure_channel`` are
made with codetrace's interceptors first in their ``interceptors=`` (``_grpc_aio``). ``grpc``
is never imported here, only looked up in :data:`sys.modules` when a channel is made.
"""

from __future__ import annotations

import sys

from . import _grpc_spans as spans
from ._http import is_mock
from ._log import warn_once
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

_CHANNEL_FACTORIES = ("insecure_channel", "secure_channel")
_interceptor_class: list[type] = []


def _finisher(span: Span) -> Callable[[Any], None]:
    def done(call: Any) -> None:
        try:
            code = spans.code_of(call.code())
            if code is not None:
                spans.end_with_status(span, code, server=False)
        except Exception as exc:
            warn_once("grpc-client-end", "codetrace: odd gRPC call status", exc=exc)
        span.end()

    return done


def _build_interceptor_class(grpc: Any) -> type:
    """The interceptor class, built on first use (``grpc`` is imported by the application)."""

    class CallDetails(grpc.ClientCallDetails):  # type: ignore[misc]
        """A copy of the application's call details with our metadata."""

        __slots__ = ("compression", "credentials", "metadata", "method", "timeout",
                     "wait_for_ready")

        def __init__(self, details: Any, metadata: list[tuple[str, Any]]) -> None:
            self.method = details.method
            self.timeout = details.timeout
            self.metadata = metadata
            self.credentials = details.credentials
            self.wait_for_ready = getattr(details, "wait_for_ready", None)
            self.compression = getattr(details, "compression", None)

    class ClientInterceptor(
        grpc.UnaryUnaryClientInterceptor,  # type: ignore[misc]
        grpc.UnaryStreamClientInterceptor,  # type: ignore[misc]
        grpc.StreamUnaryClientInterceptor,  # type: ignore[misc]
        grpc.StreamStreamClientInterceptor,  # type: ignore[misc]
    ):
        """One CLIENT span per RPC of the channel it intercepts."""

        def __init__(self, target: dict[str, object]) -> None:
            self._target = target

        def _intercept(self, continuation: Any, details: Any, request: Any) -> Any:
            try:
                name, attributes = spans.describe_method(details.method)
                span = start_span(name, kind=SpanKind.CLIENT,
                                  attributes={**attributes, **self._target})
                traced_details = CallDetails(
                    details, spans.metadata_with_context(details.metadata, span)
                )
            except Exception as exc:
                warn_once("grpc-client", "codetrace: gRPC call left untraced", exc=exc)
                return continuation(details, request)
            try:
                call = continuation(traced_details, request)
            except BaseException as exc:  # grpc reports failures in the call; just in case
                span.__exit__(type(exc), exc, exc.__traceback__)
                raise
            try:
                call.add_done_callback(_finisher(span))
            except Exception as exc:  # not grpc's call object: the span ends now
                warn_once("grpc-client-call", "codetrace: odd gRPC call object", exc=exc)
                span.end()
            return call

        intercept_unary_unary = _intercept
        intercept_unary_stream = _intercept
        intercept_stream_unary = _intercept
        intercept_stream_stream = _intercept

    return ClientInterceptor


def interceptor(grpc: Any, target: object) -> Any:
    """A client interceptor for a channel to ``target``."""
    if not _interceptor_class:
        _interceptor_class.append(_build_interceptor_class(grpc))
    return _interceptor_class[0](spans.describe_target(target))


def _channel_factory(callee: object) -> Any:
    """The ``grpc`` module when ``callee`` is one of its channel factories, else None."""
    grpc = sys.modules.get("grpc")
    if grpc is None or is_mock(callee):
        return None
    for name in _CHANNEL_FACTORIES:
        if callee is getattr(grpc, name, None):
            return grpc
    return None


def _aio_channel_factory(callee: object) -> tuple[Any, str] | None:
    """``(grpc.aio, name)`` when ``callee`` is one of grpc.aio's channel factories."""
    aio = sys.modules.get("grpc.aio")
    if aio is None or is_mock(callee):
        return None
    for name in _CHANNEL_FACTORIES:
        if callee is getattr(aio, name, None):
            return aio, name
    return None


def _aio_channel(
    callee: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
    """The arguments to make a grpc.aio channel with (None: not one of its factories)."""
    found = _aio_channel_factory(callee)
    if found is None:
        return None
    aio, name = found
    from ._grpc_aio import client_interceptors, with_interceptors

    target = args[0] if args else kwargs.get("target")
    return with_interceptors(name, client_interceptors(aio, target), args, kwargs)


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``; a channel it makes comes back traced."""
    arguments: tuple[tuple[Any, ...], dict[str, Any]] | None = None
    try:
        grpc = _channel_factory(callee)
        if grpc is None:
            arguments = _aio_channel(callee, args, kwargs)
    except Exception as exc:
        warn_once("grpc-channel", "codetrace: gRPC channel left untraced", exc=exc)
        grpc = arguments = None
    if arguments is not None:  # grpc.aio: its own channel, made with our interceptor
        return callee(*arguments[0], **arguments[1])
    channel = callee(*args, **kwargs)
    if grpc is None:
        return channel
    try:
        if not isinstance(channel, grpc.Channel):
            return channel
        target = args[0] if args else kwargs.get("target")
        return grpc.intercept_channel(channel, interceptor(grpc, target))
    except Exception as exc:
        warn_once("grpc-channel", "codetrace: gRPC channel left untraced", exc=exc)
        return channel
