"""Adapter for rule ``requests.session``: a ``requests.Session`` traced from construction.

``_codetrace.traced(requests.Session, "requests.session")()`` (or a project subclass of
``Session``) builds the session as an instance of a traced subclass of the class called
(``_construct``) that overrides ``Session.send``, the documented funnel every request of a
session goes through (``get``/``post``/``request`` prepare a request and call
``self.send``). Each ``send`` makes the CLIENT span the call-site adapter ``requests.send``
makes for ``Session.send(prepared)`` (``_requests.traced_send``): same name, attributes and
trace headers (on a copy of the prepared request). Redirects call ``send`` again, inside the
first span: one span per hop, as OpenTelemetry's requests instrumentation (which wraps
``Session.send``) does. A project subclass's own ``send`` runs inside the span.

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


def _namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        return traced_send(super(subclass(), self).send, args, kwargs)

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
