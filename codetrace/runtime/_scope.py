"""Making a span current elsewhere: ``use_context``, ``traced_context``, awaited coroutines.

:func:`make_current`/:func:`restore_current` are what every place uses that makes a span
current without its own ``activate()``: a callback or another task (``use_context``), a
streamed response's chunks, an awaited coroutine. While bridged to OpenTelemetry (``_bridge``)
they also attach an OpenTelemetry context, so hand-written OpenTelemetry spans started meanwhile
become children of the codetrace span.

Threads: a plain ``threading.Thread`` (and a ``concurrent.futures`` pool worker) starts with an
empty context, so spans it starts are new roots. :func:`traced_context` captures the caller's
context and runs the function in a copy of it, in whatever thread calls it.

Coroutines: a traced callee may return a coroutine (an ``async def`` function, an
``AsyncClient`` method); ``_awaitable.TracedCoroutine`` makes its span current with
:func:`make_current` for each step it runs.
"""

from __future__ import annotations

from contextvars import copy_context

from ._context import Context, remote_span
from ._log import warn_once
from ._span import Span, current, reset_current
from ._state import settings

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextvars import Token
    from types import TracebackType
    from typing import ParamSpec, TypeVar

    from ._bridge import Bridge

    P = ParamSpec("P")
    R = TypeVar("R")


class _BridgedToken:
    """What :func:`make_current` returns while bridged: both tokens, and the bridge."""

    __slots__ = ("bridge", "otel_token", "token")

    def __init__(self, token: Token[Span | None], bridge: Bridge, otel_token: object) -> None:
        self.token = token
        self.bridge = bridge
        self.otel_token = otel_token


def make_current(span: Span | None) -> Token[Span | None] | _BridgedToken:
    """Make ``span`` current (``None``: no span) until :func:`restore_current` gets the token.

    ``current.set(span)``, plus, while bridged to OpenTelemetry (see ``_bridge``), attaching
    an OpenTelemetry context whose current span is ``span``, so hand-written OpenTelemetry
    spans started meanwhile become its children too. Use it (not ``current.set``) wherever a
    span is made current without its own ``activate()``: re-entered for a callback or another
    task, for a streamed response's chunks, around an awaited coroutine. The span's own token
    slot is left alone, so a span may be current in several contexts at once.
    """
    token = current.set(span)
    pipeline = settings.pipeline
    bridge = pipeline.bridge if pipeline is not None else None
    if bridge is None:
        return token
    try:
        return _BridgedToken(token, bridge, bridge.attach(span))
    except Exception as exc:
        warn_once("bridge-attach", "codetrace: cannot attach an OpenTelemetry context", exc=exc)
        return token


def restore_current(token: Token[Span | None] | _BridgedToken) -> None:
    """Undo :func:`make_current` (tolerating a token from another context, like ``reset``)."""
    if isinstance(token, _BridgedToken):
        try:
            token.bridge.detach(token.otel_token)
        except Exception as exc:
            warn_once("bridge-detach", "codetrace: cannot detach an OpenTelemetry context", exc=exc)
        reset_current(token.token)
        return
    reset_current(token)


class ContextScope:
    """Context manager returned by :func:`use_context`."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span | None) -> None:
        self._span = span
        self._token: Token[Span | None] | _BridgedToken | None = None

    def __enter__(self) -> Span | None:
        self._token = make_current(self._span)
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token = self._token
        if token is not None:
            self._token = None
            restore_current(token)


def use_context(context: Context | Span | None) -> ContextScope:
    """Make ``context`` the parent of spans started in the ``with`` block.

    ``use_context(extract(headers))`` continues a caller's trace; ``use_context(some_span)``
    re-enters a span elsewhere (a callback, another task); ``use_context(None)`` detaches, so
    spans in the block start new traces.
    """
    if context is None or isinstance(context, Span):
        return ContextScope(context)
    return ContextScope(remote_span(context))


def traced_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap ``fn`` so it runs in (a copy of) the context current *now*, in any thread.

    Use it to hand work to a thread pool: ``pool.submit(traced_context(work), item)``; spans
    that ``work`` starts become children of the span current at the ``traced_context`` call.
    Each call runs in its own copy, so the wrapper may run concurrently in several threads.
    """
    captured = copy_context()

    def run_in_captured_context(*args: P.args, **kwargs: P.kwargs) -> R:
        return captured.copy().run(fn, *args, **kwargs)

    try:
        run_in_captured_context.__dict__["__wrapped__"] = fn
        run_in_captured_context.__name__ = getattr(fn, "__name__", "run_in_captured_context")
        run_in_captured_context.__qualname__ = getattr(fn, "__qualname__", "run")
        run_in_captured_context.__doc__ = getattr(fn, "__doc__", None)
    except Exception:  # pragma: no cover - exotic callables
        pass
    return run_in_captured_context
