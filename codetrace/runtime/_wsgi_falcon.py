"""The ``wsgi`` hook for a Falcon app: a middleware added with ``app.add_middleware``.

Falcon's public way to run code around every request, and it changes the app in place, so the
object the project holds is the traced one (a WSGI wrapper could not be: the hook's argument is
the app the project keeps). ``process_request`` starts the SERVER span (``_wsgi.start``) and
makes it current; ``process_response`` names it after ``req.uri_template`` (``GET
/items/{item_id:int}``; none for a 404), records the status and the captured response headers,
and ends it. Falcon turns every ``Exception`` into an error response first (its default error
handler), so a failure shows as its 5xx status (``error.type`` the code); the exception itself is
Falcon's, not seen here.

Where it sits: after the middleware passed to the constructor (``add_middleware`` appends), so
a request one of those answers itself (``resp.complete``) gets no span. The span covers
Falcon's handling, not the streaming of a body after it. Excluded URLs:
``OTEL_PYTHON_FALCON_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``), matched against the
path alone, as OpenTelemetry's Falcon instrumentation does. An ASGI Falcon app
(``falcon.asgi.App``) needs ``async`` middleware: it is left untraced, with a warning.
"""

from __future__ import annotations

import sys

from ._log import warn_once
from ._span import Span
from ._wsgi import ENVIRON_KEY, capture_response_headers, name_after_route, record_status, start

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXCLUDED_URLS = "OTEL_PYTHON_FALCON_EXCLUDED_URLS"


class TracingMiddleware:
    """Falcon middleware: a SERVER span per request (see the module docstring)."""

    def process_request(self, req: Any, resp: Any) -> None:
        try:
            span = start(req.env, EXCLUDED_URLS, match_path=True, label="falcon")
            if span is not None:
                span.activate()
        except Exception as exc:  # pragma: no cover - ``start`` does not raise
            warn_once("falcon-request", "codetrace: request left untraced", exc=exc)

    def process_response(self, req: Any, resp: Any, resource: object, req_succeeded: bool) -> None:
        try:
            span = req.env.pop(ENVIRON_KEY, None)
        except Exception:  # pragma: no cover - a request without an environ
            return
        if not isinstance(span, Span):
            return
        span.deactivate()
        try:
            name_after_route(span, getattr(req, "uri_template", None))
            status = getattr(resp, "status_code", None)
            record_status(span, status if isinstance(status, int) else resp.status)
            capture_response_headers(span, getattr(resp, "headers", None))
        except Exception as exc:
            warn_once("falcon-response", "codetrace: could not read the response", exc=exc)
        span.end()


def instrument(app: Any) -> None:
    """Add the middleware to ``app`` once. (A Falcon app has ``__slots__``: no mark can be
    set on it, so the middleware Falcon keeps is read to see whether ours is there.)"""
    added = getattr(app, "_unprepared_middleware", None) or ()
    if any(isinstance(middleware, TracingMiddleware) for middleware in added):
        return
    asgi = getattr(sys.modules.get("falcon.asgi"), "App", None)
    if isinstance(asgi, type) and isinstance(app, asgi):
        warn_once("falcon-asgi", "codetrace: an ASGI Falcon app is not traced by the wsgi hook")
        return
    app.add_middleware(TracingMiddleware())
