"""OTLP binary protobuf encoding of an ``ExportTraceServiceRequest``, written by hand.

The runtime may not depend on the ``protobuf`` package (it is large, has a C extension and a
version matrix of its own), and the messages we send are few and fixed, so the wire format is
produced directly. Only three wire types are needed:

- varint (type 0): enums, ``int64`` attribute values, ``bool``;
- 64-bit little-endian (type 1): ``fixed64`` times and ``double`` values;
- length-delimited (type 2): strings, bytes and embedded messages;
plus ``fixed32`` (type 5) for ``Span.flags``.

Field numbers come from opentelemetry-proto (``trace.proto``, ``common.proto``,
``resource.proto``, ``trace_service.proto``). As proto3 does, scalar fields holding their default
value are not written, except inside ``AnyValue``'s ``oneof``, where writing the field is what
tells the receiver which member is set (``""``, ``0`` and ``false`` are real values there).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from .._version import __version__
from ._model import span_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from .._protocols import Attributes, SpanData

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_UINT64_MASK = (1 << 64) - 1
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

_pack_fixed64 = struct.Struct("<Q").pack
_pack_fixed32 = struct.Struct("<I").pack
_pack_double = struct.Struct("<d").pack


def encode_protobuf(
    spans: Sequence[SpanData],
    resource: Attributes,
    scope_name: str = "codetrace",
    scope_version: str = __version__,
) -> bytes:
    """Encode ``spans`` as one binary ``ExportTraceServiceRequest``.

    Same grouping as the JSON encoder: one ``ResourceSpans`` holding one ``ScopeSpans``.
    """
    scope = bytearray()
    _string(scope, 1, scope_name)  # InstrumentationScope.name
    _string(scope, 2, scope_version)  # InstrumentationScope.version

    scope_spans = bytearray()
    _message(scope_spans, 1, scope)  # ScopeSpans.scope
    for span in spans:
        _message(scope_spans, 2, _span(span))  # ScopeSpans.spans

    resource_msg = bytearray()
    _key_values(resource_msg, 1, resource)  # Resource.attributes

    resource_spans = bytearray()
    _message(resource_spans, 1, resource_msg)  # ResourceSpans.resource
    _message(resource_spans, 2, scope_spans)  # ResourceSpans.scope_spans

    request = bytearray()
    _message(request, 1, resource_spans)  # ExportTraceServiceRequest.resource_spans
    return bytes(request)


def _span(span: SpanData) -> bytearray:
    out = bytearray()
    _bytes(out, 1, (span.trace_id & ((1 << 128) - 1)).to_bytes(16, "big"))
    _bytes(out, 2, (span.span_id & _UINT64_MASK).to_bytes(8, "big"))
    _string(out, 3, span.trace_state)
    if span.parent_id:
        _bytes(out, 4, (span.parent_id & _UINT64_MASK).to_bytes(8, "big"))
    _string(out, 5, span.name)
    if span.kind:
        _tag(out, 6, _VARINT)
        _varint(out, span.kind)
    _fixed64(out, 7, span.start_ns)
    _fixed64(out, 8, span.end_ns)
    _key_values(out, 9, span.attributes)
    _uint(out, 10, getattr(span, "dropped_attributes_count", 0))
    for event in span.events:
        ev = bytearray()
        _fixed64(ev, 1, event.time_ns)
        _string(ev, 2, event.name)
        _key_values(ev, 3, event.attributes)
        _uint(ev, 4, getattr(event, "dropped_attributes_count", 0))
        _message(out, 11, ev)
    _uint(out, 12, getattr(span, "dropped_events_count", 0))
    if span.status_code or span.status_message:
        status = bytearray()
        _string(status, 2, span.status_message)
        if span.status_code:
            _tag(status, 3, _VARINT)
            _varint(status, span.status_code)
        _message(out, 15, status)
    _tag(out, 16, _I32)
    out += _pack_fixed32(span_flags(span) & 0xFFFFFFFF)
    return out


def _key_values(out: bytearray, field: int, attributes: Mapping[str, object]) -> None:
    """Append one repeated ``KeyValue`` field per attribute that has an OTLP form."""
    for key, value in attributes.items():
        any_value = _any_value(value)
        if any_value is None:
            continue
        kv = bytearray()
        _string(kv, 1, str(key))
        _message(kv, 2, any_value)
        _message(out, field, kv)


def _any_value(value: object) -> bytearray | None:
    """One ``AnyValue`` message; ``None`` for a value with no OTLP form (left out).

    ``bool`` is tested before ``int`` because it is a subclass of it.
    """
    out = bytearray()
    if isinstance(value, str):
        _tag(out, 1, _LEN)
        _length_delimited(out, value.encode("utf-8", "replace"))
    elif isinstance(value, bool):
        _tag(out, 2, _VARINT)
        out.append(1 if value else 0)
    elif isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            _tag(out, 3, _VARINT)
            _varint(out, value & _UINT64_MASK)  # negative int64: two's complement, 10 bytes
        else:  # beyond int64: keep the digits rather than wrap
            _tag(out, 1, _LEN)
            _length_delimited(out, str(value).encode("ascii"))
    elif isinstance(value, float):
        _tag(out, 4, _I64)
        out += _pack_double(value)  # NaN and infinities have IEEE 754 forms: no special case
    elif isinstance(value, (bytes, bytearray, memoryview)):
        _tag(out, 7, _LEN)
        _length_delimited(out, bytes(value))
    elif isinstance(value, (list, tuple)):
        array = bytearray()
        for item in value:
            item_value = _any_value(item)
            if item_value is not None:
                _message(array, 1, item_value)  # ArrayValue.values
        _message(out, 5, array)
    elif isinstance(value, Mapping):
        kvlist = bytearray()
        _key_values(kvlist, 1, value)  # KeyValueList.values
        _message(out, 6, kvlist)
    elif value is None:
        return None
    else:
        try:
            text = str(value)
        except Exception:  # a broken __str__ must not cost the whole batch
            return None
        _tag(out, 1, _LEN)
        _length_delimited(out, text.encode("utf-8", "replace"))
    return out


# -- wire primitives ---------------------------------------------------------------------------


def _varint(out: bytearray, value: int) -> None:
    """Append a base-128 varint; ``value`` must already be non-negative."""
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _tag(out: bytearray, field: int, wire_type: int) -> None:
    _varint(out, (field << 3) | wire_type)


def _length_delimited(out: bytearray, payload: bytes | bytearray) -> None:
    _varint(out, len(payload))
    out += payload


def _message(out: bytearray, field: int, payload: bytes | bytearray) -> None:
    """An embedded message is always written, even empty: its presence is information."""
    _tag(out, field, _LEN)
    _length_delimited(out, payload)


def _string(out: bytearray, field: int, value: str) -> None:
    if value:
        _tag(out, field, _LEN)
        _length_delimited(out, value.encode("utf-8", "replace"))


def _bytes(out: bytearray, field: int, value: bytes) -> None:
    if value:
        _tag(out, field, _LEN)
        _length_delimited(out, value)


def _uint(out: bytearray, field: int, value: int) -> None:
    if value > 0:
        _tag(out, field, _VARINT)
        _varint(out, value & 0xFFFFFFFF)


def _fixed64(out: bytearray, field: int, value: int) -> None:
    if value:
        _tag(out, field, _I64)
        out += _pack_fixed64(value & _UINT64_MASK)
