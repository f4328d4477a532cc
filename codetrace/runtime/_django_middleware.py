"""The Django middleware that makes a SERVER span per request (put in place by ``_django``).

Django loads it by its dotted path, :data:`PATH`, from ``settings.MIDDLEWARE``, where the
``django`` hook puts it first (outermost), so the span covers every other middleware too. It is
both sync- and async-capable (Django's documented hybrid middleware), so under ``ASGIHandler``
it runs on the event loop and adds no thread hop, and under ``WSGIHandler`` it is a plain call.

Per request:

* the caller's trace is continued from the W3C headers (``traceparent``/``tracestate``/
  ``baggage``, whatever ``OTEL_PROPAGATORS`` names) found in ``request.META``;
* the span, named ``METHOD`` at first, is current while the rest of the chain and the view run,
  so spans they start (the ORM's, an HTTP client's) are its children;
* ``process_view`` (the URL is resolved by then) names it ``METHOD route`` and sets
  ``http.route`` from ``request.resolver_match.route``: the route as Django joins it for
  included URLconfs (``api/users/<int:pk>/``), without a leading slash, as OpenTelemetry's
  Django instrumentation records it (dashboards keyed on its routes keep working). No match
  (a 404, or a middleware answering before the view) keeps the name ``METHOD``;
* ``process_exception`` records the view's exception (``exception`` event, ``error.type`` its
  class, status ``ERROR``): Django then answers 500 and the application never sees the
  exception, so this is the one place to see it. Returning ``None`` leaves Django's handling
  (debug page, ``handler500``, other middleware) exactly as it was;
* the status code from the response; ``error.type`` and ``ERROR`` for 5xx (4xx is the client's).
* The span ends when the chain returns the response, as OpenTelemetry's ends in
  ``process_response``: a streamed body (``StreamingHttpResponse``) is not timed to its last byte.

``OTEL_PYTHON_DJANGO_EXCLUDED_URLS``, else ``OTEL_PYTHON_EXCLUDED_URLS`` (``_excluded_urls``):
matched against ``scheme://host/path`` (no query), as OpenTelemetry's Django instrumentation
matches ``request.build_absolute_uri("?")``; the host comes from the ``Host`` header as sent,
never through ``request.get_host()``, whose ``ALLOWED_HOSTS`` check could raise.

Attributes are the WSGI server attributes of ``_wsgi`` read from ``request.META`` (for an
ASGI request Django builds the same keys from the scope; the scheme, HTTP version and client
port come from the scope), and the headers ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_*``
name (``_captured_headers``: the request's from ``META``, the response's from
``response.headers``). The request gains nothing: the span travels in a context variable.
"""

from __future__ import annotations

import importlib
from contextvars import ContextVar

