"""Adapter for rule ``httpx.send``: a CLIENT span per httpx request, sync or async.

Handles ``httpx.request/get/post/put/patch/delete/head/options``, the same methods of
``httpx.Client`` and ``httpx.AsyncClient`` (bound, or called on the class with the client
first) and their ``send(request)``. ``httpx`` is never imported: a callee is recognised by its
``__module__`` (``httpx`` or ``httpx.*``) and ``__name__``, as the requests adapter does, and
shares its semantics (``_http``): span name = method, ``http.request.method``, ``url.full``
redacted, ``server.address``/``server.port``, ``http.response.status_code``, ``error.type``
for a 4xx/5xx response (the code) or an exception (its class, ``httpx.ConnectError``).
``url.full`` and the server attributes are updated from the request httpx actually sent first
(so a client's ``base_url`` and ``params=`` are reflected).

Trace headers never touch the caller's objects:

* ``get(url, headers=h)`` and friends (httpx takes ``headers`` by keyword only): the callee
  gets ``headers=`` a *new* collection, the caller's items plus the trace headers (a dict stays
  a dict; ``httpx.Headers``, other mappings and lists of pairs become a list of pairs, which
  keeps repeated headers). Headers the caller or the client's defaults already carry are not
  overwritten, as in the requests adapter.
* ``send(request)``: ``httpx.Request.headers`` is mutable and the Request belongs to the
  caller, who may send it again (a retry would then carry a stale ``traceparent``). So the
  callee gets a copy built the way httpx copies a request for a redirect
  (``Request(method, url, headers=..., stream=request.stream, extensions=...)``), read if the
  original was read; the original is untouched. Consequence: ``response.request`` is that copy,
  not the caller's object (equal in method, URL, body and every header but the trace ones).
  A subclass of ``Request`` is not copied (its constructor may differ): it is sent as given,
  without trace headers.

Async: an ``AsyncClient`` method returns a coroutine. The adapter starts the span at the call
(its ids go into the headers, and its parent is the span current where the call was written),
then hands back a :class:`~._awaitable.TracedCoroutine` around it (it answers as a coroutine
does, and closing, cancelling or dropping it behaves, and warns, as untraced). When it first
runs, the span's start time is reset to that moment; the span is current while the request's
code runs, only in the context that runs it, so nothing leaks into the caller's context, and
concurrent requests (``asyncio.gather``) each keep their own span and parent. The span ends
with the response, the exception, the cancellation, or the close.

A callee that is not recognisably httpx (a ``unittest.mock`` object, a wrapper) gets a generic
CLIENT span named ``HTTP`` and its arguments untouched; a coroutine it returns is still timed.
"""

from __future__ import annotations

from collections.abc import Mapping

from . import _captured_headers
from ._awaitable import CoroutineType, TracedCoroutine
from ._construct import built_traced
from ._http import (
    SIMPLE_METHODS,
    as_text,
    header_names_of,
    is_mock,
    method_attributes,
    missing_headers,
    span_name_for,
    url_attributes,
)
from ._log import warn_once
from ._propagation import inject
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import CoroutineType as NativeCoroutine
    from typing import Any

    from ._span import Span

_CLIENTS = ("Client", "AsyncClient")


def _recognise(callee: object) -> tuple[str, int] | None:
    """``(name, offset of the first real argument)`` for a genuine httpx callable."""
    if is_mock(callee):
        return None
    name = getattr(callee, "__name__", None)
    if name not in SIMPLE_METHODS and name not in ("request", "send"):
        return None
    module = getattr(callee, "__module__", None)
    if not isinstance(module, str) or not (module == "httpx" or module.startswith("httpx.")):
        return None
    qualname = getattr(callee, "__qualname__", "")
    unbound = (
        isinstance(qualname, str)
        and qualname.partition(".")[0] in _CLIENTS
        and getattr(callee, "__self__", None) is None
    )
    return str(name), 1 if unbound else 0


def _names(headers: object) -> set[str]:
    """Lower-cased names in ``headers``: a mapping, a list of pairs, or ``None``."""
    if isinstance(headers, Mapping):
        return header_names_of(headers)
    if isinstance(headers, (list, tuple)):
        return header_names_of([pair[0] for pair in headers])
    return set()


