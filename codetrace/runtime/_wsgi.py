"""A SERVER span per WSGI request: the one owner of environ -> span, for every WSGI framework.

The Flask hook (``_flask``) wraps the app's ``wsgi_app`` in :class:`TracingMiddleware`; the
generic ``wsgi`` hook (``_wsgi_hook``) cannot replace the callable a project holds, so for
Bottle, Falcon and Pyramid it goes through each framework's own middleware API and calls
:func:`start` / :func:`finish` around the request instead. Both share what is here:

* the caller's trace is continued from ``traceparent``/``tracestate``/``baggage`` in the
  environ (``is_remote_parent``);
* attributes: ``http.request.method``, ``url.path``, ``url.query`` (sensitive values
  redacted), ``url.scheme``, ``server.address``/``server.port`` (the ``Host`` header, else
  ``SERVER_NAME``/``SERVER_PORT``), ``client.address`` (first ``X-Forwarded-For`` entry, else
  the peer), ``network.peer.address``/``.port``, ``network.protocol.version``,
  ``user_agent.original``; the framework adds ``http.route`` and renames the span
  ``METHOD route`` (:func:`name_after_route`); ``http.response.status_code``, and
  ``error.type`` with status ``ERROR`` for 5xx (4xx is the client's error);
* headers named by ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_*``
  (``_captured_headers``): the request's from the environ (``HTTP_*``, ``CONTENT_TYPE``,
  ``CONTENT_LENGTH``; a server joins a repeated request header into one value), the
  response's from ``start_response`` or the framework's response object;
* excluded URLs (``_excluded_urls``): the caller names the variable and :func:`start` matches
  the full URL (``scheme://host/path?query``, as OpenTelemetry's Flask and Pyramid
  instrumentations do) or the path alone (``match_path``, as its Falcon instrumentation does).

Nothing here raises into the application; WSGI frameworks are never imported.
"""

from __future__ import annotations

from . import _captured_headers, _excluded_urls
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
#: set by a framework when the response body is already in memory (not streamed)
COMPLETE_KEY = "codetrace.response_complete"


def trace_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The propagation headers of the request (``traceparent``...), for extraction."""
    headers: dict[str, str] = {}
    for name in header_names():
        value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if isinstance(value, str):
            headers[name] = value
    return headers


def environ_headers(environ: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Every request header in ``environ`` as ``(name, value)``, names as WSGI leaves them
    (``X-REQUEST-ID``: header names are case-insensitive), for ``_captured_headers``."""
    for key, value in environ.items():
        if isinstance(key, str) and isinstance(value, str):
            if key.startswith("HTTP_"):
                yield key[5:].replace("_", "-"), value
            elif (key == "CONTENT_TYPE" or key == "CONTENT_LENGTH") and value:
                yield key.replace("_", "-"), value


def url_path(environ: dict[str, Any]) -> str:
    """The request path as the client sent it (``RAW_URI``/``REQUEST_URI`` when the server
    keeps it), else rebuilt from ``SCRIPT_NAME`` + ``PATH_INFO``."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if isinstance(raw, str) and raw.startswith("/"):
        return raw.split("?", 1)[0].split("#", 1)[0]
    from urllib.parse import quote

    path = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return quote(path.encode("latin-1", "replace"), safe="/!$&'()*+,;=:@-._~") or "/"


def request_url(environ: dict[str, Any]) -> str:
    """``scheme://host[:port]/path[?query]``: what excluded-URL expressions are matched against."""
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = environ.get("HTTP_HOST")
    if not host:
        host = str(environ.get("SERVER_NAME", ""))
        port = str(environ.get("SERVER_PORT", ""))
        if port and port != {"http": "80", "https": "443"}.get(scheme):
            host = f"{host}:{port}"
    query = environ.get("QUERY_STRING")
    return f"{scheme}://{host}{url_path(environ)}" + (f"?{query}" if query else "")


def server_attributes(environ: dict[str, Any], attributes: dict[str, Any]) -> None:
    """The request's attributes (see the module docstring) into ``attributes``."""
    method = str(environ.get("REQUEST_METHOD", "GET"))
    method_attributes(method, attributes)
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    attributes["url.scheme"] = scheme
    attributes["url.path"] = url_path(environ)
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


