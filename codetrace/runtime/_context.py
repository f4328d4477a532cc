"""Trace context that crossed a boundary: the ``Context`` that ``extract()`` returns.

A :class:`Context` is what ``extract()`` reads from incoming headers: the remote parent's ids,
flags, ``tracestate`` and baggage. It exposes the same fields a local :class:`Span` does, so it
can be passed as ``span(..., parent=ctx)``, or made current for a block with
``use_context(ctx)`` (see ``_scope``), which installs :func:`remote_span` for it.
"""

from __future__ import annotations

from ._span import Span
from ._values import FLAG_SAMPLED

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._values import BaggageEntry


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
