"""``traced(callee, rule_id)``: what every instrumented call site runs.

The engine rewrites ``resp = session.get(url, timeout=5)`` into
``resp = _codetrace.traced(session.get, "requests.send")(url, timeout=5)``. ``traced`` runs on
every such call, so it is kept to a dict lookup and a ``functools.partial`` (cheaper than a
closure, and it keeps the adapter's one Python frame the only one added): the adapter for
``rule_id`` is found once and cached, and ``partial(adapter, callee)`` is returned. With
tracing disabled it returns ``callee`` itself.

The contract (docs/runtime-contract.md): the callee is called exactly once per call, with the
caller's arguments (an adapter may pass an extended *copy*, never a mutated original); its
result and its exception come back unchanged; ``traced`` itself never raises, and an adapter
that fails lets the call run untraced.

Adapters are callables ``adapter(callee, /, *args, **kwargs)``. Built-in rule ids map to private
modules imported on first use (``requests.send`` -> ``_requests``); ``register_adapter`` adds
more; any other rule id gets a generic INTERNAL span named by the rule id. The generic span
also covers coroutine functions: when the callee returns a coroutine, the span ends when that
coroutine finishes (the caller gets a wrapping coroutine to await instead).
"""

from __future__ import annotations

from ._config import settings
from ._context import make_current, restore_current
from ._log import warn_once
from ._span import Span, SpanKind, is_failure
from ._tracer import span as start_span

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    R = TypeVar("R")
    Adapter = Callable[..., Any]


async def _probe() -> None:  # pragma: no cover - only used to learn the coroutine type
    return None


_probe_coroutine = _probe()
CoroutineType = type(_probe_coroutine)
_probe_coroutine.close()
del _probe_coroutine


def _first_partial(adapter: Adapter, callee: Callable[..., Any]) -> Callable[..., Any]:
    """Import :mod:`functools` on the first traced call, not at import (it costs ~2 ms)."""
    global _partial
    from functools import partial

    _partial = partial
    return partial(adapter, callee)


_partial: Callable[[Adapter, Callable[..., Any]], Callable[..., Any]] = _first_partial

BUILTIN_ADAPTERS = {
    "requests.send": "codetrace.runtime._requests",
    "httpx.send": "codetrace.runtime._httpx",
    "sqlite3.connect": "codetrace.runtime._dbapi",
    "sqlite3.query": "codetrace.runtime._dbapi",
    "sqlite3.transaction": "codetrace.runtime._dbapi",
}
"""Rule id -> module whose ``adapter`` attribute handles it (imported on first use)."""

_adapters: dict[str, Adapter] = {}


class GenericAdapter:
    """A span of ``kind`` named ``name`` around the call (for rule ids without an adapter)."""

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
            return finish_when_awaited(span, result)
        span.__exit__(None, None, None)
        return result

    def __repr__(self) -> str:
        return f"GenericAdapter({self.name!r}, kind={self.kind})"


async def finish_when_awaited(span: Span, coroutine: Coroutine[Any, Any, R]) -> R:
    """Await ``coroutine`` with ``span`` current, then end the span (recording any failure)."""
    token = make_current(span)
    try:
        result = await coroutine
    except BaseException as exc:
        if is_failure(exc):
            span.fail(exc)
        span.end()
        raise
    finally:
        restore_current(token)
    span.end()
    return result


def register_adapter(rule_id: str, adapter: Callable[..., Any]) -> None:
    """Use ``adapter(callee, /, *args, **kwargs)`` for call sites of rule ``rule_id``.

    The adapter must call ``callee(*args, **kwargs)`` exactly once and return its result or
    let its exception through; it should start its span with ``span(...)`` and use it as a
    context manager.
    """
    _adapters[rule_id] = adapter


def _load(rule_id: str) -> Adapter:
    adapter: Adapter | None = None
    module_name = BUILTIN_ADAPTERS.get(rule_id)
    if module_name is not None:
        try:
            module = __import__(module_name, fromlist=["adapter"])
            adapter = module.adapter
        except Exception as exc:
            warn_once(
                f"adapter-import:{rule_id}",
                "codetrace: adapter for %r failed to load; using a generic span",
                rule_id,
                exc=exc,
            )
    if adapter is None:
        adapter = GenericAdapter(str(rule_id))
    _adapters[rule_id] = adapter
    return adapter


def traced(callee: Callable[P, R], rule_id: str) -> Callable[P, R]:
    """A callable that runs ``callee(*args, **kwargs)`` inside the span chosen for ``rule_id``.

    Returns ``callee`` itself when tracing is disabled (``OTEL_SDK_DISABLED=true``).
    """
    if settings.disabled:
        return callee
    try:
        adapter = _adapters.get(rule_id)
        if adapter is None:
            adapter = _load(rule_id)
        wrapped: Callable[P, R] = _partial(adapter, callee)
        return wrapped
    except Exception as exc:  # an unhashable rule id, say: run untraced
        warn_once("traced", "codetrace: traced() failed; calling untraced", exc=exc)
        return callee


def adapter_for(rule_id: str) -> Adapter:
    """The adapter that handles ``rule_id`` (loading it if needed); for tests and tools."""
    adapter = _adapters.get(rule_id)
    return adapter if adapter is not None else _load(rule_id)
