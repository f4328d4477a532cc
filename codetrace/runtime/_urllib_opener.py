"""Adapter for rule ``urllib.opener``: an opener from ``build_opener(...)`` traced for its life.

The project's ``build_opener(*handlers)`` builds an ``OpenerDirector`` inside urllib, so there
is no class of the project's to subclass. urllib's own extension point is the handler, and
``build_opener`` documents how to replace a default one: it adds ``HTTPHandler`` and
``HTTPSHandler`` "unless the handlers contain them, instances of them or subclasses of them".
So the adapter passes traced subclasses of those two (``_construct``) whose ``http_open``/
``https_open`` (the method that sends one request and returns its response) makes the CLIENT
span:

* no HTTP(S) handler among the caller's: the traced ones are added (what urllib would add,
  traced); a handler *class* of the caller's (``HTTPSHandler``, a project subclass) is passed
  as its traced subclass, which ``build_opener`` instantiates; a handler *instance* of the
  caller's (``HTTPSHandler(context=ctx)``) is passed as a traced copy with the same settings
  (the caller's instance is never changed; settings changed on it after ``build_opener`` do
  not reach the opener).
* Why a handler's ``*_open`` and not ``http_request``/``http_response`` processors: a span must
  end however the request ends, and a refused connection raises out of ``*_open`` with no hook
  after it; and why not a subclass of ``OpenerDirector``: ``build_opener`` builds that one.

One span per request sent (per hop): urllib follows a redirect after ``*_open`` has returned,
by opening a new request, which gets its own span and ``traceparent``. Same attributes as
``_urllib``; the response is the raw one (before urllib turns a 4xx/5xx into ``HTTPError``), so
the span has its status code. The trace headers are on the request for the time of the send,
then taken off (``_urllib.add_headers``). Under a ``urlopen`` call site that is traced (an
opener given to ``install_opener``), or any CLIENT span, it makes none (``_nested_client``).
A plain ``OpenerDirector()`` the project fills itself is not traced.
"""

from __future__ import annotations

import sys

from ._construct import FUNNEL, is_class, traced_subclass
from ._excluded_urls import excluded
from ._http import is_mock
from ._log import warn_once
from ._nested_client import inside_client_span
from ._urllib import EXCLUDED_URLS, add_headers, describe, remove_headers, sent_headers
from ._urllib3 import record_response, start

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

KIND = "urllib.opener"
_SENDERS = (("HTTPHandler", "http_open"), ("HTTPSHandler", "https_open"))


def traced_open(open_: Callable[..., Any], request: Any) -> Any:
    """``open_(request)`` (a handler's own ``http_open``, bound) in the request's CLIENT span."""
    added: list[tuple[str, str]] = []
    try:
        if inside_client_span() or is_mock(open_):
            return open_(request)
        described = describe(request)
        if described is None or excluded(described[1], EXCLUDED_URLS):
            return open_(request)
        span = start(*described)
    except Exception as exc:
        warn_once("urllib-opener", "codetrace: urllib request left untraced", exc=exc)
        return open_(request)
    try:
        added = add_headers(request, span)
    except Exception as exc:
        warn_once("urllib-headers", "codetrace: could not add trace headers", exc=exc)
    try:
        response = open_(request)
    except BaseException as exc:
        if added:
            remove_headers(request, added)
        span.__exit__(type(exc), exc, exc.__traceback__)
        raise
    sent = sent_headers(request)
    if added:
        remove_headers(request, added)
    record_response(span, response, sent)
    span.__exit__(None, None, None)
    return response


def _namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for _, name in _SENDERS:
        if callable(getattr(cls, name, None)):
            body[name] = _sender(cls, name, subclass)
    return body


def _sender(cls: type, name: str, subclass: Callable[[], Any]) -> Callable[..., Any]:
    def send(self: Any, request: Any) -> Any:
        return traced_open(getattr(super(subclass(), self), name), request)

    send.__name__ = name
    send.__qualname__ = f"{cls.__qualname__}.{name}"
    send.__doc__ = getattr(getattr(cls, name, None), "__doc__", None)
    return send


def _bases() -> list[type]:
    module = sys.modules.get("urllib.request")
    found: list[Any] = [getattr(module, name, None) for name, _ in _SENDERS]
    return [cls for cls in found if is_class(cls)]


def _traced_handler(handler: object) -> object:
    """The traced form of one of the caller's HTTP(S) handler arguments (class or instance)."""
    if is_class(handler):
        return traced_subclass(handler, KIND, _namespace) or handler  # type: ignore[arg-type]
    cls = type(handler)
    if getattr(cls, FUNNEL, None) is not None:
        return handler
    traced = traced_subclass(cls, KIND, _namespace)
    state = getattr(handler, "__dict__", None)
    if traced is None or type(state) is not dict:
        return handler
    copy: Any = object.__new__(traced)
    copy.__dict__.update(state)
    return copy


def handlers_for(handlers: tuple[Any, ...]) -> tuple[Any, ...]:
    """The handlers to give ``build_opener``: the caller's, with traced HTTP(S) senders."""
    result = list(handlers)
    for base in _bases():
        found = False
        for index, handler in enumerate(result):
            cls = handler if is_class(handler) else type(handler)
            if issubclass(cls, base):
                result[index] = _traced_handler(handler)
                found = True
        if not found and (base.__name__ != "HTTPSHandler" or _has_https()):
            result.append(traced_subclass(base, KIND, _namespace) or base)
    return tuple(result)


def _has_https() -> bool:
    return hasattr(sys.modules.get("http.client"), "HTTPSConnection")


def _genuine(callee: object) -> bool:
    return (
        getattr(callee, "__name__", None) == "build_opener"
        and getattr(callee, "__module__", None) == "urllib.request"
    )


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``; ``build_opener``'s opener gets traced HTTP(S) handlers."""
    try:
        if is_mock(callee) or not _genuine(callee) or kwargs:
            return callee(*args, **kwargs)
        handlers = handlers_for(args)
    except Exception as exc:
        warn_once("urllib-opener", "codetrace: urllib opener left untraced", exc=exc)
        return callee(*args, **kwargs)
    return callee(*handlers)
