"""The JSON-lines file is OTLP JSON: one ``ExportTraceServiceRequest`` per line.

What the OpenTelemetry Collector's ``file`` exporter writes and its ``otlpjsonfile`` receiver
reads. Each line is decoded with the official ``opentelemetry-proto`` (protobuf's JSON parser,
after turning the OTLP hex ids into the base64 its generic proto3 mapping expects), and the
runtime's reader (``_json_records``) must give back the same spans.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

import codetrace.runtime as rt
from codetrace.runtime._otlp._json_records import read_json_lines
from codetrace.runtime._version import __version__

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture(autouse=True)
def fresh_runtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name in ("CODETRACE_JSONL_PATH", "CODETRACE_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    rt.reset()
    yield
    rt.reset()


def parse_lines(path: Path, hex_to_b64: Any) -> list[Any]:
    messages = []
    for line in path.read_text(encoding="utf-8").splitlines():
        document = json.loads(line)
        assert list(document) == ["resourceSpans"]  # nothing of our own around the request
        message = json_format.Parse(json.dumps(hex_to_b64(document)), ExportTraceServiceRequest())
        messages.append(message)
    return messages


def run_request(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, rt.Span]:
    """A server span (remote parent) with a client call that fails, through the variables."""
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jsonl")
    monkeypatch.setenv("CODETRACE_JSONL_PATH", str(path))
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shop")
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
    rt.reset()
    spans = {}
    with rt.span(
        "GET /orders/{id}",
        kind=rt.SpanKind.SERVER,
        parent=rt.extract({"traceparent": TRACEPARENT, "tracestate": "congo=t61rcWkgMzE"}),
        attributes={"http.request.method": "GET", "http.response.status_code": 500},
    ) as server:
        spans["server"] = server
        server.set_attribute("ratio", 0.25)
        server.set_attribute("tags", ["a", "b"])
        server.set_attribute("retry", False)
        with pytest.raises(ConnectionError), rt.span("GET", kind=rt.SpanKind.CLIENT) as client:
            spans["client"] = client
            client.add_event("retry", {"attempt": 2})
            raise ConnectionError("refused")
    return spans


def test_each_line_is_an_export_trace_service_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hex_to_b64: Any
) -> None:
    path = tmp_path / "spans.jsonl"
    spans = run_request(path, monkeypatch)
    client_line, server_line = parse_lines(path, hex_to_b64)  # one span per line, as they end

    (resource_spans,) = server_line.resource_spans
    resource = {kv.key: kv.value for kv in resource_spans.resource.attributes}
    assert resource["service.name"].string_value == "shop"
    assert resource["deployment.environment"].string_value == "test"
    assert resource["telemetry.sdk.name"].string_value == "codetrace"
    (scope_spans,) = resource_spans.scope_spans
    assert (scope_spans.scope.name, scope_spans.scope.version) == ("codetrace", __version__)
    (server,) = scope_spans.spans
    ours = spans["server"]
    assert server.trace_id == bytes.fromhex("4bf92f3577b34da6a3ce929d0e0e4736")
    assert server.span_id == ours.span_id.to_bytes(8, "big")
    assert server.parent_span_id == bytes.fromhex("00f067aa0ba902b7")
    assert server.trace_state == "congo=t61rcWkgMzE"
    assert server.flags == 0x01 | 0x100 | 0x200  # sampled; parent known to be remote
    assert (server.name, server.kind) == ("GET /orders/{id}", 2)
    assert (server.start_time_unix_nano, server.end_time_unix_nano) == (ours.start_ns, ours.end_ns)
    attributes = {kv.key: kv.value for kv in server.attributes}
    assert attributes["http.request.method"].string_value == "GET"
    assert attributes["http.response.status_code"].int_value == 500
    assert attributes["ratio"].double_value == 0.25
    assert [v.string_value for v in attributes["tags"].array_value.values] == ["a", "b"]
    assert attributes["retry"].WhichOneof("value") == "bool_value"
    assert not server.HasField("status")

    (client,) = client_line.resource_spans[0].scope_spans[0].spans
    assert client.parent_span_id == server.span_id
    assert client.kind == 3
    assert client.status.code == 2 and client.status.message == "ConnectionError: refused"
    assert [e.name for e in client.events] == ["retry", "exception"]
    assert client.events[0].attributes[0].key == "attempt"
    assert client.events[0].attributes[0].value.int_value == 2


def test_the_reader_gives_the_spans_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spans.jsonl"
    spans = run_request(path, monkeypatch)
    client, server = read_json_lines(path)
    ours = spans["server"]
    assert server["trace_id"] == f"{ours.trace_id:032x}"
    assert server["span_id"] == f"{ours.span_id:016x}"
    assert server["parent_span_id"] == "00f067aa0ba902b7"
    assert server["kind"] == "SERVER" and client["kind"] == "CLIENT"
    assert (server["start_time_unix_nano"], server["end_time_unix_nano"]) == (
        ours.start_ns,
        ours.end_ns,
    )
    assert server["attributes"] == ours.attributes
    assert server["trace_state"] == "congo=t61rcWkgMzE"
    assert server["status"] == {"code": "UNSET", "message": ""}
    assert client["status"] == {"code": "ERROR", "message": "ConnectionError: refused"}
    assert client["parent_span_id"] == server["span_id"]
    assert client["events"][0] == {
        "name": "retry",
        "time_unix_nano": spans["client"].events[0].time_ns,
        "attributes": {"attempt": 2},
        "dropped_attributes_count": 0,
    }
    assert server["resource"]["service.name"] == "shop"
    assert server["scope"] == {"name": "codetrace", "version": __version__}


def test_a_batch_is_one_line(tmp_path: Path, hex_to_b64: Any) -> None:
    path = tmp_path / "spans.jsonl"
    memory = rt.InMemorySpanExporter()
    rt.configure(exporter=memory)
    with rt.span("a"), rt.span("b"):
        pass
    exporter = rt.JsonLinesSpanExporter(path)
    assert exporter.export(memory.get_finished_spans())
    assert exporter.export(())  # nothing to write: no empty request
    exporter.shutdown()
    (message,) = parse_lines(path, hex_to_b64)
    assert [s.name for s in message.resource_spans[0].scope_spans[0].spans] == ["b", "a"]


def test_text_that_utf8_cannot_hold_does_not_cost_the_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    rt.configure(exporter=rt.JsonLinesSpanExporter(path))
    with rt.span("file", attributes={"path": "caf\udce9", "new\nline": "a\tb"}):
        pass
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == 1  # control characters are escaped: still one line
    (record,) = read_json_lines(path)
    assert record["attributes"] == {"path": "caf?", "new\nline": "a\tb"}
