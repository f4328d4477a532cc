"""``traced(callee, name)``: what every instrumented call site runs.

The engine rewrites ``resp = session.get(url, timeout=5)`` into
``resp = _codetrace.traced(session.get, "requests.send")(url, timeout=5)``. ``traced`` runs on
every such call, so it is kept to a dict lookup and a ``functools.partial`` (cheaper than a
closure, and it keeps the adapter's one Python frame the only one added): the adapter for
``name`` is found once and cached, and ``partial(adapter, callee)`` is returned. With
tracing disabled it returns ``callee`` itself.

The contract (docs/runtime-contract.md): the callee is called exactly once per call, with the
caller's arguments (an adapter may pass an extended *copy*, never a mutated original); its
result and its exception come back unchanged; ``traced`` itself never raises, and an adapter
that fails lets the call run untraced.

``name`` is the rule's ``adapter`` key (its id when it has none). Adapters are callables
``adapter(callee, /, *args, **kwargs)``. The built-in names map to private modules imported on
first use (``_catalogue.ADAPTERS``: ``requests.send`` -> ``_requests``); ``register_adapter``
adds more or overrides them; any other name gets a generic INTERNAL span named by the string.
The generic span also covers coroutine functions: when the callee returns a coroutine, the caller
gets a :class:`~._awaitable.TracedCoroutine` around it, and the span ends when that coroutine
ends, however it is consumed (awaited, made a task, cancelled, closed, dropped).
"""

from __future__ import annotations

from ._awaitable import CoroutineType, TracedCoroutine
from ._log import warn_once
from ._state import settings
from ._tracer import span as start_span
from ._values import SpanKind

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")
    Adapter = Callable[..., Any]


def _first_partial(adapter: Adapter, callee: Callable[..., Any]) -> Callable[..., Any]:
    """Import :mod:`functools` on the first traced call, not at import (it costs ~2 ms)."""
    global _partial
    from functools import partial

    # ``partial(adapter, callee)`` that shows the callee to introspection: frameworks that
    # read ``inspect.signature``, ``__wrapped__``, ``__name__`` or ``__doc__`` (dependency
    # injection, click, pytest) see the function the user wrote. Properties, so nothing is
    # read from the callee (a mock, say) unless something asks.
    class Traced(partial):  # type: ignore[type-arg]
        __slots__ = ()

        @property
        def __wrapped__(self) -> Any:
            return self.args[0]

        @property
        def __name__(self) -> Any:
            return getattr(self.args[0], "__name__", type(self.args[0]).__name__)

        @property
        def __doc__(self) -> Any:  # type: ignore[override]
            return getattr(self.args[0], "__doc__", None)

    Traced.__module__ = __name__
    _partial = Traced
    return Traced(adapter, callee)


_partial: Callable[[Adapter, Callable[..., Any]], Callable[..., Any]] = _first_partial

_adapters: dict[str, Adapter] = {}


class GenericAdapter:
    """A span of ``kind`` named ``name`` around the call (for names without an adapter)."""

    __slots__ = ("kind", "name")

    def __init__(self, name: str, kind: int = SpanKind.INTERNAL) -> None:
        self.name = name
        self.kind = kind

    def __call__(self, callee: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        try:
            span = start_span(self.name, kind=self.kind)
            span.activate()
        except Exception as exc:
            warn_once(f"adapter:{self.name}", "codetrace: cannot trace %s", self.name, exc=exc)
            return callee(*args, **kwargs)
        try:
            result = callee(*args, **kwargs)
        except BaseException as exc:
            span.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if type(result) is CoroutineType:
            span.deactivate()
            return TracedCoroutine(span, result)
        span.__exit__(None, None, None)
        return result

    def __repr__(self) -> str:
        return f"GenericAdapter({self.name!r}, kind={self.kind})"


def register_adapter(name: str, adapter: Callable[..., Any]) -> None:
    """Use ``adapter(callee, /, *args, **kwargs)`` for call sites of adapter ``name``.

    ``name`` is what instrumented code passes to :func:`traced` (a rule's ``adapter`` key, or
    its id); a built-in name is overridden. The adapter must call ``callee(*args, **kwargs)``
    exactly once and return its result or let its exception through; it should start its span
    with ``span(...)`` and use it as a context manager.
    """
    _adapters[name] = adapter


def _load(name: str) -> Adapter:
    from ._catalogue import ADAPTERS  # on the first call of each name only

    adapter: Adapter | None = None
    module_name = ADAPTERS.get(name)
    if module_name is not None:
        try:
            module = __import__(module_name, fromlist=["adapter"])
            adapter = module.adapter
        except Exception as exc:
            warn_once(
                f"adapter-import:{name}",
                "codetrace: adapter for %r failed to load; using a generic span",
                name,
                exc=exc,
            )
    if adapter is None:
        adapter = GenericAdapter(str(name))
    _adapters[name] = adapter
    return adapter


def traced(callee: Callable[P, R], name: str) -> Callable[P, R]:
    """A callable that runs ``callee(*args, **kwargs)`` inside the span chosen for ``name``.

    Returns ``callee`` itself when tracing is disabled (``OTEL_SDK_DISABLED=true``).
    """
    if settings.disabled:
        return callee
    try:
        adapter = _adapters.get(name)
        if adapter is None:
            adapter = _load(name)
        wrapped: Callable[P, R] = _partial(adapter, callee)
        return wrapped
    except Exception as exc:  # an unhashable name, say: run untraced
        warn_once("traced", "codetrace: traced() failed; calling untraced", exc=exc)
        return callee


def adapter_for(name: str) -> Adapter:
    """The adapter that handles ``name`` (loading it if needed); for tests and tools."""
    adapter = _adapters.get(name)
    return adapter if adapter is not None else _load(name)