def record_status(span: Span, status: object) -> None:
    """``http.response.status_code`` from ``"200 OK"`` or ``200``; 5xx is a failure."""
    code_text = str(int(status)) if isinstance(status, int) else str(status).split(" ", 1)[0]
    if not code_text.isdigit():
        return
    code = int(code_text)
    span.set_attribute("http.response.status_code", code)
    if code >= 500:
        if "error.type" not in span.attributes:
            span.set_attribute("error.type", code_text)
        span.set_status(StatusCode.ERROR)


def fail_once(span: Span, exc: BaseException) -> None:
    """Record ``exc`` on ``span`` unless an exception was recorded already."""
    if not any(event.name == "exception" for event in span.events):
        span.set_attribute("error.type", qualified_name(type(exc)))
        span.fail(exc)


def name_after_route(span: Span, route: object) -> None:
    """``http.route`` and the span name ``METHOD route``, when the framework knows the route."""
    if isinstance(route, str) and route and span.is_recording():
        method = span.name.split(" ", 1)[0]
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)


def capture_response_headers(span: Span, headers: object) -> None:
    """The response headers ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE``
    names (``headers``: a list of pairs or a mapping)."""
    if (
        _captured_headers.server is not False
        and _captured_headers.wanted("server", "response")
        and span.is_recording()
    ):
        _captured_headers.response_headers(
            "server", _captured_headers.header_pairs(headers), span.attributes
        )


def start(
    environ: dict[str, Any], excluded_urls: str, *, match_path: bool = False, label: str = "wsgi"
) -> Span | None:
    """The request's SERVER span, started (not yet current) and kept in the environ under
    :data:`ENVIRON_KEY`; ``None`` when the URL is excluded, tracing is off, or on any error."""
    try:
        if excluded_urls:
            url = url_path(environ) if match_path else request_url(environ)
            if _excluded_urls.excluded(url, excluded_urls):
                return None
        name = span_name_for(str(environ.get("REQUEST_METHOD", "GET")))
        parent = extract_from_headers(trace_headers(environ))
        span = start_span(name, kind=SpanKind.SERVER, parent=parent)
    except Exception as exc:
        warn_once(f"{label}-start", "codetrace: request left untraced", exc=exc)
        return None
    if not span.trace_id:  # tracing disabled
        return None
    if span.is_recording():
        try:
            server_attributes(environ, span.attributes)
            if (
                _captured_headers.server is not False
                and _captured_headers.wanted("server", "request")
            ):
                _captured_headers.request_headers(
                    "server", environ_headers(environ), span.attributes
                )
        except Exception as exc:
            warn_once(f"{label}-attributes", "codetrace: odd WSGI environ", exc=exc)
    environ[ENVIRON_KEY] = span
    return span


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
            fail_once(self._span, exc)
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
            fail_once(self._span, exc)
            raise
        finally:
            self._span.end()


class TracingMiddleware:
    """WSGI middleware that runs each request in a SERVER span (see the module docstring);
    ``excluded_urls`` names the exclusion variable (``""``: none), ``label`` the log keys."""

    def __init__(
        self, wsgi_app: WSGIApp, excluded_urls: str = "", label: str = "wsgi"
    ) -> None:
        self.wsgi_app = wsgi_app
        self.excluded_urls = excluded_urls
        self.label = label

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        span = start(environ, self.excluded_urls, label=self.label)
        if span is None:
            return self.wsgi_app(environ, start_response)
        label = self.label

        def traced_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            try:
                record_status(span, status)
                capture_response_headers(span, headers)
            except Exception as exc:  # pragma: no cover - defensive
                warn_once(f"{label}-status", "codetrace: could not read the status", exc=exc)
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        span.activate()
        try:
            result = self.wsgi_app(environ, traced_start_response)
        except BaseException as exc:
            span.deactivate()
            fail_once(span, exc)
            span.end()
            raise
        span.deactivate()
        if environ.get(COMPLETE_KEY):
            # the body is in memory: the request is handled. Ending here also traces requests
            # whose body nobody reads or closes (a test client checking only the status).
            span.end()
        return TracedResponse(result, span)
