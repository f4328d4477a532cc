"""``hooks.flask(app)``: a SERVER span per request, through Flask's public extension points.

No monkey patching. Three documented hooks:

* ``app.wsgi_app`` is wrapped in a middleware (Flask's documented way to add WSGI middleware).
  Per request it extracts ``traceparent``/``tracestate``/``baggage`` from the environ, so the
  server span continues the caller's trace (``parent_id`` is the caller's span,
  ``is_remote_parent`` is true); starts the span named by the method; records the status from
  ``start_response``; and ends the span when the server closes the response iterable, so a
  streamed response is timed to its last byte. While the response streams, the span is current
  again for each chunk.
* ``app.before_request`` renames the span ``METHOD route-template`` (``GET /users/<int:id>``)
  from ``request.url_rule.rule`` and sets ``http.route``; with no matching route (404) the name
  stays ``METHOD``.
* ``app.teardown_request`` records an unhandled exception (``exception`` event, ``error.type``
  = exception class, status ``ERROR``).

Attributes: ``http.request.method``, ``url.path``, ``url.query`` (sensitive values redacted),
``url.scheme``, ``http.route``, ``http.response.status_code``, ``server.address`` and
``server.port`` (from the ``Host`` header, else ``SERVER_NAME``/``SERVER_PORT``),
``client.address`` (first ``X-Forwarded-For`` entry, else the peer), ``network.peer.address``,
``network.peer.port``, ``network.protocol.version``, ``user_agent.original``; ``error.type``
and status ``ERROR`` for 5xx (4xx is the client's error, not the server's).

Calling the hook twice on one app instruments it once (marked in ``app.extensions``). Flask is
imported here only when an app is instrumented, i.e. by programs that already use it.
"""

from __future__ import annotations

import sys

from ._http import host_and_port, method_attributes, redact_query, span_name_for
from ._log import warn_once
from ._propagation import extract_from_headers, header_names
from ._scope import make_current, restore_current
from ._span import Span
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode, qualified_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any

    StartResponse = Callable[..., Any]
    WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

ENVIRON_KEY = "codetrace.server_span"
#: set by ``after_request`` when the response body is already in memory (not streamed)
COMPLETE_KEY = "codetrace.response_complete"
EXTENSION_KEY = "codetrace"

_request: Any = None  # flask.request, bound when the first app is instrumented


def _environ_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name in header_names():
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if isinstance(value, str):
            headers[name] = value
    return headers


