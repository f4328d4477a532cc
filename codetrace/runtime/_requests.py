"""Adapter for rule ``requests.send``: a CLIENT span per ``requests`` call, trace headers added.

Handles ``requests.request/get/post/put/patch/delete/head/options``, the same methods of a
``requests.Session`` (bound, or called on the class with the session first) and
``Session.send(prepared)``. ``requests`` is never imported: the adapter reads what it is given
(the callee's ``__name__`` and ``__module__``, the arguments, the response's ``status_code``).

* The method comes from the callee's name (``get`` -> ``GET``), from the first argument or
  ``method=`` for ``request``, from ``prepared.method`` for ``send``; the URL from the first
  positional argument or ``url=``, or ``prepared.url``. Span name: the method
  (``HTTP`` for a non-standard one). Attributes: see ``_http``, plus
  ``http.response.status_code``; a 4xx/5xx response or an exception sets ``error.type`` and
  status ``ERROR``. ``url.full`` is updated to the URL requests actually sent first (with
  ``params=`` merged), read from the response.
* Trace headers (``traceparent``, ``tracestate``, ``baggage``, per ``OTEL_PROPAGATORS``) go into
  a *new* headers dict, ``{**headers, ...}``, passed instead of the caller's, which is never
  mutated; for ``send`` the prepared request is copied (``.copy()``) and the copy gets them.
  A header the caller (or the session's default headers) already set is not overwritten, and a
  caller-set ``traceparent`` also keeps our ``tracestate`` out.
* A callee that is not recognisably ``requests`` (a ``unittest.mock`` object, autospecced or
  not, or a subclass method defined outside ``requests`` whose signature we cannot trust) gets
  a generic CLIENT span named ``HTTP`` and the caller's arguments untouched.

This module is imported on the first ``requests.send`` call, so its own imports cost nothing at
start-up. What a callee is gets decided once per function (bound methods share it), and
attributes are computed only for spans that record.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from ._construct import built_traced
from ._http import (
    KNOWN_METHODS,
    SIMPLE_METHODS,
    as_text,
    describe_url,
    header_names_of,
    is_mock,
    method_attributes,
    missing_headers,
    url_attributes,
)
from ._log import warn_once
from ._propagation import inject
from ._tracer import span as start_span
from ._values import MAX_ATTRIBUTES, SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

_SESSION_REQUEST_HEADERS_INDEX = 4  # Session.request(method, url, params, data, headers, ...)


_MAX_CACHED = 1024
_UNKNOWN = object()
_CALL_THROUGH: tuple[str, int] = ("", -1)
"""What :func:`_recognise` says of a method of a session traced at construction."""
_recognised: dict[tuple[object, object], tuple[str, int] | None] = {}


def _recognise(callee: object) -> tuple[str, int] | None:
    """``(name, offset of the first real argument)`` for a genuine ``requests`` callable.

    :data:`_CALL_THROUGH` ("call through, no span of ours") for a method bound to a session
    traced at construction, and for a mock: a mocked callee is no I/O.
    """
    if is_mock(callee):  # before any hashing: a MagicMock records ``__hash__``
        return _CALL_THROUGH
    # Keyed by the function and the type it is bound to: ``session.get`` (bound, a new object
    # at each access) and ``requests.Session.get`` (plain, the session passed first) differ,
    # and so do a plain session and a traced one.
    function = getattr(callee, "__func__", None)
    if function is None:
        key: tuple[object, object] = (callee, None)
    else:
        key = (function, type(getattr(callee, "__self__", None)))
    try:
        cached = _recognised.get(key, _UNKNOWN)
    except TypeError:  # an unhashable callable: examine it every time
        return _examine(callee)
    if cached is not _UNKNOWN:
        return cached  # type: ignore[return-value]
    result = _examine(callee)
    if len(_recognised) >= _MAX_CACHED:
        _recognised.clear()
    _recognised[key] = result
    return result


def _examine(callee: object) -> tuple[str, int] | None:
    if is_mock(callee):
        return None
    if built_traced(callee, ()):
        return _CALL_THROUGH
    name = getattr(callee, "__name__", None)
    if name not in SIMPLE_METHODS and name not in ("request", "send"):
        return None
    module = getattr(callee, "__module__", None)
    if not isinstance(module, str) or not (module == "requests" or module.startswith("requests.")):
        return None
    qualname = getattr(callee, "__qualname__", "")
    unbound = (
        isinstance(qualname, str)
        and qualname.startswith("Session.")
        and getattr(callee, "__self__", None) is None
    )
    return str(name), 1 if unbound else 0


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str) -> Any:
    return args[index] if len(args) > index else kwargs.get(name)


def _sessionheader_names_of(callee: object) -> set[str]:
    """The lowercase names of the session's default headers (none for a plain function).

    A session's ``headers`` is a ``requests`` ``CaseInsensitiveDict``, whose ``_store`` is
    already keyed by lowercase name: reading its keys skips iterating the mapping through
    its Python-level generator, the costliest part of a traced call after the span.
    """
    owner = getattr(callee, "__self__", None)
    headers = getattr(owner, "headers", None) if owner is not None else None
    if headers is None:
        return set()
    store = getattr(headers, "_store", None)
    if type(store) in (dict, OrderedDict) and type(headers).__name__ == "CaseInsensitiveDict":
        return set(store)  # type: ignore[arg-type]
    return header_names_of(headers) if isinstance(headers, Mapping) else set()


def _inherited(headers: Mapping[str, Any], span: Span) -> bool:
    """Whether the request's ``traceparent`` is the one of ``span``'s parent.

    A traced session's ``send`` runs again, inside the first send's span, for each redirect,
    on a copy of the request that first send sent: that copy carries the parent's
    ``traceparent``, which this hop's span replaces (one span and one ``traceparent`` per hop,
    as OpenTelemetry's requests instrumentation does). A ``traceparent`` the caller set is
    not the parent span's and stays.
    """
    value = headers.get("traceparent")
    return (
        type(value) is str
        and len(value) >= 52
        and value[3:35] == f"{span.trace_id:032x}"
        and value[36:52] == f"{span.parent_id:016x}"
    )


def _copy_with_own_headers(prepared: Any) -> Any:
    """A copy of a ``PreparedRequest`` whose headers are its own, everything else shared.

    ``PreparedRequest.copy()`` also copies the cookie jar, a third of a traced send's cost;
    nothing on the way down ``send`` writes to the request's jar (a redirect copies the
    request again), so sharing it is safe. Anything unusual gets the full copy.
    """
    if type(prepared).__module__ != "requests.models" or not hasattr(prepared, "__dict__"):
        return prepared.copy()
    copied = object.__new__(type(prepared))
    copied.__dict__.update(prepared.__dict__)
    copied.headers = prepared.headers.copy()
    return copied


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
        prepared = _argument(args, kwargs, offset, "request")
        headers = getattr(prepared, "headers", None)
        if not isinstance(headers, Mapping):
            return args, kwargs
        present = header_names_of(headers)
        if "traceparent" in present and _inherited(headers, span):
            additions = injected  # the parent's, carried over by a redirect: replace them
        else:
            additions = missing_headers(injected, present)
        if not additions:
            return args, kwargs
        prepared_copy = _copy_with_own_headers(prepared)
        prepared_copy.headers.update(additions)
        if len(args) > offset:
            return (*args[:offset], prepared_copy, *args[offset + 1 :]), kwargs
        return args, {**kwargs, "request": prepared_copy}
    position = _SESSION_REQUEST_HEADERS_INDEX + offset
    positional = name == "request" and len(args) > position
    headers = args[position] if positional else kwargs.get("headers")
    present = _sessionheader_names_of(callee)
    if headers is not None:
        if not isinstance(headers, Mapping):
            return args, kwargs  # a list of pairs, say: leave it exactly as given
        present = present | header_names_of(headers)
    additions = missing_headers(injected, present)
    if not additions:
        return args, kwargs
    new_headers = {**headers, **additions} if headers else additions
    if positional:
        return (*args[:position], new_headers, *args[position + 1 :]), kwargs
    return args, {**kwargs, "headers": new_headers}


def _start(
    callee: object,
    recognised: tuple[str, int] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[Span, tuple[Any, ...], dict[str, Any], str | None]:
    """Start and activate the span; return it with the arguments to call with and the URL.

    The URL is ``None`` when the call was not recognised (a generic ``HTTP`` span, arguments
    untouched) or names none. Written flat, with the common case (a method named for its
    verb) first: this runs on every call, between a lot of other code, where every extra
    function call costs (benchmarks/runtime_requests.py).
    """
    if recognised is None:
        span = start_span("HTTP", kind=SpanKind.CLIENT)
        span.activate()
        return span, args, kwargs, None
    name, offset = recognised
    method = SIMPLE_METHODS.get(name)
    if method is not None:
        url: object = args[offset] if len(args) > offset else kwargs.get("url")
    else:
        if name == "request":
            method = as_text(_argument(args, kwargs, offset, "method"))
            url = _argument(args, kwargs, offset + 1, "url")
        else:
            prepared = _argument(args, kwargs, offset, "request")
            method = as_text(getattr(prepared, "method", None))
            url = getattr(prepared, "url", None)
        if method is None:
            span = start_span("HTTP", kind=SpanKind.CLIENT)
            span.activate()
            return span, args, kwargs, None
        method = method.upper()
    if type(url) is not str:
        url = as_text(url)
    known = method in KNOWN_METHODS
    span = start_span(method if known else "HTTP", kind=SpanKind.CLIENT)
    span.activate()
    # From here on the span is current: nothing may escape before the caller can end it.
    try:
        if span._recording:
            attributes = span.attributes
            if known:
                attributes["http.request.method"] = method
            else:
                method_attributes(method, attributes)
            if url is not None:
                url_attributes(url, attributes)
    except Exception as exc:  # pragma: no cover - the helpers above do not raise on any str
        warn_once("requests-attributes", "codetrace: could not describe a request", exc=exc)
    try:
        args, kwargs = _with_trace_headers(callee, name, offset, args, kwargs, span)
    except Exception as exc:
        warn_once("requests-headers", "codetrace: could not add trace headers", exc=exc)
    return span, args, kwargs, url if url is not None else ""


def _record_response(span: Span, response: object, url: str) -> None:
    """Status code (and failure for 4xx/5xx) and, if it differs, the URL requests sent."""
    status = getattr(response, "status_code", None)
    attributes = span.attributes
    if len(attributes) > MAX_ATTRIBUTES - 3:  # near the limit: the careful way
        if type(status) is int:
            span.set_attribute("http.response.status_code", status)
        attributes = {}
    elif type(status) is int:
        attributes["http.response.status_code"] = status
    if type(status) is int and status >= 400:
        span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)
    history = getattr(response, "history", None)
    first = history[0] if type(history) is list and history else response
    sent_url = getattr(getattr(first, "request", None), "url", None)
    if type(sent_url) is str and sent_url != url:
        span.set_attribute("url.full", describe_url(sent_url)[0])


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``callee(*args, **kwargs)`` in a CLIENT span (see the module docstring).

    A method of a session traced at construction (``requests.session``) is called through
    without a span: the session's own ``send`` makes it.
    """
    try:
        recognised = _recognise(callee)
        if recognised is _CALL_THROUGH or (
            # ``Session.get(session, url)`` reaches the traced ``send``; ``Session.send`` does not
            recognised is not None
            and recognised[1]
            and recognised[0] != "send"
            and built_traced(callee, args)
        ):
            recognised = _CALL_THROUGH
        else:
            span, call_args, call_kwargs, url = _start(callee, recognised, args, kwargs)
    except Exception as exc:
        warn_once("requests-adapter", "codetrace: requests call left untraced", exc=exc)
        return callee(*args, **kwargs)
    if recognised is _CALL_THROUGH:
        return callee(*args, **kwargs)
    return _call(span, callee, call_args, call_kwargs, url)


