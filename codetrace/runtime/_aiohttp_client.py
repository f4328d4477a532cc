"""Adapter for rule ``aiohttp.client``: an ``aiohttp.ClientSession`` traced from construction.

``_codetrace.traced(aiohttp.ClientSession, "aiohttp.client")(base_url, headers=h)`` builds the
session the project asked for, of its own class, with one more ``aiohttp.TraceConfig`` in
``trace_configs=``: aiohttp's documented client tracing hook, which it signals for every request
the session sends, wherever it is sent from. No subclass (aiohttp warns on subclassing
``ClientSession``), nothing patched.

* The caller's trace configs are kept, in order, ours last; the caller's list itself is not
  touched (the session gets a new list), so a list shared by several sessions gets no
  duplicates and the caller never sees our config in it. ``session.trace_configs`` shows it
  (as it does under OpenTelemetry's instrumentation). A list that already holds our config is
  passed as is.
* A project subclass whose ``__init__`` is its own may not accept ``trace_configs``: it is
  built as written, and our config appended to the list its ``trace_configs`` property
  returns (the list aiohttp reads per request).
* Any other callee (``unittest.mock`` objects, a factory function, another class) is called
  with its arguments untouched.

Per request, ``on_request_start`` starts a CLIENT span (parent: the span current where the
request was awaited) named by the method, with ``http.request.method``, ``url.full``
(redacted), ``server.address``, ``server.port``, and writes ``traceparent``/``tracestate``
(the configured propagators) into ``params.headers``. That is the request's own header
collection, built by aiohttp from the session's defaults and the caller's ``headers=`` (a
copy: the caller's mapping never changes); headers the caller already set are not
overwritten. ``on_request_end`` records ``http.response.status_code`` (4xx/5xx: ``error.type``
= the code, status ``ERROR``); ``on_request_exception`` records the exception
(``aiohttp.client_exceptions.ClientConnectorError`` for a refused connection,
``TimeoutError`` for a timeout, cancellation too). Redirects followed by aiohttp are one span,
as in OpenTelemetry's instrumentation: aiohttp signals the start once, before the first hop,
and the end once, with the final response; ``url.full`` is the URL asked for. The span is not
made current (nothing runs inside it but aiohttp's own code), so an interrupted request can
leave no context behind.

``OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``) excludes
requests by their full URL (see ``_excluded_urls``). aiohttp is never imported: the classes are
looked up in :data:`sys.modules` (a session exists, so aiohttp is loaded).
"""

from __future__ import annotations

import sys

from . import _captured_headers
from ._construct import is_class
from ._excluded_urls import excluded
from ._http import header_names_of, is_mock, method_attributes, missing_headers, url_attributes
from ._log import warn_once
from ._propagation import inject
from ._state import settings
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

EXCLUDED_URLS = "OTEL_PYTHON_AIOHTTP_CLIENT_EXCLUDED_URLS"


class RequestState:
    """Our per-request context (aiohttp's ``trace_config_ctx``): the span, once started."""

    __slots__ = ("span", "trace_request_ctx")

    def __init__(self, trace_request_ctx: object = None) -> None:
        self.trace_request_ctx = trace_request_ctx
        self.span: Span | None = None


async def _on_request_start(session: object, state: RequestState, params: Any) -> None:
    try:
        url = str(params.url)
        if excluded(url, EXCLUDED_URLS):
            return
        attributes: dict[str, Any] = {}
        name = method_attributes(str(params.method).upper(), attributes)
        url_attributes(url, attributes)
        span = start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        state.span = span
        injected: dict[str, str] = {}
        inject(injected, span=span)
        if injected:
            headers = params.headers
            for key, value in missing_headers(injected, header_names_of(headers)).items():
                headers[key] = value
    except Exception as exc:
        warn_once("aiohttp-client-start", "codetrace: aiohttp request left untraced", exc=exc)


async def _on_request_end(session: object, state: RequestState, params: Any) -> None:
    span = state.span
    if span is None:
        return
    state.span = None
    try:
        status = params.response.status
        if type(status) is int:
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_attribute("error.type", str(status))
                span.set_status(StatusCode.ERROR)
        if (
            _captured_headers.client is not False
            and _captured_headers.wanted("client")
            and span.is_recording()
        ):
            # the headers the request went with (aiohttp's defaults, ``Host``... included)
            request_info = getattr(params.response, "request_info", None)
            sent = getattr(request_info, "headers", None)
            _captured_headers.client_exchange(
                span.attributes, sent if sent is not None else params.headers,
                params.response.headers,
            )
    except Exception as exc:
        warn_once("aiohttp-client-end", "codetrace: could not read the response", exc=exc)
    span.end()


async def _on_request_exception(session: object, state: RequestState, params: Any) -> None:
    span = state.span
    if span is None:
        return
    state.span = None
    exception = getattr(params, "exception", None)
    if isinstance(exception, BaseException):
        span.__exit__(type(exception), exception, exception.__traceback__)
    else:
        span.end()


_config: Any = None  # our aiohttp.TraceConfig: one for every session (its signals are frozen)


def trace_config() -> Any:
    """The ``aiohttp.TraceConfig`` every traced session carries (built on first use)."""
    global _config
    if _config is None:
        tracing = sys.modules.get("aiohttp.tracing") or sys.modules["aiohttp"]
        config = tracing.TraceConfig(trace_config_ctx_factory=RequestState)
        config.on_request_start.append(_on_request_start)
        config.on_request_end.append(_on_request_end)
        config.on_request_exception.append(_on_request_exception)
        config.freeze()
        _config = config
    return _config


def session_class(callee: object) -> type | None:
    """``aiohttp.ClientSession`` when ``callee`` is it or a subclass, else ``None``."""
    if not is_class(callee) or is_mock(callee):
        return None
    # ``aiohttp.client`` first: ``mock.patch("aiohttp.ClientSession")`` replaces the public name
    module = sys.modules.get("aiohttp.client") or sys.modules.get("aiohttp")
    base = getattr(module, "ClientSession", None) if module is not None else None
    if is_class(base) and issubclass(callee, base):  # type: ignore[arg-type]
        return base
    return None


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``, with our trace config when ``callee`` builds a session."""
    try:
        base = None if settings.disabled else session_class(callee)
        if base is not None:
            config = trace_config()
            # the class's own constructor is aiohttp's: it takes ``trace_configs=``
            if getattr(callee, "__init__", None) is getattr(base, "__init__", None):
                given = kwargs.get("trace_configs")
                if not given or config not in given:
                    kwargs = {**kwargs, "trace_configs": [*(given or ()), config]}
                base = None  # done: nothing to add after construction
    except Exception as exc:
        warn_once("aiohttp-client", "codetrace: aiohttp session left untraced", exc=exc)
        base = None
    session = callee(*args, **kwargs)
    if base is not None:
        _add_after(session, config)
    return session


def _add_after(session: object, config: Any) -> None:
    """A subclass with its own ``__init__``: add ``config`` to the session's list."""
    try:
        configs = getattr(session, "trace_configs", None)
        if isinstance(configs, list) and config not in configs:
            configs.append(config)
    except Exception as exc:
        warn_once("aiohttp-client", "codetrace: aiohttp session left untraced", exc=exc)
