"""The ``wsgi`` hook for Pyramid: a tween added to the ``Configurator`` the project builds.

Tweens are Pyramid's public way to wrap every request, and they are registered on the
configurator, before ``make_wsgi_app`` builds the router (a router has no public way to add
one): so the hook goes where the project creates its ``Configurator``, and every app it makes
is traced. The tween is placed by Pyramid's default (under the ingress, over the exception
view), so an exception a view raises is seen as the error response the exception view makes
of it, and one no exception view handles is recorded (``error.type`` its class, status 500).
The span is named after the matched route's pattern (``request.matched_route.pattern``: ``GET
/items/{item_id}``; none for a 404).

The span covers Pyramid's handling, not the streaming of a body after it. Excluded URLs:
``OTEL_PYTHON_PYRAMID_EXCLUDED_URLS`` (else ``OTEL_PYTHON_EXCLUDED_URLS``), matched against the
full URL, as OpenTelemetry's Pyramid instrumentation does.
"""

from __future__ import annotations

from ._log import warn_once
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

EXCLUDED_URLS = "OTEL_PYTHON_PYRAMID_EXCLUDED_URLS"
TWEEN = "codetrace.runtime._wsgi_pyramid.tween_factory"
"""The dotted name Pyramid registers the tween under (it must be importable by that name)."""


def _route(request: Any) -> object:
    return getattr(getattr(request, "matched_route", None), "pattern", None)


def tween_factory(handler: Callable[[Any], Any], registry: object) -> Callable[[Any], Any]:
    """Pyramid's tween factory: the tween runs each request in a SERVER span."""

    def tween(request: Any) -> Any:
        try:
            environ = request.environ
            span = start(environ, EXCLUDED_URLS, label="pyramid")
        except Exception as exc:  # pragma: no cover - ``start`` does not raise
            warn_once("pyramid-request", "codetrace: request left untraced", exc=exc)
            span = None
        if span is None:
            return handler(request)
        span.activate()
        try:
            response = handler(request)
        except BaseException as exc:
            span.deactivate()
            environ.pop(ENVIRON_KEY, None)
            try:
                name_after_route(span, _route(request))
                if isinstance(exc, Exception):
                    record_status(span, 500)
                fail_once(span, exc)
            except Exception as error:  # pragma: no cover - defensive
                warn_once("pyramid-error", "codetrace: could not record an error", exc=error)
            span.end()
            raise
        span.deactivate()
        environ.pop(ENVIRON_KEY, None)
        try:
            name_after_route(span, _route(request))
            record_status(span, response.status_int)
            capture_response_headers(span, response.headerlist)
        except Exception as exc:
            warn_once("pyramid-response", "codetrace: could not read the response", exc=exc)
        span.end()
        return response

    return tween


def instrument(config: Any) -> None:
    """Add the tween to the ``Configurator`` once: a second ``add_tween`` of one name would be
    a configuration conflict. The registry (a dictionary Pyramid lets applications keep values
    in) remembers it. A project that lists its tweens explicitly (the ``pyramid.tweens``
    setting) replaces the implicit ones, ours included: it must list ``TWEEN`` itself."""
    registry = config.registry
    if registry.get(TWEEN):
        return
    config.add_tween(TWEEN)
    registry[TWEEN] = True
