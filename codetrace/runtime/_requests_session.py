"""Adapter for rule ``requests.session``: a ``requests.Session`` traced from construction.

``_codetrace.traced(requests.Session, "requests.session")()`` (or a project subclass of
``Session``) builds the session as an instance of a traced subclass of the class called
(``_construct``) that overrides ``Session.send``, the documented funnel every request of a
session goes through (``get``/``post``/``request`` prepare a request and call
``self.send``). Each ``send`` makes the CLIENT span the call-site adapter ``requests.send``
makes for ``Session.send(prepared)`` (``_requests.traced_send``): same name, attributes and
trace headers. Redirects call ``send`` again, inside the first span: one span per hop, as
OpenTelemetry's requests instrumentation (which wraps ``Session.send``) does. A project
subclass's own ``send`` runs inside the span.

Where the trace headers go: a request the caller holds (``session.send(prepared)``) is never
changed, the headers go on a copy. The request ``Session.request`` (so ``get``, ``post``...)
builds for itself is nobody else's: it gets the headers in place, which is what brings a
traced session's request close to an untraced one (the copy was a fifth of what tracing
added). ``send`` knows which case it is in from the code object of the function that called
it (``sys._getframe(1).f_code``): requests' own ``Session.request``, and only while
``prepare_request`` is requests' own (a project's could hand out a request it keeps). When in
doubt (another caller, a patched method, no ``sys._getframe``) it copies. Redirect hops copy
too: each hop's request is copied by requests from the one before, whose ``traceparent`` must
stay the first span's for the next hop to recognise it as inherited.

Any other callee (``requests.session``, a factory function, a mock of ``Session``, a class that
is not a ``Session``) is called unchanged and its result returned: ``requests`` is never
imported, only looked up in :data:`sys.modules` (a ``Session`` subclass implies it is loaded).
"""

from __future__ import annotations

import sys

from ._construct import is_class, traced_subclass
from ._log import warn_once
from ._requests import traced_send

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

KIND = "requests.session"


def _plain_function(owner: object, name: str) -> Any:
    """``owner.name`` if that is a plain Python function, else ``None`` (a mock or a patched
    method is never taken for requests' own, and ``None`` matches no caller)."""
    function = getattr(owner, name, None)
    return function if type(function) is type(_plain_function) else None


_getframe: Callable[[int], Any] | None = getattr(sys, "_getframe", None)


def _namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    sessions = sys.modules.get("requests.sessions")
    base = getattr(sessions, "Session", None)
    request_code = getattr(_plain_function(base, "request"), "__code__", None)
    prepare_request = _plain_function(base, "prepare_request")
    traced: list[Any] = []
    getframe = _getframe

    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not traced:
            traced.append(subclass())
        # The request is the session's own when requests built it for this call (see the
        # module docstring); anything else is the caller's, copied before it is changed.
        own = (
            getframe is not None
            and getframe(1).f_code is request_code
            and request_code is not None
            and type(self).prepare_request is prepare_request
        )
        return traced_send(super(traced[0], self).send, args, kwargs, own)

    send.__qualname__ = f"{cls.__qualname__}.send"
    send.__doc__ = getattr(getattr(cls, "send", None), "__doc__", None)
    return {"send": send}


def session_class(callee: object) -> type | None:
    """The traced subclass to build instead of ``callee``, or ``None`` to call it unchanged."""
    if not is_class(callee):
        return None
    sessions = sys.modules.get("requests.sessions")
    base = getattr(sessions, "Session", None) if sessions is not None else None
    if base is None or not issubclass(callee, base):  # type: ignore[arg-type]
        return None
    return traced_subclass(callee, KIND, _namespace)  # type: ignore[arg-type]


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``, as a traced session when ``callee`` is a ``Session`` class."""
    try:
        cls = session_class(callee)
    except Exception as exc:
        warn_once("requests-session", "codetrace: session left untraced", exc=exc)
        cls = None
    if cls is None:
        return callee(*args, **kwargs)
    return cls(*args, **kwargs)