from . import _captured_headers
from ._excluded_urls import excluded
from ._http import span_name_for
from ._log import warn_once
from ._propagation import extract_from_headers
from ._scope import make_current, restore_current
from ._span import Span
from ._state import settings
from ._tracer import span as start_span
from ._values import SpanKind
from ._wsgi import (
    capture_response_headers,
    environ_headers,
    fail_once,
    name_after_route,
    record_status,
    server_attributes,
    trace_headers,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PATH = "codetrace.runtime._django_middleware.TracingMiddleware"
"""The dotted path the ``django`` hook adds to ``settings.MIDDLEWARE``."""

EXCLUDED_URLS = "OTEL_PYTHON_DJANGO_EXCLUDED_URLS"

_request_span: ContextVar[tuple[object, Span] | None] = ContextVar(
    "codetrace_django_request", default=None
)
"""The request being served in this context and its span (read by ``process_view`` and
``process_exception``, which Django may run in a worker thread with a copy of the context)."""


def _start(request: Any) -> Span | None:
    """The request's span, started; ``None`` when it is not traced (excluded, tracing off)."""
    meta = request.META
    scope = getattr(request, "scope", None)  # an ASGIRequest
    scheme = str(scope.get("scheme") or "http") if isinstance(scope, dict) else None
    if scheme is None:
        scheme = str(meta.get("wsgi.url_scheme") or "http")
    host = meta.get("HTTP_HOST") or meta.get("SERVER_NAME") or ""
    if excluded(f"{scheme}://{host}{request.path}", EXCLUDED_URLS):
        return None
    parent = extract_from_headers(trace_headers(meta))
    span = start_span(span_name_for(str(request.method)), kind=SpanKind.SERVER, parent=parent)
    if not span.trace_id:  # tracing off
        return None
    if span.is_recording():
        attributes = span.attributes
        server_attributes(meta, attributes)
        attributes["url.scheme"] = scheme
        if _captured_headers.wanted("server", "request"):
            _captured_headers.request_headers("server", environ_headers(meta), attributes)
        if isinstance(scope, dict):
            version = scope.get("http_version")
            if version:
                attributes["network.protocol.version"] = str(version)
            client = scope.get("client")
            if client and isinstance(client[1], int) and "HTTP_X_FORWARDED_FOR" not in meta:
                attributes["client.port"] = client[1]
    return span


def _finish(span: Span, response: Any) -> None:
    code = getattr(response, "status_code", None)
    if isinstance(code, int):
        record_status(span, code)
    capture_response_headers(span, getattr(response, "headers", None))


def _name_after_route(request: Any, span: Span) -> None:
    if "http.route" not in span.attributes:
        name_after_route(span, getattr(getattr(request, "resolver_match", None), "route", None))


class TracingMiddleware:
    """Django middleware: one SERVER span per request (see the module docstring)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.is_async = False
        try:
            sync = importlib.import_module("asgiref.sync")  # Django's own dependency
            if sync.iscoroutinefunction(get_response):
                self.is_async = True
                sync.markcoroutinefunction(self)
                # coroutine hooks: Django would run sync ones in a worker thread (a thread hop
                # per request, just to read a route)
                self.process_view = self._aprocess_view  # type: ignore[method-assign, assignment]
                self.process_exception = self._aprocess_exception  # type: ignore[method-assign, assignment]
        except Exception as exc:  # pragma: no cover - asgiref is a Django dependency
            warn_once("django-async", "codetrace: could not tell an async chain", exc=exc)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        span, token, own = self._enter(request)
        if span is None:
            return self.get_response(request)
        try:
            response = self.get_response(request)
        except BaseException as exc:
            self._leave(request, span, token, own, None, exc)
            raise
        self._leave(request, span, token, own, response, None)
        return response

    async def _acall(self, request: Any) -> Any:
        span, token, own = self._enter(request)
        if span is None:
            return await self.get_response(request)
        try:
            response = await self.get_response(request)
        except BaseException as exc:
            self._leave(request, span, token, own, None, exc)
            raise
        self._leave(request, span, token, own, response, None)
        return response

    def _enter(self, request: Any) -> tuple[Span | None, Any, Any]:
        if settings.disabled:
            return None, None, None
        try:
            span = _start(request)
        except Exception as exc:
            warn_once("django-start", "codetrace: request left untraced", exc=exc)
            return None, None, None
        if span is None:
            return None, None, None
        return span, make_current(span), _request_span.set((request, span))

    def _leave(
        self,
        request: Any,
        span: Span,
        token: Any,
        own: Any,
        response: Any,
        exc: BaseException | None,
    ) -> None:
        try:
            restore_current(token)
            _request_span.reset(own)
        except Exception as error:  # another context's token: leave it
            warn_once("django-context", "codetrace: request context not restored", exc=error)
        try:
            _name_after_route(request, span)
            if exc is not None:
                fail_once(span, exc)
            else:
                _finish(span, response)
        except Exception as error:
            warn_once("django-finish", "codetrace: request span incomplete", exc=error)
        span.end()

    def process_view(
        self, request: Any, view: object, args: object, kwargs: object
    ) -> None:
        """Name the span after the route Django resolved; change nothing."""
        _named(request)

    def process_exception(self, request: Any, exception: BaseException) -> None:
        """Record the view's exception (Django turns it into a 500); change nothing."""
        _recorded(request, exception)

    async def _aprocess_view(
        self, request: Any, view: object, args: object, kwargs: object
    ) -> None:
        _named(request)

    async def _aprocess_exception(self, request: Any, exception: BaseException) -> None:
        _recorded(request, exception)


def _named(request: Any) -> None:
    try:
        current = _request_span.get()
        if current is not None and current[0] is request:
            _name_after_route(request, current[1])
    except Exception as exc:
        warn_once("django-route", "codetrace: could not name the request span", exc=exc)


def _recorded(request: Any, exception: BaseException) -> None:
    try:
        current = _request_span.get()
        if current is not None and current[0] is request and current[1].is_recording():
            fail_once(current[1], exception)
    except Exception as exc:
        warn_once("django-exception", "codetrace: could not record a view error", exc=exc)
