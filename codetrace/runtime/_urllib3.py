"""Adapter for rule ``urllib3.pool``: urllib3 pools and pool managers traced from construction.

urllib3's structure decides where the span goes. ``PoolManager.urlopen`` (and ``request``,
which calls it) picks a connection pool for the URL's host and calls the pool's ``urlopen``
once per hop, with ``redirect=False``, following redirects itself; a pool's ``urlopen`` sends
one request, retrying and (when called directly) following same-host redirects by calling
itself again. Every request of every urllib3 client therefore goes through
``HTTPConnectionPool.urlopen``, which is where OpenTelemetry's urllib3 instrumentation puts its
span (it patches that method for everyone; codetrace changes only the objects the project
builds):

* ``HTTPConnectionPool(...)``/``HTTPSConnectionPool(...)`` (or a project subclass) is built as
  an instance of a traced subclass (``_construct``) whose ``urlopen`` makes the CLIENT span.
* ``PoolManager(...)``/``ProxyManager(...)``/``proxy_from_url(...)`` (or a project subclass)
  is built unchanged, then its ``pool_classes_by_scheme`` (urllib3's per-manager setting for
  the classes of the pools it builds, "so other PoolManagers can override them") is set to
  the traced subclasses of the classes it held: every pool it builds is traced. ``type()``
  and ``isinstance`` of the manager are untouched. A subclass that builds its pools without
  that mapping (its own ``_new_pool``) is left untraced.
* ``connection_from_url(url)`` builds a plain pool inside urllib3; the pool it returns, new
  and seen by nobody else yet, gets the traced subclass as its class (the subclass adds no
  state: ``__slots__ = ()``), which is what building it as the subclass would have given.

So a span is one call of a pool's ``urlopen`` from outside: one span per hop under a
``PoolManager`` (each hop a sibling, carrying its own ``traceparent``), and one span for a
pool's own retries and redirects (the inner calls happen inside the span, see
``_nested_client``): exactly OpenTelemetry's spans. A pool used under a traced ``requests``
call, or any other CLIENT span, makes none (``_nested_client``): one span per request.

The span: name = method (``HTTP`` for an unknown one), ``http.request.method``, ``url.full``
(the pool's ``scheme://host[:port]`` and the request target, or the absolute URL a proxy pool
is given; redacted), ``server.address``/``server.port``, ``http.response.status_code``;
``error.type`` is the status for a 4xx/5xx response, the exception's class otherwise
(``urllib3.exceptions.MaxRetryError`` for a refused connection, as urllib3 raises it).
Trace headers go into a *copy* of the request's headers (or of the pool's default headers),
never into the caller's mapping; a header the request already carries is kept.
``OTEL_PYTHON_URLLIB3_EXCLUDED_URLS`` (or ``OTEL_PYTHON_EXCLUDED_URLS``) lists URLs left
untraced (``_excluded_urls``). A mocked ``urlopen`` is called through, untraced.

``urllib3`` is never imported here: its classes are looked up in :data:`sys.modules` (a
``PoolManager`` being built implies it is loaded).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from . import _captured_headers
from ._construct import FUNNEL, is_class, traced_subclass
from ._excluded_urls import excluded
from ._http import as_text, header_names_of, is_mock, method_attributes, missing_headers
from ._http import url_attributes as _url_attributes
from ._log import warn_once
from ._nested_client import inside_client_span
from ._propagation import inject
from ._tracer import span as start_span
from ._values import SpanKind, StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

KIND = "urllib3.pool"
EXCLUDED_URLS = "OTEL_PYTHON_URLLIB3_EXCLUDED_URLS"
_HEADERS_INDEX = 3  # HTTPConnectionPool.urlopen(method, url, body, headers, ...)


def _pool_url(pool: object, target: str) -> str:
    """The URL a pool requests: ``target`` if absolute (a proxy's), else the pool's origin + it."""
    if not target.startswith("/") and "://" in target:
        return target
    scheme = str(getattr(pool, "scheme", None) or "http")
    host = str(getattr(pool, "host", None) or "")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = getattr(pool, "port", None)
    default = {"http": 80, "https": 443}.get(scheme)
    origin = f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"
    return origin + (target if target.startswith("/") else "/" + target)


def headers_with(headers: object, injected: dict[str, str]) -> object | None:
    """A new headers mapping: ``headers`` plus the trace headers it lacks (``None``: as given)."""
    additions = missing_headers(injected, header_names_of(headers) if headers else set())
    if not additions:
        return None
    if headers is None:
        return dict(additions)
    if type(headers) is dict:
        return {**headers, **additions}
    copy = getattr(headers, "copy", None)  # urllib3's HTTPHeaderDict keeps repeated headers
    if isinstance(headers, Mapping) and callable(copy):
        merged = copy()
        if isinstance(merged, Mapping) and hasattr(merged, "__setitem__"):
            for key, value in additions.items():
                merged[key] = value
            return merged
    if isinstance(headers, Mapping):
        return {**headers, **additions}
    return None


def record_response(span: Span, response: object, sent: object = None) -> None:
    """Status code (and failure for 4xx/5xx) from a urllib3 or http.client response, and the
    captured headers (``_captured_headers``: ``sent``, the headers the caller passed with ours
    added; urllib3's own defaults such as ``Host`` are added below it and not seen)."""
    try:
        status = getattr(response, "status", None)
        if type(status) is int and span.is_recording():
            span.set_attribute("http.response.status_code", status)
            if status >= 400:
                span.set_attribute("error.type", str(status))
                span.set_status(StatusCode.ERROR)
        if (
            _captured_headers.client is not False
            and _captured_headers.wanted("client")
            and span.is_recording()
        ):
            _captured_headers.client_exchange(
                span.attributes, sent, getattr(response, "headers", None)
            )
    except Exception as exc:
        warn_once("urllib3-response", "codetrace: could not read the response", exc=exc)


def start(method: str | None, url: str | None) -> Span:
    """Start and activate the CLIENT span of a request (``method``/``url`` unknown: ``HTTP``)."""
    method = method.upper() if method else None
    span = start_span("HTTP", kind=SpanKind.CLIENT)
    span.activate()
    try:
        if span.is_recording() and method is not None:
            span.update_name(method_attributes(method, span.attributes))
            if url is not None:
                _url_attributes(url, span.attributes)
    except Exception as exc:  # pragma: no cover - the helpers do not raise on any str
        warn_once("urllib3-attributes", "codetrace: could not describe a request", exc=exc)
    return span


def traced_urlopen(
    urlopen: Callable[..., Any], pool: object, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``urlopen(*args, **kwargs)`` (a pool's own, bound) in the request's CLIENT span."""
    try:
        if inside_client_span() or is_mock(urlopen):
            return urlopen(*args, **kwargs)
        method = as_text(args[0] if args else kwargs.get("method"))
        target = as_text(args[1] if len(args) > 1 else kwargs.get("url"))
        url = _pool_url(pool, target) if target is not None else None
        if url is not None and excluded(url, EXCLUDED_URLS):
            return urlopen(*args, **kwargs)
        span = start(method, url)
    except Exception as exc:
        warn_once("urllib3-adapter", "codetrace: urllib3 request left untraced", exc=exc)
        return urlopen(*args, **kwargs)
    # From here on the span is current: nothing may escape before it ends.
    try:
        injected: dict[str, str] = {}
        inject(injected, span=span)
        if injected:
            positional = len(args) > _HEADERS_INDEX
            given = args[_HEADERS_INDEX] if positional else kwargs.get("headers")
            headers = headers_with(given if given is not None else getattr(pool, "headers", None),
                                   injected)
            if headers is not None:
                if positional:
                    args = (*args[:_HEADERS_INDEX], headers, *args[_HEADERS_INDEX + 1 :])
                else:
                    kwargs = {**kwargs, "headers": headers}
    except Exception as exc:
        warn_once("urllib3-headers", "codetrace: could not add trace headers", exc=exc)
    try:
        response = urlopen(*args, **kwargs)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    sent = None
    if _captured_headers.client is not False and _captured_headers.wanted("client"):
        sent = args[_HEADERS_INDEX] if len(args) > _HEADERS_INDEX else kwargs.get("headers")
        if sent is None:
            sent = getattr(pool, "headers", None)
    record_response(span, response, sent)
    span.__exit__(None, None, None)
    return response


def _pool_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def urlopen(self: Any, *args: Any, **kwargs: Any) -> Any:
        return traced_urlopen(super(subclass(), self).urlopen, self, args, kwargs)

    urlopen.__qualname__ = f"{cls.__qualname__}.urlopen"
    urlopen.__doc__ = getattr(getattr(cls, "urlopen", None), "__doc__", None)
    return {"urlopen": urlopen}


def _urllib3_class(module: str, name: str) -> type | None:
    found = getattr(sys.modules.get(module), name, None)
    return found if is_class(found) else None


def pool_class(cls: object) -> type | None:
    """The traced subclass of a connection pool class (``None``: not one, leave it alone)."""
    base = _urllib3_class("urllib3.connectionpool", "HTTPConnectionPool")
    if base is None or not is_class(cls) or not issubclass(cls, base):  # type: ignore[arg-type]
        return None
    return traced_subclass(cls, KIND, _pool_namespace)  # type: ignore[arg-type]


def trace_manager(manager: object) -> None:
    """Make the pools ``manager`` (a new ``PoolManager``) builds traced ones."""
    classes = getattr(manager, "pool_classes_by_scheme", None)
    if not isinstance(classes, Mapping):
        return
    traced: dict[Any, Any] = {}
    for scheme, cls in classes.items():
        traced[scheme] = pool_class(cls) or cls
    manager.pool_classes_by_scheme = traced  # type: ignore[attr-defined]


def _builds_pool(callee: object) -> bool:
    """Whether ``callee`` is urllib3's ``connection_from_url`` (it returns a new pool)."""
    return (
        getattr(callee, "__name__", None) == "connection_from_url"
        and getattr(callee, "__module__", None) == "urllib3.connectionpool"
    )


def _traced(callee: object, result: object) -> object:
    """``result`` of a construction, traced if it is a pool manager or a new pool."""
    manager = _urllib3_class("urllib3.poolmanager", "PoolManager")
    if manager is not None and isinstance(result, manager):
        trace_manager(result)
        return result
    cls = type(result)
    if _builds_pool(callee) and getattr(cls, FUNNEL, None) is None:
        traced = pool_class(cls)
        if traced is not None:
            result.__class__ = traced  # a new pool nobody else holds: see the docstring
    return result


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``, traced when it builds a urllib3 pool or pool manager."""
    try:
        if is_mock(callee):
            return callee(*args, **kwargs)
        cls = pool_class(callee) if is_class(callee) else None
    except Exception as exc:
        warn_once("urllib3-pool", "codetrace: urllib3 pool left untraced", exc=exc)
        return callee(*args, **kwargs)
    if cls is not None:
        return cls(*args, **kwargs)
    result = callee(*args, **kwargs)
    try:
        return _traced(callee, result)
    except Exception as exc:
        warn_once("urllib3-pool", "codetrace: urllib3 pool left untraced", exc=exc)
        return result
