"""OTLPSpanExporter against a real HTTP collector on 127.0.0.1: configuration, retries, failures."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto")

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from codetrace.runtime._otlp import (
    OTLPSpanExporter,
    create_otlp_exporter_from_env,
)

LOGGER = "codetrace.runtime.otlp"


def decode(recorded: Any, hex_to_b64: Any = None) -> ExportTraceServiceRequest:
    if recorded.headers["content-type"] == "application/json":
        document = hex_to_b64(json.loads(recorded.payload))
        return json_format.Parse(json.dumps(document), ExportTraceServiceRequest())
    message = ExportTraceServiceRequest()
    message.ParseFromString(recorded.payload)
    return message


def span_names(message: ExportTraceServiceRequest) -> list[str]:
    return [s.name for rs in message.resource_spans for ss in rs.scope_spans for s in ss.spans]


# -- success paths and configuration ---------------------------------------------------------------


def test_posts_protobuf_by_default(collector: Any, span_cls: Any) -> None:
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, resource={"service.name": "svc"})
    assert exporter.export([span_cls(name="a"), span_cls(name="b", span_id=2)]) is True
    (request,) = collector.requests
    assert request.path == "/v1/traces"
    assert request.headers["content-type"] == "application/x-protobuf"
    assert "content-encoding" not in request.headers
    assert request.headers["user-agent"].startswith("codetrace/")
    message = decode(request)
    assert span_names(message) == ["a", "b"]
    resource = message.resource_spans[0].resource.attributes
    assert [(kv.key, kv.value.string_value) for kv in resource] == [("service.name", "svc")]
    assert exporter.exported_spans == 2
    assert exporter.dropped_spans == exporter.failed_exports == 0


def test_json_protocol_from_env(
    collector: Any, span_cls: Any, hex_to_b64: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    exporter = OTLPSpanExporter(endpoint=collector.traces_url)
    assert exporter.protocol == "http/json"
    assert exporter.export([span_cls(name="json-span", parent_id=9)])
    (request,) = collector.requests
    assert request.headers["content-type"] == "application/json"
    raw = json.loads(request.payload)["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert raw["spanId"] == "b7ad6b7169203331"  # hex on the wire
    span = decode(request, hex_to_b64).resource_spans[0].scope_spans[0].spans[0]
    assert span.name == "json-span"
    assert span.parent_span_id == (9).to_bytes(8, "big")


@pytest.mark.parametrize("protocol", ["http/protobuf", "http/json"])
def test_gzip(
    collector: Any,
    span_cls: Any,
    hex_to_b64: Any,
    monkeypatch: pytest.MonkeyPatch,
    protocol: str,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, protocol=protocol)
    many = [span_cls(name=f"s{i}", span_id=i + 1, attributes={"k": "v" * 50}) for i in range(50)]
    assert exporter.export(many)
    (request,) = collector.requests
    assert request.headers["content-encoding"] == "gzip"
    assert request.body[:2] == b"\x1f\x8b"
    assert len(request.body) < len(request.payload)
    assert span_names(decode(request, hex_to_b64)) == [f"s{i}" for i in range(50)]


def test_headers_from_env_are_percent_decoded(
    collector: Any, span_cls: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    monkeypatch.setenv(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "api-key=s3cr%3Dt, x-tenant = acme%20corp ,bad-entry,x-bad=a%0Db",
    )
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        exporter = OTLPSpanExporter(endpoint=collector.traces_url)
    assert exporter.export([span_cls()])
    headers = collector.requests[0].headers
    assert headers["api-key"] == "s3cr=t"
    assert headers["x-tenant"] == "acme corp"
    assert "x-bad" not in str(headers)
    assert "malformed entry 'bad-entry'" in caplog.text
    assert "invalid OTLP header" in caplog.text


def test_signal_specific_headers_win_and_kwargs_win_over_env(
    collector: Any, span_cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "generic=1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "specific=2")
    assert OTLPSpanExporter(endpoint=collector.traces_url).headers == {"specific": "2"}
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, headers={"explicit": "3"})
    assert exporter.export([span_cls()])
    headers = collector.requests[0].headers
    assert headers["explicit"] == "3"
    assert "specific" not in headers and "generic" not in headers


def test_generic_endpoint_gets_signal_path(
    collector: Any, span_cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.base_url + "/prefix/")
    exporter = create_otlp_exporter_from_env()
    assert exporter.endpoint == collector.base_url + "/prefix/v1/traces"
    assert exporter.export([span_cls()])
    assert collector.requests[0].path == "/prefix/v1/traces"


def test_traces_endpoint_is_used_as_is(
    collector: Any, span_cls: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://wrong.invalid:1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.base_url + "/custom")
    exporter = create_otlp_exporter_from_env(resource={"service.name": "x"})
    assert exporter.endpoint == collector.base_url + "/custom"
    assert exporter.export([span_cls()])
    assert collector.requests[0].path == "/custom"


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    exporter = OTLPSpanExporter()
    assert exporter.endpoint == "http://localhost:4318/v1/traces"
    assert exporter.protocol == "http/protobuf"
    assert exporter.timeout_s == 10.0
    assert exporter.compression == "none"
    assert exporter.headers == {}
    assert exporter.resource["service.name"].startswith("unknown_service")
    assert exporter.resource["telemetry.sdk.name"] == "codetrace"


def test_env_timeout_is_milliseconds_and_kwargs_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500")
    assert OTLPSpanExporter().timeout_s == 2.5
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "750")
    assert OTLPSpanExporter().timeout_s == 0.75
    assert OTLPSpanExporter(timeout_s=3).timeout_s == 3.0
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
    assert OTLPSpanExporter(protocol="http/protobuf").protocol == "http/protobuf"


def test_resource_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from codetrace.runtime import _resource

    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=pay%20ments")
    assert OTLPSpanExporter().resource["service.name"] == "from-attrs"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-service-name")
    _resource.forget()  # the runtime reads its resource once per process
    resource = OTLPSpanExporter().resource
    assert resource["service.name"] == "from-service-name"
    assert resource["team"] == "pay ments"


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "protocol", "http/protobuf"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon", "timeout_s", 10.0),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "-5", "timeout_s", 10.0),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", "compression", "none"),
    ],
)
def test_invalid_env_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
    caplog: Any,
    name: str,
    value: str,
    attribute: str,
    expected: Any,
) -> None:
    monkeypatch.setenv(name, value)
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        exporter = OTLPSpanExporter()
    assert getattr(exporter, attribute) == expected
    assert value in caplog.text


# -- failures: counted, logged once, never raised, bounded in time ---------------------------------


def test_stopped_collector(dead_endpoint: str, span_cls: Any, caplog: Any) -> None:
    exporter = OTLPSpanExporter(endpoint=dead_endpoint, timeout_s=0.5)
    with caplog.at_level(logging.DEBUG, logger=LOGGER):
        started = time.monotonic()
        assert exporter.export([span_cls(), span_cls(span_id=2)]) is False
        assert exporter.export([span_cls()]) is False
        elapsed = time.monotonic() - started
    assert elapsed < 1.5
    assert exporter.dropped_spans == 3
    assert exporter.failed_exports == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # logged once; the repeat goes to DEBUG
    assert "could not export 2 spans" in warnings[0].getMessage()
    assert "Connection" in warnings[0].getMessage() or "refused" in warnings[0].getMessage()
    assert any(r.levelno == logging.DEBUG for r in caplog.records)


def test_connection_errors_are_retried_with_backoff(dead_endpoint: str, span_cls: Any) -> None:
    exporter = OTLPSpanExporter(endpoint=dead_endpoint, timeout_s=0.6)
    exporter.initial_backoff_s = 0.05
    attempts = []
    original = exporter._backoff_s

    def spy(attempt: int) -> float:
        attempts.append(attempt)
        return original(attempt)

    exporter._backoff_s = spy  # type: ignore[method-assign]
    started = time.monotonic()
    assert exporter.export([span_cls()]) is False
    assert time.monotonic() - started < 1.0  # bounded by timeout_s
    assert len(attempts) >= 3 and attempts[:3] == [0, 1, 2]


def test_hanging_collector_is_bounded_by_timeout(silent_endpoint: str, span_cls: Any) -> None:
    exporter = OTLPSpanExporter(endpoint=silent_endpoint, timeout_s=0.5)
    started = time.monotonic()
    assert exporter.export([span_cls()]) is False
    elapsed = time.monotonic() - started
    assert 0.4 < elapsed < 1.5
    assert exporter.dropped_spans == 1


def test_503_then_200_is_retried_after_retry_after(collector: Any, span_cls: Any) -> None:
    collector.script.append((503, {"Retry-After": "1"}))
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=5)
    assert exporter.export([span_cls(name="retried")]) is True
    first, second = collector.requests
    assert second.at - first.at >= 0.95  # Retry-After honoured, not the 1 s +- jitter backoff
    assert first.body == second.body
    assert span_names(decode(second)) == ["retried"]
    assert exporter.failed_exports == 0 and exporter.exported_spans == 1


@pytest.mark.parametrize("status", [429, 502, 504])
def test_other_retryable_statuses(collector: Any, span_cls: Any, status: int) -> None:
    collector.script.append((status, {}))
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=3)
    exporter.initial_backoff_s = 0.05
    assert exporter.export([span_cls()]) is True
    assert len(collector.requests) == 2


def test_retry_after_beyond_the_timeout_gives_up_at_once(collector: Any, span_cls: Any) -> None:
    collector.script.append((429, {"Retry-After": "60"}))
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=2)
    started = time.monotonic()
    assert exporter.export([span_cls()]) is False
    assert time.monotonic() - started < 1.0
    assert len(collector.requests) == 1


@pytest.mark.parametrize("status", [400, 401, 404, 413, 500])
def test_other_errors_are_not_retried(collector: Any, span_cls: Any, status: int) -> None:
    collector.script.extend([(status, {}), (200, {})])
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=3)
    exporter.initial_backoff_s = 0.01
    assert exporter.export([span_cls(), span_cls()]) is False
    time.sleep(0.1)
    assert len(collector.requests) == 1
    assert exporter.dropped_spans == 2 and exporter.failed_exports == 1


def test_redirects_are_not_followed(collector: Any, span_cls: Any) -> None:
    collector.script.append((307, {"Location": collector.base_url + "/elsewhere"}))
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=2)
    assert exporter.export([span_cls()]) is False
    assert [r.path for r in collector.requests] == ["/v1/traces"]


def test_shutdown_interrupts_a_retry_wait(collector: Any, span_cls: Any) -> None:
    import threading

    collector.script.append((503, {"Retry-After": "5"}))
    exporter = OTLPSpanExporter(endpoint=collector.traces_url, timeout_s=10)
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(exporter.export([span_cls()])))
    worker.start()
    assert collector.wait_for(1)
    time.sleep(0.05)
    started = time.monotonic()
    exporter.shutdown()
    worker.join(2)
    assert time.monotonic() - started < 1.0
    assert result == [False]
    assert exporter.export([span_cls()]) is False  # after shutdown: refused, counted
    assert exporter.dropped_spans == 2


def test_export_never_raises(collector: Any, span_cls: Any) -> None:
    class NotASpan:
        name = "broken"

    exporter = OTLPSpanExporter(endpoint=collector.traces_url)
    assert exporter.export([NotASpan()]) is False  # type: ignore[list-item]
    assert exporter.export([]) is True
    bad_url = OTLPSpanExporter(endpoint="not a url", timeout_s=0.5)
    assert bad_url.export([span_cls()]) is False
    assert collector.requests == []
