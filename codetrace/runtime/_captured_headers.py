"""Which HTTP headers become span attributes: ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_*``.

Headers are off by default: they carry cookies and tokens, and a deployment opts in per
direction with OpenTelemetry's variables, which codetrace reads with the same meaning so one
configuration serves both:

* ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST`` /
  ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE``: the request headers a server
  hook receives, the response headers it sends;
* ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST`` /
  ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE``: the request headers a client
  adapter sends, the response headers it receives. OpenTelemetry Python captures client
  headers only in some of its instrumentations; codetrace does it in every client adapter;
* ``OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS``: headers whose values are
  recorded as ``[REDACTED]`` (the header is still recorded, so its presence shows).

Each value is a comma-separated list of regular expressions, case-insensitive. A capture entry
must match the whole header name (``x-.*`` captures ``X-Request-Id``; ``.*`` captures every
header), as OpenTelemetry's ``fullmatch``; a sanitise entry need only be found in the name
(``re.search``: ``token`` redacts ``X-Auth-Token``), as OpenTelemetry's.

A captured header becomes ``http.request.header.<name>`` / ``http.response.header.<name>``,
``<name>`` the header name in lower case (dashes kept, as the current HTTP semantic
conventions write it: ``http.request.header.x-request-id``; OpenTelemetry Python writes
``x_request_id``), and its value is a list of strings, one per time the header occurs (a server
that joined repeated request headers into one line gives one string). A header the request or
response lacks gives no attribute.

Bounded, whatever arrives: at most :data:`MAX_HEADERS` header attributes per call and never
past the span's attribute count limit (``_limits``), at most :data:`MAX_VALUES` values per
header, each cut to :data:`MAX_VALUE_LENGTH` characters (a configured
``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT`` cuts further when the span ends).

Departures, on purpose: blank entries are dropped, and an entry that is not a valid
expression is logged once and ignored rather than failing the application.

The variables are read once, on first use, and the expressions cached;
``codetrace.runtime.reset()`` forgets them (:func:`forget`). With none set, each call is one
check of a cached ``None`` (measured in tests/runtime_adapters/test_captured_headers.py).
"""

from __future__ import annotations

from . import _span
from ._env import env_value, regex_list
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Iterable, Iterator
    from typing import Any, Literal

    Kind = Literal["server", "client"]

MAX_HEADERS = 64
"""Header attributes one call adds at most."""
MAX_VALUES = 16
"""Values kept per header (a header repeated more often keeps its first ones)."""
MAX_VALUE_LENGTH = 8192
"""Characters kept per value."""
REDACTED = "[REDACTED]"

SANITIZE_FIELDS = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"

_loaded = False
_nothing = False
"""Loaded, and no header is captured in any direction: the no-op path's one check."""
client: bool | None = None
"""Whether a client captures any header: ``None`` until the variables are read. A client
adapter's per-request test is ``client is not False and wanted("client")``: a read, no call,
when nothing is captured (the requests adapter counts its calls)."""
server: bool | None = None
"""The same for server hooks."""
_server_request: re.Pattern[str] | None = None
_server_response: re.Pattern[str] | None = None
_client_request: re.Pattern[str] | None = None
_client_response: re.Pattern[str] | None = None
_sanitize: re.Pattern[str] | None = None


def _compile(variable: str) -> re.Pattern[str] | None:
    return regex_list(variable, env_value(variable), ignore_case=True)


def _load() -> None:
    global _loaded, _server_request, _server_response, _client_request, _client_response
    global _sanitize, _nothing, client, server
    _server_request = _compile("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST")
    _server_response = _compile("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE")
    _client_request = _compile("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_REQUEST")
    _client_response = _compile("OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_CLIENT_RESPONSE")
    _sanitize = _compile(SANITIZE_FIELDS)
    _nothing = (_server_request, _server_response, _client_request, _client_response) == (
        None, None, None, None
    )
    client = _client_request is not None or _client_response is not None
    server = _server_request is not None or _server_response is not None
    _loaded = True


