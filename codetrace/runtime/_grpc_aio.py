"""grpc.aio channels and servers: the same spans as ``_grpc_client``/``_grpc_server``, async.

grpc.aio has no ``intercept_channel``; its channels and servers take ``interceptors=`` when
they are made. So the ``grpc.channel`` adapter, given ``grpc.aio.insecure_channel`` or
``grpc.aio.secure_channel``, and the ``grpc.server`` adapter, given ``grpc.aio.server``, call
it with codetrace's interceptor first in a copy of ``interceptors`` (positional or keyword; the
project's own follow, in order). The channel and server are grpc's own objects.

* Client: one CLIENT span per RPC. For a unary response the interceptor awaits the call, so
  the span ends before the application has the response; for a streamed response it ends from
  the call's done callback (grpc.aio reads the status with a coroutine, so a task reads it: at
  most one per RPC in flight). The trace context goes into a copy of the call's metadata.
* Server: one SERVER span per RPC, current while the handler runs. grpc.aio serves coroutine
  functions, async generators and plain functions and generators (in its thread pool) and
  decides by the handler's kind, so each is wrapped by one of the same kind. The status: as
  ``_grpc_server`` (``context.abort`` raises ``AbortError``; ``context.code()`` says which).
"""

from __future__ import annotations

from . import _grpc_spans as spans
from ._grpc_handlers import finish, start, stream_response, unary_response
from ._log import warn_once
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable
    from typing import Any

    from ._span import Span

INTERCEPTORS_POSITION = {"insecure_channel": 3, "secure_channel": 4, "server": 2}
"""Where ``interceptors`` stands among the positional parameters of each grpc.aio factory."""
_classes: dict[str, type] = {}
_client: list[type] = []
_pending: set[Any] = set()
"""Tasks reading a finished stream's status (held until they run: the loop keeps weak refs)."""


