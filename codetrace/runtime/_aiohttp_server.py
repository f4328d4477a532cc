"""``hooks.aiohttp_app(app)``: a SERVER span per request of an ``aiohttp.web.Application``.

Through aiohttp's public middleware API, nothing patched: the hook inserts one middleware at
the front of ``app.middlewares``. Why this shape:

* The hook runs right after the statement that builds the application (``app =
  web.Application(...)`` then ``_codetrace.hooks.aiohttp_app(app)``), before anything can start
  it, so the list is not frozen yet (aiohttp freezes it at startup). A hook keeps the
  constructor call byte for byte as written (no ``middlewares=`` argument to merge into,
  which a project subclass's own ``__init__`` might not even accept), and strips as one line.
* At the front, not appended: aiohttp runs the first middleware outermost, so the span covers
  the project's own middlewares too (an authentication middleware's 401, an error
  middleware's rewritten 500), as with OpenTelemetry's instrumentation, which also inserts its
  middleware first. Middlewares the project adds later still run inside the span.
* An application already started (frozen) is left untraced, logged once; calling the hook
  twice instruments once. Sub-applications built in the project get the hook too; a request
  that passes through two instrumented applications (``add_subapp``) gets one span, the
  outer application's.

Per request: the caller's ``traceparent``/``tracestate``/``baggage`` are extracted, so the span
continues the caller's trace (its parent is the caller's span, ``is_remote_parent`` true); it
is named ``METHOD route`` after the matched resource's canonical template
(``request.match_info.route.resource.canonical``: ``GET /users/{id}``; aiohttp resolves the
route before middlewares run), ``METHOD`` alone when nothing matched (404, 405); it is current
while the handler runs, so the handler's own spans are its children.

Attributes: ``http.request.method``, ``http.route``, ``url.scheme``, ``url.path`` and
``url.query`` (as received, sensitive query values redacted), ``server.address`` and
``server.port`` (from the ``Host`` header), ``client.address`` (the first ``X-Forwarded-For``
entry, else the peer), ``network.peer.address``, ``network.peer.port``,
``network.protocol.version``, ``user_agent.original``, ``http.response.status_code``.
Outcome: the response's status; a raised ``web.HTTPException`` (``HTTPNotFound``,
``HTTPFound``...) is a response, its status recorded, a failure only when 5xx; any other
exception is recorded (``exception`` event, ``error.type`` its class, status ``ERROR``) with
``http.response.status_code`` 500, which is what aiohttp then answers. 5xx statuses set
``error.type`` to the code and status ``ERROR`` (4xx is the client's error). The span ends when
the handler returns its response (as in OpenTelemetry), before aiohttp writes a body it
returned (a ``StreamResponse`` the handler wrote itself is timed to its last write).

``OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``) excludes
requests by their path (``request.path``), as OpenTelemetry's aiohttp-server instrumentation
matches them. aiohttp is never imported: an application exists, so it is loaded, and its classes
are looked up in :data:`sys.modules`.
"""

from __future__ import annotations

import sys
from contextvars import ContextVar

from . import _captured_headers
from ._excluded_urls import excluded
from ._http import host_and_port, method_attributes, redact_query
from ._log import warn_once
from ._propagation import extract
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import Any, TypeVar

    from ._span import Span

    T = TypeVar("T")
    Handler = Callable[[Any], Awaitable[Any]]

EXCLUDED_URLS = "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS"

_handling: ContextVar[object] = ContextVar("codetrace_aiohttp_request", default=None)
"""The request an instrumented application's middleware is handling in this task (so a
sub-application's middleware, for the same request, adds no second span)."""


def _route(request: Any) -> str | None:
    resource = getattr(getattr(request.match_info, "route", None), "resource", None)
    canonical = getattr(resource, "canonical", None) if resource is not None else None
    return canonical if isinstance(canonical, str) and canonical else None


