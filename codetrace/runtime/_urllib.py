"""Adapter for rule ``urllib.urlopen``: a CLIENT span per ``urllib.request.urlopen(...)``.

``urlopen`` opens through the process-wide opener (urllib's default, or the one given to
``install_opener``), which the project did not build here: the call site is wrapped, and the
span covers the whole call, redirects included (urllib follows them inside it, copying the
request's headers to each new request: every hop's server sees this span as its parent). This
is OpenTelemetry's urllib span too (it patches ``OpenerDirector.open`` for everyone, and makes
no span for the ``open`` calls its redirects make). Openers the project builds are traced at
construction instead, one span per hop (``_urllib_opener``).

* Only ``http``/``https`` URLs are traced (``file:``, ``data:`` and ``ftp:`` are no HTTP
  request); span name = method (``Request.get_method()``: ``POST`` when there is a body),
  ``http.request.method``, ``url.full`` (redacted), ``server.address``/``server.port``,
  ``http.response.status_code``. urllib raises ``HTTPError`` for a 4xx/5xx: the span takes its
  code (``error.type`` is the code, status ``ERROR``) and the error goes on unchanged; any other
  exception sets ``error.type`` to its class (``urllib.error.URLError`` for a refused
  connection).
* Trace headers: a URL given as a string becomes a ``Request`` of ours that carries them
  (``OpenerDirector.open`` makes exactly that ``Request`` from a string). A ``Request`` the
  caller passes gets the ones it lacks for the time of the call and loses them after, so the
  caller's object is as it was (a ``Request`` sent again gets fresh ones).
* Called through untraced: a mock, a CLIENT span already current (``_nested_client``), an
  excluded URL (``OTEL_PYTHON_URLLIB_EXCLUDED_URLS`` or ``OTEL_PYTHON_EXCLUDED_URLS``). A callee
  that is not urllib's ``urlopen`` gets a generic ``HTTP`` CLIENT span, arguments untouched.
"""

from __future__ import annotations

import sys

from . import _captured_headers
from ._excluded_urls import excluded
from ._http import header_names_of, is_mock, missing_headers
from ._log import warn_once
from ._nested_client import inside_client_span
from ._propagation import inject
from ._urllib3 import record_response, start
from ._values import StatusCode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ._span import Span

EXCLUDED_URLS = "OTEL_PYTHON_URLLIB_EXCLUDED_URLS"
_HTTP_SCHEMES = ("http://", "https://")


def describe(request: object, data: object = None) -> tuple[str, str] | None:
    """``(method, url)`` of an HTTP request given as a URL string or a ``Request``."""
    if isinstance(request, str):
        url = request.strip()
        method = "GET" if data is None else "POST"
    else:
        full_url = getattr(request, "full_url", None)
        get_method = getattr(request, "get_method", None)
        if not isinstance(full_url, str) or not callable(get_method):
            return None
        url = full_url
        method = get_method()
        if not isinstance(method, str):
            return None
    if not url[:8].lower().startswith(_HTTP_SCHEMES):
        return None
    return method, url


def add_headers(request: Any, span: Span) -> list[tuple[str, str]]:
    """Put the trace headers ``request`` lacks on it; return what was added, for
    :func:`remove_headers`. (``Request.add_header`` stores names capitalised.)"""
    injected: dict[str, str] = {}
    inject(injected, span=span)
    if not injected:
        return []
    present = header_names_of(request.headers) | header_names_of(request.unredirected_hdrs)
    added = []
    for name, value in missing_headers(injected, present).items():
        key = name.capitalize()
        request.headers[key] = value
        added.append((key, value))
    return added


def remove_headers(request: Any, added: list[tuple[str, str]]) -> None:
    """Take back what :func:`add_headers` put on ``request`` (if it is still ours)."""
    try:
        headers = request.headers
        for key, value in added:
            if headers.get(key) == value:
                del headers[key]
    except Exception as exc:
        warn_once("urllib-headers", "codetrace: could not remove trace headers", exc=exc)


def sent_headers(request: object) -> object:
    """The headers urllib sent with ``request`` (``header_items()``: the caller's, ours, and
    the ``Host``/``User-agent``/... urllib adds), when headers are captured; else ``None``.
    Read before :func:`remove_headers` takes ours back."""
    if not _captured_headers.client is not False and _captured_headers.wanted("client"):
        return None
    items = getattr(request, "header_items", None)
    return items() if callable(items) else None


def record_error(span: Span, exc: BaseException, sent: object = None) -> None:
    """An ``HTTPError`` is a response: its code is the span's status code (and its headers the
    response's, for ``_captured_headers``)."""
    code = getattr(exc, "code", None)
    if type(code) is int and span.is_recording() and type(exc).__name__ == "HTTPError":
        span.set_attribute("http.response.status_code", code)
        if code >= 400:
            span.set_attribute("error.type", str(code))
            span.set_status(StatusCode.ERROR)
        if _captured_headers.client is not False and _captured_headers.wanted("client"):
            _captured_headers.client_exchange(
                span.attributes, sent, getattr(exc, "headers", None)
            )


def _request_class() -> Any:
    return getattr(sys.modules.get("urllib.request"), "Request", None)


def _genuine(callee: object) -> bool:
    return (
        getattr(callee, "__name__", None) == "urlopen"
        and getattr(callee, "__module__", None) == "urllib.request"
    )


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``callee(*args, **kwargs)`` in a CLIENT span (see the module docstring)."""
    try:
        if inside_client_span() or is_mock(callee):
            return callee(*args, **kwargs)
        described = None
        genuine = _genuine(callee)
        if genuine:
            target = args[0] if args else kwargs.get("url")
            data = args[1] if len(args) > 1 else kwargs.get("data")
            described = describe(target, data)
            if described is None or excluded(described[1], EXCLUDED_URLS):
                return callee(*args, **kwargs)  # not HTTP, or excluded
        span = start(*described) if described is not None else start(None, None)
    except Exception as exc:
        warn_once("urllib-adapter", "codetrace: urlopen left untraced", exc=exc)
        return callee(*args, **kwargs)
    # From here on the span is current: nothing may escape before it ends.
    added: list[tuple[str, str]] = []
    request: Any = None
    sent_request: Any = None
    if genuine:
        try:
            if isinstance(target, str):
                request_class = _request_class()
                if request_class is not None:
                    own = sent_request = request_class(target)
                    add_headers(own, span)
                    if args:
                        args = (own, *args[1:])
                    else:
                        kwargs = {**kwargs, "url": own}
            else:
                request = sent_request = target
                added = add_headers(request, span)
        except Exception as exc:
            warn_once("urllib-headers", "codetrace: could not add trace headers", exc=exc)
    try:
        response = callee(*args, **kwargs)
    except BaseException as exc:
        sent = sent_headers(sent_request) if genuine else None
        if added:
            remove_headers(request, added)
        if genuine:
            record_error(span, exc, sent)
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    sent = sent_headers(sent_request) if genuine else None
    if added:
        remove_headers(request, added)
    if genuine:
        record_response(span, response, sent)
    span.__exit__(None, None, None)
    return response
