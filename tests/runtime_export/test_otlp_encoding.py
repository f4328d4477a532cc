"""The hand-written OTLP encoders, checked by decoding with the official opentelemetry-proto."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from codetrace.runtime._otlp import encode_json, encode_protobuf
from codetrace.runtime._version import __version__

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
RESOURCE = {"service.name": "checkout", "deployment.environment": "test", "host.cpus": 2}


def decode_protobuf(body: bytes) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    message.ParseFromString(body)
    return message


def decode_json(body: bytes, hex_to_b64: Any) -> ExportTraceServiceRequest:
    return json_format.Parse(json.dumps(hex_to_b64(json.loads(body))), ExportTraceServiceRequest())


def rich_spans(span_cls: Any, event_cls: Any) -> list[Any]:
    parent = span_cls(
        name="GET /orders/{id}",
        trace_id=TRACE_ID,
        span_id=0x00F067AA0BA902B7,
        parent_id=0x1122334455667788,
        trace_flags=0x01,
        trace_state="vendor=abc,other=x",
        kind=2,
        start_ns=1_700_000_000_123_456_789,
        end_ns=1_700_000_001_987_654_321,
        attributes={
            "http.request.method": "GET",
            "http.response.status_code": 200,
            "retry": False,
            "ratio": 0.25,
            "negative": -42,
            "zero": 0,
            "empty": "",
            "tags": ["a", "b", "ü"],
            "codes": [1, 2, 3],
            "weights": [0.5, 1.5],
            "flags": [True, False],
            "unicode": "naïve ☃",
        },
        status_code=2,
        status_message="upstream timed out",
        events=[
            event_cls("exception", 1_700_000_001_000_000_000, {"exception.type": "TimeoutError"}),
            event_cls("retry", 1_700_000_001_500_000_000, {}),
        ],
        is_remote_parent=True,
    )
    child = span_cls(
        name="SELECT orders",
        trace_id=TRACE_ID,
        span_id=0x0102030405060708,
        parent_id=0x00F067AA0BA902B7,
        kind=3,
        start_ns=1_700_000_000_200_000_000,
        end_ns=1_700_000_000_300_000_000,
        attributes={"db.system.name": "sqlite"},
        status_code=1,
    )
    root = span_cls(
        name="job",
        trace_id=(1 << 128) - 1,
        span_id=(1 << 64) - 1,
        parent_id=0,
        kind=1,
        start_ns=5,
        end_ns=6,
    )
    return [parent, child, root]


def assert_rich_request(message: ExportTraceServiceRequest) -> None:
    """Every field of what ``rich_spans`` produced, as the official decoder reads it."""
    assert len(message.resource_spans) == 1
    resource_spans = message.resource_spans[0]
    resource = {kv.key: kv.value for kv in resource_spans.resource.attributes}
    assert resource["service.name"].string_value == "checkout"
    assert resource["deployment.environment"].string_value == "test"
    assert resource["host.cpus"].int_value == 2
    assert len(resource_spans.scope_spans) == 1
    scope_spans = resource_spans.scope_spans[0]
    assert scope_spans.scope.name == "codetrace"
    assert scope_spans.scope.version == __version__
    parent, child, root = scope_spans.spans

    assert parent.trace_id == TRACE_ID.to_bytes(16, "big")
    assert parent.span_id == bytes.fromhex("00f067aa0ba902b7")
    assert parent.parent_span_id == bytes.fromhex("1122334455667788")
    assert parent.trace_state == "vendor=abc,other=x"
    assert parent.flags == 0x01 | 0x100 | 0x200  # sampled, parent-is-remote known and true
    assert parent.name == "GET /orders/{id}"
    assert parent.kind == 2
    assert parent.start_time_unix_nano == 1_700_000_000_123_456_789
    assert parent.end_time_unix_nano == 1_700_000_001_987_654_321
    attrs = {kv.key: kv.value for kv in parent.attributes}
    assert [kv.key for kv in parent.attributes] == [
        "http.request.method",
        "http.response.status_code",
        "retry",
        "ratio",
        "negative",
        "zero",
        "empty",
        "tags",
        "codes",
        "weights",
        "flags",
        "unicode",
    ]
    assert attrs["http.request.method"].WhichOneof("value") == "string_value"
    assert attrs["http.request.method"].string_value == "GET"
    assert attrs["http.response.status_code"].int_value == 200
    assert attrs["retry"].WhichOneof("value") == "bool_value"
    assert attrs["retry"].bool_value is False
    assert attrs["ratio"].double_value == 0.25
    assert attrs["negative"].int_value == -42
    assert attrs["zero"].WhichOneof("value") == "int_value"
    assert attrs["empty"].WhichOneof("value") == "string_value"
    assert [v.string_value for v in attrs["tags"].array_value.values] == ["a", "b", "ü"]
    assert [v.int_value for v in attrs["codes"].array_value.values] == [1, 2, 3]
    assert [v.double_value for v in attrs["weights"].array_value.values] == [0.5, 1.5]
    assert [v.bool_value for v in attrs["flags"].array_value.values] == [True, False]
    assert attrs["unicode"].string_value == "naïve ☃"
    assert parent.status.code == 2
    assert parent.status.message == "upstream timed out"
    assert [(e.name, e.time_unix_nano) for e in parent.events] == [
        ("exception", 1_700_000_001_000_000_000),
        ("retry", 1_700_000_001_500_000_000),
    ]
    assert parent.events[0].attributes[0].key == "exception.type"
    assert parent.events[0].attributes[0].value.string_value == "TimeoutError"
    assert list(parent.events[1].attributes) == []
    assert parent.dropped_attributes_count == 0
    assert list(parent.links) == []

    assert child.parent_span_id == parent.span_id
    assert child.trace_id == parent.trace_id
    assert child.kind == 3
    assert child.flags == 0x01 | 0x100  # known, not remote
    assert child.status.code == 1
    assert child.status.message == ""

    assert root.parent_span_id == b""
    assert root.trace_id == b"\xff" * 16
    assert root.span_id == b"\xff" * 8
    assert root.kind == 1
    assert not root.HasField("status")
    assert root.trace_state == ""


def test_protobuf_every_field(span_cls: Any, event_cls: Any) -> None:
    body = encode_protobuf(rich_spans(span_cls, event_cls), RESOURCE)
    assert_rich_request(decode_protobuf(body))


def test_json_every_field(span_cls: Any, event_cls: Any, hex_to_b64: Any) -> None:
    body = encode_json(rich_spans(span_cls, event_cls), RESOURCE)
    assert_rich_request(decode_json(body, hex_to_b64))


def test_json_follows_otlp_deviations_from_proto3_mapping(span_cls: Any, event_cls: Any) -> None:
    document = json.loads(encode_json(rich_spans(span_cls, event_cls), RESOURCE))
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    # ids: lowercase hex, not base64
    assert span["traceId"] == "0af7651916cd43dd8448eb211c80319c"
    assert span["spanId"] == "00f067aa0ba902b7"
    assert span["parentSpanId"] == "1122334455667788"
    # enums as integers; int64/fixed64 as decimal strings; fixed32 flags as a number
    assert span["kind"] == 2
    assert span["status"] == {"message": "upstream timed out", "code": 2}
    assert span["startTimeUnixNano"] == "1700000000123456789"
    assert span["flags"] == 0x301
    attributes = {a["key"]: a["value"] for a in span["attributes"]}
    assert attributes["http.response.status_code"] == {"intValue": "200"}
    assert attributes["ratio"] == {"doubleValue": 0.25}
    assert span["events"][0]["timeUnixNano"] == "1700000001000000000"
    # lowerCamelCase keys everywhere, never the proto field names
    text = json.dumps(document)
    for snake in ("trace_id", "span_id", "start_time_unix_nano", "resource_spans", "int_value"):
        assert snake not in text
    root = document["resourceSpans"][0]["scopeSpans"][0]["spans"][2]
    assert "parentSpanId" not in root and "status" not in root


def test_protobuf_and_json_decode_to_the_same_message(
    span_cls: Any, event_cls: Any, hex_to_b64: Any
) -> None:
    spans = rich_spans(span_cls, event_cls)
    from_pb = decode_protobuf(encode_protobuf(spans, RESOURCE, "my.scope", "9.9"))
    from_json = decode_json(encode_json(spans, RESOURCE, "my.scope", "9.9"), hex_to_b64)
    assert from_pb == from_json
    assert from_pb.resource_spans[0].scope_spans[0].scope.name == "my.scope"
    assert from_pb.resource_spans[0].scope_spans[0].scope.version == "9.9"


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        (-(1 << 63), "int_value", -(1 << 63)),
        ((1 << 63) - 1, "int_value", (1 << 63) - 1),
        (1 << 64, "string_value", str(1 << 64)),  # beyond int64: digits kept as text
        (float("inf"), "double_value", math.inf),
        (float("-inf"), "double_value", -math.inf),
        (b"\x00\xffraw", "bytes_value", b"\x00\xffraw"),
        ("lone \udcff surrogate", "string_value", "lone ? surrogate"),
        ("x" * 300, "string_value", "x" * 300),  # a length that needs a two-byte varint
    ],
)
def test_edge_values(span_cls: Any, hex_to_b64: Any, value: Any, field: str, expected: Any) -> None:
    span = span_cls(attributes={"v": value})
    for message in (
        decode_protobuf(encode_protobuf([span], {})),
        decode_json(encode_json([span], {}), hex_to_b64),
    ):
        any_value = message.resource_spans[0].scope_spans[0].spans[0].attributes[0].value
        assert any_value.WhichOneof("value") == field
        assert getattr(any_value, field) == expected


def test_nan_nested_and_odd_values(span_cls: Any, hex_to_b64: Any) -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd!"

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    attributes = {
        "nan": float("nan"),
        "nested": [[1, 2], ["x"]],
        "mapping": {"inner": 1},
        "odd": Odd(),
        "broken": Broken(),
        "none": None,
        "tuple": (1, None, "a"),
    }
    span = span_cls(attributes=attributes)
    for message in (
        decode_protobuf(encode_protobuf([span], {})),
        decode_json(encode_json([span], {}), hex_to_b64),
    ):
        attrs = {
            kv.key: kv.value for kv in message.resource_spans[0].scope_spans[0].spans[0].attributes
        }
        assert set(attrs) == {"nan", "nested", "mapping", "odd", "tuple"}
        assert math.isnan(attrs["nan"].double_value)
        nested = attrs["nested"].array_value.values
        assert [v.int_value for v in nested[0].array_value.values] == [1, 2]
        assert nested[1].array_value.values[0].string_value == "x"
        inner = attrs["mapping"].kvlist_value.values[0]
        assert (inner.key, inner.value.int_value) == ("inner", 1)
        assert attrs["odd"].string_value == "odd!"
        assert [v.WhichOneof("value") for v in attrs["tuple"].array_value.values] == [
            "int_value",
            "string_value",
        ]


def test_empty_batch_is_a_valid_request(hex_to_b64: Any) -> None:
    for message in (
        decode_protobuf(encode_protobuf([], {"service.name": "s"})),
        decode_json(encode_json([], {"service.name": "s"}), hex_to_b64),
    ):
        assert list(message.resource_spans[0].scope_spans[0].spans) == []


def test_unsampled_and_other_trace_flags_are_carried(span_cls: Any) -> None:
    span = span_cls(trace_flags=0x02)
    decoded = decode_protobuf(encode_protobuf([span], {})).resource_spans[0].scope_spans[0].spans[0]
    assert decoded.flags & 0xFF == 0x02
    assert decoded.flags & 0x100
