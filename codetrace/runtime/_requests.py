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
  mutated; for ``send`` the prepared request is copied (its headers copied, the rest shared)
  and the copy gets them, except where the request is known to be nobody else's (a traced
  session's own, see ``_requests_session``), which gets them in place. A header the caller
  (or the session's default headers) already set is not overwritten, and a caller-set
  ``traceparent`` also keeps our ``tracestate`` out.
* A callee that is not recognisably ``requests`` (a ``unittest.mock`` object, autospecced or
  not, or a subclass method defined outside ``requests`` whose signature we cannot trust) gets
  a generic CLIENT span named ``HTTP`` and the caller's arguments untouched.

This module is imported on the first ``requests.send`` call, so its own imports cost nothing at
start-up. What a callee is gets decided once per function (bound methods share it), and
attributes are computed only for spans that record. ``send`` (every request of a traced
session, and ``Session.send`` at a call site) runs in one flat function, :func:`traced_send`:
at a few thousand machine instructions per Python call, with the CPU's caches cold between
two HTTP requests, each function call on that path was measurable
(benchmarks/runtime_construction.py, tests/runtime_adapters/test_requests_send_cost.py).
"""

from __future__ import annotations

import sys
from collections import OrderedDict
from collections.abc import Mapping

from . import _captured_headers
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
from ._span import Span, current
from ._tracer import span as start_span
from ._values import MAX_ATTRIBUTES, SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_SESSION_REQUEST_HEADERS_INDEX = 4  # Session.request(method, url, params, data, headers, ...)


_MAX_CACHED = 1024
_modules = sys.modules
_UNKNOWN = object()
_CALL_THROUGH: tuple[str, int] = ("", -1)
"""What :func:`_recognise` says of a method of a session traced at construction."""
_recognised: dict[tuple[object, object], tuple[str, int] | None] = {}


def _recognise(callee: object) -> tuple[str, int] | None:
    """``(name, offset of the first real argument)`` for a genuine ``requests`` callable.

    :data:`_CALL_THROUGH` ("call through, no span of ours") for a method bound to a session
    traced at construction, and for a mock: a mocked callee is no I/O.
    """
    if "unittest.mock" in _modules and is_mock(callee):  # before any hashing: a MagicMock
        return _CALL_THROUGH  # records ``__hash__``; no call where mock is not loaded
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


def _case_insensitive_store(headers: object) -> dict[Any, tuple[Any, Any]] | None:
    """The ``_store`` of requests' own ``CaseInsensitiveDict`` (``None`` for anything else).

    Its keys are the header names already lowercased, its values ``(name as set, value)``:
    reading and copying it directly costs a fraction of going through the mapping's
    Python-level methods (a generator per iteration, a method call per item), which were
    most of what a traced send added before its span.
    """
    cls = type(headers)
    if cls.__name__ != "CaseInsensitiveDict" or cls.__module__ != "requests.structures":
        return None
    store = getattr(headers, "_store", None)
    return store if type(store) in _STORE_TYPES else None


_STORE_TYPES = (OrderedDict, dict)
_new = object.__new__
_B3_TRACE_ID = "x-b3-traceid"


def _absent(injected: dict[str, str], store: dict[Any, Any]) -> bool:
    """Whether a ``CaseInsensitiveDict``'s store lacks every injected name (as ``str`` or
    ``bytes``), so that ``missing_headers`` would keep them all; ``False`` (ask it) when a B3
    name is injected.

    A few dict lookups, where building the set of the request's names costs an iteration of
    the store (an ``OrderedDict``, slow to iterate) and a set.
    """
    if _B3_TRACE_ID in injected:
        return False
    for name in injected:  # noqa: SIM110 - all() over a generator costs a frame more
        if name in store or name.encode() in store:
            return False
    return True


def _copy_with_own_headers(prepared: Any) -> Any:
    """A copy of a ``PreparedRequest`` whose headers are its own, everything else shared.

    ``PreparedRequest.copy()`` also copies the cookie jar, a third of a traced send's cost;
    nothing on the way down ``send`` writes to the request's jar (a redirect copies the
    request again), so sharing it is safe. requests' own headers mapping is copied through
    its store (what ``CaseInsensitiveDict.copy`` does item by item). Anything unusual gets
    the full copy.
    """
    if type(prepared).__module__ != "requests.models" or not hasattr(prepared, "__dict__"):
        return prepared.copy()
    copied = _new(type(prepared))
    copied.__dict__ = prepared.__dict__.copy()
    headers = prepared.headers
    store = _case_insensitive_store(headers)
    if store is None:
        copied.headers = headers.copy()
    else:
        own = _new(type(headers))
        own._store = store.copy()
        copied.headers = own
    return copied


def _send_arguments(
    prepared: Any,
    offset: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    injected: dict[str, str],
    span: Span,
    own: bool,
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``send``'s arguments, the request carrying the trace headers the request lacks.

    ``own``: the request is the session's own (``_requests_session``), changed in place;
    otherwise it is replaced by a copy with its own headers. requests' own headers mapping is
    read and written through its store (lowercase names already), not its Python methods.
    """
    headers: Any = getattr(prepared, "headers", None)
    store = _case_insensitive_store(headers)
    if store is not None and _absent(injected, store):
        additions = injected
    else:
        if store is not None:
            present = header_names_of(store)
        elif isinstance(headers, Mapping):
            present = header_names_of(headers)
        else:
            return args, kwargs
        if "traceparent" in present and _inherited(headers, span):
            additions = injected  # the parent's, carried over by a redirect: replace them
        else:
            additions = missing_headers(injected, present)
            if not additions:
                return args, kwargs
    if own and store is not None:
        for name, value in additions.items():
            store[name.lower()] = (name, value)  # what CaseInsensitiveDict.__setitem__ does
        return args, kwargs
    copied = _copy_with_own_headers(prepared)
    store = _case_insensitive_store(copied.headers)
    if store is None:
        copied.headers.update(additions)
    else:
        for name, value in additions.items():
            store[name.lower()] = (name, value)
    if len(args) > offset:
        return (*args[:offset], copied, *args[offset + 1 :]), kwargs
    return args, {**kwargs, "request": copied}


