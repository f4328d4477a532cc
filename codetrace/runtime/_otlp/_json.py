"""OTLP/JSON encoding of an ``ExportTraceServiceRequest``.

Written against the OTLP specification's "JSON Protobuf Encoding" rules, which deviate from the
plain proto3 JSON mapping in ways that matter to collectors: trace and span ids are hex strings
(a base64 id is silently read as a different, longer id), enums are integers, keys are
lowerCamelCase. The other proto3 rules still apply: 64-bit integers (times, ``intValue``) are
decimal strings, ``bytes`` are base64, non-finite doubles are the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``, and fields holding their default value are left out.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping

from .._version import __version__
from ._model import span_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .._protocols import Attributes, SpanData

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_TRACE_ID_MASK = (1 << 128) - 1
_SPAN_ID_MASK = (1 << 64) - 1


def encode_json(
    spans: Sequence[SpanData],
    resource: Attributes,
    scope_name: str = "codetrace",
    scope_version: str = __version__,
) -> bytes:
    """Encode ``spans`` as one OTLP/JSON ``ExportTraceServiceRequest`` (UTF-8 bytes).

    All spans share one resource and one instrumentation scope, which is what a single process
    produces; the request therefore holds one ``ResourceSpans`` with one ``ScopeSpans``.
    """
    # "replace" turns a lone surrogate (which os.fsdecode can produce) into "?" instead of
    # failing the whole batch.
    return json_text(spans, resource, scope_name, scope_version).encode("utf-8", "replace")


def json_text(
    spans: Sequence[SpanData],
    resource: Attributes,
    scope_name: str = "codetrace",
    scope_version: str = __version__,
) -> str:
    """:func:`encode_json` as text, on one line (the JSON-lines exporter writes it to a file)."""
    scope: dict[str, Any] = {"name": scope_name}
    if scope_version:
        scope["version"] = scope_version
    request = {
        "resourceSpans": [
            {
                "resource": {"attributes": _key_values(resource)},
                "scopeSpans": [{"scope": scope, "spans": [_span(s) for s in spans]}],
            }
        ]
    }
    # ensure_ascii=False keeps non-ASCII text compact (control characters are still escaped, so
    # the text is one line). allow_nan=False is a guard: every float went through _double, so a
    # NaN here would be our bug, not valid JSON.
    return json.dumps(request, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _span(span: SpanData) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": format(span.trace_id & _TRACE_ID_MASK, "032x"),
        "spanId": format(span.span_id & _SPAN_ID_MASK, "016x"),
    }
    if span.trace_state:
        out["traceState"] = span.trace_state
    if span.parent_id:
        out["parentSpanId"] = format(span.parent_id & _SPAN_ID_MASK, "016x")
    out["flags"] = span_flags(span)
    out["name"] = span.name
    if span.kind:
        out["kind"] = span.kind
    out["startTimeUnixNano"] = str(span.start_ns)
    out["endTimeUnixNano"] = str(span.end_ns)
    if span.attributes:
        out["attributes"] = _key_values(span.attributes)
    dropped = getattr(span, "dropped_attributes_count", 0)
    if dropped:
        out["droppedAttributesCount"] = dropped
    if span.events:
        out["events"] = [
            _event(e.name, e.time_ns, e.attributes, getattr(e, "dropped_attributes_count", 0))
            for e in span.events
        ]
    dropped = getattr(span, "dropped_events_count", 0)
    if dropped:
        out["droppedEventsCount"] = dropped
    status: dict[str, Any] = {}
    if span.status_message:
        status["message"] = span.status_message
    if span.status_code:
        status["code"] = span.status_code
    if status:
        out["status"] = status
    return out


def _event(name: str, time_ns: int, attributes: Attributes, dropped: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"timeUnixNano": str(time_ns), "name": name}
    if attributes:
        out["attributes"] = _key_values(attributes)
    if dropped:
        out["droppedAttributesCount"] = dropped
    return out


def _key_values(attributes: Mapping[str, object]) -> list[dict[str, Any]]:
    out = []
    for key, value in attributes.items():
        encoded = _any_value(value)
        if encoded is not None:
            out.append({"key": str(key), "value": encoded})
    return out


def _any_value(value: object) -> dict[str, Any] | None:
    """One ``AnyValue``; ``None`` for a value that has no OTLP form (it is then left out).

    ``bool`` is tested before ``int`` because it is a subclass of it.
    """
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        if _INT64_MIN <= value <= _INT64_MAX:
            return {"intValue": str(value)}
        return {"stringValue": str(value)}  # beyond int64: keep the digits rather than wrap
    if isinstance(value, float):
        return {"doubleValue": _double(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytesValue": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (list, tuple)):
        values = [v for v in map(_any_value, value) if v is not None]
        return {"arrayValue": {"values": values}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": _key_values(value)}}
    if value is None:
        return None
    try:
        return {"stringValue": str(value)}
    except Exception:  # a broken __str__ must not cost the whole batch
        return None


def _double(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"