def wanted(kind: Kind, direction: Literal["request", "response"] | None = None) -> bool:
    """Whether any header of ``kind`` (in ``direction``, or in either) is captured: lets a
    caller skip finding and building header lists that would not be read. The no-op path of
    every adapter is this call."""
    if _nothing:
        return False
    if not _loaded:
        _load()
    if kind == "server":
        request, response = _server_request, _server_response
    else:
        request, response = _client_request, _client_response
    if direction == "request":
        return request is not None
    if direction == "response":
        return response is not None
    return request is not None or response is not None


def header_pairs(headers: object) -> Iterator[tuple[str | bytes, str | bytes]]:
    """``(name, value)`` per value of a headers object, lazily: httpx's ``Headers``
    (``multi_items``), a mapping whose ``items()`` repeats a name per value (urllib3's
    ``HTTPHeaderDict``, aiohttp's ``CIMultiDict``, ``http.client.HTTPMessage``) or joins them
    (requests' ``CaseInsensitiveDict``, a ``dict``), or a list of pairs (WSGI, ASGI). Nothing
    for ``None`` or anything else."""
    if headers is None:
        return
    multi_items = getattr(headers, "multi_items", None)
    items = multi_items if callable(multi_items) else getattr(headers, "items", None)
    pairs = items() if callable(items) else headers if isinstance(headers, list | tuple) else ()
    for pair in pairs:
        if isinstance(pair, tuple) and len(pair) == 2:
            yield pair


def request_headers(
    kind: Kind, headers: Iterable[tuple[str | bytes, str | bytes]], attributes: dict[str, Any]
) -> None:
    """Add the captured request headers among ``headers`` (name, value pairs, a name repeated
    once per value; ``str`` or latin-1 ``bytes``) to ``attributes`` (a recording span's).

    ``headers`` is not iterated when nothing is captured. Never raises."""
    if _nothing:
        return
    if not _loaded:
        _load()
    pattern = _server_request if kind == "server" else _client_request
    if pattern is not None:
        _capture(pattern, "http.request.header.", headers, attributes)


def response_headers(
    kind: Kind, headers: Iterable[tuple[str | bytes, str | bytes]], attributes: dict[str, Any]
) -> None:
    """:func:`request_headers` for the response's headers (``http.response.header.*``)."""
    if _nothing:
        return
    if not _loaded:
        _load()
    pattern = _server_response if kind == "server" else _client_response
    if pattern is not None:
        _capture(pattern, "http.response.header.", headers, attributes)


def client_exchange(attributes: dict[str, Any], sent: object, received: object) -> None:
    """A client adapter's capture: the headers objects it sent and received (either may be
    ``None``; see :func:`header_pairs`). Callers check :func:`wanted` first."""
    request_headers("client", header_pairs(sent), attributes)
    response_headers("client", header_pairs(received), attributes)


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else bytes(value).decode("latin-1")


def _capture(
    pattern: re.Pattern[str],
    prefix: str,
    headers: Iterable[tuple[str | bytes, str | bytes]],
    attributes: dict[str, Any],
) -> None:
    try:
        captured: dict[str, list[str]] = {}
        sanitize = _sanitize
        for raw_name, raw_value in headers:
            name = _text(raw_name)
            if pattern.fullmatch(name) is None:
                continue
            key = prefix + name.lower()
            values = captured.get(key)
            if values is None:
                if len(captured) >= MAX_HEADERS:
                    continue
                values = captured[key] = []
            if len(values) >= MAX_VALUES:
                continue
            if sanitize is not None and sanitize.search(name) is not None:
                values.append(REDACTED)
            else:
                values.append(_text(raw_value)[:MAX_VALUE_LENGTH])
        limit = _span.attribute_count_limit
        for key, values in captured.items():
            if key not in attributes and len(attributes) >= limit:
                break
            attributes[key] = values
    except Exception as exc:  # headers of an odd type: the request goes on without them
        warn_once("captured-headers", "codetrace: could not capture HTTP headers", exc=exc)


def forget() -> None:
    """Read the variables again on next use (``codetrace.runtime.reset()``)."""
    global _loaded, _nothing, client, server
    _loaded = _nothing = False
    client = server = None
