"""Reading OTLP/JSON back: flat span records from ``ExportTraceServiceRequest`` documents.

The JSON-lines exporter writes one request per line, the shape OpenTelemetry tools read (the
collector's ``otlpjsonfile`` receiver); tests and the recall benchmark read the same file with
these functions instead of walking ``resourceSpans`` → ``scopeSpans`` → ``spans`` and
decoding ``AnyValue`` each time. It is the inverse of ``_json``, kept next to it so the two
change together. The runtime itself never imports this module.

A record (one per span, in file order)::

    {"trace_id": "4bf9…4736", "span_id": "00f0…02b7", "parent_span_id": None | "…",
     "name": "GET /orders", "kind": "SERVER", "start_time_unix_nano": int,
     "end_time_unix_nano": int, "attributes": {key: str | int | float | bool | list | …},
     "status": {"code": "UNSET" | "OK" | "ERROR", "message": str},
     "events": [{"name": str, "time_unix_nano": int, "attributes": {…},
                 "dropped_attributes_count": int}],
     "dropped_attributes_count": int, "dropped_events_count": int, "flags": int,
     "trace_state": str, "resource": {key: value}, "scope": {"name": str, "version": str}}
"""

from __future__ import annotations

import base64
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["read_json_lines", "span_records"]

_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


def read_json_lines(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The spans of every request in a JSON-lines file, in file order (blank lines skipped).

    A line that is not a JSON object raises ``ValueError``: a torn or doubled line is a bug
    the reader should see.
    """
    records: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            document = json.loads(line)
            if not isinstance(document, dict):
                raise ValueError(f"{os.fspath(path)}:{number}: not an OTLP JSON request")
            records.extend(span_records(document))
    return records


def span_records(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The spans of one ``ExportTraceServiceRequest`` (as parsed JSON), as flat records."""
    records = []
    for resource_spans in request.get("resourceSpans", ()):
        resource = _attributes(resource_spans.get("resource", {}).get("attributes", ()))
        for scope_spans in resource_spans.get("scopeSpans", ()):
            scope = scope_spans.get("scope", {})
            scope_info = {"name": scope.get("name", ""), "version": scope.get("version", "")}
            for span in scope_spans.get("spans", ()):
                record = _span(span)
                record["resource"] = resource
                record["scope"] = scope_info
                records.append(record)
    return records


def _span(span: Mapping[str, Any]) -> dict[str, Any]:
    status = span.get("status", {})
    return {
        "trace_id": span.get("traceId", ""),
        "span_id": span.get("spanId", ""),
        "parent_span_id": span.get("parentSpanId") or None,
        "name": span.get("name", ""),
        "kind": _KINDS.get(int(span.get("kind", 0)), str(span.get("kind"))),
        "start_time_unix_nano": int(span.get("startTimeUnixNano", 0)),
        "end_time_unix_nano": int(span.get("endTimeUnixNano", 0)),
        "attributes": _attributes(span.get("attributes", ())),
        "status": {
            "code": _STATUS.get(int(status.get("code", 0)), str(status.get("code"))),
            "message": status.get("message", ""),
        },
        "events": [
            {
                "name": event.get("name", ""),
                "time_unix_nano": int(event.get("timeUnixNano", 0)),
                "attributes": _attributes(event.get("attributes", ())),
                "dropped_attributes_count": int(event.get("droppedAttributesCount", 0)),
            }
            for event in span.get("events", ())
        ],
        "dropped_attributes_count": int(span.get("droppedAttributesCount", 0)),
        "dropped_events_count": int(span.get("droppedEventsCount", 0)),
        "flags": int(span.get("flags", 0)),
        "trace_state": span.get("traceState", ""),
    }


def _attributes(key_values: Any) -> dict[str, Any]:
    return {kv["key"]: _value(kv.get("value", {})) for kv in key_values}


def _value(value: Mapping[str, Any]) -> Any:
    """One ``AnyValue`` as the Python value it was encoded from."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])  # also "NaN", "Infinity" and "-Infinity"
    if "arrayValue" in value:
        return [_value(item) for item in value["arrayValue"].get("values", ())]
    if "kvlistValue" in value:
        return _attributes(value["kvlistValue"].get("values", ()))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None
