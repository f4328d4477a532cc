"""OTLP details the two encoders share: the ``Span.flags`` bits.

The encoders read spans through ``_protocols.SpanData`` (the runtime's one span protocol).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .._protocols import SpanData

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
