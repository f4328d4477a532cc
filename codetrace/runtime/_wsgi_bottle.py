"""The ``wsgi`` hook for a Bottle app: its ``before_request``/``after_request`` hooks and a plugin.

Bottle's public extension points, which change the app in place, so the object the project
holds is the traced one. ``before_request`` starts the SERVER span (``_wsgi.start``) and makes
it current; a plugin (``app.install``: Bottle wraps every route callback with it) records an
exception that escapes the callback; ``after_request`` names the span after the route Bottle
matched (``route.rule``: ``GET /items/<item_id:int>``; none for a 404), records the status (500
for an escaped exception when the app catches them, ``catchall``, as Bottle then answers) and
the captured response headers, and ends it. Bottle runs ``after_request`` hooks in reverse
order of registration, so ours, added where the app is created, runs last.

The span covers Bottle's handling, not the streaming of a body after it. Excluded URLs:
``OTEL_PYTHON_BOTTLE_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``), matched against the
full URL (``http://host/path?query``).
"""

from __future__ import annotations

import sys

from ._log import warn_once
from ._span import Span
from ._wsgi import (
    ENVIRON_KEY,
    capture_response_headers,
    fail_once,
    name_after_route,
    record_status,
    start,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

EXCLUDED_URLS = "OTEL_PYTHON_BOTTLE_EXCLUDED_URLS"
FAILED_KEY = "codetrace.failed"


def _bottle() -> Any:
    return sys.modules.get("bottle")


class TracingPlugin:
    """Bottle plugin (API 2) that records an exception escaping a route callback."""

    name = "codetrace"
    api = 2

    def apply(self, callback: Callable[..., Any], route: object) -> Callable[..., Any]:
        def traced_callback(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:
                _record_failure(exc)
                raise

        return traced_callback


def _record_failure(exc: Exception) -> None:
    try:
        bottle = _bottle()
        if isinstance(exc, bottle.HTTPResponse):  # a response raised on purpose (abort, redirect)
            return
        environ = bottle.request.environ
        span = environ.get(ENVIRON_KEY)
        if isinstance(span, Span):
            fail_once(span, exc)
            environ[FAILED_KEY] = True
    except Exception as error:  # pragma: no cover - defensive
        warn_once("bottle-failure", "codetrace: could not record a request error", exc=error)


def _before_request() -> None:
    try:
        span = start(_bottle().request.environ, EXCLUDED_URLS, label="bottle")
        if span is not None:
            span.activate()
    except Exception as exc:  # pragma: no cover - ``start`` does not raise
        warn_once("bottle-request", "codetrace: request left untraced", exc=exc)


def _after_request(app: Any) -> Callable[[], None]:
    def after_request() -> None:
        try:
            bottle = _bottle()
            environ = bottle.request.environ
            span = environ.pop(ENVIRON_KEY, None)
        except Exception:  # pragma: no cover - outside a request
            return
        if not isinstance(span, Span):
            return
        span.deactivate()
        try:
            name_after_route(span, getattr(environ.get("bottle.route"), "rule", None))
            if environ.pop(FAILED_KEY, False):
                if getattr(app, "catchall", True):
                    record_status(span, 500)
            else:
                response = bottle.response
                record_status(span, response.status_code)
                capture_response_headers(span, response.headerlist)
        except Exception as exc:
            warn_once("bottle-response", "codetrace: could not read the response", exc=exc)
        span.end()

    return after_request


def instrument(app: Any) -> None:
    """Add the hooks and the plugin to ``app`` once (the plugin's name marks the app)."""
    if any(getattr(plugin, "name", None) == TracingPlugin.name for plugin in app.plugins):
        return
    app.add_hook("before_request", _before_request)
    app.add_hook("after_request", _after_request(app))
    app.install(TracingPlugin())