def _url_path(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw.split("?", 1)[0].split("#", 1)[0]
    from urllib.parse import quote

    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return quote(path.encode("latin-1", "replace"), safe="/!$&'()*+,;=:@-._~") or "/"


def _server_attributes(environ: dict[str, Any], attributes: dict[str, Any]) -> None:
    method = str(environ.get("REQUEST_METHOD", "GET"))
    method_attributes(method, attributes)
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    attributes["url.scheme"] = scheme
    attributes["url.path"] = _url_path(environ)
    query = environ.get("QUERY_STRING")
    if query:
        attributes["url.query"] = redact_query(str(query))
    host_header = environ.get("HTTP_HOST")
    if host_header:
        host, port = host_and_port(str(host_header), scheme)
    else:
        host = environ.get("SERVER_NAME") or None
        port_text = str(environ.get("SERVER_PORT", ""))
        port = int(port_text) if port_text.isdigit() else None
    if host:
        attributes["server.address"] = host
    if port is not None:
        attributes["server.port"] = port
    peer = environ.get("REMOTE_ADDR")
    forwarded = environ.get("HTTP_X_FORWARDED_FOR")
    client = str(forwarded).split(",", 1)[0].strip() if forwarded else peer
    if client:
        attributes["client.address"] = client
    if peer:
        attributes["network.peer.address"] = peer
    peer_port = str(environ.get("REMOTE_PORT", ""))
    if peer_port.isdigit():
        attributes["network.peer.port"] = int(peer_port)
    protocol = str(environ.get("SERVER_PROTOCOL", ""))
    if protocol.startswith("HTTP/"):
        attributes["network.protocol.version"] = protocol[5:]
    agent = environ.get("HTTP_USER_AGENT")
    if agent:
        attributes["user_agent.original"] = str(agent)


def _record_status(span: Span, status: object) -> None:
    code_text = str(status).split(" ", 1)[0]
    if not code_text.isdigit():
        return
    code = int(code_text)
    span.set_attribute("http.response.status_code", code)
    if code >= 500:
        if "error.type" not in span.attributes:
            span.set_attribute("error.type", code_text)
        span.set_status(StatusCode.ERROR)


def _fail_once(span: Span, exc: BaseException) -> None:
    """Record ``exc`` on ``span`` unless an exception was recorded already (teardown ran)."""
    if not any(event.name == "exception" for event in span.events):
        span.set_attribute("error.type", qualified_name(type(exc)))
        span.fail(exc)


class TracedResponse:
    """The WSGI response iterable, re-entering the span per chunk.

    The span ends when the body is exhausted or on ``close``, whichever comes first: WSGI
    servers always close, but test clients (Flask's ``test_client``) read the body and may never
    close it, and their requests must be traced too.
    """

    __slots__ = ("_closed", "_iterable", "_iterator", "_span")

    def __init__(self, iterable: Iterable[bytes], span: Span) -> None:
        self._iterable = iterable
        self._iterator: Iterator[bytes] | None = None
        self._span = span
        self._closed = False

    def __iter__(self) -> TracedResponse:
        return self

    def __next__(self) -> bytes:
        token = make_current(self._span)
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            return next(iterator)
        except StopIteration:
            self._span.end()
            raise
        except BaseException as exc:
            _fail_once(self._span, exc)
            raise
        finally:
            restore_current(token)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                token = make_current(self._span)
                try:
                    close()
                finally:
                    restore_current(token)
        except BaseException as exc:
            _fail_once(self._span, exc)
            raise
        finally:
            self._span.end()


class TracingMiddleware:
    """WSGI middleware that runs each request in a SERVER span (see the module docstring)."""

    def __init__(self, wsgi_app: WSGIApp) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            name = span_name_for(str(environ.get("REQUEST_METHOD", "GET")))
            parent = extract_from_headers(_environ_headers(environ))
            span = start_span(name, kind=SpanKind.SERVER, parent=parent)
        except Exception as exc:
            warn_once("flask-start", "codetrace: request left untraced", exc=exc)
            return self.wsgi_app(environ, start_response)
        if span.is_recording():
            try:
                _server_attributes(environ, span.attributes)
            except Exception as exc:
                warn_once("flask-attributes", "codetrace: odd WSGI environ", exc=exc)
        if not span.trace_id:  # tracing disabled
            return self.wsgi_app(environ, start_response)
        environ[ENVIRON_KEY] = span

        def traced_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                _record_status(span, status)
            except Exception as exc:  # pragma: no cover - defensive
                warn_once("flask-status", "codetrace: could not read the status", exc=exc)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        span.activate()
        try:
            result = self.wsgi_app(environ, traced_start_response)
        except BaseException as exc:
            span.deactivate()
            _fail_once(span, exc)
            span.end()
            raise
        span.deactivate()
        if environ.get(COMPLETE_KEY):
            # the body is in memory: the request is handled. Ending here also traces requests
            # whose body nobody reads or closes (a test client checking only the status).
            span.end()
        return TracedResponse(result, span)


def _mark_complete(response: Any) -> Any:
    """``after_request``: note a response whose body is not streamed, or an error page;
    return it unchanged."""
    try:
        # an error page is complete too, though werkzeug wraps its body in a generator
        # (``is_streamed``): a test client that only reads the status must still trace it
        status = getattr(response, "status_code", 0)
        if getattr(response, "is_streamed", True) is False or (
            isinstance(status, int) and status >= 400
        ):
            _request.environ[COMPLETE_KEY] = True
    except Exception as exc:
        warn_once("flask-complete", "codetrace: could not inspect the response", exc=exc)
    return response


def _name_after_route() -> None:
    """``before_request``: name the span after the matched route template."""
    try:
        span = _request.environ.get(ENVIRON_KEY)
        if isinstance(span, Span) and span.is_recording():
            rule = getattr(_request.url_rule, "rule", None)
            if isinstance(rule, str):
                method = span.name.split(" ", 1)[0]
                span.update_name(f"{method} {rule}")
                span.set_attribute("http.route", rule)
    except Exception as exc:
        warn_once("flask-route", "codetrace: could not name the request span", exc=exc)


def _record_unhandled(exc: BaseException | None) -> None:
    """``teardown_request``: record the exception that escaped the view, if any."""
    if exc is None:
        return
    try:
        span = _request.environ.get(ENVIRON_KEY)
        if isinstance(span, Span):
            _fail_once(span, exc)
    except Exception as error:
        warn_once("flask-teardown", "codetrace: could not record a request error", exc=error)


def instrument(app: Any) -> Any:
    """Instrument ``app`` once (see the module docstring); return it."""
    global _request
    extensions = getattr(app, "extensions", None)
    if isinstance(extensions, dict) and extensions.get(EXTENSION_KEY):
        return app
    if isinstance(getattr(app, "wsgi_app", None), TracingMiddleware):
        return app
    # No import statement: the runtime names no third-party module. A Flask app exists, so the
    # flask package is loaded; a look-up finds its request proxy.
    flask = sys.modules.get("flask")
    if flask is None:
        raise TypeError(f"{type(app).__name__} is not a Flask app: flask is not loaded")
    _request = flask.request
    app.before_request(_name_after_route)
    app.after_request(_mark_complete)
    app.teardown_request(_record_unhandled)
    app.wsgi_app = TracingMiddleware(app.wsgi_app)
    if isinstance(extensions, dict):
        extensions[EXTENSION_KEY] = True
    return app
