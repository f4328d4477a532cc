"""Trace context that crossed a boundary: extracted ``Context``, ``use_context``, thread helper.

A :class:`Context` is what ``extract()`` reads from incoming headers: the remote parent's ids,
flags, ``tracestate`` and baggage. It exposes the same fields a local :class:`Span` does, so it
can be passed as ``span(..., parent=ctx)``, or made current for a block with
``use_context(ctx)`` (which installs a non-recording placeholder span for the remote parent in
the one ``ContextVar``; spans started inside become its children with ``is_remote_parent``).

Threads: a plain ``threading.Thread`` (and a ``concurrent.futures`` pool worker) starts with an
empty context, so spans it starts are new roots. :func:`traced_context` captures the caller's
context and runs the function in a copy of it, in whatever thread calls it.
"""

from __future__ import annotations

from contextvars import copy_context

from ._config import settings
from ._log import warn_once
from ._span import FLAG_SAMPLED, Span, current, reset_current

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from contextvars import Token
    from types import TracebackType
    from typing import Any, ParamSpec, TypeVar

    from ._protocols import BaggageEntry

    P = ParamSpec("P")
    R = TypeVar("R")


class Context:
    """Trace context read from a carrier: the remote parent of the next span.

    ``trace_id == 0`` means no valid trace context was found (a new trace will start); the
    baggage may still be there, since it travels independently.
    """

    __slots__ = ("baggage", "span_id", "trace_flags", "trace_id", "trace_state")

    is_remote = True

    def __init__(
        self,
        trace_id: int = 0,
        span_id: int = 0,
        trace_flags: int = 0,
        trace_state: str = "",
        baggage: tuple[BaggageEntry, ...] = (),
    ) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_flags = trace_flags
        self.trace_state = trace_state
        self.baggage = baggage

    @property
    def is_valid(self) -> bool:
        """Whether a trace is being continued (both ids non-zero)."""
        return bool(self.trace_id and self.span_id)

    @property
    def sampled(self) -> bool:
        """The remote parent's sampled flag."""
        return bool(self.trace_flags & FLAG_SAMPLED)

    def baggage_dict(self) -> dict[str, str]:
        """The baggage as ``{key: value}`` (properties dropped; the last duplicate key wins)."""
        return {key: value for key, value, _ in self.baggage}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Context):
            return NotImplemented
        return (
            self.trace_id == other.trace_id
            and self.span_id == other.span_id
            and self.trace_flags == other.trace_flags
            and self.trace_state == other.trace_state
            and self.baggage == other.baggage
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Context(trace_id={self.trace_id:032x}, span_id={self.span_id:016x}, "
            f"trace_flags={self.trace_flags:02x}, trace_state={self.trace_state!r}, "
            f"baggage={self.baggage!r})"
        )


def remote_span(context: Context) -> Span:
    """A non-recording placeholder span standing for ``context``'s remote parent."""
    return Span(
        "",
        context.trace_id if context.is_valid else 0,
        context.span_id if context.is_valid else 0,
        trace_flags=context.trace_flags,
        trace_state=context.trace_state,
        is_remote=True,
        baggage=context.baggage,
    )


class _BridgedToken:
    """What :func:`make_current` returns while bridged: both tokens, and the bridge."""

    __slots__ = ("bridge", "otel_token", "token")

    def __init__(self, token: Token[Span | None], bridge: Any, otel_token: Any) -> None:
        self.token = token
        self.bridge = bridge
        self.otel_token = otel_token


def make_current(span: Span | None) -> object:
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


def restore_current(token: object) -> None:
    """Undo :func:`make_current` (tolerating a token from another context, like ``reset``)."""
    if type(token) is _BridgedToken:
        try:
            token.bridge.detach(token.otel_token)
        except Exception as exc:
            warn_once("bridge-detach", "codetrace: cannot detach an OpenTelemetry context", exc=exc)
        token = token.token
    reset_current(token)  # type: ignore[arg-type]


class ContextScope:
    """Context manager returned by :func:`use_context`."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span | None) -> None:
        self._span = span
        self._token: object = None

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
        run_in_captured_context.__wrapped__ = fn  # type: ignore[attr-defined]
        run_in_captured_context.__name__ = getattr(fn, "__name__", "run_in_captured_context")
        run_in_captured_context.__qualname__ = getattr(fn, "__qualname__", "run")
        run_in_captured_context.__doc__ = getattr(fn, "__doc__", None)
    except Exception:  # pragma: no cover - exotic callables
        pass
    return run_in_captured_context
