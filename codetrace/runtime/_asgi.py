"""A SERVER span per ASGI request or WebSocket connection: a pure ASGI middleware.

:class:`TracingMiddleware` wraps any ASGI application (``TracingMiddleware(app)``); the
``starlette`` hook (``_starlette``) adds it to Starlette and FastAPI apps through their public
``add_middleware``. Per ``http`` or ``websocket`` scope (lifespan passes through untouched):

* the caller's trace is continued from the W3C headers (``traceparent``, ``tracestate``,
  ``baggage``, whatever ``OTEL_PROPAGATORS`` names);
* ONE span, and nothing else: no span per ASGI ``send``/``receive`` event (OpenTelemetry's ASGI
  middleware makes two or three per request by default, and its users ask how to turn them
  off). The span is current while the application runs, so spans it starts are children;
* the span is named ``METHOD`` when the request starts and ``METHOD route-template`` once the
  router has matched (``GET /items/{item_id}``): the route is read from ``scope["route"]``,
  which Starlette's router (and FastAPI's) sets on the request's scope, its ``path_format``
  prefixed by what mounts added to ``root_path`` on the way. Nothing is matched twice
  (OpenTelemetry's FastAPI instrumentation matches every route again for each request). No route
  (404) keeps the name ``METHOD``. A WebSocket scope has no method: its span is named
  ``HTTP /ws/{room}`` (``HTTP`` without a route), as OpenTelemetry's FastAPI instrumentation
  names it, with no ``http.request.method`` and no status code (the handshake's 101 is the
  server's, not the application's);
* an exception that leaves the application before a response started is the server's 500
  (every ASGI server, and Starlette's ``ServerErrorMiddleware``, answer it so):
  ``http.response.status_code`` 500, ``error.type`` the exception's class, status ``ERROR``, an
  ``exception`` event. A 5xx response is an error too (``error.type`` the code); 4xx is not.
  A WebSocket that the client closes (``WebSocketDisconnect``) ends normally.
* **Ending**: an HTTP span ends when the last byte of the response is sent, so its duration is
  what the client waited. Background tasks (Starlette's ``BackgroundTasks``) run after that,
  still inside the request's context: the request span stays *current* while they run, so their
  spans are its children in the same trace, but they do not stretch the request's duration
  (OpenTelemetry ends its span after them). An exception a background task raises reaches the
  server as before; it is not recorded on the request span, whose response had succeeded.
  Without a complete response (an exception, a disconnect) the span ends when the application
  returns. A WebSocket span covers the connection: it ends when the application returns.
* ``OTEL_PYTHON_EXCLUDED_URLS`` / ``OTEL_PYTHON_<LIBRARY>_EXCLUDED_URLS`` (``_excluded_urls``)
  leave matching requests untraced (matched against ``scheme://host/path``).
* FastAPI's native OpenTelemetry support (``fastapi.telemetry``, tested with 0.165: a SERVER
  span per request when an OpenTelemetry SDK provider is installed) and codetrace bridged to
  that provider (``CODETRACE_BACKEND=auto``/``otel``) would make two SERVER spans per request:
  then FastAPI's span is the request's (``scope["fastapi.telemetry"]`` has one), codetrace
  adds none, and the application's spans, codetrace's included, are its children. Unbridged,
  codetrace's pipeline gets its own span as always.
* A traced app mounted inside another traced app adds no second span: the outer middleware
  marks the scope (``scope["codetrace.server_span"]``, the span) and the inner one passes the
  request through; the outer span still gets the inner route, read from the shared scope.

Attributes (stable HTTP conventions): ``http.request.method`` (``_OTHER`` plus
``http.request.method_original`` for unknown methods), ``url.scheme``, ``url.path``,
``url.query`` (sensitive values redacted), ``http.route``, ``http.response.status_code``,
``server.address``/``server.port`` (``Host`` header, else the scope's ``server``),
``client.address`` (first ``X-Forwarded-For`` entry, else the peer; ``client.port`` with the
peer), ``network.peer.address``/``network.peer.port``, ``network.protocol.version``,
``user_agent.original``, ``error.type``.

Nothing here raises into the application: a failure to trace is logged once and the request
runs untraced; messages and exceptions reach the application and the server unchanged, and the
scope gains one key (``codetrace.server_span``, above).
"""

from __future__ import annotations

from . import _captured_headers, _excluded_urls
from ._http import DEFAULT_PORTS, host_and_port, method_attributes, redact_query, span_name_for
from ._log import warn_once
from ._propagation import extract_from_headers, header_names
from ._scope import make_current, restore_current
from ._setup import ensure_configured
from ._state import settings
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode, qualified_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping
    from typing import Any

    from ._span import Span

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FASTAPI = "OTEL_PYTHON_FASTAPI_EXCLUDED_URLS"
STARLETTE = "OTEL_PYTHON_STARLETTE_EXCLUDED_URLS"

