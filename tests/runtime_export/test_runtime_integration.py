"""The runtime's own spans and exporter registry, end to end through OTLP/HTTP.

The other export tests use small dataclass doubles; this one checks that the runtime's real
``Span`` (``__slots__``, set through its methods) encodes the same way, and that
``OTEL_TRACES_EXPORTER=otlp`` builds a batch processor in front of the OTLP exporter.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from codetrace.runtime import _setup
from codetrace.runtime._batch import BatchSpanProcessor
from codetrace.runtime._otlp import OTLPSpanExporter
from codetrace.runtime._span import Span


def test_otel_traces_exporter_otlp_end_to_end(
    collector: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "integration")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "60000")
    (processor,) = _setup.processors_from_env()
    try:
        assert isinstance(processor, BatchSpanProcessor)
        assert isinstance(processor.exporter, OTLPSpanExporter)
        assert processor.exporter.endpoint == collector.traces_url

        span = Span(
            "GET /items",
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            parent_id=0x1111111111111111,
            trace_flags=0x01,
            trace_state="congo=t61rcWkgMzE",
            kind=3,
            start_ns=1_700_000_000_000_000_000,
            is_remote_parent=True,
            processors=(processor,),
            recording=True,
        )
        span.set_attribute("http.request.method", "GET")
        span.set_attribute("http.response.status_code", 503)
        span.set_attribute("tags", ["a", "b"])
        span.add_event("retry", {"attempt": 2}, timestamp_ns=1_700_000_000_500_000_000)
        span.set_status(2, "Service Unavailable")
        span.end(1_700_000_001_000_000_000)
        unsampled = Span("dropped", trace_id=1, span_id=2, processors=(processor,), recording=True)
        unsampled.end()
        assert processor.force_flush(5)
    finally:
        processor.shutdown(timeout_s=1)

    (request,) = collector.requests
    message = ExportTraceServiceRequest()
    message.ParseFromString(request.payload)
    resource = {
        kv.key: kv.value.string_value for kv in message.resource_spans[0].resource.attributes
    }
    assert resource["service.name"] == "integration"
    assert resource["telemetry.sdk.name"] == "codetrace"
    (sent,) = message.resource_spans[0].scope_spans[0].spans
    assert sent.name == "GET /items"
    assert sent.trace_id.hex() == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert sent.span_id.hex() == "00f067aa0ba902b7"
    assert sent.parent_span_id.hex() == "1111111111111111"
    assert sent.trace_state == "congo=t61rcWkgMzE"
    assert sent.flags == 0x301
    assert sent.kind == 3
    assert (sent.start_time_unix_nano, sent.end_time_unix_nano) == (
        1_700_000_000_000_000_000,
        1_700_000_001_000_000_000,
    )
    attributes = {kv.key: kv.value for kv in sent.attributes}
    assert attributes["http.request.method"].string_value == "GET"
    assert attributes["http.response.status_code"].int_value == 503
    assert [v.string_value for v in attributes["tags"].array_value.values] == ["a", "b"]
    (event,) = sent.events
    assert (event.name, event.time_unix_nano) == ("retry", 1_700_000_000_500_000_000)
    assert event.attributes[0].value.int_value == 2
    assert (sent.status.code, sent.status.message) == (2, "Service Unavailable")


def test_dropped_counts_are_sent(hex_to_b64: Any) -> None:
    import json

    from google.protobuf import json_format

    from codetrace.runtime._otlp import encode_json, encode_protobuf

    span = Span("limits", trace_id=1, span_id=2, trace_flags=1, recording=True)
    span.dropped_attributes_count = 3
    span.dropped_events_count = 4
    span.end(10)
    message = ExportTraceServiceRequest()
    message.ParseFromString(encode_protobuf([span], {}))
    from_json = json_format.Parse(
        json.dumps(hex_to_b64(json.loads(encode_json([span], {})))), ExportTraceServiceRequest()
    )
    assert message == from_json
    sent = message.resource_spans[0].scope_spans[0].spans[0]
    assert (sent.dropped_attributes_count, sent.dropped_events_count) == (3, 4)