def _call_arguments(
    callee: object,
    name: str,
    offset: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    injected: dict[str, str],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of ``get``/``request``/...: a new ``headers`` mapping with the trace
    headers the request (or the session's default headers) does not carry yet."""
    position = _SESSION_REQUEST_HEADERS_INDEX + offset
    positional = name == "request" and len(args) > position
    headers = args[position] if positional else kwargs.get("headers")
    # The session's default headers count as present (none for a plain function). Its
    # ``headers`` is a ``CaseInsensitiveDict`` whose store is keyed by lowercase name already.
    owner = getattr(callee, "__self__", None)
    defaults = getattr(owner, "headers", None) if owner is not None else None
    store = _case_insensitive_store(defaults)
    if headers is None and store is not None and _absent(injected, store):
        additions = injected  # the common case: no headers given, none of ours by default
    else:
        if store is not None:
            present = set(store)
        elif isinstance(defaults, Mapping):
            present = header_names_of(defaults)
        else:
            present = set()
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


_CLIENT = SpanKind.CLIENT


def _start(
    callee: object,
    recognised: tuple[str, int] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[Span, tuple[Any, ...], dict[str, Any], str | None]:
    """Start and activate the span of a call other than ``send``; return it with the arguments
    to call with and the URL.

    The URL is ``None`` when the call was not recognised (a generic ``HTTP`` span, arguments
    untouched) or names none. Written flat, with the common case (a method named for its
    verb) first.
    """
    if recognised is None:
        span = start_span("HTTP", kind=_CLIENT)
        span.activate()
        return span, args, kwargs, None
    name, offset = recognised
    method = SIMPLE_METHODS.get(name)
    if method is not None:
        url: object = args[offset] if len(args) > offset else kwargs.get("url")
    else:
        method = as_text(_argument(args, kwargs, offset, "method"))
        url = _argument(args, kwargs, offset + 1, "url")
        if method is None:
            span = start_span("HTTP", kind=_CLIENT)
            span.activate()
            return span, args, kwargs, None
        method = method.upper()
    if type(url) is not str:
        url = as_text(url)
    known = method in KNOWN_METHODS
    span = start_span(method if known else "HTTP", kind=_CLIENT)
    if type(span) is Span:  # what ``activate()`` does, without its call (bridged: the call)
        span._token = current.set(span)
    else:
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
        injected: dict[str, str] = {}
        inject(injected, span=span)
        if injected:
            args, kwargs = _call_arguments(callee, name, offset, args, kwargs, injected)
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


def _capture_headers(span: Span, response: object) -> None:
    """The captured headers (``_captured_headers``): those of the request requests sent last
    (session defaults and its own included), and the response's as urllib3 received them (a
    value per occurrence; requests' own mapping joins repeated headers with commas)."""
    received = getattr(getattr(response, "raw", None), "headers", None)
    if received is None or not hasattr(received, "items"):
        received = getattr(response, "headers", None)
    _captured_headers.client_exchange(
        span.attributes, getattr(getattr(response, "request", None), "headers", None), received
    )


def _response_recorded(span: Span, response: object, url: str) -> None:
    """What the response adds to the span; never raises."""
    try:
        # The common case written out (a status below 400 and room for it, no redirect, the
        # URL as given): ``_record_response`` does everything else.
        status = getattr(response, "status_code", None)
        history = getattr(response, "history", None)
        sent = getattr(getattr(response, "request", None), "url", None)
        attributes = span.attributes
        if (
            type(status) is int
            and status < 400
            and len(attributes) <= MAX_ATTRIBUTES - 3
            and not (type(history) is list and history)
            and (type(sent) is not str or sent == url)
        ):
            attributes["http.response.status_code"] = status
        else:
            _record_response(span, response, url)
        if (
            _captured_headers.client is not False
            and _captured_headers.wanted("client")
            and span.is_recording()
        ):
            _capture_headers(span, response)
    except Exception as exc:
        warn_once("requests-response", "codetrace: could not read the response", exc=exc)


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
        elif recognised is not None and recognised[0] == "send":
            pass
        else:
            span, call_args, call_kwargs, url = _start(callee, recognised, args, kwargs)
    except Exception as exc:
        warn_once("requests-adapter", "codetrace: requests call left untraced", exc=exc)
        return callee(*args, **kwargs)
    if recognised is _CALL_THROUGH:
        return callee(*args, **kwargs)
    if recognised is not None and recognised[0] == "send":
        return traced_send(callee, args, kwargs, offset=recognised[1])
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
        _response_recorded(span, response, url)
    span.__exit__(None, None, None)
    return response


def traced_send(
    send: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    own: bool = False,
    offset: int = 0,
) -> Any:
    """``send(*args, **kwargs)`` in the span of a ``Session.send(prepared)``.

    What a traced session's ``send`` runs (``send`` is then the next ``send`` in the session's
    MRO, bound: ``requests.Session.send`` or a project subclass's override), and what the
    call-site adapter runs for ``Session.send`` (``offset`` 1 when the session is passed
    first). ``own``: the prepared request is the session's own, to be changed in place
    (``_requests_session`` decides). A mocked ``send`` (a test patched ``Session.send``) gets
    the generic ``HTTP`` span and its arguments untouched.

    One function from start to end, the common case written out (see the module docstring):
    ``_send_arguments`` and ``_response_recorded`` take everything else.
    """
    url: str | None = None
    try:
        prepared = args[offset] if len(args) > offset else kwargs.get("request")
        if "unittest.mock" in _modules and is_mock(send):  # no call where mock is not loaded
            method = None
        else:
            method = getattr(prepared, "method", None)
            if type(method) is not str:
                method = as_text(method)
        if method is None:
            span = start_span("HTTP", kind=_CLIENT)
            span.activate()
        else:
            method = method.upper()
            url = getattr(prepared, "url", None)
            if type(url) is not str:
                url = as_text(url)
            known = method in KNOWN_METHODS
            span = start_span(method if known else "HTTP", kind=_CLIENT)
            if type(span) is Span:  # ``activate()`` without its call (bridged: the call)
                span._token = current.set(span)
            else:
                span.activate()
    except Exception as exc:
        warn_once("requests-adapter", "codetrace: requests call left untraced", exc=exc)
        return send(*args, **kwargs)
    # From here on the span is current: nothing may escape before it ends.
    if method is not None:
        try:
            if span._recording:
                attributes = span.attributes
                if known:
                    attributes["http.request.method"] = method
                else:
                    method_attributes(method, attributes)
                if url is not None:
                    url_attributes(url, attributes)
        except Exception as exc:  # pragma: no cover - the helpers above do not raise on a str
            warn_once("requests-attributes", "codetrace: could not describe a request", exc=exc)
        try:
            injected: dict[str, str] = {}
            inject(injected, span=span)
            if injected:
                # The common case: the session's own request (requests' headers mapping), none
                # of the injected names on it yet: written into its store, in place.
                headers = getattr(prepared, "headers", None)
                store: Any = getattr(headers, "_store", None) if own else None
                clear = (
                    type(store) in _STORE_TYPES
                    and type(headers).__name__ == "CaseInsensitiveDict"
                    and _B3_TRACE_ID not in injected
                )
                if clear:  # _absent, written out
                    for name in injected:
                        if name in store or name.encode() in store:
                            clear = False
                            break
                if clear:
                    for name, value in injected.items():
                        store[name.lower()] = (name, value)  # CaseInsensitiveDict.__setitem__
                else:
                    args, kwargs = _send_arguments(
                        prepared, offset, args, kwargs, injected, span, own
                    )
        except Exception as exc:
            warn_once("requests-headers", "codetrace: could not add trace headers", exc=exc)
        if url is None:
            url = ""
    try:
        response = send(*args, **kwargs)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if url is not None and span._recording:
        _response_recorded(span, response, url)
    span.__exit__(None, None, None)
    return response
