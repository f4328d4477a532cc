"""Adapter for rule ``urllib3.request``: a CLIENT span per module-level ``urllib3.request(...)``.

``urllib3.request(method, url, ...)`` (urllib3 2) sends through a ``PoolManager`` that urllib3
builds for itself, so no construction site of the project's reaches it: the call site is
wrapped instead, and the span covers the whole call, redirects included (urllib3 follows them
inside it). The trace headers go into a new ``headers=`` mapping (the caller's plus the ones
it lacks; the manager's default headers when the caller gave none), which every hop carries:
the servers of all hops see this span as their parent. OpenTelemetry, which patches the pools
urllib3 builds, makes one span per hop here; a traced ``PoolManager`` the project builds does
too (``_urllib3``).

Same attributes as ``_urllib3``; a CLIENT span already current (a traced client above), a mock,
or an excluded URL (``OTEL_PYTHON_URLLIB3_EXCLUDED_URLS``) is called through untraced. A
callee that is not urllib3's ``request`` function gets a generic ``HTTP`` CLIENT span and its
arguments untouched.
"""

from __future__ import annotations

import sys

from . import _captured_headers
from ._excluded_urls import excluded
from ._http import as_text, is_mock
from ._log import warn_once
from ._nested_client import inside_client_span
from ._propagation import inject
from ._urllib3 import EXCLUDED_URLS, headers_with, record_response, start

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def _genuine(callee: object) -> bool:
    return (
        getattr(callee, "__name__", None) == "request"
        and getattr(callee, "__module__", None) in ("urllib3", "urllib3._request_methods")
        and not hasattr(callee, "__self__")
    )


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``callee(*args, **kwargs)`` in a CLIENT span (see the module docstring)."""
    try:
        if inside_client_span() or is_mock(callee):
            return callee(*args, **kwargs)
        genuine = _genuine(callee)
        method = url = None
        if genuine:
            method = as_text(args[0] if args else kwargs.get("method"))
            url = as_text(args[1] if len(args) > 1 else kwargs.get("url"))
            if url is not None and excluded(url, EXCLUDED_URLS):
                return callee(*args, **kwargs)
        span = start(method, url)
    except Exception as exc:
        warn_once("urllib3-request", "codetrace: urllib3 request left untraced", exc=exc)
        return callee(*args, **kwargs)
    # From here on the span is current: nothing may escape before it ends.
    if genuine:
        try:
            injected: dict[str, str] = {}
            inject(injected, span=span)
            given = kwargs.get("headers")
            if given is None:  # urllib3 would send its default manager's headers
                given = getattr(getattr(sys.modules.get("urllib3"), "_DEFAULT_POOL", None),
                                "headers", None)
            headers = headers_with(given, injected) if injected else None
            if headers is not None:
                kwargs = {**kwargs, "headers": headers}
        except Exception as exc:
            warn_once("urllib3-headers", "codetrace: could not add trace headers", exc=exc)
    try:
        response = callee(*args, **kwargs)
    except BaseException as exc:
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    if genuine:
        sent = None
        if _captured_headers.client is not False and _captured_headers.wanted("client"):
            sent = kwargs.get("headers")
            if sent is None:
                sent = getattr(getattr(sys.modules.get("urllib3"), "_DEFAULT_POOL", None),
                               "headers", None)
        record_response(span, response, sent)
    span.__exit__(None, None, None)
    return response