#: the scope key marking a request as traced, so that a traced app mounted in another traced app
#: (``Mount("/shop", app=shop)``, both hooked) makes one span, not two
SCOPE_KEY = "codetrace.server_span"
#: the connection closed by the peer: how a WebSocket normally ends, not an error
NORMAL_CLOSE = frozenset(("WebSocketDisconnect", "ClientDisconnect"))

_wanted: tuple[tuple[str, ...], frozenset[bytes]] = ((), frozenset())


def _trace_headers(scope: Scope) -> dict[str, str]:
    """The propagation headers of the request (the ASGI headers are lowercase bytes pairs)."""
    global _wanted
    names = header_names()
    if names is not _wanted[0]:
        _wanted = (names, frozenset(name.encode("latin-1") for name in names))
    wanted = _wanted[1]
    found: dict[str, str] = {}
    for key, value in scope.get("headers") or ():
        if key in wanted:
            name = key.decode("latin-1")
            text = value.decode("latin-1")
            found[name] = found[name] + "," + text if name in found else text
    return found


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _authority(scope: Scope) -> tuple[str | None, int | None, str]:
    """``(server.address, server.port, host text for the URL)``."""
    scheme = str(scope.get("scheme") or "http")
    host_header = _header(scope, b"host")
    if host_header:
        host, port = host_and_port(host_header, scheme)
        return host, port, host_header
    server = scope.get("server")
    if server and server[0]:
        host, port = str(server[0]), server[1]
        if port is None or DEFAULT_PORTS.get(scheme) == port:
            return host, port, host
        return host, int(port), f"{host}:{port}"
    return None, None, ""


def _request_attributes(scope: Scope, attributes: dict[str, Any], authority: Any) -> str:
    """Fill the request's attributes; return the method as it goes in the span name."""
    name = "HTTP"
    method = scope.get("method")
    if method is not None:
        name = method_attributes(str(method), attributes)
    attributes["url.scheme"] = str(scope.get("scheme") or "http")
    attributes["url.path"] = str(scope.get("path") or "/")
    query = scope.get("query_string")
    if query:
        attributes["url.query"] = redact_query(query.decode("latin-1"))
    host, port, _ = authority
    if host:
        attributes["server.address"] = host
    if port is not None:
        attributes["server.port"] = port
    client = scope.get("client")
    forwarded = _header(scope, b"x-forwarded-for")
    if forwarded:
        attributes["client.address"] = forwarded.split(",", 1)[0].strip()
    if client:
        peer, peer_port = client[0], client[1]
        if peer:
            attributes["network.peer.address"] = str(peer)
            if not forwarded:
                attributes["client.address"] = str(peer)
        if isinstance(peer_port, int):
            attributes["network.peer.port"] = peer_port
            if not forwarded:
                attributes["client.port"] = peer_port
    version = scope.get("http_version")
    if version:
        attributes["network.protocol.version"] = str(version)
    agent = _header(scope, b"user-agent")
    if agent:
        attributes["user_agent.original"] = agent
    return name


def route_of(scope: Scope, base_root_path: str) -> str | None:
    """The matched route template, or ``None`` (no route: a 404, a redirect).

    ``scope["route"]`` is the innermost route the router chose; a ``Mount`` on the way added the
    path it matched to ``root_path``, and that part, relative to the app's own ``root_path``,
    is the template's prefix. A ``Mount`` answering itself (static files) ends in ``/{path}``.
    """
    route = scope.get("route")
    if route is None:
        return None
    template = getattr(route, "path_format", None)
    if not isinstance(template, str):
        return None
    root_path = scope.get("root_path") or ""
    prefix = ""
    if (
        isinstance(root_path, str)
        and root_path != base_root_path
        and root_path.startswith(base_root_path)
    ):
        prefix = root_path[len(base_root_path) :]
    if prefix and getattr(route, "routes", None) is not None:  # a Mount, matched last
        mount_path = getattr(route, "path", None)
        if isinstance(mount_path, str) and prefix.endswith(mount_path):
            prefix = prefix[: len(prefix) - len(mount_path)]
    return prefix + template if prefix else template


