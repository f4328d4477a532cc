"""Adapter ``grpc.server``: gRPC servers traced where the project creates them.

``_codetrace.traced(grpc.server, "grpc.server")(pool, interceptors=[mine])`` calls
``grpc.server`` with codetrace's server interceptor first in a copy of the ``interceptors``
argument (positional or keyword), the project's own after it, in their order: grpc's public
extension point; nothing is patched and other servers stay untraced. Being first, its span
covers the project's interceptors too.

One SERVER span per RPC the server handles (what the span says: ``_grpc_spans``):

* It continues the caller's trace: ``traceparent``/``tracestate``/``baggage`` are read from the
  RPC's invocation metadata. It is current while the handler runs, so the handler's own spans
  (a database call, an outgoing RPC) are its children.
* The status is what grpc will send: ``context.code()`` once the handler is done (set by
  ``context.abort``/``abort_with_status``/``set_code``, even when the handler raised after
  it, as grpc answers), else ``UNKNOWN`` when the handler raised, ``OK`` otherwise. A handler's
  own exception is recorded as an ``exception`` event; ``abort``'s (a bare ``Exception``,
  grpc.aio's ``AbortError``) is not. ``network.peer.address``/``network.peer.port`` come from
  ``context.peer()``.
* A streamed response (unary-stream, stream-stream) ends its span when the stream ends: the
  response iterator the handler returns is handed to grpc inside a generator that makes the
  span current while each response is produced and ends it after the last one (a stream
  closed early, the client gone say, ends ``CANCELLED``). The handler sees grpc's own
  ``context`` and request objects: nothing of what it observes changes.
* A method no handler serves gets no span (grpc answers ``UNIMPLEMENTED``).

Left alone (called unchanged, the arguments untouched): a mock callee, any other callable.
``grpc.aio.server`` gets its own interceptor the same way (``_grpc_aio``). ``grpc`` is never
imported here, only looked up in :data:`sys.modules` when a server is made.
"""

from __future__ import annotations

import sys

from ._grpc_handlers import stream_response, unary_response
from ._http import is_mock
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


_INTERCEPTORS_POSITION = 2
"""``grpc.server(thread_pool, handlers=None, interceptors=None, ...)``"""
_KINDS = {
    (False, False): "unary_unary",
    (False, True): "unary_stream",
    (True, False): "stream_unary",
    (True, True): "stream_stream",
}
"""The handler's field for (request streaming, response streaming)."""
_interceptor_class: list[type] = []


def _traced_handler(grpc: Any, handler: Any, details: Any) -> Any:
    """``handler`` with its behaviour traced, or ``handler`` itself when it cannot be."""
    full_method = details.method
    metadata = details.invocation_metadata
    field = _KINDS[bool(handler.request_streaming), bool(handler.response_streaming)]
    wrap = stream_response if handler.response_streaming else unary_response
    behavior = getattr(handler, field)
    if behavior is None:
        return handler
    traced = wrap(behavior, full_method, metadata)
    replace = getattr(handler, "_replace", None)  # grpc's own handlers are named tuples
    if replace is not None:
        return replace(**{field: traced})
    build = getattr(grpc, f"{field}_rpc_method_handler")
    return build(traced, request_deserializer=handler.request_deserializer,
                 response_serializer=handler.response_serializer)


def _build_interceptor_class(grpc: Any) -> type:
    class ServerInterceptor(grpc.ServerInterceptor):  # type: ignore[misc]
        """One SERVER span per RPC the server handles."""

        def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
            handler = continuation(handler_call_details)
            if handler is None:
                return None
            try:
                return _traced_handler(grpc, handler, handler_call_details)
            except Exception as exc:
                warn_once("grpc-server-handler", "codetrace: gRPC handler left untraced",
                          exc=exc)
                return handler

    return ServerInterceptor


def interceptor(grpc: Any) -> Any:
    """codetrace's server interceptor."""
    if not _interceptor_class:
        _interceptor_class.append(_build_interceptor_class(grpc))
    return _interceptor_class[0]()


def _with_interceptor(
    grpc: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copies of the arguments with codetrace's interceptor first in ``interceptors``."""
    if len(args) > _INTERCEPTORS_POSITION:
        theirs = args[_INTERCEPTORS_POSITION]
    else:
        theirs = kwargs.get("interceptors")
    given = list(theirs) if theirs is not None else []
    cls = _interceptor_class[0] if _interceptor_class else None
    if cls is not None and any(type(item) is cls for item in given):
        return args, kwargs  # already traced
    interceptors = [interceptor(grpc), *given]
    if len(args) > _INTERCEPTORS_POSITION:
        position = _INTERCEPTORS_POSITION
        return (*args[:position], interceptors, *args[position + 1 :]), kwargs
    return args, {**kwargs, "interceptors": interceptors}


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``; ``grpc.server``/``grpc.aio.server`` with our interceptor."""
    arguments, keywords = args, kwargs
    try:
        grpc = sys.modules.get("grpc")
        aio = sys.modules.get("grpc.aio")
        if grpc is None or is_mock(callee):
            pass
        elif callee is getattr(grpc, "server", None):
            arguments, keywords = _with_interceptor(grpc, args, kwargs)
        elif aio is not None and callee is getattr(aio, "server", None):
            from ._grpc_aio import server_interceptor, with_interceptors

            ours = [server_interceptor(grpc, aio)]
            arguments, keywords = with_interceptors("server", ours, args, kwargs)
    except Exception as exc:
        warn_once("grpc-server-build", "codetrace: gRPC server left untraced", exc=exc)
        arguments, keywords = args, kwargs
    return callee(*arguments, **keywords)
