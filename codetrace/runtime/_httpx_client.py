"""Adapter for rule ``httpx.client``: an ``httpx.Client``/``AsyncClient`` traced from construction.

``_codetrace.traced(httpx.Client, "httpx.client")(base_url=u)`` (``AsyncClient``, or a project
subclass of either) builds the client as an instance of a traced subclass (``_construct``) that
overrides ``send``, the documented funnel of every request (``get``/``post``/``request``/
``stream`` build a request and call ``self.send``). Each ``send`` makes the CLIENT span the
call-site adapter ``httpx.send`` makes for ``client.send(request)`` (``_httpx.traced_send``):
same name, attributes, and trace headers on a copy of the request. httpx follows redirects
inside one ``send``, so a request with redirects is one span (as with the call-site adapter).
``AsyncClient.send`` stays a coroutine function; its span is current in the awaiting task.

Any other callee (a factory function, a mock, a class that is neither client) is called
unchanged. ``httpx`` is never imported, only looked up in :data:`sys.modules`.
"""

from __future__ import annotations

import sys

from ._construct import is_class, traced_subclass
from ._httpx import traced_send, traced_send_async
from ._log import warn_once

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

KIND = "httpx.client"


def _sync_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        return traced_send(super(subclass(), self).send, args, kwargs)

    send.__qualname__ = f"{cls.__qualname__}.send"
    send.__doc__ = getattr(getattr(cls, "send", None), "__doc__", None)
    return {"send": send}


def _async_namespace(cls: type, subclass: Callable[[], Any]) -> dict[str, Any]:
    async def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        return await traced_send_async(super(subclass(), self).send, args, kwargs)

    send.__qualname__ = f"{cls.__qualname__}.send"
    send.__doc__ = getattr(getattr(cls, "send", None), "__doc__", None)
    return {"send": send}


def client_class(callee: object) -> type | None:
    """The traced subclass to build instead of ``callee``, or ``None`` to call it unchanged."""
    if not is_class(callee):
        return None
    # ``httpx._client`` first: ``mock.patch("httpx.Client")`` replaces the public name only.
    module = sys.modules.get("httpx._client") or sys.modules.get("httpx")
    if module is None:
        return None
    sync = getattr(module, "Client", None)
    if is_class(sync) and issubclass(callee, sync):  # type: ignore[arg-type]
        return traced_subclass(callee, KIND, _sync_namespace)  # type: ignore[arg-type]
    asynchronous = getattr(module, "AsyncClient", None)
    if is_class(asynchronous) and issubclass(callee, asynchronous):  # type: ignore[arg-type]
        return traced_subclass(callee, KIND, _async_namespace)  # type: ignore[arg-type]
    return None


def adapter(callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``callee(*args, **kwargs)``, as a traced client when ``callee`` is an httpx client class."""
    try:
        cls = client_class(callee)
    except Exception as exc:
        warn_once("httpx-client", "codetrace: httpx client left untraced", exc=exc)
        cls = None
    if cls is None:
        return callee(*args, **kwargs)
    return cls(*args, **kwargs)