class _Request:
    """One request's tracing state, shared by the middleware and its ``send`` wrapper."""

    __slots__ = ("base_root_path", "kind", "method", "named", "scope", "send", "span", "started")

    def __init__(self, span: Span, scope: Scope, send: Send, method: str) -> None:
        self.span = span
        self.scope = scope
        self.send = send
        self.method = method
        self.kind = scope["type"]
        self.base_root_path = scope.get("root_path") or ""
        self.started = False
        self.named = False

    def name_after_route(self) -> None:
        if self.named:
            return
        self.named = True
        span = self.span
        if not span.is_recording():
            return
        route = route_of(self.scope, self.base_root_path)
        if route is None:
            return
        span.set_attribute("http.route", route)
        span.update_name(f"{self.method} {route}")

    async def traced_send(self, message: Message) -> None:
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "http.response.start":
            self.started = True
            try:
                self.name_after_route()
                status = message.get("status")
                if isinstance(status, int):
                    _record_status(self.span, status)
                if (
                    _captured_headers.server is not False
                    and _captured_headers.wanted("server", "response")
                    and self.span.is_recording()
                ):
                    _captured_headers.response_headers(
                        "server", message.get("headers") or (), self.span.attributes
                    )
            except Exception as exc:
                warn_once("asgi-status", "codetrace: could not read the response", exc=exc)
            await self.send(message)
        elif kind == "http.response.body" and not message.get("more_body", False):
            await self.send(message)
            self.span.end()  # the client has the whole response; background tasks follow
        else:
            await self.send(message)


def _bridged() -> bool:
    pipeline = settings.pipeline
    if pipeline is None:
        pipeline = ensure_configured()
    return pipeline.bridge is not None


def _record_status(span: Span, code: int) -> None:
    span.set_attribute("http.response.status_code", code)
    if code >= 500:
        if "error.type" not in span.attributes:
            span.set_attribute("error.type", str(code))
        span.set_status(StatusCode.ERROR)


def _record_exception(request: _Request, exc: BaseException) -> None:
    span = request.span
    if span.end_ns or not span.is_recording():
        return  # the response was complete: a background task failed, not the request
    if type(exc).__name__ in NORMAL_CLOSE or isinstance(exc, GeneratorExit):
        return
    if request.kind == "http" and not request.started:
        span.set_attribute("http.response.status_code", 500)
    span.set_attribute("error.type", qualified_name(type(exc)))
    span.fail(exc)


class TracingMiddleware:
    """ASGI middleware: one SERVER span per request or WebSocket connection (module docstring).

    ``excluded_urls`` names the exclusion variable to read (:data:`FASTAPI`, :data:`STARLETTE`,
    or only the general ``OTEL_PYTHON_EXCLUDED_URLS`` by default).
    """

    __slots__ = ("app", "excluded_urls")

    def __init__(self, app: ASGIApp, excluded_urls: str = _excluded_urls.GENERAL) -> None:
        self.app = app
        self.excluded_urls = excluded_urls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if settings.disabled:
            await self.app(scope, receive, send)
            return
        request = None
        try:
            request = self._start(scope, send)
        except Exception as exc:
            warn_once("asgi-start", "codetrace: request left untraced", exc=exc)
        if request is None:
            await self.app(scope, receive, send)
            return
        span = request.span
        token = make_current(span)
        try:
            await self.app(scope, receive, request.traced_send)
        except BaseException as exc:
            try:
                _record_exception(request, exc)
            except Exception as error:  # pragma: no cover - never mask the application's error
                warn_once("asgi-error", "codetrace: could not record an error", exc=error)
            raise
        finally:
            restore_current(token)
            try:
                request.name_after_route()
            except Exception as exc:
                warn_once("asgi-route", "codetrace: could not name the request span", exc=exc)
            span.end()

    def _start(self, scope: Scope, send: Send) -> _Request | None:
        """The request's span, started; ``None`` for scopes not traced (lifespan, excluded)."""
        kind = scope.get("type")
        if (kind != "http" and kind != "websocket") or SCOPE_KEY in scope:
            return None  # not a request, or one an outer middleware traces (a mounted app)
        if getattr(scope.get("fastapi.telemetry"), "span", None) is not None and _bridged():
            return None  # FastAPI's own OpenTelemetry span covers it, in the same provider
        authority = _authority(scope)
        url = f"{scope.get('scheme') or 'http'}://{authority[2]}{scope.get('path') or ''}"
        if _excluded_urls.excluded(url, self.excluded_urls):
            return None
        parent = extract_from_headers(_trace_headers(scope))
        method = scope.get("method")
        name = span_name_for(str(method)) if kind == "http" else "HTTP"
        span = start_span(name, kind=SpanKind.SERVER, parent=parent)
        if not span.trace_id:  # tracing off
            return None
        if span.is_recording():
            name = _request_attributes(scope, span.attributes, authority)
            if (
                _captured_headers.server is not False
                and _captured_headers.wanted("server", "request")
            ):
                _captured_headers.request_headers(
                    "server", scope.get("headers") or (), span.attributes
                )
        scope[SCOPE_KEY] = span
        return _Request(span, scope, send, name)