def _merged(headers: object, additions: dict[str, str]) -> object | None:
    """A new headers argument: ``headers`` plus ``additions`` (``None``: leave it as given)."""
    if headers is None:
        return additions
    if type(headers) is dict:
        return {**headers, **additions}
    if isinstance(headers, Mapping):
        multi_items = getattr(headers, "multi_items", None)  # httpx.Headers: keep repeats
        items = multi_items() if callable(multi_items) else headers.items()
        return [*items, *additions.items()]
    if isinstance(headers, (list, tuple)):
        return [*headers, *additions.items()]
    return None


def _request_copy(request: Any, injected: dict[str, str]) -> object | None:
    """A copy of an ``httpx.Request`` carrying the trace headers, or ``None`` to send as is."""
    cls = type(request)
    if cls.__name__ != "Request" or not str(cls.__module__).startswith("httpx"):
        return None
    additions = missing_headers(injected, _names(request.headers))
    if not additions:
        return None
    headers = request.headers.copy()
    headers.update(additions)
    copy: object = cls(
        request.method,
        request.url,
        headers=headers,
        stream=request.stream,
        extensions=request.extensions,
    )
    try:
        request.content  # noqa: B018 - raises if the body was never read into memory
    except Exception:
        return copy
    copy.read()  # type: ignore[attr-defined] # the original was read (its stream is replayable bytes): so is the copy
    return copy