def with_interceptors(
    name: str, ours: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Copies of the arguments of ``grpc.aio.NAME(...)`` with ``ours`` first in
    ``interceptors``."""
    position = INTERCEPTORS_POSITION[name]
    theirs = args[position] if len(args) > position else kwargs.get("interceptors")
    given = list(theirs) if theirs is not None else []
    mine = {type(item) for item in ours}
    if any(type(item) in mine for item in given):
        return args, kwargs  # already traced
    interceptors = [*ours, *given]
    if len(args) > position:
        return (*args[:position], interceptors, *args[position + 1 :]), kwargs
    return args, {**kwargs, "interceptors": interceptors}


# -- client --------------------------------------------------------------------------------------


async def _end_stream(span: Span, call: Any) -> None:
    try:
        code = spans.code_of(await call.code())
        if code is not None:
            spans.end_with_status(span, code, server=False)
    except BaseException as exc:  # cancelled at shutdown: the span ends all the same
        if isinstance(exc, Exception):
            warn_once("grpc-aio-client-end", "codetrace: odd gRPC call status", exc=exc)
    span.end()


def _stream_finisher(span: Span) -> Callable[[Any], None]:
    def done(call: Any) -> None:
        try:
            import asyncio  # loaded: grpc.aio runs on it

            task = asyncio.get_running_loop().create_task(_end_stream(span, call))
            _pending.add(task)
            task.add_done_callback(_pending.discard)
        except Exception as exc:
            warn_once("grpc-aio-client-end", "codetrace: odd gRPC call status", exc=exc)
            span.end()

    return done


def _client_classes(aio: Any) -> list[type]:
    """One interceptor class per kind of RPC: grpc.aio files each interceptor under the first
    kind it implements, so one object cannot serve all four."""

    class AioClientInterceptor:
        """One CLIENT span per RPC of the grpc.aio channel it was given to."""

        def __init__(self, target: dict[str, object]) -> None:
            self._target = target

        def _begin(self, details: Any) -> tuple[Span, Any] | None:
            try:
                name, attributes = spans.describe_method(details.method)
                span = start_span(name, kind=SpanKind.CLIENT,
                                  attributes={**attributes, **self._target})
                pairs = spans.metadata_with_context(details.metadata, span)
                return span, details._replace(metadata=aio.Metadata(*pairs))
            except Exception as exc:
                warn_once("grpc-aio-client", "codetrace: gRPC call left untraced", exc=exc)
                return None

        async def _unary_response(self, continuation: Any, details: Any, request: Any) -> Any:
            begun = self._begin(details)
            if begun is None:
                return await continuation(details, request)
            span, traced_details = begun
            try:
                call = await continuation(traced_details, request)
                code = spans.code_of(await call.code())
            except BaseException as exc:
                span.__exit__(type(exc), exc, exc.__traceback__)
                raise
            if code is not None:
                spans.end_with_status(span, code, server=False)
            span.end()
            return call

        async def _stream_response(self, continuation: Any, details: Any, request: Any) -> Any:
            begun = self._begin(details)
            if begun is None:
                return await continuation(details, request)
            span, traced_details = begun
            try:
                call = await continuation(traced_details, request)
            except BaseException as exc:
                span.__exit__(type(exc), exc, exc.__traceback__)
                raise
            try:
                call.add_done_callback(_stream_finisher(span))
            except Exception as exc:  # a call an inner interceptor made up
                warn_once("grpc-aio-client-call", "codetrace: odd gRPC call object", exc=exc)
                span.end()
            return call

    class UnaryUnary(AioClientInterceptor, aio.UnaryUnaryClientInterceptor):  # type: ignore[misc]
        intercept_unary_unary = AioClientInterceptor._unary_response

    class UnaryStream(AioClientInterceptor, aio.UnaryStreamClientInterceptor):  # type: ignore[misc]
        intercept_unary_stream = AioClientInterceptor._stream_response

    class StreamUnary(AioClientInterceptor, aio.StreamUnaryClientInterceptor):  # type: ignore[misc]
        # ended from the call's done callback, never awaited here: a caller that writes the
        # requests itself (``call.write``) needs the call back before the RPC can end
        intercept_stream_unary = AioClientInterceptor._stream_response

    class StreamStream(AioClientInterceptor, aio.StreamStreamClientInterceptor):  # type: ignore[misc]
        intercept_stream_stream = AioClientInterceptor._stream_response

    return [UnaryUnary, UnaryStream, StreamUnary, StreamStream]


def client_interceptors(aio: Any, target: object) -> list[Any]:
    """codetrace's interceptors (one per kind of RPC) for a grpc.aio channel to ``target``."""
    if not _client:
        _client.extend(_client_classes(aio))
    attributes = spans.describe_target(target)
    return [cls(attributes) for cls in _client]


# -- server --------------------------------------------------------------------------------------


def _coroutine(behavior: Callable[..., Any], full_method: object, metadata: Any) -> Any:
    async def traced(request: Any, context: Any) -> Any:
        span = start(full_method, metadata, context)
        if span is None:
            return await behavior(request, context)
        try:
            response = await behavior(request, context)
        except BaseException as exc:
            finish(span, context, exc)
            raise
        finish(span, context, None)
        return response

    return traced


def _async_generator(behavior: Callable[..., Any], full_method: object, metadata: Any) -> Any:
    async def traced(request: Any, context: Any) -> AsyncIterator[Any]:
        span = start(full_method, metadata, context)
        if span is None:
            async for response in behavior(request, context):
                yield response
            return
        span.deactivate()
        responses = behavior(request, context)
        try:
            while True:
                span.activate()
                try:
                    response = await responses.__anext__()
                except StopAsyncIteration:
                    break
                finally:
                    span.deactivate()
                yield response
        except BaseException as exc:
            if isinstance(exc, GeneratorExit):
                await responses.aclose()
            finish(span, context, exc)
            raise
        finish(span, context, None)

    return traced


def _traced_handler(grpc: Any, handler: Any, details: Any) -> Any:
    import inspect  # loaded: grpc.aio imports it

    field = (("stream" if handler.request_streaming else "unary") + "_"
             + ("stream" if handler.response_streaming else "unary"))
    behavior = getattr(handler, field)
    if behavior is None:
        return handler
    if inspect.isasyncgenfunction(behavior):
        wrap = _async_generator
    elif inspect.iscoroutinefunction(behavior):
        wrap = _coroutine  # a streamed response written with ``await context.write()`` too
    elif handler.response_streaming:
        wrap = stream_response
    else:
        wrap = unary_response
    traced = wrap(behavior, details.method, details.invocation_metadata)
    replace = getattr(handler, "_replace", None)
    if replace is not None:
        return replace(**{field: traced})
    build = getattr(grpc, f"{field}_rpc_method_handler")
    return build(traced, request_deserializer=handler.request_deserializer,
                 response_serializer=handler.response_serializer)


def _server_class(grpc: Any, aio: Any) -> type:
    class AioServerInterceptor(aio.ServerInterceptor):  # type: ignore[misc]
        """One SERVER span per RPC the grpc.aio server handles."""

        async def intercept_service(self, continuation: Any, handler_call_details: Any) -> Any:
            handler = await continuation(handler_call_details)
            if handler is None:
                return None
            try:
                return _traced_handler(grpc, handler, handler_call_details)
            except Exception as exc:
                warn_once("grpc-aio-server-handler", "codetrace: gRPC handler left untraced",
                          exc=exc)
                return handler

    return AioServerInterceptor


def server_interceptor(grpc: Any, aio: Any) -> Any:
    cls = _classes.get("server")
    if cls is None:
        cls = _classes["server"] = _server_class(grpc, aio)
    return cls()
