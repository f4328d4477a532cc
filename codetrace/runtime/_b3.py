"""Zipkin B3 propagation, single header (``b3``) and multiple headers (``X-B3-*``).

For services that still speak B3 (``OTEL_PROPAGATORS=b3`` or ``b3multi``). Single:
``b3: {trace-id}-{span-id}[-{sampling}[-{parent-span-id}]]`` where the trace id is 16 or 32 hex
characters (a 64-bit id is zero-padded to 128 bits), the span id 16, and sampling ``1``,
``0`` or ``d`` (debug, which implies sampled). Multiple: ``X-B3-TraceId``, ``X-B3-SpanId``,
``X-B3-Sampled`` (``1``/``0``, legacy ``true``/``false``) and ``X-B3-Flags: 1`` (debug).
Hex is read case-insensitively. A header with no ids (``b3: 0``) carries nothing we can continue
and is ignored; an absent sampling decision reads as not sampled (as OpenTelemetry does).
B3 has no ``tracestate`` and no random flag.
"""

from __future__ import annotations

_HEX = frozenset("0123456789abcdef")

SINGLE = "b3"
TRACE_ID = "x-b3-traceid"
SPAN_ID = "x-b3-spanid"
SAMPLED = "x-b3-sampled"
FLAGS = "x-b3-flags"


def _hex_id(text: str, lengths: tuple[int, ...]) -> int:
    text = text.strip().lower()
    if len(text) not in lengths or not _HEX.issuperset(text):
        return 0
    return int(text, 16)


def parse_single(header: str) -> tuple[int, int, int] | None:
    """``(trace_id, span_id, flags)`` from a ``b3`` header, or ``None``."""
    parts = header.strip().split("-")
    if len(parts) < 2 or len(parts) > 4:
        return None
    trace_id = _hex_id(parts[0], (16, 32))
    span_id = _hex_id(parts[1], (16,))
    if not trace_id or not span_id:
        return None
    flags = 0
    if len(parts) >= 3:
        sampling = parts[2].strip().lower()
        if sampling in ("1", "d"):
            flags = 1
        elif sampling != "0":
            return None
    if len(parts) == 4 and not _hex_id(parts[3], (16,)):
        return None
    return trace_id, span_id, flags


def parse_multi(
    trace_id_header: str | None,
    span_id_header: str | None,
    sampled: str | None,
    flags_header: str | None,
) -> tuple[int, int, int] | None:
    """``(trace_id, span_id, flags)`` from the ``X-B3-*`` headers, or ``None``."""
    if trace_id_header is None or span_id_header is None:
        return None
    trace_id = _hex_id(trace_id_header, (16, 32))
    span_id = _hex_id(span_id_header, (16,))
    if not trace_id or not span_id:
        return None
    debug = flags_header is not None and flags_header.strip() == "1"
    is_sampled = sampled is not None and sampled.strip().lower() in ("1", "true")
    return trace_id, span_id, 1 if debug or is_sampled else 0


def format_single(trace_id: int, span_id: int, flags: int) -> str:
    return f"{trace_id:032x}-{span_id:016x}-{flags & 1}"