def _with_trace_headers(
    callee: object,
    name: str,
    offset: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    span: Span,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments to call with: copies carrying the trace headers (originals untouched)."""
    injected: dict[str, str] = {}
    inject(injected, span=span)
    if not injected:
        return args, kwargs
    if name == "send":
        positional = len(args) > offset
        copy = _request_copy(args[offset] if positional else kwargs.get("request"), injected)
        if copy is None:
            return args, kwargs
        if positional:
            return (*args[:offset], copy, *args[offset + 1 :]), kwargs
        return args, {**kwargs, "request": copy}
    headers = kwargs.get("headers")
    client = args[0] if offset else getattr(callee, "__self__", None)
    client_headers = getattr(client, "headers", None) if client is not None else None
    additions = missing_headers(injected, _names(headers) | _names(client_headers))
    if not additions:
        return args, kwargs
    merged = _merged(headers, additions)
    if merged is None:
        return args, kwargs
    return args, {**kwargs, "headers": merged}


def _start(
    callee: object,
    recognised: tuple[str, int] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[Span, tuple[Any, ...], dict[str, Any], bool]:
    """Start and activate the span; return it with the arguments to call with."""
    method: str | None = None
    url: str | None = None
    if recognised is not None:
        name, offset = recognised
        if name in SIMPLE_METHODS:
            method = SIMPLE_METHODS[name]
            url = as_text(args[offset] if len(args) > offset else kwargs.get("url"))
        elif name == "request":
            method = as_text(args[offset] if len(args) > offset else kwargs.get("method"))
            url = as_text(args[offset + 1] if len(args) > offset + 1 else kwargs.get("url"))
        else:
            request = args[offset] if len(args) > offset else kwargs.get("request")
            method = as_text(getattr(request, "method", None))
            url = as_text(getattr(request, "url", None))
    if recognised is None or method is None:
        span = start_span("HTTP", kind=SpanKind.CLIENT)
        span.activate()
        return span, args, kwargs, False
    method = method.upper()
    span = start_span(span_name_for(method), kind=SpanKind.CLIENT)
    span.activate()
    # From here on the span is current: nothing may escape before the caller can end it.
    try:
        if span.is_recording():
            method_attributes(method, span.attributes)
            if url is not None:
                url_attributes(url, span.attributes)
    except Exception as exc:  # pragma: no cover - the helpers do not raise on any str
        warn_once("httpx-attributes", "codetrace: could not describe a request", exc=exc)
    try:
        args, kwargs = _with_trace_headers(callee, name, offset, args, kwargs, span)
    except Exception as exc:
        warn_once("httpx-headers", "codetrace: could not add trace headers", exc=exc)
    return span, args, kwargs, True


def _finish(span: Span, response: object, recognised: bool) -> None:
    """Record what ``response`` says (status, URL sent), then end the span."""
    if recognised and span.is_recording():
        try:
            status = getattr(response, "status_code", None)
            if type(status) is int:
                span.set_attribute("http.response.status_code", status)
                if status >= 400:
                    span.set_attribute("error.type", str(status))
                    span.set_status(StatusCode.ERROR)
            history = getattr(response, "history", None)
            first = history[0] if type(history) is list and history else response
            sent = getattr(getattr(first, "request", None), "url", None)
            if sent is not None:
                url_attributes(str(sent), span.attributes)
            if _captured_headers.client is not False and _captured_headers.wanted("client"):
                _captured_headers.client_exchange(
                    span.attributes,
                    getattr(getattr(response, "request", None), "headers", None),
                    getattr(response, "headers", None),
                )
        except Exception as exc:
            warn_once("httpx-response", "codetrace: could not read the response", exc=exc)
    span.__exit__(None, None, None)


class _AwaitedRequest(TracedCoroutine):
    """An ``AsyncClient`` call's coroutine: timed from its first step, ended by its response."""

    __slots__ = ("_known",)
    timed_from_first_step = True

    def __init__(self, span: Span, coroutine: NativeCoroutine[Any, Any, Any], known: bool) -> None:
        super().__init__(span, coroutine)
        self._known = known

    def _returned(self, span: Span, value: object) -> None:
        _finish(span, value, self._known)


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``callee(*args, **kwargs)`` in a CLIENT span (see the module docstring).

    A method of a client traced at construction (``httpx.client``) is called through without
    a span: the client's own ``send`` makes it.
    """
    try:
        # a mock is no I/O; a method bound to a traced client, its own send included, and
        # ``Client.get(client, url)`` (which reaches the traced ``send``; ``Client.send`` does
        # not) are traced by the client itself: all are called through without a span
        through = is_mock(callee) or built_traced(callee, ())
        if not through:
            recognised = _recognise(callee)
            through = recognised is not None and built_traced(
                callee, args[: recognised[1]] if recognised[0] != "send" else ()
            )
            if not through:
                span, call_args, call_kwargs, known = _start(callee, recognised, args, kwargs)
    except Exception as exc:
        warn_once("httpx-adapter", "codetrace: httpx call left untraced", exc=exc)
        return callee(*args, **kwargs)
    if through:
        return callee(*args, **kwargs)
    return _call(span, callee, call_args, call_kwargs, known)


def _call(
    span: Span, callee: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
    known: bool,
) -> Any:
    """Call with ``span`` current; end it with the outcome (when awaited, for a coroutine)."""
    try:
        result = callee(*args, **kwargs)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if type(result) is CoroutineType:
        span.deactivate()
        return _AwaitedRequest(span, result, known)
    _finish(span, result, known)
    return result


_SEND = ("send", 0)


def traced_send(send: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``send(*args, **kwargs)`` in the span a traced ``httpx.Client``'s ``send`` makes.

    ``send`` is the next ``send`` in the client's MRO, bound; the span is the one ``httpx.send``
    makes for ``client.send(request)`` (a mocked ``send``: generic ``HTTP`` span, arguments
    untouched).
    """
    try:
        recognised = None if is_mock(send) else _SEND
        span, call_args, call_kwargs, known = _start(send, recognised, args, kwargs)
    except Exception as exc:
        warn_once("httpx-adapter", "codetrace: httpx call left untraced", exc=exc)
        return send(*args, **kwargs)
    return _call(span, send, call_args, call_kwargs, known)


async def traced_send_async(
    send: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The same for ``httpx.AsyncClient.send``: the span is current in the awaiting task."""
    try:
        recognised = None if is_mock(send) else _SEND
        span, call_args, call_kwargs, known = _start(send, recognised, args, kwargs)
    except Exception as exc:
        warn_once("httpx-adapter", "codetrace: httpx call left untraced", exc=exc)
        return await send(*args, **kwargs)
    try:
        result = await send(*call_args, **call_kwargs)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    _finish(span, result, known)
    return result