def _call(
    span: Span,
    callee: Callable[..., Any],
    call_args: tuple[Any, ...],
    call_kwargs: dict[str, Any],
    url: str | None,
) -> Any:
    try:
        response = callee(*call_args, **call_kwargs)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if url is not None and span._recording:
        try:
            _record_response(span, response, url)
        except Exception as exc:
            warn_once("requests-response", "codetrace: could not read the response", exc=exc)
    span.__exit__(None, None, None)
    return response


_SEND = ("send", 0)


def traced_send(send: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``send(*args, **kwargs)`` in the span a traced session's ``send`` makes.

    ``send`` is the next ``send`` in the session's MRO, bound (``requests.Session.send``, or a
    project subclass's override). It is the span ``requests.send`` makes for
    ``Session.send(prepared)``, whatever ``send``'s module: the object is known to be a
    session. A mocked ``send`` (a test patched ``Session.send``) gets the generic ``HTTP``
    span and its arguments untouched.
    """
    try:
        recognised = None if is_mock(send) else _SEND
        span, call_args, call_kwargs, url = _start(send, recognised, args, kwargs)
    except Exception as exc:
        warn_once("requests-adapter", "codetrace: requests call left untraced", exc=exc)
        return send(*args, **kwargs)
    return _call(span, send, call_args, call_kwargs, url)
