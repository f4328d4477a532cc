"""HTTP semantic conventions shared by the client adapter and the server hook.

Stable OpenTelemetry HTTP conventions:

* ``http.request.method`` is one of the known methods; any other becomes ``_OTHER`` with the
  original in ``http.request.method_original``, and the span name uses ``HTTP`` instead.
* ``url.full`` never carries credentials: a userinfo part becomes ``REDACTED:REDACTED``, and the
  values of sensitive parameters (the conventions' list and a wider documented one,
  configurable) become ``REDACTED``, keys kept in place; everything else is left byte for byte,
  the URL is not re-encoded. The rules live in ``_redact``.
* ``server.address``/``server.port`` come from the URL's authority, the port defaulting to 80
  or 443 by scheme.
* ``error.type`` is the status code as text for failures (4xx and 5xx on a client, 5xx on a
  server) and the exception's qualified class name when one ended the request.

The client adapters (``_requests``, ``_httpx``) also share here how they recognise a genuine
callee (not a ``unittest.mock`` object), read header names, and choose which trace headers a
request may still receive (:func:`missing_headers`).

URLs are split by hand rather than with :mod:`urllib.parse`: the split must never raise (an
invalid IPv6 literal makes ``urlsplit`` raise) and must not normalise what it does not change.
"""

from __future__ import annotations

import sys

from . import _redact
from ._redact import redact_query as redact_query  # url.query (``_flask``)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KNOWN_METHODS = frozenset(
    ("CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE")
)
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


def span_name_for(method: str) -> str:
    """The method as it appears in a span name: itself if known, else ``HTTP``."""
    return method if method in KNOWN_METHODS else "HTTP"


def method_attributes(method: str, attributes: dict[str, Any]) -> str:
    """Set the method attributes for ``method``; return the name to use in the span name."""
    if method in KNOWN_METHODS:
        attributes["http.request.method"] = method
        return method
    attributes["http.request.method"] = "_OTHER"
    attributes["http.request.method_original"] = method
    return "HTTP"


def split_url(url: str) -> tuple[str, str, str] | None:
    """``(scheme, authority, rest)`` of an absolute URL, or ``None`` if it has no ``scheme://``."""
    sep = url.find("://")
    if sep <= 0:
        return None
    scheme = url[:sep]
    if not _SCHEME_CHARS.issuperset(scheme) or not scheme[0].isalpha():
        return None
    rest = url[sep + 3 :]
    end = len(rest)
    for delimiter in "/?#":
        position = rest.find(delimiter)
        if 0 <= position < end:
            end = position
    return scheme, rest[:end], rest[end:]


def redact_url(url: str, parts: tuple[str, str, str] | None = None) -> str:
    """``url`` fit for ``url.full``: no credentials, no signatures (see ``_redact``).

    ``parts`` is ``split_url(url)`` when the caller has it already.
    """
    return _redact.redact_url(url, split_url(url) if parts is None else parts)


def host_and_port(authority: str, scheme: str) -> tuple[str | None, int | None]:
    """Host (IPv6 without brackets) and port of an authority; port defaults by ``scheme``."""
    hostport = authority[authority.rfind("@") + 1 :]
    port_text = ""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            return None, None
        host = hostport[1:close]
        if hostport[close + 1 : close + 2] == ":":
            port_text = hostport[close + 2 :]
    else:
        host, sep, port_text = hostport.rpartition(":")
        if not sep:
            host, port_text = hostport, ""
    port: int | None = None
    if port_text:
        if port_text.isascii() and port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
    else:
        port = DEFAULT_PORTS.get(scheme.lower())
    return (host or None), port


def describe_url(url: str) -> tuple[str, str | None, int | None]:
    """``(url.full, server.address, server.port)`` for a client request to ``url``.

    Remembered per URL (up to :data:`URL_CACHE_SIZE` distinct URLs, then forgotten all at
    once): a client calls the same few URLs over and over, and splitting and redacting one
    costs more than the rest of its span. A URL with an ``@`` (credentials, perhaps) is never
    kept.
    """
    described = _described.get(url)
    if described is not None:
        return described
    parts = split_url(url)
    if parts is None:
        described = (redact_url(url, parts), None, None)
    else:
        host, port = host_and_port(parts[1], parts[0])
        described = (redact_url(url, parts), host or None, port)
    if "@" not in url:
        if len(_described) >= URL_CACHE_SIZE:
            _described.clear()
        _described[url] = described
    return described


URL_CACHE_SIZE = 256
_described: dict[str, tuple[str, str | None, int | None]] = {}
_redact.on_change(_described.clear)  # a new list of sensitive keys: describe again


def url_attributes(url: str, attributes: dict[str, Any]) -> None:
    """Set ``url.full``, ``server.address`` and ``server.port`` for a client request to ``url``."""
    described = _described.get(url)  # describe_url's cache, read here to save a call
    full, host, port = described if described is not None else describe_url(url)
    attributes["url.full"] = full
    if host:
        attributes["server.address"] = host
    if port is not None:
        attributes["server.port"] = port


# -- shared by the client adapters ----------------------------------------------------------------

SIMPLE_METHODS = {
    "get": "GET",
    "post": "POST",
    "put": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "head": "HEAD",
    "options": "OPTIONS",
}
"""Client methods named after one HTTP method (``get`` -> ``GET``), in requests and httpx."""
B3_MULTI = frozenset(("x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"))


def is_mock(callee: object) -> bool:
    mock = sys.modules.get("unittest.mock")
    if mock is None:
        return False
    base = mock.NonCallableMock
    return isinstance(callee, base) or isinstance(getattr(callee, "mock", None), base)


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def header_names_of(headers: object) -> set[str]:
    """The lowercase names of ``headers`` (``str`` or ``bytes`` keys; others ignored)."""
    names: set[str] = set()
    if not headers:
        return names
    for key in headers:  # type: ignore[attr-defined]
        if type(key) is not str:
            if isinstance(key, bytes):
                key = key.decode("latin-1")
            elif not isinstance(key, str):
                continue
        names.add(key.lower())
    return names


def missing_headers(injected: dict[str, str], present: set[str]) -> dict[str, str]:
    """The injected headers the request does not already carry (``injected`` itself if all)."""
    if present.isdisjoint(injected) and present.isdisjoint(B3_MULTI):
        return injected
    if "traceparent" in present:
        present = present | {"tracestate"}
    if not present.isdisjoint(B3_MULTI):
        present = present | B3_MULTI
    return {key: value for key, value in injected.items() if key not in present}