def _attributes(request: Any, attributes: dict[str, Any]) -> str:
    """Set the request's attributes; return the span name."""
    name = method_attributes(str(request.method), attributes)
    route = _route(request)
    if route is not None:
        attributes["http.route"] = route
        name = f"{name} {route}"
    scheme = str(request.scheme)
    attributes["url.scheme"] = scheme
    rel_url = request.rel_url
    attributes["url.path"] = str(rel_url.raw_path) or "/"
    query = rel_url.raw_query_string
    if query:
        attributes["url.query"] = redact_query(str(query))
    headers = request.headers
    host_header = headers.get("Host")
    if host_header:
        host, port = host_and_port(str(host_header), scheme)
        if host:
            attributes["server.address"] = host
        if port is not None:
            attributes["server.port"] = port
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    peer_host: object = None
    if isinstance(peer, (tuple, list)) and len(peer) >= 2:
        peer_host = peer[0]
        attributes["network.peer.address"] = str(peer_host)
        if isinstance(peer[1], int):
            attributes["network.peer.port"] = peer[1]
    forwarded = headers.get("X-Forwarded-For")
    client = str(forwarded).split(",", 1)[0].strip() if forwarded else peer_host
    if client:
        attributes["client.address"] = str(client)
    version = request.version
    attributes["network.protocol.version"] = f"{version.major}.{version.minor}"
    agent = headers.get("User-Agent")
    if agent:
        attributes["user_agent.original"] = str(agent)
    return name


def _record_status(span: Span, status: object) -> None:
    if type(status) is not int:
        return
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        if "error.type" not in span.attributes:
            span.set_attribute("error.type", str(status))
        span.set_status(StatusCode.ERROR)


def _record_raised(span: Span, exc: BaseException) -> None:
    web_exceptions = sys.modules.get("aiohttp.web_exceptions")
    http_exception = getattr(web_exceptions, "HTTPException", None)
    if isinstance(http_exception, type) and isinstance(exc, http_exception):
        status = getattr(exc, "status", None)
        if type(status) is int and status >= 500:
            span.record_exception(exc)
        _record_status(span, status)
        return
    if isinstance(exc, Exception):
        span.set_attribute("http.response.status_code", 500)
    span.__exit__(type(exc), exc, exc.__traceback__)


async def _middleware(request: Any, handler: Handler) -> Any:
    """Run the rest of the chain in a SERVER span (see the module docstring)."""
    if _handling.get() is request:
        return await handler(request)
    try:
        span = _start(request)
    except Exception as exc:
        warn_once("aiohttp-server-start", "codetrace: aiohttp request left untraced", exc=exc)
        span = None
    if span is None:
        return await handler(request)
    token = _handling.set(request)
    span.activate()
    try:
        response = await handler(request)
    except BaseException as exc:
        try:
            _record_raised(span, exc)
        except Exception as error:  # pragma: no cover - defensive
            warn_once("aiohttp-server-error", "codetrace: could not record an error", exc=error)
        span.__exit__(None, None, None)
        _handling.reset(token)
        raise
    try:
        _record_status(span, getattr(response, "status", None))
        if (
            _captured_headers.server is not False
            and _captured_headers.wanted("server", "response")
            and span.is_recording()
        ):
            _captured_headers.response_headers(
                "server", _captured_headers.header_pairs(response.headers), span.attributes
            )
    except Exception as exc:  # pragma: no cover - defensive
        warn_once("aiohttp-server-status", "codetrace: could not read the status", exc=exc)
    span.__exit__(None, None, None)
    _handling.reset(token)
    return response


_middleware.__middleware_version__ = 1  # type: ignore[attr-defined] # what web.middleware sets


def _start(request: Any) -> Span | None:
    """The request's span, started (``None``: excluded, or tracing is off)."""
    if excluded(str(request.path), EXCLUDED_URLS):
        return None
    attributes: dict[str, Any] = {}
    try:
        name = _attributes(request, attributes)
    except Exception as exc:
        warn_once("aiohttp-server-attributes", "codetrace: odd aiohttp request", exc=exc)
        name = "HTTP"
    if _captured_headers.server is not False and _captured_headers.wanted("server", "request"):
        _captured_headers.request_headers(
            "server", _captured_headers.header_pairs(request.headers), attributes
        )
    parent = extract(request.headers)
    span = start_span(name, kind=SpanKind.SERVER, attributes=attributes, parent=parent)
    return span if span.trace_id else None


def instrument(app: T) -> T:
    """Instrument ``app`` once (see the module docstring); return it."""
    module = sys.modules.get("aiohttp.web_app")
    application = getattr(module, "Application", None)
    if not isinstance(application, type) or not isinstance(app, application):
        raise TypeError(f"{type(app).__name__} is not an aiohttp.web.Application")
    target: Any = app
    middlewares = target.middlewares
    if _middleware in middlewares:
        return app
    if target.frozen:
        warn_once(
            "aiohttp-server-frozen",
            "codetrace: aiohttp application already started; its requests are left untraced",
        )
        return app
    middlewares.insert(0, _middleware)
    return app
