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
and status ``ERROR`` for 5xx (4xx is the client's error, not the server's). Headers named by
``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST``/``..._RESPONSE`` are recorded
(``_captured_headers``). ``OTEL_PYTHON_FLASK_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``)
leaves requests untraced whose full URL (``http://host/path?query``, as OpenTelemetry's Flask
instrumentation matches) one of its expressions is found in. The environ-to-span code is
``_wsgi``'s, shared with the generic WSGI hook.

Calling the hook twice on one app instruments it once (marked in ``app.extensions``). Flask is
imported here only when an app is instrumented, i.e. by programs that already use it.
"""

from __future__ import annotations

import sys

from ._log import warn_once
from ._span import Span
from ._wsgi import COMPLETE_KEY, ENVIRON_KEY, TracingMiddleware, fail_once, name_after_route

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "COMPLETE_KEY",
    "ENVIRON_KEY",
    "EXCLUDED_URLS",
    "TracingMiddleware",
    "instrument",
]

EXTENSION_KEY = "codetrace"
EXCLUDED_URLS = "OTEL_PYTHON_FLASK_EXCLUDED_URLS"

_request: Any = None  # flask.request, bound when the first app is instrumented


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
            name_after_route(span, getattr(_request.url_rule, "rule", None))
    except Exception as exc:
        warn_once("flask-route", "codetrace: could not name the request span", exc=exc)


def _record_unhandled(exc: BaseException | None) -> None:
    """``teardown_request``: record the exception that escaped the view, if any."""
    if exc is None:
        return
    try:
        span = _request.environ.get(ENVIRON_KEY)
        if isinstance(span, Span):
            fail_once(span, exc)
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
    app.wsgi_app = TracingMiddleware(app.wsgi_app, EXCLUDED_URLS, label="flask")
    if isinstance(extensions, dict):
        extensions[EXTENSION_KEY] = True
    return app
