"""The shape of the spans the OTLP encoders read, written down as protocols.

The runtime's span class lives elsewhere and is free to change its internals (``__slots__``,
extra fields); the encoders only need the read-only surface below, so they are typed against it
instead of importing the concrete class. Tests feed small dataclasses that match it.
"""

from __future__ import annotations

# The protocols exist for the type checker only: importing ``typing`` costs several milliseconds
# that ``import codetrace.runtime`` must not pay (mypy reads any ``TYPE_CHECKING`` name as true).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Protocol

    # What an attribute may hold, per the OpenTelemetry attribute definition: a primitive or an
    # array of primitives (homogeneous by the specification; not enforced by the type, so that a
    # span storing ``list[str | bool | int | float]`` matches). The encoders also accept bytes and
    # nested mappings (OTLP's AnyValue allows them) and turn anything else into its string form.
    Primitive = str | bool | int | float
    AttributeValue = Primitive | Sequence[Primitive]
    Attributes = Mapping[str, AttributeValue]

    class EventData(Protocol):
        """A timestamped annotation on a span (an OTLP ``Span.Event``)."""

        @property
        def name(self) -> str: ...
        @property
        def time_ns(self) -> int: ...
        @property
        def attributes(self) -> Attributes: ...

    class SpanData(Protocol):
        """A finished span as the exporters see it.

        Ids are integers (128-bit trace id, 64-bit span id, ``parent_id == 0`` for a root); ``kind``
        and ``status_code`` already use the OTLP enum numbers so encoding is a straight copy.
        """

        @property
        def name(self) -> str: ...
        @property
        def trace_id(self) -> int: ...
        @property
        def span_id(self) -> int: ...
        @property
        def parent_id(self) -> int: ...
        @property
        def trace_flags(self) -> int: ...
        @property
        def trace_state(self) -> str: ...
        @property
        def kind(self) -> int: ...
        @property
        def start_ns(self) -> int: ...
        @property
        def end_ns(self) -> int: ...
        @property
        def attributes(self) -> Attributes: ...
        @property
        def status_code(self) -> int: ...
        @property
        def status_message(self) -> str: ...
        @property
        def events(self) -> Sequence[EventData]: ...
        @property
        def is_remote_parent(self) -> bool: ...


# OTLP Span.flags bits 8 and 9 (SpanFlags in trace.proto): "is the parent remote" is known / true.
FLAG_HAS_IS_REMOTE = 0x100
FLAG_IS_REMOTE = 0x200


def span_flags(span: SpanData) -> int:
    """OTLP ``Span.flags``: the W3C trace flags plus whether the parent is remote.

    We always know whether the parent came from another process (a root span's "parent" is
    not remote), so the "known" bit is always set; a receiver can then tell an entry span of
    this service from an internal one without guessing.
    """
    flags = (span.trace_flags & 0xFF) | FLAG_HAS_IS_REMOTE
    if span.is_remote_parent:
        flags |= FLAG_IS_REMOTE
    return flags
